//! JSON text reshaped without being re-serialised: [`minify`] removes the insignificant
//! whitespace between tokens (so a resource fits on one NDJSON line) and [`pretty`] indents it
//! (for `json/<Type>/<id>.json`). Both copy every token as it is: the key order, the text of
//! every number (`1.50` stays `1.50`, `1e2` stays `1e2`, a 21-digit decimal keeps its digits)
//! and every string with its escapes (`\u00e9` stays `\u00e9`). FHIR says the precision of a
//! decimal is significant, so a backup must not parse a number and print it again.
//!
//! Input must be valid JSON (callers have parsed it); on anything else the output is
//! unspecified but the functions never panic.

/// `text` without whitespace outside strings.
pub fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut tokens = Tokens::new(text);
    while let Some(token) = tokens.next_token() {
        out.push_str(token);
    }
    out
}

/// Whether `text` has no whitespace outside strings already (then [`minify`] would copy it).
/// Most of a resource's bytes are inside strings; those are skipped with `memchr` to the next
/// quote or backslash instead of byte by byte (this check runs on every resource fhirdl keeps).
pub fn is_minified(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                // Inside a string: to its closing quote, stepping over escapes.
                at += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[at.min(bytes.len())..]) {
                        None => return true,
                        Some(k) if bytes[at + k] == b'\\' => at += k + 2,
                        Some(k) => {
                            at += k + 1;
                            break;
                        }
                    }
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' => return false,
            _ => at += 1,
        }
    }
    true
}

/// `text` indented by two spaces per level, one member or element per line, `"key": value`;
/// empty objects and arrays stay `{}` and `[]`.
pub fn pretty(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut depth = 0usize;
    let mut tokens = Tokens::new(text).peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while let Some(token) = tokens.next() {
        match token {
            "{" | "[" => {
                let close = if token == "{" { "}" } else { "]" };
                if tokens.peek() == Some(&close) {
                    tokens.next();
                    out.push_str(token);
                    out.push_str(close);
                } else {
                    out.push_str(token);
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            "}" | "]" => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push_str(token);
            }
            "," => {
                out.push(',');
                newline(&mut out, depth);
            }
            ":" => out.push_str(": "),
            _ => out.push_str(token),
        }
    }
    out
}

/// The tokens of a JSON text: punctuation, whole strings (quotes and escapes included) and
/// runs of anything else (numbers, `true`, `false`, `null`), whitespace skipped.
struct Tokens<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens { text, at: 0 }
    }

    fn next_token(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() && matches!(bytes[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
        let start = self.at;
        let first = *bytes.get(start)?;
        let end = match first {
            b'{' | b'}' | b'[' | b']' | b',' | b':' => start + 1,
            b'"' => {
                let mut i = start + 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                i.min(bytes.len())
            }
            _ => {
                let mut i = start + 1;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t'
                            | b'\n'
                            | b'\r'
                            | b'{'
                            | b'}'
                            | b'['
                            | b']'
                            | b','
                            | b':'
                            | b'"'
                    )
                {
                    i += 1;
                }
                i
            }
        };
        self.at = end;
        // Token boundaries are ASCII bytes, so they are char boundaries.
        self.text.get(start..end)
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        self.next_token()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: &str = "{ \"resourceType\" : \"Observation\",\n  \"id\":\"o-1\",\t\"valueQuantity\": {\"value\": 1.50, \"unit\": \"mmol/L\"},\r\n \"x\": [0.010, 4.00, 100.000000000000000001, 1e2, -0.0, true, null, false],\n \"text\": \"a \\\"quoted\\\" \\u00e9 and a space : , { } [ ]\", \"é\": \"ü\", \"empty\": {}, \"none\": [ ] }";

    #[test]
    fn minify_keeps_every_token() {
        let m = minify(SENT);
        assert_eq!(
            m,
            "{\"resourceType\":\"Observation\",\"id\":\"o-1\",\"valueQuantity\":{\"value\":1.50,\"unit\":\"mmol/L\"},\"x\":[0.010,4.00,100.000000000000000001,1e2,-0.0,true,null,false],\"text\":\"a \\\"quoted\\\" \\u00e9 and a space : , { } [ ]\",\"é\":\"ü\",\"empty\":{},\"none\":[]}"
        );
        assert!(is_minified(&m));
        assert!(!is_minified(SENT));
        assert_eq!(minify(&m), m);
        // The same value as serde_json reads it, but never its printing.
        let a: serde_json::Value = serde_json::from_str(SENT).unwrap();
        let b: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn pretty_keeps_every_token_and_reads_back() {
        let p = pretty(&minify(SENT));
        assert!(
            p.starts_with("{\n  \"resourceType\": \"Observation\",\n  \"id\": \"o-1\","),
            "{p}"
        );
        assert!(p.contains("\"value\": 1.50,"), "{p}");
        assert!(
            p.contains("    0.010,\n    4.00,\n    100.000000000000000001,\n    1e2,"),
            "{p}"
        );
        assert!(p.contains("\"empty\": {},\n  \"none\": []\n}"), "{p}");
        assert!(p.contains("\\u00e9 and a space : , { } [ ]"), "{p}");
        assert_eq!(
            minify(&p),
            minify(SENT),
            "pretty then minify gives the line back"
        );
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "",
            "\"unterminated",
            "\"ends with backslash\\",
            "{",
            "]]]",
            "é",
            "1 2",
        ] {
            let _ = minify(text);
            let _ = pretty(text);
            let _ = is_minified(text);
        }
    }

    /// The byte-by-byte check [`is_minified`] replaced, kept as its reference.
    fn is_minified_bytewise(text: &str) -> bool {
        let mut in_string = false;
        let mut escaped = false;
        for b in text.bytes() {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_string = true;
            } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return false;
            }
        }
        true
    }

    proptest::proptest! {
        #[test]
        fn is_minified_agrees_with_the_bytewise_check(text in "[ \t\n\r\"\\\\a{}:,\\[\\]é1]{0,40}") {
            proptest::prop_assert_eq!(is_minified(&text), is_minified_bytewise(&text));
        }
    }
}
