//! Reading one search page: the resources of a Bundle, its `next` link and its `total`.
//!
//! Everything here is untrusted input: a body that is not a Bundle is an error naming what it
//! is, entries without a resource are ignored, and OperationOutcome entries (search mode
//! `outcome`) are collected as messages instead of being stored.

use anyhow::Result;
use serde_json::Value;
use url::Url;

#[derive(Debug, Default)]
pub struct Page {
    pub resources: Vec<Value>,
    pub next: Option<Url>,
    pub total: Option<u64>,
    /// Texts of OperationOutcome entries the server put into the page.
    pub outcomes: Vec<String>,
}

/// Parses a searchset Bundle; `page_url` resolves relative `next` links.
pub fn parse_page(body: Value, page_url: &Url) -> Result<Page> {
    let kind = body
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    if kind != "Bundle" {
        anyhow::bail!(
            "expected a Bundle but the server sent a {}",
            crate::sanitize::clean(kind)
        );
    }
    let total = body.get("total").and_then(Value::as_u64);
    let next = body
        .get("link")
        .and_then(Value::as_array)
        .and_then(|links| {
            links
                .iter()
                .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
        })
        .and_then(|l| l.get("url").and_then(Value::as_str))
        .map(|u| page_url.join(u))
        .transpose()
        .map_err(|e| anyhow::anyhow!("the server's next link is not a valid URL: {e}"))?;
    let mut page = Page {
        total,
        next,
        ..Page::default()
    };
    let Value::Object(mut map) = body else {
        return Ok(page);
    };
    let entries = match map.remove("entry") {
        Some(Value::Array(e)) => e,
        _ => Vec::new(),
    };
    for entry in entries {
        let Value::Object(mut entry) = entry else {
            continue;
        };
        let mode = entry
            .get("search")
            .and_then(|s| s.get("mode"))
            .and_then(Value::as_str)
            .unwrap_or("match")
            .to_string();
        let Some(resource) = entry.remove("resource") else {
            continue;
        };
        if mode == "outcome"
            || resource.get("resourceType").and_then(Value::as_str) == Some("OperationOutcome")
        {
            if let Some(t) = crate::fhir::client::outcome_text(&resource) {
                page.outcomes.push(t);
            }
            continue;
        }
        page.resources.push(resource);
    }
    Ok(page)
}

/// A FHIR resource type name: an upper-case letter, then letters and digits (at most 64).
pub fn is_type_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A FHIR `id`: 1 to 64 of `A-Z a-z 0-9 - .`, and not `.` or `..` (which the FHIR syntax allows
/// but which mean "this folder" and "the parent folder" in a path, and which URL libraries drop
/// from a path). Ids that break this rule never name a file and are reported instead of stored.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
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
        let body = json!({
            "resourceType": "Bundle", "total": 3,
            "link": [{"relation": "self", "url": "x"}, {"relation": "next", "url": "Observation?page=2"}],
            "entry": [
                {"resource": {"resourceType": "Observation", "id": "o1"}},
                {"resource": {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "partial"}]}, "search": {"mode": "outcome"}},
                {"fullUrl": "no resource"},
                7
            ]
        });
        let page = parse_page(body, &url).unwrap();
        assert_eq!(page.resources.len(), 1);
        assert_eq!(page.total, Some(3));
        assert_eq!(
            page.next.unwrap().as_str(),
            "https://a.example/fhir/r4/Observation?page=2"
        );
        assert_eq!(page.outcomes, vec!["partial"]);
    }

    #[test]
    fn refuses_what_is_not_a_bundle() {
        let url = Url::parse("https://a/x").unwrap();
        assert!(parse_page(json!({"resourceType": "Patient"}), &url).is_err());
        assert!(parse_page(json!([1]), &url).is_err());
        let empty = parse_page(json!({"resourceType": "Bundle", "entry": "x"}), &url).unwrap();
        assert!(empty.resources.is_empty() && empty.next.is_none());
    }

    #[test]
    fn id_rules() {
        for ok in ["a", "A-1.b", &"x".repeat(64)] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            "a\\b",
            "a\0b",
            ".",
            "..",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
