//! Storing one fetched type: merging its resources into `<Type>.ndjson` (upsert after an
//! incremental query, replace after a whole one known to be complete; after another whole one,
//! upsert and name the stored resources it did not return, read next by [`super::unseen`]) and
//! working out the mark of its next incremental query.

use super::export::Export;
use super::fetch::FetchedType;
use super::merge::{MergeMode, MergeOptions};
use super::plan::TypePlan;
use super::{Counts, Options};
use anyhow::Result;
use std::collections::HashSet;

/// A type stored: its counts, whether its content changed, the mark for its next incremental
/// query, its warnings, and what its resources refer to.
#[derive(Debug, Default)]
pub(super) struct StoredType {
    pub(super) counts: Counts,
    pub(super) changed: bool,
    pub(super) mark: Option<String>,
    pub(super) warnings: Vec<String>,
    pub(super) dropped: Vec<super::Dropped>,
    pub(super) refs: HashSet<String>,
    pub(super) completeness: super::Completeness,
    /// The server refused the plain search for want of a category.
    pub(super) needs_category: bool,
    pub(super) needs_every: Option<super::fanout::Demand>,
    /// Narrowed searches the server refuses (see [`super::fetch::FetchedType`]).
    pub(super) refused_queries: Vec<String>,
    /// Bytes of the search pages as received.
    pub(super) bytes: u64,
    /// Stored resources a whole search not known to be complete did not return: each is to be
    /// read by id (see [`super::unseen`]).
    pub(super) unseen: Vec<String>,
}

/// Merges a fetched type into its file. `incremental` says what the fetch was (a refused
/// `_lastUpdated` turns an incremental plan into a whole fetch); `stamp` is the time superseded
/// versions are recorded with in the history.
pub(super) fn store_type(
    export: &Export,
    plan: &TypePlan,
    incremental: bool,
    mut fetched: FetchedType,
    opts: &Options,
    stamp: &str,
) -> Result<StoredType> {
    let ty = plan.resource_type.as_str();
    let mut stored = StoredType {
        mark: next_mark(&fetched, plan.by_last_updated),
        warnings: std::mem::take(&mut fetched.warnings),
        dropped: std::mem::take(&mut fetched.dropped),
        refs: std::mem::take(&mut fetched.refs),
        completeness: std::mem::take(&mut fetched.completeness),
        needs_category: fetched.needs_category,
        needs_every: fetched.needs_every,
        refused_queries: std::mem::take(&mut fetched.refused_queries),
        bytes: fetched.bytes,
        ..StoredType::default()
    };
    // Only a search known to be whole may remove what it did not return; what another whole
    // search did not return is read by id afterwards (see super::unseen).
    let replace = !incremental && stored.completeness.is_whole();
    let check = !incremental && !replace && !opts.dry_run;
    stored.counts.fetched = fetched.spool.len();
    stored.counts.pages = fetched.pages;
    let file_exists = export.ndjson_path(ty).exists();
    if incremental && fetched.spool.is_empty() && (file_exists || !opts.ndjson) && !opts.pretty {
        // Nothing changed since the mark: the file stays as it is, unread.
        stored.counts.stored = plan.held.unwrap_or(0);
        return Ok(stored);
    }
    let merged = export.merge(
        ty,
        fetched.spool.into_sorted()?,
        &MergeOptions {
            mode: if replace {
                MergeMode::Replace
            } else {
                MergeMode::Upsert
            },
            ndjson: opts.ndjson,
            pretty: opts.pretty,
            dry_run: opts.dry_run,
            history_at: Some(stamp),
            note_unseen: if check { MAX_READS } else { 0 },
            gone: None,
        },
    )?;
    stored.counts.new = merged.new;
    stored.counts.updated = merged.updated;
    stored.counts.unchanged = merged.unchanged;
    stored.counts.upgraded = merged.upgraded;
    stored.counts.removed = merged.removed;
    stored.counts.stored = merged.stored;
    stored.changed = merged.changed;
    let not_seen = merged.stored.saturating_sub(stored.counts.fetched);
    if check && not_seen <= MAX_READS {
        stored.unseen = merged.unseen;
    } else if !incremental && !replace && not_seen > 0 {
        let why = match check {
            true => format!(
                ", and more than {MAX_READS} are not read one by one to tell which are gone"
            ),
            false => String::new(),
        };
        stored.warnings.push(format!(
            "{not_seen} stored resources this search did not return were kept (the search is not known to be complete{why})"
        ));
    }
    if merged.upgraded > 0 {
        stored.warnings.push(format!(
            "{} resources an older fhirdl had re-printed are now kept exactly as the server sent them",
            merged.upgraded
        ));
    }
    if merged.removed > 0 {
        stored.warnings.push(format!(
            "{} resources the server no longer returns were removed from the current files and kept in {}",
            merged.removed,
            crate::export_layout::history_name(ty)
        ));
    }
    Ok(stored)
}

/// Stored resources of one type that a search did not return read one by one at most; past
/// this none are read (a server answering a partial search must not cost thousands of reads).
pub const MAX_READS: usize = 500;

/// The next mark: the newest `meta.lastUpdated` seen, but never later than the server's own
/// time at the start of the search. A type not searched by `_lastUpdated` (`by_last_updated`
/// false) is searched by a clinical date next time: its mark is the server's time alone.
fn next_mark(fetched: &FetchedType, by_last_updated: bool) -> Option<String> {
    let server = fetched
        .mark
        .as_deref()
        .and_then(crate::datetime::parse_rfc3339);
    let newest = fetched.newest.filter(|_| by_last_updated);
    let mark = match (newest, server) {
        (Some(n), Some(s)) => n.min(s),
        (None, Some(s)) => s,
        (Some(n), None) => n,
        (None, None) => return None,
    };
    Some(crate::datetime::unix_to_rfc3339(mark))
}
