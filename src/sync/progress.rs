//! What a sync tells whoever watches it while it runs: the types planned, types starting,
//! resources arriving (with the total the server announced, when it did), types finishing, the
//! phases after the searches with their own counts ([`Phase`]), and the end of the run (or an
//! early stop). The terminal's progress bars ([`crate::output`]) implement [`Observer`];
//! [`Quiet`] watches nothing (library use, benchmarks).

use super::TypeReport;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A watcher of one sync. Every method has a default that does nothing.
pub trait Observer: Send + Sync {
    /// A line for people ("Syncing 12 resource types into …").
    fn message(&self, _line: &str) {}
    /// The run will search `types` resource types.
    fn planned(&self, _types: usize) {}
    /// The search of `resource_type` started.
    fn type_started(&self, _resource_type: &str) {}
    /// `kept` resources of `resource_type` are in hand; `total` is what the server announced
    /// for the whole search (`Bundle.total`), when it did.
    fn type_progress(&self, _resource_type: &str, _kept: u64, _total: Option<u64>) {}
    /// The type is done: stored, unchanged, skipped or failed.
    fn type_finished(&self, _report: &TypeReport) {}
    /// A phase started.
    fn phase_started(&self, _phase: Phase) {}
    /// `done` pieces of work went through, of `total` when the phase knows how many there are
    /// (`None` while it is still finding work).
    fn phase_progress(&self, _phase: Phase, _done: u64, _total: Option<u64>) {}
    /// The phase is over; `done` pieces of work went through.
    fn phase_finished(&self, _phase: Phase, _done: u64) {}
    /// The run is over (its report follows): end any animation.
    fn finished(&self) {}
    /// The run stops early (Ctrl-C): end any animation.
    fn stopped(&self) {}
}

/// A part of the run with a count of its own, beside the searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Reading the resources that stored ones refer to: resources read of those asked for.
    References,
    /// Saving the documents behind attachments: documents saved (or failed) of those queued.
    Documents,
}

impl Phase {
    /// How people call it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::References => "references",
            Phase::Documents => "documents",
        }
    }
}

/// Watches nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// The progress of one type, as fetching code reports it.
#[derive(Clone)]
pub(super) struct TypeProgress {
    observer: Arc<dyn Observer>,
    resource_type: String,
}

impl TypeProgress {
    pub(super) fn new(observer: Arc<dyn Observer>, resource_type: &str) -> Self {
        observer.type_started(resource_type);
        TypeProgress {
            observer,
            resource_type: resource_type.to_string(),
        }
    }

    pub(super) fn kept(&self, kept: usize, total: Option<u64>) {
        self.observer
            .type_progress(&self.resource_type, kept as u64, total);
    }
}

/// The counts of one phase, shared by the tasks that do its work.
#[derive(Clone)]
pub struct PhaseProgress {
    observer: Arc<dyn Observer>,
    phase: Phase,
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    /// Whether `total` is all the work there is (so far as the phase can tell).
    settled: Arc<AtomicBool>,
}

impl PhaseProgress {
    /// Starts `phase` (and says so).
    pub fn start(observer: Arc<dyn Observer>, phase: Phase) -> PhaseProgress {
        observer.phase_started(phase);
        PhaseProgress {
            observer,
            phase,
            done: Arc::default(),
            total: Arc::default(),
            settled: Arc::default(),
        }
    }

    /// `n` more pieces of work, and that is all there is for now (a round of references).
    pub fn expect(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        self.settled.store(true, Ordering::Relaxed);
        self.tell();
    }

    /// `n` more pieces of work, and more may come (documents being queued).
    pub fn queue(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        self.settled.store(false, Ordering::Relaxed);
        self.tell();
    }

    /// Everything is queued: the total is known.
    pub fn all_queued(&self) {
        self.settled.store(true, Ordering::Relaxed);
        self.tell();
    }

    /// `n` pieces of work went through.
    pub fn done(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        self.tell();
    }

    fn tell(&self) {
        let total = self.total.load(Ordering::Relaxed);
        let settled = self.settled.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed);
        self.observer
            .phase_progress(self.phase, done, settled.then_some(total));
    }

    pub fn finish(&self) {
        let done = self.done.load(Ordering::Relaxed);
        self.observer.phase_finished(self.phase, done);
    }
}
