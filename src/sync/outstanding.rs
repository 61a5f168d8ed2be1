//! What a run could not store, remembered in the export's state (`.fhirdl/state.json`,
//! `outstanding`) until a later run stores it or the server says it is gone: a resource the
//! server sent that was not stored, a document that could not be saved, a type whose search
//! failed. Each entry keeps its reason and when it was first and last seen.
//!
//! An incremental run asks only for what changed since its mark, so without this list a resource
//! refused once would never be asked for again and its type would read `complete` from the next
//! run on. With it, every later run tries again — a resource with a readable id by reading
//! `Type/id`, one without by searching its type whole, documents by the document pass, a failed
//! type by its search from the mark it kept — and the type stays `partial` (exit 3, named in the
//! summary, `--json`, `last_run.json`, the manifest and `fhirdl status`) while anything of it is
//! outstanding.

use super::attachments::Problem;
use super::bundle::valid_id;
use super::Dropped;
use serde::{Deserialize, Serialize};

/// What is outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A resource the server sent that was not stored.
    Resource,
    /// A document (attachment) that could not be saved.
    Document,
    /// A type whose search or storing failed.
    Type,
}

/// One thing a run could not store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outstanding {
    pub kind: Kind,
    /// The type it belongs to (a document: the type of the resource that carries it).
    pub resource_type: String,
    /// The resource's id as reported (cut and cleaned when it breaks the id syntax); for a
    /// document, the id of the resource that carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A document's file under `attachments/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Why it is not stored, as the latest run that tried saw it.
    pub reason: String,
    /// The start of the run that first could not store it (RFC 3339).
    pub first_seen: String,
    /// The start of the latest run that tried and could not.
    pub last_seen: String,
}

impl Outstanding {
    pub fn resource(d: &Dropped, now: &str) -> Outstanding {
        Outstanding {
            kind: Kind::Resource,
            resource_type: d.resource_type.clone(),
            id: d.id.clone(),
            file: None,
            reason: d.reason.clone(),
            first_seen: now.to_string(),
            last_seen: now.to_string(),
        }
    }

    pub fn document(p: &Problem, now: &str) -> Outstanding {
        let (ty, id) = match p.resource.split_once('/') {
            Some((ty, id)) => (ty.to_string(), Some(id.to_string())),
            None => (p.resource.clone(), None),
        };
        Outstanding {
            kind: Kind::Document,
            resource_type: ty,
            id,
            file: Some(p.file.clone()),
            reason: p.reason.clone(),
            first_seen: now.to_string(),
            last_seen: now.to_string(),
        }
    }

    pub fn failed_type(ty: &str, reason: &str, now: &str) -> Outstanding {
        Outstanding {
            kind: Kind::Type,
            resource_type: ty.to_string(),
            id: None,
            file: None,
            reason: reason.to_string(),
            first_seen: now.to_string(),
            last_seen: now.to_string(),
        }
    }

    /// The id a resource can be read again by (`Type/id`): a resource whose id is legal.
    pub fn readable_id(&self) -> Option<&str> {
        match self.kind {
            Kind::Resource => self.id.as_deref().filter(|id| valid_id(id)),
            _ => None,
        }
    }

    /// A resource that only a whole search of its type can bring again (no id, or one that
    /// cannot be read by).
    pub fn needs_whole_search(&self) -> bool {
        self.kind == Kind::Resource && self.readable_id().is_none()
    }

    /// What tells entries apart: two with the same key stand for the same thing (a resource
    /// without a readable id is told apart by its reason). Lists are matched through keys in
    /// hash sets, so a server that sends many unstorable resources costs linear time.
    pub fn key(&self) -> Key {
        let by_reason = self.kind == Kind::Resource && self.readable_id().is_none();
        (
            self.kind,
            self.resource_type.clone(),
            self.id.clone(),
            self.file.clone(),
            by_reason.then(|| self.reason.clone()),
        )
    }
}

impl std::fmt::Display for Outstanding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.kind, &self.id, &self.file) {
            (Kind::Type, _, _) => write!(f, "{} (the type's search)", self.resource_type),
            (Kind::Document, Some(id), Some(file)) => {
                let file = crate::export_layout::attachment_name(file);
                write!(f, "{file} of {}/{id}", self.resource_type)
            }
            (_, Some(id), _) => write!(f, "{}/{id}", self.resource_type),
            (_, None, _) => write!(f, "{} (no id)", self.resource_type),
        }?;
        write!(f, ": {} (since {})", self.reason, self.first_seen)
    }
}

/// See [`Outstanding::key`].
pub type Key = (Kind, String, Option<String>, Option<String>, Option<String>);

/// The keys of `list`.
pub fn keys(list: &[Outstanding]) -> std::collections::HashSet<Key> {
    list.iter().map(Outstanding::key).collect()
}

/// Adds each of `entries` to `list`, or renews the reason and last sighting of the same entry
/// there (its first sighting is kept). Returns whether `list` changed.
pub fn note(list: &mut Vec<Outstanding>, entries: impl IntoIterator<Item = Outstanding>) -> bool {
    let mut at: std::collections::HashMap<Key, usize> =
        list.iter().enumerate().map(|(i, o)| (o.key(), i)).collect();
    let mut changed = false;
    for entry in entries {
        match at.get(&entry.key()) {
            Some(&i) => {
                let held = &mut list[i];
                if held.reason != entry.reason || held.last_seen != entry.last_seen {
                    held.reason = entry.reason;
                    held.last_seen = entry.last_seen;
                    changed = true;
                }
            }
            None => {
                at.insert(entry.key(), list.len());
                list.push(entry);
                changed = true;
            }
        }
    }
    changed
}

/// Removes the entries `gone` says are settled; returns how many.
pub fn settle(list: &mut Vec<Outstanding>, mut gone: impl FnMut(&Outstanding) -> bool) -> usize {
    let before = list.len();
    list.retain(|o| !gone(o));
    before - list.len()
}

/// Replaces the entries of `kind` (of types `within` accepts) by `now`, keeping the first
/// sighting of those seen again; returns whether `list` changed.
pub fn replace(
    list: &mut Vec<Outstanding>,
    kind: Kind,
    within: impl Fn(&str) -> bool,
    now: Vec<Outstanding>,
) -> bool {
    let before = list.clone();
    let (old, mut kept): (Vec<_>, Vec<_>) = std::mem::take(list)
        .into_iter()
        .partition(|o| o.kind == kind && within(&o.resource_type));
    let first_seen: std::collections::HashMap<Key, String> =
        old.into_iter().map(|o| (o.key(), o.first_seen)).collect();
    for mut entry in now {
        if let Some(first) = first_seen.get(&entry.key()) {
            entry.first_seen = first.clone();
        }
        kept.push(entry);
    }
    *list = kept;
    *list != before
}

/// The completeness a type's copy has while `entries` (its outstanding ones) are not stored.
pub fn partial(entries: &[&Outstanding]) -> Option<super::Completeness> {
    if entries.is_empty() {
        return None;
    }
    let count = |kind: Kind| entries.iter().filter(|o| o.kind == kind).count();
    let plural = |n: usize, one: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {one}s"),
    };
    let mut parts = Vec::new();
    if count(Kind::Type) > 0 {
        parts.push("its search".to_string());
    }
    for (kind, one) in [(Kind::Resource, "resource"), (Kind::Document, "document")] {
        if count(kind) > 0 {
            parts.push(plural(count(kind), one));
        }
    }
    let since = entries
        .iter()
        .map(|o| o.first_seen.as_str())
        .min()
        .unwrap_or_default();
    let named: Vec<String> = entries.iter().take(3).map(|o| short(o)).collect();
    let more = match entries.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    Some(super::Completeness::Partial(format!(
        "{} not stored since {since} ({}{more}); each run tries again",
        parts.join(" and "),
        named.join(", ")
    )))
}

fn short(o: &Outstanding) -> String {
    match (o.kind, &o.id, &o.file) {
        (Kind::Type, _, _) => "the search failed".into(),
        (Kind::Document, _, Some(file)) => format!("document {file}"),
        (_, Some(id), _) => format!("{}/{id}", o.resource_type),
        (_, None, _) => "a resource without an id".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dropped(id: Option<&str>, reason: &str) -> Dropped {
        Dropped {
            resource_type: "Observation".into(),
            id: id.map(str::to_string),
            reason: reason.into(),
        }
    }

    #[test]
    fn an_entry_seen_again_keeps_its_first_sighting() {
        let mut list = Vec::new();
        assert!(note(
            &mut list,
            [Outstanding::resource(
                &dropped(Some("a"), "x"),
                "2026-01-01"
            )]
        ));
        assert!(note(
            &mut list,
            [Outstanding::resource(
                &dropped(Some("a"), "y"),
                "2026-01-02"
            )]
        ));
        assert!(!note(
            &mut list,
            [Outstanding::resource(
                &dropped(Some("a"), "y"),
                "2026-01-02"
            )]
        ));
        assert_eq!(list.len(), 1);
        assert_eq!(
            (
                list[0].first_seen.as_str(),
                list[0].last_seen.as_str(),
                list[0].reason.as_str()
            ),
            ("2026-01-01", "2026-01-02", "y")
        );
        // Without a readable id, entries are told apart by their reason.
        note(
            &mut list,
            [Outstanding::resource(&dropped(None, "no id"), "2026-01-02")],
        );
        note(
            &mut list,
            [Outstanding::resource(
                &dropped(Some("../x"), "bad id"),
                "2026-01-02",
            )],
        );
        note(
            &mut list,
            [Outstanding::resource(
                &dropped(None, "not a resource"),
                "2026-01-02",
            )],
        );
        assert_eq!(list.len(), 4);
        assert!(list[0].readable_id() == Some("a") && !list[0].needs_whole_search());
        assert!(list[1..].iter().all(Outstanding::needs_whole_search));
        assert_eq!(settle(&mut list, Outstanding::needs_whole_search), 3);
        assert_eq!(list.len(), 1);
    }

    /// Many unstorable resources (a hostile server's pages) are noted in linear time: noting
    /// 50,000 of them twice keeps one entry each.
    #[test]
    fn many_entries_are_noted_once_each() {
        let mut list = Vec::new();
        let many = |day: &'static str| {
            (0..50_000).map(move |i| {
                Outstanding::resource(&dropped(Some(&format!("id-{i}")), "refused"), day)
            })
        };
        assert!(note(&mut list, many("2026-01-01")));
        assert!(note(&mut list, many("2026-01-02")));
        assert_eq!(list.len(), 50_000);
        assert!(list
            .iter()
            .all(|o| o.first_seen == "2026-01-01" && o.last_seen == "2026-01-02"));
    }

    #[test]
    fn replacing_documents_keeps_the_first_sighting_of_those_still_failing() {
        let problem = |file: &str| Problem {
            file: file.into(),
            resource: "DocumentReference/d1".into(),
            url: None,
            reason: "HTTP 500".into(),
        };
        let mut list = vec![
            Outstanding::document(&problem("a.pdf"), "2026-01-01"),
            Outstanding::document(&problem("b.pdf"), "2026-01-01"),
            Outstanding::failed_type("Condition", "HTTP 500", "2026-01-01"),
        ];
        let now = vec![Outstanding::document(&problem("b.pdf"), "2026-01-03")];
        assert!(replace(&mut list, Kind::Document, |_| true, now));
        assert_eq!(list.len(), 2);
        let b = list.iter().find(|o| o.kind == Kind::Document).unwrap();
        assert_eq!(
            (b.file.as_deref(), b.first_seen.as_str()),
            (Some("b.pdf"), "2026-01-01")
        );
        assert_eq!(
            b.to_string(),
            "attachments/b.pdf of DocumentReference/d1: HTTP 500 (since 2026-01-01)"
        );
        let all: Vec<&Outstanding> = list.iter().collect();
        let c = partial(&all).unwrap();
        assert_eq!(c.label(), "partial");
        assert_eq!(
            c.detail().unwrap(),
            "its search and 1 document not stored since 2026-01-01 (the search failed, document b.pdf); each run tries again"
        );
    }
}
