//! Text from a server (error messages, OperationOutcome diagnostics, resource types, URLs from a
//! record) made safe to show on a terminal: control characters (escape sequences among them)
//! removed, and shortened.

/// At most this many characters of server text are shown.
const MAX_CHARS: usize = 300;

/// Server-provided text, shortened and stripped of control characters before it is shown.
pub fn clean(text: &str) -> String {
    let s: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CHARS)
        .collect();
    s.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_length_never_reach_the_terminal() {
        assert_eq!(clean("  \u{1b}[31mred\u{1b}[0m\r\n "), "[31mred[0m");
        assert_eq!(clean(&"x".repeat(1000)).len(), MAX_CHARS);
        assert_eq!(clean("a\u{0}b\tc"), "abc");
    }
}
