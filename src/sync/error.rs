//! Sync failures a caller decides on (each has its exit code in [`crate::exit`]).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another fhirdl sync holds the export folder (exit 8).
    #[error("another fhirdl sync is writing to {}", dir.display())]
    Locked { dir: PathBuf },
    /// Some types could not be saved because the folder cannot be written: disk full, file
    /// too large, read-only, not permitted (exit 10).
    #[error("{summary}")]
    Storage { summary: String },
    /// The run finished, but some types failed or some documents could not be saved (exit 3).
    #[error("{summary}")]
    Partial { summary: String, hint: String },
}

impl Error {
    /// Whether `err` (anywhere in its chain) says the folder is locked by another sync.
    pub fn is_locked(err: &anyhow::Error) -> bool {
        err.chain()
            .any(|e| matches!(e.downcast_ref::<Error>(), Some(Error::Locked { .. })))
    }

    pub fn hint(&self) -> String {
        match self {
            Error::Locked { .. } => {
                "wait for it to finish (or add --wait), or sync into another folder with --out"
                    .into()
            }
            Error::Storage { .. } => crate::error::STORAGE_HINT.into(),
            Error::Partial { hint, .. } => hint.clone(),
        }
    }
}
