//! Ctrl-C in any phase of a run: what it stops, what it waits for (merges that cannot be
//! aborted), and the error that says what was saved.

use crate::error::{Failure, Kind};
use crate::sync::progress::Observer;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::AbortHandle;

/// What Ctrl-C stops and cleans up, whichever phase is running.
#[derive(Clone, Default)]
pub(super) struct Stopper {
    pub(super) out: PathBuf,
    /// Types finished so far.
    pub(super) saved: Arc<AtomicUsize>,
    /// Merges running now (they cannot be aborted; a stop waits for them).
    pub(super) merging: Arc<AtomicUsize>,
    /// The document pass, when it runs.
    pub(super) documents: Arc<Mutex<Option<AbortHandle>>>,
    pub(super) observer: Option<Arc<dyn Observer>>,
}

impl Stopper {
    pub(super) fn watch(&self, documents: AbortHandle) {
        *self
            .documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(documents);
    }

    /// Stops the run: the document pass is aborted, a merge already running finishes (its
    /// file is replaced whole or not at all), then nothing half-written is left behind.
    /// Returns the error that says what was saved.
    pub(super) async fn stop(self) -> anyhow::Error {
        if let Some(documents) = self
            .documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            documents.abort();
        }
        if let Some(observer) = &self.observer {
            observer.stopped();
        }
        Merging::wait_idle(&self.merging).await;
        if let Err(e) = crate::atomic::remove_stale_temp_files(&self.out) {
            return e;
        }
        let saved = self.saved.load(Ordering::SeqCst);
        Failure::new(
            Kind::Interrupted,
            format!(
                "sync interrupted; {saved} resource types were finished and saved in {}, the others keep their previous version",
                self.out.display()
            ),
        )
        .hint("run `fhirdl sync` again to finish; it continues where this run stopped")
        .into()
    }
}

/// Counts a merge as running while it lives.
pub(super) struct Merging(Arc<AtomicUsize>);

impl Merging {
    pub(super) fn start(count: &Arc<AtomicUsize>) -> Merging {
        count.fetch_add(1, Ordering::SeqCst);
        Merging(count.clone())
    }

    /// Waits (up to a minute) until no merge runs.
    async fn wait_idle(count: &AtomicUsize) {
        for _ in 0..3000 {
            if count.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Merging {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
