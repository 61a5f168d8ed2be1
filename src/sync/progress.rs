//! What a sync tells whoever watches it while it runs: types starting, resources arriving (with
//! the total the server announced, when it did), types finishing, and an early stop. The
//! terminal's progress bars ([`crate::output`]) implement [`Observer`]; [`Quiet`] watches
//! nothing (library use, benchmarks).

use super::TypeReport;

/// A watcher of one sync. Every method has a default that does nothing.
pub trait Observer: Send + Sync {
    /// A line for people ("Syncing 12 resource types into …").
    fn message(&self, _line: &str) {}
    /// The search of `resource_type` started.
    fn type_started(&self, _resource_type: &str) {}
    /// `kept` resources of `resource_type` are in hand; `total` is what the server announced
    /// for the whole search (`Bundle.total`), when it did.
    fn type_progress(&self, _resource_type: &str, _kept: u64, _total: Option<u64>) {}
    /// The type is done: stored, unchanged, skipped or failed.
    fn type_finished(&self, _report: &TypeReport) {}
    /// The run stops early (Ctrl-C): end any animation.
    fn stopped(&self) {}
}

/// Watches nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// The progress of one type, as fetching code reports it.
#[derive(Clone)]
pub(super) struct TypeProgress {
    observer: std::sync::Arc<dyn Observer>,
    resource_type: String,
}

impl TypeProgress {
    pub(super) fn new(observer: std::sync::Arc<dyn Observer>, resource_type: &str) -> Self {
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
