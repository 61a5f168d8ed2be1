//! What a sign-in leaves behind: tokens and the SMART context, as kept in the credential store.

use crate::datetime::now_unix;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// The stored result of a sign-in. Every secret is a [`Secret`], so `Debug` is safe.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub access_token: Secret,
    /// Unix seconds; `None` when the server gave no `expires_in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When the refresh token now held was issued (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_issued_at: Option<i64>,
    /// When the refresh token now held was last used by a refresh that returned no new one
    /// (Unix seconds): a server that does not rotate counts its idleness from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_used_at: Option<i64>,
    /// Granted scopes as the server reported them (or as requested when it did not).
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// The `fhirUser` claim of the validated id_token (the id_token itself is not kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
    /// The validated id_token's `name` claim: who signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// SMART 2.2 launch context from the token response.
    #[serde(default, skip_serializing_if = "LaunchContext::is_empty")]
    pub launch: LaunchContext,
    /// The confidential client's secret, kept with the tokens for refreshes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// When the sign-in happened (Unix seconds).
    pub signed_in_at: i64,
}

/// Refresh this long before the access token expires.
pub const REFRESH_MARGIN_SECS: i64 = 60;

impl Credentials {
    /// The access token will not last the next minute.
    pub fn needs_refresh(&self) -> bool {
        self.expires_at
            .is_some_and(|at| at - REFRESH_MARGIN_SECS <= now_unix())
    }

    /// The resource type of `fhirUser`: `Patient`, or for a proxy (a parent, a caregiver)
    /// `RelatedPerson` or `Person`.
    pub fn fhir_user_type(&self) -> Option<&str> {
        let user = self.fhir_user.as_deref()?;
        let mut parts = user.trim_end_matches('/').rsplit('/');
        parts.next()?;
        parts.next().filter(|t| !t.is_empty())
    }

    /// Who signed in, when it was not the patient: "Pat Proxy (RelatedPerson)".
    pub fn proxy(&self) -> Option<String> {
        let ty = self.fhir_user_type()?;
        if ty == "Patient" {
            return None;
        }
        let who = match &self.user_name {
            Some(name) => crate::sanitize::clean(name),
            None => crate::sanitize::clean(self.fhir_user.as_deref().unwrap_or_default()),
        };
        Some(format!("{who} ({})", crate::sanitize::clean(ty)))
    }

    /// When the refresh token held was last issued or used (Unix seconds), when known: the
    /// start of its idleness.
    pub fn refresh_token_idle_since(&self) -> Option<i64> {
        self.refresh_token.as_ref()?;
        match (self.refresh_token_issued_at, self.refresh_token_used_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Seconds until the access token expires (negative when expired).
    pub fn expires_in(&self) -> Option<i64> {
        self.expires_at.map(|at| at - now_unix())
    }
}

/// The SMART App Launch 2.2 context a token response may carry besides `patient` and
/// `encounter`. None is required; all are kept and shown by `status --json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need_patient_banner: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smart_style_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `fhirContext`: references (2.2: objects with `reference`, `canonical`, `identifier`, `type`, `role`).
    #[serde(
        default,
        rename = "fhirContext",
        skip_serializing_if = "Option::is_none"
    )]
    pub fhir_context: Option<Vec<serde_json::Value>>,
}

impl LaunchContext {
    pub fn is_empty(&self) -> bool {
        self == &LaunchContext::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_timing() {
        let mut c = Credentials {
            access_token: Secret::new("a"),
            expires_at: Some(now_unix() + 30),
            refresh_token: None,
            refresh_token_issued_at: None,
            refresh_token_used_at: None,
            scope: String::new(),
            patient: None,
            encounter: None,
            fhir_user: None,
            user_name: None,
            launch: LaunchContext::default(),
            client_secret: None,
            signed_in_at: 0,
        };
        assert!(c.needs_refresh());
        c.expires_at = Some(now_unix() + 3600);
        assert!(!c.needs_refresh());
        c.expires_at = None;
        assert!(!c.needs_refresh());
        assert!(!format!("{c:?}").contains("\"a\""));
        assert_eq!(c.proxy(), None);
        c.fhir_user = Some("https://x/fhir/RelatedPerson/rp-1".into());
        assert_eq!(c.fhir_user_type(), Some("RelatedPerson"));
        assert_eq!(
            c.proxy().as_deref(),
            Some("https://x/fhir/RelatedPerson/rp-1 (RelatedPerson)")
        );
        c.user_name = Some("Pat Proxy".into());
        assert_eq!(c.proxy().as_deref(), Some("Pat Proxy (RelatedPerson)"));
        c.fhir_user = Some("Patient/1".into());
        assert_eq!(c.proxy(), None);
    }
}
