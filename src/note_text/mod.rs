//! Clinical notes as plain text: the text of a document that is C-CDA or other XML, HTML,
//! XHTML, RTF or plain text, for reading and searching beside the stored document (which is
//! never changed). Each format is read by a maintained parser, not by hand: XML by
//! [`quick_xml`] ([`xml`]), HTML and XHTML by [`html2text`] (html5ever underneath), RTF by
//! [`rtf_grimoire`]'s tokenizer ([`rtf`]); bytes in a code page by [`encoding_rs`].
//!
//! PDF is not read. The maintained pure-Rust extractor, `pdf-extract` 0.12 (on `lopdf`
//! 0.42, 74 crates in all), was tried on the sandbox's one-page PDF (a valid PDF 1.4 with
//! Helvetica text shown by the `'` operator, as simple report writers make them): it returned
//! no text at all, without an error, so a missing text could not even be told from an empty
//! document. A PDF's text is left to the reader's PDF viewer, which searches it.
//!
//! Everything here is pure (bytes in, text out) and never panics on what a server sent: a
//! document that cannot be read gives an [`Error`] naming why.

mod rtf;
mod xml;

/// A document format whose text fhirdl extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// C-CDA or any other XML: the text of its elements.
    Xml,
    Html,
    Xhtml,
    Rtf,
    Plain,
}

/// Why a document's text could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The format of a document by its content type, or, when that says nothing useful (none,
/// `application/octet-stream`), by its first bytes; `None` for what is not a note (PDF,
/// images, JSON…).
pub fn format_of(content_type: Option<&str>, head: &[u8]) -> Option<Format> {
    match crate::http::media_type(content_type).as_str() {
        "text/plain" => Some(Format::Plain),
        "text/html" => Some(Format::Html),
        "application/xhtml+xml" => Some(Format::Xhtml),
        "application/rtf" | "text/rtf" | "text/richtext" => Some(Format::Rtf),
        "application/xml" | "text/xml" | "application/hl7-v3+xml" | "application/cda+xml" => {
            Some(Format::Xml)
        }
        "" | "application/octet-stream" => sniff(head),
        _ => None,
    }
}

/// The format by the document's first bytes.
fn sniff(head: &[u8]) -> Option<Format> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = String::from_utf8_lossy(&head[start..head.len().min(start + 512)]).to_lowercase();
    if text.starts_with("{\\rtf") {
        Some(Format::Rtf)
    } else if text.starts_with("<!doctype html") || text.starts_with("<html") {
        Some(Format::Html)
    } else if text.starts_with("<?xml") || text.starts_with("<clinicaldocument") {
        Some(Format::Xml)
    } else {
        None
    }
}

/// The document's text: lines without trailing blanks, at most one empty line in a row,
/// ending with a newline.
pub fn extract(format: Format, bytes: &[u8]) -> Result<String, Error> {
    let text = match format {
        Format::Plain => decode(bytes),
        Format::Xml => xml::text(&decode(bytes))?,
        Format::Html | Format::Xhtml => html(bytes)?,
        Format::Rtf => rtf::text(bytes)?,
    };
    let tidy = tidy(&text);
    if tidy.trim().is_empty() {
        return Err(Error("the document holds no text".into()));
    }
    Ok(tidy)
}

/// Bytes as text: UTF-8 (without its byte order mark), else Windows-1252 (a superset of
/// Latin-1: the common case of a note that is not UTF-8, where every byte is a character).
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// HTML or XHTML as text, as a browser would lay it out without decoration; scripts and
/// styles are left out. A document nested too deep to lay out in reasonable time is refused
/// first (see [`xml::html_depth`]).
fn html(bytes: &[u8]) -> Result<String, Error> {
    xml::html_depth(bytes)?;
    html2text::config::plain()
        .no_link_wrapping()
        .string_from_read(bytes, 100)
        .map_err(|e| Error(format!("the HTML cannot be read: {e}")))
}

/// Trailing blanks dropped, blank runs made one empty line, a final newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = true;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
        } else {
            out.push_str(line);
            out.push('\n');
            blank = false;
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "Zoë Müller — 血压";

    #[test]
    fn formats_by_content_type_then_by_first_bytes() {
        assert_eq!(
            format_of(Some("text/plain; charset=utf-8"), b""),
            Some(Format::Plain)
        );
        assert_eq!(format_of(Some("TEXT/HTML"), b""), Some(Format::Html));
        assert_eq!(
            format_of(Some("application/xhtml+xml"), b""),
            Some(Format::Xhtml)
        );
        assert_eq!(format_of(Some("text/rtf"), b""), Some(Format::Rtf));
        assert_eq!(
            format_of(Some("application/hl7-v3+xml"), b""),
            Some(Format::Xml)
        );
        assert_eq!(format_of(Some("application/pdf"), b"<html>"), None);
        assert_eq!(
            format_of(None, b"\xEF\xBB\xBF  {\\rtf1 x}"),
            Some(Format::Rtf)
        );
        assert_eq!(
            format_of(Some("application/octet-stream"), b"<!DOCTYPE HTML>"),
            Some(Format::Html)
        );
        assert_eq!(
            format_of(None, b"<?xml version=\"1.0\"?><a/>"),
            Some(Format::Xml)
        );
        assert_eq!(format_of(None, b"%PDF-1.4"), None);
        assert_eq!(format_of(None, b""), None);
    }

    #[test]
    fn plain_text_in_utf8_or_latin1() {
        assert_eq!(
            extract(
                Format::Plain,
                format!("\u{feff}{NAME}  \r\n\n\n\nok").as_bytes()
            )
            .unwrap(),
            format!("{NAME}\n\nok\n")
        );
        assert_eq!(
            extract(Format::Plain, b"Zo\xEB M\xFCller").unwrap(),
            "Zoë Müller\n"
        );
        assert_eq!(
            extract(Format::Plain, b"  \n ").unwrap_err().0,
            "the document holds no text"
        );
    }

    #[test]
    fn deep_nesting_is_read_without_exhausting_the_stack() {
        // A hostile document: 200,000 nested elements or groups (each parser keeps its own
        // stack on the heap; a recursive one would abort the process here).
        let n = 200_000;
        let xml = format!("{}{NAME}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(extract(Format::Xml, xml.as_bytes()).unwrap().contains(NAME));
        let html = format!("<html><body>{}{NAME}</body></html>", "<div>".repeat(n));
        let err = extract(Format::Html, html.as_bytes()).unwrap_err();
        assert!(err.0.contains("nested more than"), "{err}");
        // Sloppy markup with as many tags (unclosed paragraphs and items, bare `<` in text)
        // is no deeper and is read.
        let rows = "<tr><td>Systolic<td>120 < 140<tr><td>Pulse<td>72".repeat(2_000);
        let sloppy = format!("<html><body><p>{NAME}<p>two<ul><li>a<li>b</ul><table>{rows}</table>");
        let text = extract(Format::Html, sloppy.as_bytes()).unwrap();
        assert!(
            text.contains(NAME) && text.contains("120 < 140"),
            "{}",
            &text[..200]
        );
        let rtf = format!("{{\\rtf1 {}x{}}}", "{".repeat(n), "}".repeat(n));
        assert_eq!(extract(Format::Rtf, rtf.as_bytes()).unwrap(), "x\n");
    }

    #[test]
    fn html_and_xhtml_without_scripts() {
        let html = format!("<!DOCTYPE html><html><head><title>t</title><style>p{{color:red}}</style><script>alert(1)</script></head><body><h1>Note</h1><p>{NAME} &amp; more</p><ul><li>one</li><li>two</li></ul></body></html>");
        let text = extract(Format::Html, html.as_bytes()).unwrap();
        assert!(text.contains(&format!("{NAME} & more")), "{text}");
        assert!(
            text.contains("one") && text.contains("two") && text.contains("Note"),
            "{text}"
        );
        assert!(!text.contains("alert") && !text.contains("color"), "{text}");
        let xhtml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"><body><p>{NAME}</p></body></html>");
        assert!(extract(Format::Xhtml, xhtml.as_bytes())
            .unwrap()
            .contains(NAME));
    }
}
