//! The text of an RTF document. The bytes are read into tokens by `rtf-grimoire` (MIT, a
//! tokenizer written with `nom` to the RTF 1.9.1 specification: control words with their
//! arguments, control symbols, `\'hh` bytes, `\bin` data, groups); what the tokens say is
//! then followed here as the specification's "Conventions of an RTF Reader" ask: the text of
//! the body, with `\par`/`\line`/`\row` as line breaks, `\uN` characters with their
//! fallback characters skipped (`\ucN`), `\'hh` bytes in the document's code page
//! (`\ansicpgN`, by `encoding_rs`), and the destinations that hold no text (font and colour
//! tables, style sheet, document information, pictures, `\*` groups) left out.
//!
//! `rtf-parser`, the other maintained RTF crate, was tried first and not kept: it splits
//! control words at white space only, so the common `M\u252?ller` loses the rest of its
//! paragraph, and `\par` gives no line break.

use super::Error;
use rtf_grimoire::tokenizer::Token;

/// Destinations whose content is not the document's text.
const NOT_TEXT: [&str; 22] = [
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "filetbl",
    "revtbl",
    "fldinst",
    "header",
    "footer",
    "nonshppict",
    "bkmkstart",
];

/// What a group inherits from the one around it.
#[derive(Clone, Copy)]
struct Group {
    /// Its content is not text.
    hidden: bool,
    /// Fallback characters after each `\uN` (`\ucN`, 1 by default).
    uc: usize,
}

pub fn text(bytes: &[u8]) -> Result<String, Error> {
    let tokens = rtf_grimoire::tokenizer::parse_finished(bytes).map_err(|e| {
        Error(
            format!("the RTF cannot be read: {e:?}")
                .chars()
                .take(200)
                .collect(),
        )
    })?;
    if !matches!(tokens.get(1), Some(Token::ControlWord { name, .. }) if name == "rtf") {
        return Err(Error(
            "the RTF cannot be read: it does not start with {\\rtf".into(),
        ));
    }
    let mut reader = Reader {
        out: String::new(),
        groups: vec![Group {
            hidden: false,
            uc: 1,
        }],
        skip: 0,
        code_page: encoding_rs::WINDOWS_1252,
        high_surrogate: None,
        group_start: false,
    };
    for token in &tokens {
        reader.token(token);
    }
    Ok(reader.out)
}

/// The reader's state as it follows the tokens.
struct Reader {
    out: String,
    groups: Vec<Group>,
    /// Fallback characters still to skip after a `\uN`.
    skip: usize,
    code_page: &'static encoding_rs::Encoding,
    /// The first half of a `\uN` surrogate pair.
    high_surrogate: Option<u16>,
    /// The token before was `{` (a destination may follow).
    group_start: bool,
}

impl Reader {
    fn group(&mut self) -> &mut Group {
        // The outermost group is never popped (see EndGroup).
        let last = self.groups.len() - 1;
        &mut self.groups[last]
    }

    fn token(&mut self, token: &Token) {
        let group_start = std::mem::take(&mut self.group_start);
        match token {
            Token::StartGroup => {
                let inner = *self.group();
                self.groups.push(inner);
                self.group_start = true;
                self.skip = 0;
            }
            Token::EndGroup => {
                if self.groups.len() > 1 {
                    self.groups.pop();
                }
                self.skip = 0;
            }
            Token::ControlSymbol('*') if group_start => self.group().hidden = true,
            Token::ControlSymbol(c) => self.symbol(*c),
            Token::ControlWord { name, arg } => self.word(name, *arg),
            Token::Text(bytes) => self.text(bytes),
            Token::ControlBin(_) | Token::Newline(_) => {}
        }
    }

    fn symbol(&mut self, c: char) {
        match c {
            '\\' | '{' | '}' => self.push(c),
            '~' => self.push('\u{a0}'),
            '_' => self.push('\u{2011}'),
            '\n' | '\r' => self.push('\n'),
            _ => {}
        }
    }

    fn word(&mut self, name: &str, arg: Option<i32>) {
        if NOT_TEXT.contains(&name) {
            self.group().hidden = true;
            return;
        }
        match name {
            "ansicpg" => {
                let label = format!("windows-{}", arg.unwrap_or(1252));
                if let Some(e) = encoding_rs::Encoding::for_label(label.as_bytes()) {
                    self.code_page = e;
                }
            }
            "uc" => self.group().uc = usize::try_from(arg.unwrap_or(1)).unwrap_or(1).min(8),
            "u" => {
                // A 16-bit signed number: -4 is 65532.
                let unit = arg.unwrap_or(0).rem_euclid(65536) as u16;
                self.unicode(unit);
                self.skip = self.group().uc;
            }
            "'" => {
                let byte = arg.unwrap_or(0).clamp(0, 255) as u8;
                if self.skip > 0 {
                    self.skip -= 1;
                } else {
                    let one = [byte];
                    let text = self
                        .code_page
                        .decode_without_bom_handling(&one)
                        .0
                        .into_owned();
                    text.chars().for_each(|c| self.push(c));
                }
            }
            "par" | "line" | "row" | "sect" | "page" => self.push('\n'),
            "tab" | "cell" => self.push('\t'),
            "emdash" => self.push('—'),
            "endash" => self.push('–'),
            "bullet" => self.push('•'),
            "lquote" => self.push('‘'),
            "rquote" => self.push('’'),
            "ldblquote" => self.push('“'),
            "rdblquote" => self.push('”'),
            _ => {}
        }
    }

    /// One UTF-16 unit of a `\uN`: a surrogate pair makes one character.
    fn unicode(&mut self, unit: u16) {
        if (0xD800..0xDC00).contains(&unit) {
            self.high_surrogate = Some(unit);
            return;
        }
        let units = match self.high_surrogate.take() {
            Some(high) => vec![high, unit],
            None => vec![unit],
        };
        let decoded: String = char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        decoded.chars().for_each(|c| self.push(c));
    }

    fn text(&mut self, bytes: &[u8]) {
        let (text, _) = self.code_page.decode_without_bom_handling(bytes);
        for c in text.chars() {
            if self.skip > 0 {
                self.skip -= 1;
            } else {
                self.push(c);
            }
        }
    }

    fn push(&mut self, c: char) {
        if !self.groups.last().is_some_and(|g| g.hidden) {
            self.out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{extract, Format};

    #[test]
    fn unicode_escapes_code_page_bytes_and_paragraphs() {
        // "Zoë Müller — 血压" as RTF writers store it: \'hh in the code page, \uN with a
        // fallback, a surrogate pair, and destinations that are not text.
        let rtf = br"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Arial;}}{\colortbl;\red0\green0\blue0;}{\*\generator Writer;}
\f0\pard Zo\'eb M\u252?ller \u8212? \uc0\u34880\u21387\par
{\uc2 Second\u-10179\'5f\'5f\u-8704\'5f\'5f line}\par Tab\tab end\'85}";
        let text = extract(Format::Rtf, rtf).unwrap();
        assert_eq!(text, "Zoë Müller — 血压\nSecond😀 line\nTab\tend…\n");
    }

    #[test]
    fn broken_rtf_is_named_not_fatal() {
        let err = extract(Format::Rtf, b"just text").unwrap_err();
        assert!(err.0.contains("RTF cannot be read"), "{err}");
        let err = extract(Format::Rtf, br"{\rtf1 {\*\generator x}}").unwrap_err();
        assert_eq!(err.0, "the document holds no text");
    }
}
