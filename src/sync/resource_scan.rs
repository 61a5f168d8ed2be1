//! Reading a resource's few fields from its text without recursion: the way
//! [`super::resource::Resource::from_text`] goes when serde_json refuses text that is legal
//! JSON — nesting deeper than its recursion limit (128), or a string holding a lone surrogate
//! escape such as `"\ud800"` (RFC 8259 §8.2 calls such text's meaning unpredictable, not the
//! text invalid; serde_json cannot make a Rust string of it).
//!
//! The scan checks the whole text against RFC 8259's grammar with an explicit stack (any depth
//! costs heap, never the thread's stack), and reads the same fields, from the same places, as the
//! serde walk: `resourceType`, `id`, `meta.lastUpdated`, `meta.versionId`, the top-level
//! `subject`/`patient` references and every `reference` string. Only those strings are decoded;
//! a lone surrogate in one becomes U+FFFD there (such an id or reference is never valid, so it
//! is reported, not followed). The resource's text itself is kept as sent.

use std::borrow::Cow;

/// Where a container sits: decides what its members mean (as the serde walk does).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum At {
    Top,
    Meta,
    /// Inside the top-level `subject` or `patient`.
    Owner,
    Elsewhere,
    /// Inside a value that is read as a field but is not a string: nothing in it counts.
    Skip,
}

/// What the next value is to fhirdl.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    ResourceType,
    Id,
    LastUpdated,
    VersionId,
    Reference {
        owner: bool,
    },
    /// A value whose containers' members are read as members at `At`.
    Into(At),
}

/// The fields read from a resource's text (those of [`super::resource::Resource`] but its line).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Fields {
    pub(super) resource_type: String,
    pub(super) id: Option<String>,
    pub(super) last_updated: Option<String>,
    pub(super) version_id: Option<String>,
    pub(super) owners: Vec<String>,
    pub(super) references: Vec<String>,
    pub(super) problem: Option<String>,
}

struct Container {
    array: bool,
    at: At,
}

/// The resource's fields read from `text`, or why `text` is not one JSON value.
pub(super) fn scan(text: &str) -> Result<Fields, String> {
    let mut found = Fields::default();
    let mut s = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut stack: Vec<Container> = Vec::new();
    let mut role = Role::Into(At::Top);
    'value: loop {
        s.skip_whitespace();
        match s.peek() {
            Some(b'{') => {
                s.at += 1;
                take_other(&mut found, role);
                let at = inner(role);
                stack.push(Container { array: false, at });
                s.skip_whitespace();
                if s.peek() == Some(b'}') {
                    s.at += 1;
                    stack.pop();
                } else {
                    role = s.member(at)?;
                    continue 'value;
                }
            }
            Some(b'[') => {
                s.at += 1;
                take_other(&mut found, role);
                let at = match inner(role) {
                    keep @ (At::Owner | At::Skip) => keep,
                    _ => At::Elsewhere,
                };
                stack.push(Container { array: true, at });
                s.skip_whitespace();
                if s.peek() == Some(b']') {
                    s.at += 1;
                    stack.pop();
                } else {
                    role = Role::Into(at);
                    continue 'value;
                }
            }
            Some(b'"') => {
                let raw = s.string()?;
                take_string(&mut found, role, raw);
            }
            Some(_) => {
                s.scalar()?;
                take_other(&mut found, role);
            }
            None => return Err(s.error("a value was expected")),
        }
        // After a value: the next member or element, or the end of containers.
        loop {
            let Some(top) = stack.last() else {
                s.skip_whitespace();
                if s.at < s.bytes.len() {
                    return Err(s.error("trailing characters after the value"));
                }
                return Ok(found);
            };
            let (array, at) = (top.array, top.at);
            s.skip_whitespace();
            match (s.peek(), array) {
                (Some(b','), true) => {
                    s.at += 1;
                    role = Role::Into(at);
                    continue 'value;
                }
                (Some(b','), false) => {
                    s.at += 1;
                    s.skip_whitespace();
                    role = s.member(at)?;
                    continue 'value;
                }
                (Some(b']'), true) | (Some(b'}'), false) => {
                    s.at += 1;
                    stack.pop();
                }
                _ => return Err(s.error("',' or the end of a list or object was expected")),
            }
        }
    }
}

/// Where the members of a container that is the value of `role` sit.
fn inner(role: Role) -> At {
    match role {
        Role::Into(at) => at,
        _ => At::Skip,
    }
}

/// What the value of member `key` of an object at `at` is.
fn role_of(at: At, key: &str) -> Role {
    match (at, key) {
        (At::Skip, _) => Role::Into(At::Skip),
        (At::Top, "resourceType") => Role::ResourceType,
        (At::Top, "id") => Role::Id,
        (At::Meta, "lastUpdated") => Role::LastUpdated,
        (At::Meta, "versionId") => Role::VersionId,
        (_, "reference") => Role::Reference {
            owner: at == At::Owner,
        },
        (At::Top, "meta") => Role::Into(At::Meta),
        (At::Top, "subject" | "patient") => Role::Into(At::Owner),
        _ => Role::Into(At::Elsewhere),
    }
}

fn take_string(found: &mut Fields, role: Role, raw: &str) {
    match role {
        Role::ResourceType => found.resource_type = decode(raw).into_owned(),
        Role::Id => found.id = Some(decode(raw).into_owned()),
        Role::LastUpdated => found.last_updated = Some(decode(raw).into_owned()),
        Role::VersionId => found.version_id = Some(decode(raw).into_owned()),
        Role::Reference { owner } => {
            let reference = decode(raw).trim().to_string();
            if owner {
                found.owners.push(reference.clone());
            }
            if !found.references.contains(&reference) {
                found.references.push(reference);
            }
        }
        Role::Into(_) => {}
    }
}

/// A field whose value is not a string.
fn take_other(found: &mut Fields, role: Role) {
    match role {
        Role::ResourceType => found.resource_type.clear(),
        Role::Id => {
            found.id = None;
            found.problem = Some("its id is not a string".into());
        }
        Role::LastUpdated => found.last_updated = None,
        Role::VersionId => found.version_id = None,
        Role::Reference { .. } | Role::Into(_) => {}
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.at + 1)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A member's key and its colon; returns what the member's value is.
    fn member(&mut self, at: At) -> Result<Role, String> {
        if self.peek() != Some(b'"') {
            return Err(self.error("a member name was expected"));
        }
        let key = self.string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.error("':' was expected"));
        }
        self.at += 1;
        Ok(role_of(at, &decode(key)))
    }

    /// A string starting at the quote: its text between the quotes, escapes as sent.
    fn string(&mut self) -> Result<&'a str, String> {
        let start = self.at + 1;
        let mut i = start;
        loop {
            let Some(k) = memchr::memchr2(b'"', b'\\', &self.bytes[i..]) else {
                self.at = self.bytes.len();
                return Err(self.error("a string is not closed"));
            };
            if let Some(bad) = self.bytes[i..i + k].iter().position(|b| *b < 0x20) {
                self.at = i + bad;
                return Err(self.error("a control character inside a string"));
            }
            i += k;
            if self.bytes[i] == b'"' {
                self.at = i + 1;
                // Quotes and backslashes are ASCII: the slice is on character boundaries.
                return Ok(std::str::from_utf8(&self.bytes[start..i]).unwrap_or_default());
            }
            match self.bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u')
                    if self
                        .bytes
                        .get(i + 2..i + 6)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                {
                    i += 6
                }
                _ => {
                    self.at = i;
                    return Err(self.error("an invalid escape inside a string"));
                }
            }
        }
    }

    /// A number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Result<(), String> {
        let rest = &self.bytes[self.at..];
        for literal in [&b"true"[..], b"false", b"null"] {
            if rest.starts_with(literal) {
                self.at += literal.len();
                return Ok(());
            }
        }
        let digits = |s: &mut Self| {
            let from = s.at;
            while s.peek().is_some_and(|b| b.is_ascii_digit()) {
                s.at += 1;
            }
            s.at - from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("a value was expected")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("a digit was expected"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("a digit was expected"));
            }
        }
        Ok(())
    }
}

/// A string's text between its quotes, its escapes decoded (a lone surrogate as U+FFFD).
fn decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut units: Vec<u16> = Vec::new();
    let mut rest = raw;
    while let Some(k) = rest.find('\\') {
        if !rest[..k].is_empty() {
            out.extend(char::decode_utf16(units.drain(..)).map(|c| c.unwrap_or('\u{fffd}')));
            out.push_str(&rest[..k]);
        }
        let escape = &rest[k + 1..];
        let (unit, len) = match escape.as_bytes().first() {
            Some(b'u') => (
                escape
                    .get(1..5)
                    .and_then(|h| u16::from_str_radix(h, 16).ok()),
                5,
            ),
            Some(b'b') => (Some(0x08), 1),
            Some(b'f') => (Some(0x0c), 1),
            Some(b'n') => (Some(u16::from(b'\n')), 1),
            Some(b'r') => (Some(u16::from(b'\r')), 1),
            Some(b't') => (Some(u16::from(b'\t')), 1),
            Some(&c) => (Some(u16::from(c)), 1),
            None => (None, 0),
        };
        units.extend(unit);
        rest = escape.get(len..).unwrap_or_default();
    }
    out.extend(char::decode_utf16(units.drain(..)).map(|c| c.unwrap_or('\u{fffd}')));
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_at_any_depth() {
        let text = format!(
            r#"{{"resourceType":"Observation","id":"deep","meta":{{"versionId":"2","lastUpdated":"2026-01-01T00:00:00Z"}},"subject":{{"reference":"Patient/p"}},"text":{}{{"reference":"Practitioner/d"}}{}}}"#,
            r#"{"extension":["#.repeat(5_000),
            "]}".repeat(5_000)
        );
        let r = scan(&text).unwrap();
        assert_eq!(r.resource_type, "Observation");
        assert_eq!(r.id.as_deref(), Some("deep"));
        assert_eq!(r.version_id.as_deref(), Some("2"));
        assert_eq!(r.last_updated.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(r.owners, ["Patient/p"]);
        assert_eq!(r.references, ["Patient/p", "Practitioner/d"]);
        assert!(r.problem.is_none());
    }

    #[test]
    fn lone_surrogates_are_legal_text() {
        let r =
            scan(r#"{"resourceType":"Observation","id":"o1","note":[{"text":"\ud800 \udfff x"}]}"#)
                .unwrap();
        assert_eq!(r.id.as_deref(), Some("o1"));
        assert_eq!(decode(r"a\ud800b"), "a\u{fffd}b");
        assert_eq!(decode(r"\ud83d\ude00\u00e9\n\/"), "😀é\n/");
    }

    #[test]
    fn text_that_is_not_json_is_refused() {
        for bad in [
            "",
            "{",
            r#"{"a":}"#,
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            "[1,]",
            "[1 2]",
            r#"{"a":1}x"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"\u{1}\"}",
            "01",
            "-",
            "1.",
            "1e",
            "tru",
            "{1:2}",
            "[}",
        ] {
            assert!(scan(bad).is_err(), "{bad:?}");
        }
        for good in [
            "1",
            "-0.5e+3",
            "[]",
            "{}",
            " [ true , null , {\"a\" : [ ] } ] ",
            "\"\"",
        ] {
            assert!(scan(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn non_string_fields_read_as_the_walk_reads_them() {
        let r = scan(r#"{"resourceType":"Condition","id":5,"reference":{"reference":"Patient/x"},"patient":[{"reference":"Patient/p"}]}"#).unwrap();
        assert_eq!(r.problem.as_deref(), Some("its id is not a string"));
        assert_eq!(r.id, None);
        assert_eq!(r.owners, ["Patient/p"]);
        assert_eq!(r.references, ["Patient/p"]);
    }
}
