//! Typed failures that decide an exit code, and the one place that maps errors to exit codes.
//!
//! Library code returns `anyhow::Error` with context; where the user must act on a specific
//! condition it wraps a [`Failure`] with a [`Kind`] and, ideally, a hint. Conditions a caller
//! decides on have typed errors in their own layer (`auth::Error`, `fhir::Error`,
//! `sync::Error`); [`crate::exit`] maps all of them to exit codes. This module does not print
//! anything.

use std::fmt;

/// What kind of failure happened; each kind has one documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Something fhirdl did not expect (exit 1).
    Unexpected,
    /// Bad flags or arguments, or a missing value the user must give (exit 2).
    Usage,
    /// The run finished but some parts failed (exit 3; used by `sync`).
    Partial,
    /// No usable credentials: never signed in, refresh token expired or revoked (exit 4).
    LoginRequired,
    /// The sign-in itself failed: denied, state mismatch, timeout, rejected code (exit 5).
    LoginFailed,
    /// The provider could not be reached or answered something unusable (exit 6).
    Network,
    /// The credential store could not be used (exit 7).
    CredentialStore,
    /// Another fhirdl run holds the lock on this folder (exit 8; used by `sync`).
    Locked,
    /// `fhirdl doctor` found at least one failing check (exit 9).
    DoctorFailed,
    /// A file or folder could not be written: disk full, file too large, read-only, not
    /// permitted (exit 10).
    Storage,
    /// `fhirdl verify` (or `sync --verify`) found damaged files in the export (exit 11).
    Damaged,
    /// Interrupted by Ctrl-C (exit 130).
    Interrupted,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Unexpected => EXIT_OTHER,
            Kind::Usage => 2,
            Kind::Partial => 3,
            Kind::LoginRequired => 4,
            Kind::LoginFailed => 5,
            Kind::Network => 6,
            Kind::CredentialStore => 7,
            Kind::Locked => 8,
            Kind::DoctorFailed => 9,
            Kind::Storage => 10,
            Kind::Damaged => 11,
            Kind::Interrupted => 130,
        }
    }
}

/// Exit code for an unexpected failure that carries no [`Kind`].
pub const EXIT_OTHER: i32 = 1;

/// A failure the user can act on: a message, a kind that picks the exit code, and a hint.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Shorthand: `Err(fail(Kind::Usage, "…"))?`.
pub fn fail(kind: Kind, message: impl Into<String>) -> anyhow::Error {
    Failure::new(kind, message).into()
}

/// The first [`Failure`] in the chain, if any.
pub fn failure_of(err: &anyhow::Error) -> Option<&Failure> {
    err.chain().find_map(|e| e.downcast_ref::<Failure>())
}

/// A file system refusal: no space, file too large (`RLIMIT_FSIZE`), quota, read-only file
/// system, permission denied.
pub fn is_storage_error(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind as K;
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| {
            matches!(
                e.kind(),
                K::StorageFull
                    | K::FileTooLarge
                    | K::QuotaExceeded
                    | K::ReadOnlyFilesystem
                    | K::PermissionDenied
            )
        })
}

/// What to do about a storage error.
pub const STORAGE_HINT: &str = "free some space or make the folder writable (or choose another with --out), then run the same command again; files are replaced atomically, so what is on disk is whole and the files not yet replaced keep their previous version";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_documented() {
        for kind in [
            Kind::Unexpected,
            Kind::Usage,
            Kind::Partial,
            Kind::LoginRequired,
            Kind::LoginFailed,
            Kind::Network,
            Kind::CredentialStore,
            Kind::Locked,
            Kind::DoctorFailed,
            Kind::Storage,
            Kind::Damaged,
            Kind::Interrupted,
        ] {
            let code = kind.exit_code().to_string();
            assert!(
                crate::manual::EXIT_CODES
                    .entries
                    .iter()
                    .any(|(c, _)| *c == code),
                "{kind:?} missing from the documented exit codes"
            );
        }
    }
}
