//! Searchset Bundles as JSON text: entries spliced in from the stored JSON (a page of 200
//! resources is not parsed again), `self`/`next` links in the configured style (`_offset=N`
//! on the FHIR base, NextGen's `page=N` on `/fhir/R4`, or athenahealth's opaque `_cursor=…`),
//! and the `_summary=count` form.

use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;
use url::form_urlencoded;

use crate::hostile::HostileLink;
use crate::instant::format_instant;
use crate::quirks::{NextLinkStyle, CURSOR};
use crate::state::Shared;
use crate::store::StoredResource;

pub(crate) use crate::quirks::{OFFSET, PAGE};

/// One page of search results and what it takes to link the next one.
pub(crate) struct Page<'a> {
    pub resource_type: &'a str,
    /// The request's parameters, repeated in links (paging parameters replaced).
    pub params: &'a [(String, String)],
    pub offset: usize,
    pub count: usize,
    /// Every match, not only this page's.
    pub total: usize,
    pub entries: &'a [Arc<StoredResource>],
}

impl Page<'_> {
    /// This page's number, 1-based.
    fn number(&self) -> usize {
        self.offset / self.count.max(1) + 1
    }
}

/// `{"resourceType":"Bundle","type":"searchset","total":N}`.
pub(crate) fn count_only(total: usize) -> String {
    json!({
        "resourceType": "Bundle",
        "meta": {"lastUpdated": format_instant(OffsetDateTime::now_utc())},
        "type": "searchset",
        "total": total,
    })
    .to_string()
}

pub(crate) fn searchset(shared: &Shared, page: &Page<'_>) -> String {
    let style = shared.config.quirks.next_link_style;
    let mut links = vec![json!({
        "relation": "self",
        "url": link(shared, page, style, page.offset),
    })];
    let next = page.offset.saturating_add(page.count);
    // The early-missing next link keeps `total` true, as NextGen did (total 109, 50 returned).
    let dropped = shared
        .config
        .quirks
        .drops_next_link(page.resource_type, page.number());
    let hostile = shared.hostile();
    if page.count > 0 && next < page.total && !dropped {
        links.push(json!({"relation": "next", "url": link(shared, page, style, next)}));
    } else if hostile.pages_forever(page.resource_type) {
        links.push(json!({"relation": "next", "url": link(shared, page, style, next.max(page.offset + 1))}));
    } else if let Some(target) = hostile.next_link_for(page.resource_type) {
        let url = match target {
            HostileLink::Url(u) => u.clone(),
            HostileLink::FirstPage => link(shared, page, style, 0),
        };
        links.push(json!({"relation": "next", "url": url}));
    }
    let injected: Vec<String> = if page.offset == 0 {
        hostile
            .injected(page.resource_type)
            .map(|v| format!("{{\"resource\":{v},\"search\":{{\"mode\":\"match\"}}}}"))
            .collect()
    } else {
        Vec::new()
    };
    // Epic counts the page, not the matches (the `next` link above still follows the truth).
    let total = if shared.config.quirks.total_is_page_count {
        page.entries.len() + injected.len()
    } else {
        page.total
    };
    let mut head = json!({
        "resourceType": "Bundle",
        "meta": {"lastUpdated": format_instant(OffsetDateTime::now_utc())},
        "type": "searchset",
        "total": total,
        "link": links,
    });
    if shared.config.quirks.no_total {
        head.as_object_mut().map(|h| h.remove("total"));
    }
    let head = head.to_string();
    if page.entries.is_empty() && injected.is_empty() {
        return head;
    }
    let size = head.len()
        + page
            .entries
            .iter()
            .map(|r| r.json.len() + 160)
            .sum::<usize>();
    let mut out = String::with_capacity(size);
    // `head` is a JSON object; reopen it to append the entries.
    out.push_str(head.strip_suffix('}').unwrap_or(&head));
    out.push_str(",\"entry\":[");
    for (i, entry) in injected.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(entry);
    }
    for (i, resource) in page.entries.iter().enumerate() {
        if i > 0 || !injected.is_empty() {
            out.push(',');
        }
        let full_url = json!(format!(
            "{}/{}/{}",
            shared.fhir_base, resource.resource_type, resource.id
        ));
        let text = hostile
            .replaced(&resource.resource_type, &resource.id)
            .unwrap_or(&resource.json);
        out.push_str(&format!(
            "{{\"fullUrl\":{full_url},\"resource\":{text},\"search\":{{\"mode\":\"match\"}}}}"
        ));
    }
    out.push_str("]}");
    out
}

/// The search URL for the page starting at `offset`.
fn link(shared: &Shared, page: &Page<'_>, style: NextLinkStyle, offset: usize) -> String {
    if style == NextLinkStyle::Cursor {
        let token = shared.cursors.issue(page.params, offset);
        return format!(
            "{}/{}?{CURSOR}={token}",
            shared.link_base, page.resource_type
        );
    }
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in page.params {
        if name != OFFSET && !(style == NextLinkStyle::NextGen && name == PAGE) {
            serializer.append_pair(name, value);
        }
    }
    match style {
        NextLinkStyle::Offset if offset > 0 => {
            serializer.append_pair(OFFSET, &offset.to_string());
        }
        NextLinkStyle::Offset | NextLinkStyle::Cursor => {}
        NextLinkStyle::NextGen => {
            let number = offset / page.count.max(1) + 1;
            serializer.append_pair(PAGE, &number.to_string());
        }
    }
    let query = serializer.finish();
    let separator = if query.is_empty() { "" } else { "?" };
    format!(
        "{}/{}{separator}{query}",
        shared.link_base, page.resource_type
    )
}
