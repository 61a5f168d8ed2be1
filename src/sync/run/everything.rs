//! What a run does with `Patient/$everything` (see [`crate::sync::everything`]): decided once
//! the types are planned ([`Run::everything_mode`]); fetched before the searches to stand in
//! for them ([`Run::everything_instead`]), or after them, on the first whole run, to compare
//! ([`Run::compare_everything`]).

use super::Run;
use crate::sync::everything::{self, Answer, EverythingState};
use crate::sync::fetch::FetchedType;
use crate::sync::plan::TypePlan;
use crate::sync::TypeStatus;
use anyhow::Result;
use std::collections::BTreeMap;

/// What this run does with the operation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// Nothing: not offered, not covered by the grant, not a whole run, or not worth it.
    #[default]
    None,
    /// Fetch it after the searches and compare (no comparison recorded yet).
    Compare,
    /// Fetch it instead of the searches (it proved complete and cheaper).
    Instead,
}

/// The operation in one run.
#[derive(Debug, Default)]
pub(super) struct EverythingRun {
    pub(super) mode: Use,
    /// The planned types.
    planned: Vec<String>,
    /// Bytes of this run's search pages (what the per-type plan cost).
    pub(super) search_bytes: u64,
}

impl Run<'_> {
    /// Decides what the run does with the operation: only a run that fetches every type whole
    /// with a grant of every type (`patient/*.rs`) on a server that declares it uses it.
    pub(super) fn everything_mode(&mut self, plans: &[TypePlan]) {
        let usable = !self.opts.dry_run
            && everything::offered(&self.metadata)
            && everything::covered(&self.early.scope)
            && everything::whole_plans(plans, self.opts.types.is_some());
        self.everything.mode = match &self.state.everything {
            _ if !usable => Use::None,
            None => Use::Compare,
            Some(known) if known.preferred() => Use::Instead,
            Some(_) => Use::None,
        };
        self.everything.planned = plans.iter().map(|p| p.resource_type.clone()).collect();
    }

    /// The planned types' resources from the operation, when it stands in for the searches;
    /// `None` when it does not, failed, or lacks a type the export holds (then the state
    /// remembers it as incomplete and the searches run as planned).
    pub(super) async fn everything_instead(
        &mut self,
    ) -> Result<Option<BTreeMap<String, FetchedType>>> {
        if self.everything.mode != Use::Instead {
            return Ok(None);
        }
        let answer = match self.fetch_everything().await? {
            Ok(answer) => answer,
            Err(e) => {
                self.warnings.push(format!(
                    "Patient/$everything failed ({e:#}); fetched type by type"
                ));
                return Ok(None);
            }
        };
        let held: BTreeMap<String, usize> = self
            .state
            .types
            .iter()
            .filter(|(ty, _)| self.everything.planned.contains(ty))
            .map(|(ty, t)| (ty.clone(), t.count))
            .collect();
        let lacking = everything::lacking(&answer, &held);
        if !lacking.is_empty() {
            self.warnings.push(format!(
                "Patient/$everything left out what the export holds ({}); fetched type by type, as later runs will",
                lacking.join(", ")
            ));
            self.record_everything(false, &answer, lacking)?;
            return Ok(None);
        }
        let searches = self.state.everything.as_ref().map(|e| e.per_type_requests);
        self.notes.push(format!(
            "fetched every type through Patient/$everything: {} requests (the searches took {} when compared)",
            answer.requests,
            searches.unwrap_or_default()
        ));
        Ok(Some(answer.by_type))
    }

    /// On the first whole run: fetches the operation and compares each type's ids with what
    /// the searches stored, and records the outcome and both costs in the state. A run in
    /// which a type failed or came back short compares nothing (a later whole run does).
    pub(super) async fn compare_everything(&mut self) -> Result<()> {
        if self.everything.mode != Use::Compare {
            return Ok(());
        }
        let planned = &self.everything.planned;
        let reports: Vec<_> = self
            .reports
            .iter()
            .filter(|r| planned.contains(&r.resource_type))
            .collect();
        let whole = reports.len() == planned.len()
            && reports.iter().all(|r| {
                r.status == TypeStatus::Skipped
                    || (r.status != TypeStatus::Failed && r.completeness.is_whole())
            });
        if !whole {
            return Ok(());
        }
        let mut held = BTreeMap::new();
        for r in reports.iter().filter(|r| r.status != TypeStatus::Skipped) {
            held.insert(r.resource_type.clone(), self.export.ids(&r.resource_type)?);
        }
        let answer = match self.fetch_everything().await? {
            Ok(answer) => answer,
            Err(e) => {
                self.warnings.push(format!(
                    "Patient/$everything could not be compared with the searches ({e:#})"
                ));
                return Ok(());
            }
        };
        let differences = everything::compare(&answer, &held);
        let complete = differences.is_empty();
        self.record_everything(complete, &answer, differences)?;
        self.tell_compared();
        Ok(())
    }

    /// Says what the comparison showed: a note when the operation matched, a warning when not.
    fn tell_compared(&mut self) {
        let Some(e) = &self.state.everything else {
            return;
        };
        let cost = format!(
            "{} requests and {} bytes, the searches {} requests and {} bytes",
            e.requests, e.bytes, e.per_type_requests, e.per_type_bytes
        );
        match (e.complete, e.preferred()) {
            (true, true) => self.notes.push(format!(
                "Patient/$everything matched the searches of every type ({cost}); later whole fetches use it"
            )),
            (true, false) => self.notes.push(format!(
                "Patient/$everything matched the searches of every type ({cost}); the searches stay, as they take fewer requests"
            )),
            (false, _) => self.warnings.push(format!(
                "Patient/$everything differs from the searches ({}); fhirdl keeps searching type by type",
                e.differences.join(", ")
            )),
        }
    }

    /// Keeps what the operation showed in the state (saved at once).
    fn record_everything(
        &mut self,
        complete: bool,
        answer: &Answer,
        differences: Vec<String>,
    ) -> Result<()> {
        let before = self.state.everything.take();
        let (per_type_requests, per_type_bytes) = match (&before, self.everything.mode) {
            (Some(b), Use::Instead) => (b.per_type_requests, b.per_type_bytes),
            _ => (self.search_requests(), self.everything.search_bytes),
        };
        self.state.everything = Some(EverythingState {
            complete,
            checked_at: self.started_at.clone(),
            requests: answer.requests,
            bytes: answer.bytes,
            per_type_requests,
            per_type_bytes,
            differences,
        });
        self.export.save_state(&self.state)
    }

    /// The requests (pages and reads) of this run's searches of the planned types.
    fn search_requests(&self) -> u64 {
        self.reports
            .iter()
            .filter(|r| self.everything.planned.contains(&r.resource_type))
            .map(|r| r.counts.pages.max(1) as u64)
            .sum()
    }

    /// The operation's answer, or why it failed (a sign-in that is needed again, and Ctrl-C,
    /// end the run).
    async fn fetch_everything(&mut self) -> Result<Result<Answer>> {
        let spool_dir = self.opts.out.join(".fhirdl");
        let fetched = everything::fetch(
            &self.fhir,
            &self.patient,
            &self.everything.planned,
            &spool_dir,
        );
        let stopper = self.stopper.clone();
        let answer = tokio::select! {
            answer = fetched => answer,
            _ = self.ctrl_c.recv() => return Err(stopper.stop().await),
        };
        match answer {
            Err(e) if crate::auth::Error::is_login_required(&e) => Err(e),
            other => Ok(other),
        }
    }
}
