//! Escaping for the page. Everything in a record came from a server and is untrusted: it reaches
//! the page only through [`text`] (element content) or [`attr`] (a double-quoted attribute
//! value), never inside `<script>`, `<style>`, a tag name or an unquoted attribute. Links are
//! made only to files fhirdl saved ([`href`]).

use std::fmt::Write;

/// Appends `s` escaped for element content or a double-quoted attribute value. Control
/// characters other than tab and newline are dropped (they cannot be shown, and some change
/// how text reads).
pub fn push(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
}

/// Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) reorder the text around
/// them; a record has no business using them to make a value read differently.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` escaped (element content).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push(&mut out, s);
    out
}

/// `s` escaped for a double-quoted attribute value (the same escaping as [`text`]).
pub fn attr(s: &str) -> String {
    text(s)
}

/// A relative URL for a path made of safe segments (each percent-encoded but for
/// `A-Z a-z 0-9 - . _ ~`), for `href`.
pub fn href(segments: &[&str]) -> String {
    let mut out = String::new();
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(b as char);
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// An element id made from text: letters, digits, `-`, `.` and `_` kept, anything else `_`.
pub fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_script_cannot_get_through() {
        let evil = "</td><script>alert(1)</script><img src=x onerror=\"a\" x='y'>&amp;";
        let t = text(evil);
        assert!(!t.contains('<') && !t.contains('>') && !t.contains('"') && !t.contains('\''));
        assert!(t.contains("&lt;/td&gt;&lt;script&gt;") && t.ends_with("&amp;amp;"));
        assert_eq!(text("a\u{202E}b\u{0}c\u{7}\nd"), "abc\nd");
        assert_eq!(href(&["..", "a b", "x\"y.pdf"]), "../a%20b/x%22y.pdf");
        assert_eq!(anchor("Observation/a b\"c"), "Observation_a_b_c");
    }
}
