//! Sign-in failures a caller decides on.

use anyhow::Result;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable sign-in: never signed in, damaged credentials, the refresh token expired or
    /// was revoked, or the server refuses the token even after a refresh (exit 4).
    #[error("{why}")]
    LoginRequired { profile: String, why: String },
}

impl Error {
    pub fn login_required(profile: &str, why: impl Into<String>) -> Error {
        Error::LoginRequired {
            profile: profile.to_string(),
            why: why.into(),
        }
    }

    /// Whether `err` (anywhere in its chain) says the profile must sign in again.
    pub fn is_login_required(err: &anyhow::Error) -> bool {
        err.chain()
            .any(|e| matches!(e.downcast_ref::<Error>(), Some(Error::LoginRequired { .. })))
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            Error::LoginRequired { profile, .. } => {
                format!("run: fhirdl login --profile {profile}")
            }
        }
    }
}

/// `Ok(None)` for a result that says "login required" (a missing or unusable sign-in), so
/// callers that can do without one (logout, a fresh login) go on.
pub fn unless_login_required<T>(result: Result<Option<T>>) -> Result<Option<T>> {
    match result {
        Err(e) if Error::is_login_required(&e) => Ok(None),
        other => other,
    }
}
