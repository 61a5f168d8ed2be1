//! The run's side of [`crate::sync::outstanding`]: noting what a type's search or storing left
//! out, reading again by id what earlier runs could not store, and naming what is still
//! missing in every type's report.

use super::Run;
use crate::sync::fetch::refusal_of;
use crate::sync::outstanding::{self, Kind, Outstanding};
use crate::sync::references;
use crate::sync::resource::Resource;
use crate::sync::TypeReport;
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What reading an outstanding resource again gave.
enum Reread {
    /// It can be stored now.
    Storable(Resource),
    /// The server no longer has it (404, 410).
    Gone(u16),
    /// Still not storable, or not readable: why.
    Still(String),
}

impl Run<'_> {
    /// Notes in the state what a type's stored search left out (its dropped resources), and
    /// settles what it brought: a failure of its earlier search, and — when it was searched
    /// whole — the resources without a readable id that an earlier run could not store (those
    /// still sent are among this run's drops again). Returns whether the list changed.
    pub(super) fn note_stored(&mut self, ty: &str, incremental: bool, report: &TypeReport) -> bool {
        let list = &mut self.state.outstanding;
        let changed = outstanding::settle(list, |o| {
            o.resource_type == ty
                && (o.kind == Kind::Type || (!incremental && o.needs_whole_search()))
        }) > 0;
        let dropped = report
            .dropped
            .iter()
            .map(|d| Outstanding::resource(d, &self.started_at));
        outstanding::note(list, dropped) || changed
    }

    /// The report of a type whose search or storing failed; the failure is remembered (its
    /// mark did not move, so the next run's search covers what this one missed).
    pub(super) fn type_failed(
        &mut self,
        ty: &str,
        incremental: bool,
        error: &anyhow::Error,
    ) -> TypeReport {
        let report = TypeReport::failed(ty, incremental, error);
        let entry = Outstanding::failed_type(
            ty,
            report.reason.as_deref().unwrap_or_default(),
            &self.started_at,
        );
        if outstanding::note(&mut self.state.outstanding, [entry]) && !self.opts.dry_run {
            // A folder that cannot take the type's file may not take the state either; the
            // type's kept mark brings it back in the next run all the same.
            if let Err(e) = self.export.save_state(&self.state) {
                self.warnings
                    .push(format!("the failure of {ty} could not be noted: {e:#}"));
            }
        }
        report
    }

    /// Reads again, by id, every outstanding resource that this run's searches did not just
    /// refuse again: stores those the server now sends in a storable form, settles those it
    /// no longer has, and renews the reason of the others. The documents of carrying types
    /// wait for this (their resources may arrive here).
    pub(in crate::sync) async fn retry_outstanding(&mut self) -> Result<()> {
        let wanted = self.wanted_again();
        if !wanted.is_empty() {
            let stopper = self.stopper.clone();
            let reads = read_again(&self.fhir, &self.patient, wanted);
            let reads = tokio::select! {
                reads = reads => reads,
                _ = self.ctrl_c.recv() => return Err(stopper.stop().await),
            };
            let mut storable: BTreeMap<String, BTreeMap<String, Resource>> = BTreeMap::new();
            let (mut gone, mut still) = (HashSet::new(), Vec::new());
            for (ty, id, read) in reads {
                match read? {
                    Reread::Storable(resource) => {
                        storable.entry(ty).or_default().insert(id, resource);
                    }
                    Reread::Gone(status) => {
                        gone.insert((ty, id, status));
                    }
                    Reread::Still(reason) => still.push(Outstanding::resource(
                        &crate::sync::Dropped {
                            resource_type: ty,
                            id: Some(id),
                            reason,
                        },
                        &self.started_at,
                    )),
                }
            }
            self.settle_gone(&gone);
            outstanding::note(&mut self.state.outstanding, still);
            for (ty, lines) in storable {
                self.store_recovered(&ty, lines)?;
            }
            if self.state.outstanding != self.outstanding_at_open {
                self.export.save_state(&self.state)?;
            }
        }
        self.start_documents();
        self.documents.release();
        Ok(())
    }

    /// The outstanding resources to read again: those with a readable id that this run's
    /// searches did not refuse again, of types the sign-in lets fhirdl read.
    fn wanted_again(&self) -> BTreeSet<(String, String)> {
        let refused: BTreeSet<(&str, &str)> = self
            .reports
            .iter()
            .flat_map(|r| &r.dropped)
            .filter_map(|d| Some((d.resource_type.as_str(), d.id.as_deref()?)))
            .collect();
        self.state
            .outstanding
            .iter()
            .filter_map(|o| Some((o.resource_type.as_str(), o.readable_id()?)))
            .filter(|key| !refused.contains(key))
            .filter(|(ty, _)| references::readable(&self.early.scope, ty))
            .map(|(ty, id)| (ty.to_string(), id.to_string()))
            .collect()
    }

    /// Settles the outstanding resources the server no longer has (`(type, id, status)`),
    /// each with a warning.
    fn settle_gone(&mut self, gone: &HashSet<(String, String, u16)>) {
        let status_of: HashMap<(&str, &str), u16> = gone
            .iter()
            .map(|(ty, id, status)| ((ty.as_str(), id.as_str()), *status))
            .collect();
        let warnings = &mut self.warnings;
        outstanding::settle(&mut self.state.outstanding, |o| {
            let Some(id) = o.readable_id() else {
                return false;
            };
            let Some(status) = status_of.get(&(o.resource_type.as_str(), id)) else {
                return false;
            };
            warnings.push(format!(
                "{}/{id}, not stored since {}, is no longer on the server (HTTP {status}); it is no longer expected",
                o.resource_type, o.first_seen
            ));
            true
        });
    }

    /// Merges the resources of `ty` read again into its file, settles them, and says so in
    /// the type's report (its documents are then due in this run too).
    fn store_recovered(&mut self, ty: &str, lines: BTreeMap<String, Resource>) -> Result<()> {
        let ids: HashSet<String> = lines.keys().cloned().collect();
        let added = references::store(
            &self.export,
            &mut self.state,
            ty,
            lines,
            &self.fhir.base().clone(),
            (self.opts.pretty, &self.started_at),
            &mut self.refs,
        )?;
        outstanding::settle(&mut self.state.outstanding, |o| {
            o.resource_type == ty && o.readable_id().is_some_and(|id| ids.contains(id))
        });
        self.changed_any = true;
        if crate::sync::attachments::TYPES.contains(&ty) {
            self.documents.needed = true;
        }
        let note = format!(
            "{} not stored by an earlier run were read again and stored",
            ids.len()
        );
        match self.reports.iter_mut().find(|r| r.resource_type == ty) {
            Some(r) => {
                r.status = crate::sync::TypeStatus::Ok;
                r.counts.fetched += ids.len();
                r.counts.new += added.new;
                r.counts.stored = added.stored;
                r.warnings.push(note);
            }
            None => {
                let mut r = TypeReport::referenced(ty, added.new, added.stored);
                r.reason = None;
                r.warnings.push(note);
                self.reports.push(r);
            }
        }
        Ok(())
    }

    /// Names in each type's report what is still outstanding of it, and makes its copy
    /// `partial` for what earlier runs left out (this run's own drops and failures say so
    /// already); a type with nothing else in this run gets a report of its own.
    pub(super) fn outstanding_into_reports(&mut self) {
        let at_open = outstanding::keys(&self.outstanding_at_open);
        if self.state.outstanding != self.outstanding_at_open {
            // The manifest names each type's completeness.
            self.changed_any = true;
        }
        for o in &self.state.outstanding {
            if !self
                .reports
                .iter()
                .any(|r| r.resource_type == o.resource_type)
            {
                let stored = self
                    .state
                    .types
                    .get(&o.resource_type)
                    .map_or(0, |t| t.count);
                let mut held = TypeReport::referenced(&o.resource_type, 0, stored);
                held.reason = None;
                self.reports.push(held);
            }
        }
        for r in &mut self.reports {
            let mine: Vec<&Outstanding> = self
                .state
                .outstanding
                .iter()
                .filter(|o| o.resource_type == r.resource_type)
                .collect();
            r.outstanding = mine.iter().map(|o| (*o).clone()).collect();
            let earlier: Vec<&Outstanding> = mine
                .into_iter()
                .filter(|o| o.kind == Kind::Document || at_open.contains(&o.key()))
                .collect();
            if let Some(partial) = outstanding::partial(&earlier) {
                r.completeness = std::mem::take(&mut r.completeness).and(partial);
            }
        }
    }
}

/// Reads every `(type, id)` of `wanted` at once (the client's window bounds the requests).
async fn read_again(
    fhir: &crate::fhir::client::FhirClient,
    patient: &str,
    wanted: BTreeSet<(String, String)>,
) -> Vec<(String, String, Result<Reread>)> {
    futures_util::future::join_all(wanted.into_iter().map(|(ty, id)| async move {
        let read = Resource::fetch(fhir, &ty, &id).await;
        let reread = reread(read, &ty, &id, patient);
        (ty, id, reread)
    }))
    .await
}

/// What a read of an outstanding `ty/id` gave.
fn reread(
    read: Result<crate::fhir::client::Parsed<Resource>>,
    ty: &str,
    id: &str,
    patient: &str,
) -> Result<Reread> {
    let resp = match read {
        Ok(resp) => resp,
        // Without a sign-in (or a certificate fhirdl trusts) nothing else can work.
        Err(e) if crate::auth::Error::is_login_required(&e) => return Err(e),
        Err(e) if crate::tls::refused_certificate_of(&e).is_some() => return Err(e),
        Err(e) => return Ok(Reread::Still(format!("reading it again failed: {e:#}"))),
    };
    let status = resp.status.as_u16();
    let Some(resource) = resp.body else {
        return Ok(match status {
            404 | 410 => Reread::Gone(status),
            _ => Reread::Still(format!("reading it again failed: HTTP {status}")),
        });
    };
    if let Some(refused) = refusal_of(ty, patient, &resource) {
        return Ok(Reread::Still(refused.reason));
    }
    if resource.id.as_deref() != Some(id) {
        return Ok(Reread::Still(format!(
            "the server answered the read of {ty}/{id} with another resource"
        )));
    }
    Ok(Reread::Storable(resource))
}
