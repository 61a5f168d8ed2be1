//! The stored resources a whole search did not return, when the search is not known to be
//! complete (fanned out category by category on a server that will not count them, say): the
//! search alone cannot tell a resource removed on the server from one it never finds (NextGen's
//! uncategorised Conditions, reached only through references). Each is read by id:
//!
//! - 404 or 410: gone. Removed from the current files and kept in the history, as a replace
//!   removes what a complete search did not return.
//! - the resource itself: kept, and stored anew when its text changed (the old text to the
//!   history), as an upsert does.
//! - anything else (401, 403, 5xx, a broken connection, another resource): kept, and named in a
//!   warning. An unclear answer never removes anything.
//!
//! Past [`super::store::MAX_READS`] such resources none are read (all are kept, as before).

use super::export::Export;
use super::merge::{MergeMode, MergeOptions};
use super::resource::Resource;
use super::spool::Spool;
use super::store::StoredType;
use super::Options;
use crate::fhir::client::FhirClient;
use anyhow::Result;
use std::collections::BTreeSet;

/// What a read of one stored resource by id said.
#[derive(Debug, PartialEq)]
pub(super) enum Answer {
    /// 404 or 410: the server no longer has it.
    Gone,
    /// The resource, as sent.
    Found(Resource),
    /// Why the answer says neither.
    Unchecked(String),
}

/// What a read of `<ty>/<id>` answered with `status` means: `body` is a success's resource,
/// `error_body` an error's body (its OperationOutcome, if any). A 404 whose OperationOutcome
/// says `not-supported` is about the read, not the resource.
pub(super) fn judge(
    ty: &str,
    id: &str,
    patient: &str,
    status: u16,
    body: Option<Resource>,
    error_body: &serde_json::Value,
) -> Answer {
    match (status, body) {
        (404, _) if outcome_codes(error_body).any(|c| c == "not-supported") => {
            Answer::Unchecked("HTTP 404: the server does not support the read".into())
        }
        (404 | 410, _) => Answer::Gone,
        (200..=299, Some(r))
            if r.resource_type == ty
                && r.id.as_deref() == Some(id)
                && r.problem.is_none()
                && r.other_owner(ty, id, patient).is_none() =>
        {
            Answer::Found(r)
        }
        (200..=299, _) => Answer::Unchecked(format!(
            "HTTP {status} without {ty}/{id} of this patient in the answer"
        )),
        (status, _) => Answer::Unchecked(format!("HTTP {status}")),
    }
}

/// The `issue[].code`s of an OperationOutcome.
fn outcome_codes(body: &serde_json::Value) -> impl Iterator<Item = &str> {
    body["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|issue| issue["code"].as_str())
}

/// Reads `ids` of `ty` by id, all at once (the client's window bounds the requests in flight).
pub(super) async fn read(
    fhir: &FhirClient,
    patient: &str,
    ty: &str,
    ids: &[String],
) -> Vec<(String, Answer)> {
    let reads = ids.iter().map(|id| async move {
        let answer = match Resource::fetch(fhir, ty, id).await {
            Ok(read) => judge(
                ty,
                id,
                patient,
                read.status.as_u16(),
                read.body,
                &read.error_body,
            ),
            Err(e) => Answer::Unchecked(format!("{e:#}")),
        };
        (id.clone(), answer)
    });
    futures_util::future::join_all(reads).await
}

/// What the reads said, sorted out.
#[derive(Debug, Default)]
struct Sorted {
    found: Vec<(String, Resource)>,
    gone: BTreeSet<String>,
    /// `<ty>/<id>: why`, in id order.
    unchecked: Vec<String>,
}

fn sort_out(ty: &str, answers: Vec<(String, Answer)>) -> Sorted {
    let mut out = Sorted::default();
    for (id, answer) in answers {
        match answer {
            Answer::Gone => {
                out.gone.insert(id);
            }
            Answer::Found(r) => out.found.push((id, r)),
            Answer::Unchecked(why) => out.unchecked.push(format!("{ty}/{id}: {why}")),
        }
    }
    out.unchecked.sort();
    out
}

/// Merges what the reads of `stored.unseen` said into the type's file (the found ones upserted,
/// the gone ones removed and kept in the history) and adds it to `stored`'s counts, references
/// and warnings.
pub(super) fn apply(
    export: &Export,
    ty: &str,
    answers: Vec<(String, Answer)>,
    opts: &Options,
    stamp: &str,
    base: &url::Url,
    mut stored: StoredType,
) -> Result<StoredType> {
    stored.unseen.clear();
    let sorted = sort_out(ty, answers);
    if let Some(first) = sorted.unchecked.first() {
        stored.warnings.push(format!(
            "{} stored resources this search did not return could not be checked by a read and were kept ({first}{})",
            sorted.unchecked.len(),
            if sorted.unchecked.len() > 1 { ", …" } else { "" }
        ));
    }
    if sorted.found.is_empty() && sorted.gone.is_empty() {
        return Ok(stored);
    }
    let mut spool = Spool::new(&crate::export_layout::private_dir(export.dir()));
    let read = sorted.found.len();
    for (id, resource) in sorted.found {
        super::references::collect_resource(&resource, base, &mut stored.refs);
        spool.insert(id, resource.line)?;
    }
    let merged = export.merge(
        ty,
        spool.into_sorted()?,
        &MergeOptions {
            mode: MergeMode::Upsert,
            ndjson: opts.ndjson,
            pretty: opts.pretty,
            dry_run: opts.dry_run,
            history_at: Some(stamp),
            note_unseen: 0,
            gone: Some(&sorted.gone),
        },
    )?;
    let c = &mut stored.counts;
    c.fetched += read;
    c.new += merged.new;
    c.updated += merged.updated;
    c.unchanged += merged.unchanged;
    c.upgraded += merged.upgraded;
    c.removed += merged.removed;
    c.stored = merged.stored;
    stored.changed |= merged.changed;
    if merged.removed > 0 {
        stored.warnings.push(format!(
            "{} stored resources this search did not return were confirmed gone by a read of each (HTTP 404 or 410): removed from the current files and kept in {}",
            merged.removed,
            crate::export_layout::history_name(ty)
        ));
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn condition(id: &str, patient: &str) -> Resource {
        Resource::from_text(&format!(
            r#"{{"resourceType":"Condition","id":"{id}","subject":{{"reference":"Patient/{patient}"}}}}"#
        ))
    }

    #[test]
    fn only_a_plain_not_found_or_gone_removes() {
        let judged = |status, body, error: serde_json::Value| {
            judge("Condition", "c1", "p", status, body, &error)
        };
        assert_eq!(judged(404, None, json!(null)), Answer::Gone);
        assert_eq!(
            judged(410, None, json!({"resourceType": "OperationOutcome"})),
            Answer::Gone
        );
        let found = condition("c1", "p");
        assert_eq!(
            judged(200, Some(found.clone()), json!(null)),
            Answer::Found(found)
        );
        let unsupported =
            json!({"resourceType": "OperationOutcome", "issue": [{"code": "not-supported"}]});
        for (status, body, error) in [
            (404, None, unsupported),
            (401, None, json!(null)),
            (403, None, json!(null)),
            (500, None, json!(null)),
            (503, None, json!(null)),
            (200, None, json!(null)),
            (200, Some(condition("c2", "p")), json!(null)),
            (200, Some(condition("c1", "someone-else")), json!(null)),
        ] {
            assert!(
                matches!(judged(status, body.clone(), error), Answer::Unchecked(_)),
                "{status} {body:?}"
            );
        }
    }

    #[test]
    fn answers_are_sorted_out_with_each_unchecked_one_named() {
        let sorted = sort_out(
            "Condition",
            vec![
                ("b".into(), Answer::Unchecked("HTTP 503".into())),
                ("a".into(), Answer::Gone),
                ("c".into(), Answer::Found(condition("c", "p"))),
                ("0".into(), Answer::Unchecked("HTTP 403".into())),
            ],
        );
        assert_eq!(sorted.gone, BTreeSet::from(["a".to_string()]));
        assert_eq!(sorted.found.len(), 1);
        assert_eq!(
            sorted.unchecked,
            ["Condition/0: HTTP 403", "Condition/b: HTTP 503"]
        );
    }
}
