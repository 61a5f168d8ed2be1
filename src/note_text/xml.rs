//! The text of an XML document (a C-CDA `ClinicalDocument`, or any other), read as a stream of
//! events by `quick-xml`: the character data of every element, a line break around each
//! block of a CDA narrative (title, paragraph, list item, table row, section) and a space
//! between other elements (`<given>Zoë</given><family>Müller</family>` reads `Zoë Müller`).
//! Attributes (codes, ids) are not text. A DTD's own entities are not expanded (quick-xml does
//! not read DTDs), so no document can make the text grow beyond its own size.

use super::Error;
use quick_xml::events::Event;

/// Elements that start a line: the CDA narrative block's (HL7 CDA R2, section 4.3.5, "Section
/// Narrative Block") and the XHTML ones it borrows.
const BLOCKS: [&str; 18] = [
    "title",
    "paragraph",
    "p",
    "div",
    "br",
    "item",
    "li",
    "tr",
    "table",
    "list",
    "section",
    "caption",
    "h1",
    "h2",
    "h3",
    "h4",
    "text",
    "component",
];

/// Elements whose content is not text.
const HIDDEN: [&str; 2] = ["script", "style"];

pub fn text(document: &str) -> Result<String, Error> {
    let mut reader = quick_xml::Reader::from_str(document);
    let mut out = String::new();
    let mut hidden = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            Error(format!(
                "the XML cannot be read at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match event {
            Event::Start(e) => {
                let name = lower(&e);
                hidden += usize::from(HIDDEN.contains(&name.as_str()));
                separate(&mut out, &name);
            }
            Event::End(e) => {
                let name = e.local_name();
                let name = AsRef::<str>::as_ref(&name).to_ascii_lowercase();
                if HIDDEN.contains(&name.as_str()) {
                    hidden = hidden.saturating_sub(1);
                }
                separate(&mut out, &name);
            }
            Event::Empty(e) => separate(&mut out, &lower(&e)),
            Event::Text(t) if hidden == 0 => push_text(&mut out, &t.xml10_content()),
            Event::CData(t) if hidden == 0 => push_text(&mut out, &t.xml10_content()),
            Event::GeneralRef(r) if hidden == 0 => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => predefined(&r.xml10_content()),
                };
                match c {
                    Some(c) => out.push(c),
                    None => out.push_str(&format!("&{};", r.xml10_content())),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// An element's name without its namespace prefix, in lower case.
fn lower(e: &quick_xml::events::BytesStart<'_>) -> String {
    let name = e.local_name();
    AsRef::<str>::as_ref(&name).to_ascii_lowercase()
}

/// Deepest nesting of HTML laid out as text: the HTML parser (html5ever, under html2text)
/// looks through every open element at each new one, so its time grows with the square of the
/// depth (16,000 nested `<div>`s took 20 s). Real notes nest a few dozen deep.
const HTML_DEPTH_MAX: usize = 500;

/// Tags in a document that the XML reader cannot walk to its end (bare `<` in text, say),
/// below which the HTML parser is safe whatever the depth.
const HTML_TAGS_UNCHECKED_MAX: usize = 5_000;

/// Elements that never hold others, or whose end tag HTML lets a writer leave out: they do not
/// deepen the estimate.
const FLAT: [&str; 24] = [
    "p", "li", "td", "th", "tr", "dt", "dd", "option", "br", "img", "hr", "meta", "link", "input",
    "col", "area", "base", "wbr", "source", "track", "embed", "param", "thead", "tbody",
];

/// Refuses HTML nested deeper than [`HTML_DEPTH_MAX`]: its tags are walked with the XML
/// reader (lenient: end tags need not match) as an estimate of the depth. When the reader
/// cannot walk the whole document, a document with few tags is let through.
pub fn html_depth(bytes: &[u8]) -> Result<(), Error> {
    let source = String::from_utf8_lossy(bytes);
    let mut reader = quick_xml::Reader::from_str(&source);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;
    let (mut depth, mut deepest) = (0usize, 0usize);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if deepens(&lower(&e)) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Ok(Event::End(e)) => {
                let name = e.local_name();
                if deepens(&AsRef::<str>::as_ref(&name).to_ascii_lowercase()) {
                    depth = depth.saturating_sub(1);
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => {
                let tags = bytes.iter().filter(|&&b| b == b'<').count();
                if tags > HTML_TAGS_UNCHECKED_MAX && deepest <= HTML_DEPTH_MAX {
                    return Err(Error(format!(
                        "the HTML has {tags} tags and markup its depth cannot be checked through; left unread"
                    )));
                }
                break;
            }
        }
        if deepest > HTML_DEPTH_MAX {
            break;
        }
    }
    if deepest > HTML_DEPTH_MAX {
        return Err(Error(format!(
            "the HTML is nested more than {HTML_DEPTH_MAX} elements deep; left unread"
        )));
    }
    Ok(())
}

/// An element that holds others: a real tag name (a bare `<` in text reads as a tag to the
/// XML reader, whose "name" then is not one) and not one of [`FLAT`].
fn deepens(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !FLAT.contains(&name)
}

/// The five entities every XML document has.
fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// A line break before or after a block element, else a space, unless one is there.
fn separate(out: &mut String, element: &str) {
    if BLOCKS.contains(&element) {
        if !out.ends_with('\n') && !out.is_empty() {
            out.push('\n');
        }
    } else if !out.ends_with([' ', '\n']) && !out.is_empty() {
        out.push(' ');
    }
}

/// Character data with its runs of white space made one space (XML layout is not text).
fn push_text(out: &mut String, text: &str) {
    for (i, word) in text.split_whitespace().enumerate() {
        if (i > 0 || text.starts_with(char::is_whitespace))
            && !out.ends_with([' ', '\n'])
            && !out.is_empty()
        {
            out.push(' ');
        }
        out.push_str(word);
    }
    if text.ends_with(char::is_whitespace) && !out.ends_with([' ', '\n']) && !out.is_empty() {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::super::{extract, Format};

    #[test]
    fn a_ccda_reads_as_its_names_titles_and_narrative() {
        let ccda = r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <code code="11506-3" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Progress note</title>
  <recordTarget><patientRole><patient><name><given>Zoë</given><family>Müller</family></name></patient></patientRole></recordTarget>
  <component><structuredBody><component><section>
    <title>Vital signs — 血压</title>
    <text><paragraph>Blood pressure 120/80 &amp; pulse &#x32;&#48;.</paragraph>
      <table><tr><td>Systolic</td><td>120</td></tr></table>
      <![CDATA[raw <b>cdata</b>]]>
    </text>
  </section></component></structuredBody></component>
</ClinicalDocument>"#;
        let text = extract(Format::Xml, ccda.as_bytes()).unwrap();
        assert_eq!(
            text,
            "Progress note\nZoë Müller\nVital signs — 血压\nBlood pressure 120/80 & pulse 20.\nSystolic 120\nraw <b>cdata</b>\n"
        );
        assert!(!text.contains("11506-3"), "attributes are not text");
    }

    #[test]
    fn broken_xml_is_named_not_fatal() {
        let err = extract(Format::Xml, b"<a><b>text</a>").unwrap_err();
        assert!(err.0.contains("cannot be read"), "{err}");
        let err = extract(Format::Xml, b"<a/>").unwrap_err();
        assert_eq!(err.0, "the document holds no text");
    }
}
