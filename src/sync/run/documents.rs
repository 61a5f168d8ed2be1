//! The run's document pass: when it is needed, when it starts (as soon as a type that carries
//! documents is stored), which types' files it may read (those that are final), and what its
//! end records (whether it went through, and the documents still missing).

use super::Run;
use crate::fhir::version::FhirRelease;
use crate::sync::attachments;
use crate::sync::plan::TypePlan;
use crate::sync::progress::{Phase, PhaseProgress};
use crate::sync::state::FileStamp;
use anyhow::Result;
use tokio::task::JoinHandle;

/// The document pass: it reads every DocumentReference and DiagnosticReport, so it runs when
/// this run stored some, or an earlier pass did not finish cleanly; it starts as soon as a type
/// that carries documents is stored, and reads each such type's file once it is final.
pub(super) struct Documents {
    /// Attachment-carrying types still being fetched.
    pub(super) waiting_for: Vec<String>,
    /// Whether the pass is needed.
    pub(super) needed: bool,
    pub(super) task: Option<JoinHandle<Result<attachments::Report>>>,
    /// Tells the running pass which types' files are final (dropped: no more).
    pub(super) ready: Option<tokio::sync::mpsc::UnboundedSender<&'static str>>,
    pub(super) report: attachments::Report,
    pub(super) release: FhirRelease,
    /// Carrying types with outstanding resources to read again: their documents wait for that.
    pub(super) rereading: Vec<&'static str>,
    /// Of those, the types whose files are final otherwise.
    pub(super) held_back: Vec<&'static str>,
}

impl Documents {
    /// Tells the pass, if one runs, that the files of `types` are final; closes the list once
    /// no carrying type is still being fetched. A type with outstanding resources that the
    /// run reads again is held back until they are read ([`Documents::release`]).
    pub(super) fn tell_ready(&mut self, types: &[&'static str]) {
        if let Some(ready) = &self.ready {
            for ty in types {
                if self.rereading.contains(ty) {
                    self.held_back.push(ty);
                    continue;
                }
                // A pass that ended early (an error) reports it when joined.
                let _ = ready.send(ty);
            }
        }
        if self.waiting_for.is_empty() && self.held_back.is_empty() {
            self.ready = None;
        }
    }

    /// Lets the types held back go to the pass: their outstanding resources were read again.
    pub(super) fn release(&mut self) {
        self.rereading.clear();
        let held = std::mem::take(&mut self.held_back);
        self.tell_ready(&held);
    }
}

impl Run<'_> {
    /// Works out whether the document pass is needed and which types it waits for.
    pub(super) fn prepare_documents(&mut self, plans: &[TypePlan]) {
        self.dirty = self
            .state
            .types
            .iter()
            .filter(|(ty, t)| t.file != FileStamp::of(&self.export.ndjson_path(ty)))
            .map(|(ty, _)| ty.clone())
            .collect();
        self.changed_any = !self.dirty.is_empty();
        self.documents.waiting_for = attachments::TYPES
            .into_iter()
            .filter(|t| plans.iter().any(|p| p.resource_type == *t))
            .map(str::to_string)
            .collect();
        self.documents.needed = !self.state.attachments_complete
            || attachments::manifest_lists_empty_documents(&self.opts.out)
            || attachments::notes::pending(&self.opts.out)
            || attachments::TYPES.iter().any(|t| self.dirty.contains(*t));
    }

    pub(super) fn start_documents(&mut self) {
        let d = &mut self.documents;
        if !self.opts.attachments || self.opts.dry_run || d.task.is_some() || !d.needed {
            return;
        }
        let (fhir, dir) = (self.fhir.clone(), self.opts.out.clone());
        // Over HTTP/2 the window may have grown past `--concurrency`'s default; documents
        // follow it (their bytes in memory are bounded by the pass's budget).
        let concurrency = match self.opts.concurrency_chosen {
            true => self.opts.concurrency,
            false => self.opts.concurrency.max(self.fhir.window().max()),
        };
        let release = d.release;
        let progress = PhaseProgress::start(self.observer.clone(), Phase::Documents);
        let (ready, types) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            attachments::save_all(&fhir, &dir, concurrency, release, progress, types).await
        });
        self.stopper.watch(task.abort_handle());
        d.task = Some(task);
        d.ready = Some(ready);
        // Types whose files are final already: searched and stored, or not searched this run.
        let ready: Vec<&'static str> = attachments::TYPES
            .into_iter()
            .filter(|ty| !d.waiting_for.iter().any(|t| t == ty))
            .collect();
        d.tell_ready(&ready);
    }

    /// Waits for the document pass, if one runs, and records whether it went through.
    pub(in crate::sync) async fn finish_attachments(&mut self) -> Result<()> {
        let Some(task) = self.documents.task.take() else {
            return Ok(());
        };
        let stopper = self.stopper.clone();
        let joined = tokio::select! {
            joined = task => joined,
            _ = self.ctrl_c.recv() => return Err(stopper.stop().await),
        };
        self.documents.report =
            joined.map_err(|e| anyhow::anyhow!("the attachments task failed: {e}"))??;
        let complete = self.documents.report.failed == 0;
        let failures = self
            .documents
            .report
            .failures
            .iter()
            .map(|p| crate::sync::outstanding::Outstanding::document(p, &self.started_at))
            .collect();
        // The pass went through every carrying resource: what failed now is what is missing.
        let noted = crate::sync::outstanding::replace(
            &mut self.state.outstanding,
            crate::sync::outstanding::Kind::Document,
            |_| true,
            failures,
        );
        if self.state.attachments_complete != complete || noted {
            self.state.attachments_complete = complete;
            self.export.save_state(&self.state)?;
        }
        Ok(())
    }
}
