//! Reading one search page: the resources of a Bundle (each as the server sent it, see
//! [`Resource`]), its `next` link and its `total`.
//!
//! Everything here is untrusted input: a body that is not a Bundle is an error naming what it
//! is, so is a Bundle whose `entry` is not a list of objects (the page is retried, then its
//! type fails and keeps its previous file); entries without a resource are ignored, and
//! OperationOutcome entries (search mode `outcome`) are collected as messages instead of being stored. Only the Bundle's own
//! structure is parsed; each resource stays text until [`Resource::read`] looks at it.

use super::resource::Resource;
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

#[derive(Debug, Default)]
pub struct Page {
    pub resources: Vec<Resource>,
    pub next: Option<Url>,
    pub total: Option<u64>,
    /// Texts of OperationOutcome entries the server put into the page.
    pub outcomes: Vec<String>,
}

/// The parts of a Bundle fhirdl reads; each one stays raw until it is known to have the right
/// shape, so an odd `total` or `link` never costs the page.
#[derive(Deserialize)]
struct BundleIn<'a> {
    #[serde(rename = "resourceType", borrow)]
    resource_type: Option<&'a RawValue>,
    #[serde(borrow)]
    total: Option<&'a RawValue>,
    #[serde(borrow)]
    link: Option<&'a RawValue>,
    #[serde(borrow)]
    entry: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct EntryIn<'a> {
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
    #[serde(borrow)]
    search: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct LinkIn<'a> {
    #[serde(borrow)]
    relation: Option<&'a RawValue>,
    #[serde(borrow)]
    url: Option<&'a RawValue>,
}

/// `raw` read as `T`, or `None` when it has another shape.
fn shaped<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

/// Parses a searchset Bundle as received; `page_url` resolves relative `next` links. The
/// complaint (not JSON, not a Bundle, a bad next link) is retried by the client like a body cut
/// off.
pub fn parse_page(body: &[u8], page_url: &Url) -> Result<Page, String> {
    // A well-formed page is read in one pass over its structure; anything odd goes the careful
    // way below, which says what is wrong with it.
    if let Ok(page) = serde_json::from_slice::<WellFormed<'_>>(body) {
        if let Ok(page) = well_formed(page, page_url) {
            return Ok(page);
        }
    }
    let bundle: BundleIn<'_> = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) if e.is_data() => {
            return Err("expected a Bundle but the server sent something else".into())
        }
        Err(e) => return Err(e.to_string()),
    };
    let kind: Option<String> = shaped(bundle.resource_type);
    if kind.as_deref() != Some("Bundle") {
        return Err(format!(
            "expected a Bundle but the server sent a {}",
            crate::sanitize::clean(kind.as_deref().unwrap_or("(none)"))
        ));
    }
    let mut page = Page {
        total: shaped(bundle.total),
        next: next_link(bundle.link, page_url)?,
        ..Page::default()
    };
    let entries: Vec<&RawValue> = match bundle.entry {
        None => Vec::new(),
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|_| "the Bundle's entry is not a list".to_string())?,
    };
    for (n, entry) in entries.into_iter().enumerate() {
        let entry = serde_json::from_str::<EntryIn<'_>>(entry.get())
            .map_err(|_| format!("entry {} of the Bundle is not an object", n + 1))?;
        keep_entry(&mut page, entry);
    }
    Ok(page)
}

/// A Bundle whose parts all have the expected shape, read in one pass: the entries' resources
/// are found while the page is read instead of in two more passes over them.
#[derive(Deserialize)]
struct WellFormed<'a> {
    #[serde(rename = "resourceType", borrow)]
    resource_type: &'a str,
    #[serde(borrow)]
    total: Option<&'a RawValue>,
    #[serde(borrow)]
    link: Option<&'a RawValue>,
    #[serde(borrow, default)]
    entry: Vec<EntryIn<'a>>,
}

fn well_formed(bundle: WellFormed<'_>, page_url: &Url) -> Result<Page, String> {
    if bundle.resource_type != "Bundle" {
        return Err(String::new());
    }
    let mut page = Page {
        total: shaped(bundle.total),
        next: next_link(bundle.link, page_url)?,
        ..Page::default()
    };
    page.resources.reserve(bundle.entry.len());
    for entry in bundle.entry {
        keep_entry(&mut page, entry);
    }
    Ok(page)
}

/// An entry's resource into `page`: a resource to keep, or an OperationOutcome's message.
fn keep_entry(page: &mut Page, entry: EntryIn<'_>) {
    let Some(raw) = entry.resource else {
        return;
    };
    #[derive(Deserialize)]
    struct Search<'a> {
        #[serde(borrow)]
        mode: Option<std::borrow::Cow<'a, str>>,
    }
    let mode = shaped::<Search<'_>>(entry.search).and_then(|s| s.mode);
    let resource = Resource::read(raw);
    if mode.as_deref() == Some("outcome") || resource.resource_type == "OperationOutcome" {
        let outcome: serde_json::Value =
            serde_json::from_str(raw.get()).unwrap_or(serde_json::Value::Null);
        if let Some(t) = crate::fhir::client::outcome_text(&outcome) {
            page.outcomes.push(t);
        }
        return;
    }
    page.resources.push(resource);
}

/// The Bundle's `next` link, resolved against the page's URL.
fn next_link(links: Option<&RawValue>, page_url: &Url) -> Result<Option<Url>, String> {
    let links: Vec<LinkIn<'_>> = shaped(links).unwrap_or_default();
    let next = links.iter().find_map(|l| {
        (shaped::<String>(l.relation).as_deref() == Some("next"))
            .then(|| shaped::<String>(l.url))
            .flatten()
    });
    next.map(|u| page_url.join(&u))
        .transpose()
        .map_err(|e| format!("the server's next link is not a valid URL: {e}"))
}

/// A FHIR resource type name: an upper-case letter, then letters and digits (at most 64).
pub fn is_type_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A FHIR `id`: 1 to 64 of `A-Z a-z 0-9 - .` (FHIR's `[A-Za-z0-9\-\.]{1,64}`). Ids that break
/// this rule are reported instead of stored and never name a file; legal ids that cannot be
/// file names as they are (`.`, `..`, `CON`…) get safe names (see [`super::naming`]).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_entries_next_and_total() {
        let url = Url::parse("https://a.example/fhir/r4/Observation?patient=1").unwrap();
        let body = serde_json::to_vec(&json!({
            "resourceType": "Bundle", "total": 3,
            "link": [{"relation": "self", "url": "x"}, {"relation": "next", "url": "Observation?page=2"}],
            "entry": [
                {"resource": {"resourceType": "Observation", "id": "o1"}},
                {"resource": {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "partial"}]}, "search": {"mode": "outcome"}},
                {"fullUrl": "no resource"}
            ]
        }))
        .unwrap();
        let page = parse_page(&body, &url).unwrap();
        assert_eq!(page.resources.len(), 1);
        assert_eq!(page.total, Some(3));
        assert_eq!(
            page.next.unwrap().as_str(),
            "https://a.example/fhir/r4/Observation?page=2"
        );
        assert_eq!(page.outcomes, vec!["partial"]);
    }

    #[test]
    fn resources_keep_the_servers_text() {
        let url = Url::parse("https://a.example/fhir/r4/Observation").unwrap();
        let body = br#"{"entry": [{"resource": { "valueQuantity": {"value": 1.50},
            "resourceType": "Observation", "id": "o1", "x": 100.000000000000000001 }}],
            "resourceType": "Bundle"}"#;
        let page = parse_page(body, &url).unwrap();
        assert_eq!(
            page.resources[0].line,
            r#"{"valueQuantity":{"value":1.50},"resourceType":"Observation","id":"o1","x":100.000000000000000001}"#
        );
    }

    #[test]
    fn refuses_what_is_not_a_bundle() {
        let url = Url::parse("https://a/x").unwrap();
        assert!(parse_page(br#"{"resourceType": "Patient"}"#, &url).is_err());
        assert!(parse_page(b"[1]", &url).is_err());
        assert!(parse_page(b"{\"resourceType\": \"Bundle\", ", &url).is_err());
        let odd = br#"{"resourceType": "Bundle", "total": "many", "link": 5}"#;
        let empty = parse_page(odd, &url).unwrap();
        assert!(empty.resources.is_empty() && empty.next.is_none() && empty.total.is_none());
        let not_a_list = br#"{"resourceType": "Bundle", "entry": "x"}"#;
        assert_eq!(
            parse_page(not_a_list, &url).unwrap_err(),
            "the Bundle's entry is not a list"
        );
        let not_objects = br#"{"resourceType": "Bundle", "entry": [{}, 7]}"#;
        assert_eq!(
            parse_page(not_objects, &url).unwrap_err(),
            "entry 2 of the Bundle is not an object"
        );
    }

    #[test]
    fn id_rules() {
        for ok in ["a", "A-1.b", ".", "..", "CON", "a.", &"x".repeat(64)] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            "a\\b",
            "a\0b",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
