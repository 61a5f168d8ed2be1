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
    /// Granted scopes as the server reported them (or as requested when it did not).
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// The `fhirUser` claim of the id_token (the id_token itself is not kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
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

    /// Seconds until the access token expires (negative when expired).
    pub fn expires_in(&self) -> Option<i64> {
        self.expires_at.map(|at| at - now_unix())
    }
}

/// Reads the `fhirUser` claim from an id_token without verifying it: it is only shown to the
/// user and never used for an access decision.
pub fn fhir_user_from_id_token(id_token: &str) -> Option<String> {
    use base64::Engine;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("fhirUser")
        .or_else(|| claims.get("profile"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn reads_fhir_user_claim() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"x","fhirUser":"https://a/Patient/1"}"#);
        let tok = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        assert_eq!(
            fhir_user_from_id_token(&tok).as_deref(),
            Some("https://a/Patient/1")
        );
        assert_eq!(fhir_user_from_id_token("garbage"), None);
        assert_eq!(fhir_user_from_id_token("a.!!!.c"), None);
    }

    #[test]
    fn refresh_timing() {
        let mut c = Credentials {
            access_token: Secret::new("a"),
            expires_at: Some(now_unix() + 30),
            refresh_token: None,
            refresh_token_issued_at: None,
            scope: String::new(),
            patient: None,
            encounter: None,
            fhir_user: None,
            client_secret: None,
            signed_in_at: 0,
        };
        assert!(c.needs_refresh());
        c.expires_at = Some(now_unix() + 3600);
        assert!(!c.needs_refresh());
        c.expires_at = None;
        assert!(!c.needs_refresh());
        assert!(!format!("{c:?}").contains("\"a\""));
    }
}
