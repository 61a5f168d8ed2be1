//! Built-in provider presets: known FHIR bases and their quirks.
//!
//! A preset only fills in defaults; every endpoint is still discovered from the server's own
//! SMART configuration or CapabilityStatement at login. What a preset knows that discovery cannot
//! tell: whether the app registration is confidential, whether `aud` is accepted, the refresh
//! token's lifetime, published rate limits, and which types the server searches only by
//! category.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Preset {
    /// The name used with `--provider`.
    pub name: &'static str,
    pub title: &'static str,
    pub fhir_base: &'static str,
    /// FHIR release the base serves, as the user would say it.
    pub fhir_release: &'static str,
    /// Published authorize/token/revoke endpoints (informational; discovery decides).
    pub authorize: Option<&'static str>,
    pub token: Option<&'static str>,
    pub revoke: Option<&'static str>,
    /// The vendor issues a client secret with every app registration.
    pub confidential: bool,
    /// Send `aud` (the FHIR base) with the authorization request.
    pub send_aud: bool,
    /// How long a refresh token lives unused, in hours, when the vendor documents it.
    pub refresh_token_max_age_hours: Option<u32>,
    /// Published request limit, requests per minute.
    pub max_requests_per_minute: Option<u32>,
    /// Types whose searches the server refuses without a category: searched category by
    /// category from the first sync on (a sync would otherwise learn it from the refusal, a
    /// round trip later).
    pub categories_required: &'static [&'static str],
    pub notes: &'static str,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "nextgen-enterprise-r4",
        title: "NextGen Enterprise EHR — Patient Access API (FHIR R4)",
        fhir_base: "https://fhir.nextgen.com/nge/prod/fhir-api-r4/fhir/r4",
        fhir_release: "R4",
        authorize: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/authorize"),
        token: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/token"),
        revoke: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/token/revoke"),
        confidential: true,
        send_aud: true,
        refresh_token_max_age_hours: Some(48),
        max_requests_per_minute: None,
        categories_required: &["Observation", "Condition", "CarePlan"],
        notes: "client id and secret are issued per application; refresh tokens must be used within 48 hours",
    },
    Preset {
        name: "nextgen-enterprise-dstu2",
        title: "NextGen Enterprise EHR — Patient Access API (FHIR DSTU2)",
        fhir_base: "https://fhir.nextgen.com/nge/prod/fhir-api/fhir/dstu2",
        fhir_release: "DSTU2",
        authorize: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/authorize"),
        token: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/token"),
        revoke: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/token/revoke"),
        confidential: true,
        send_aud: true,
        refresh_token_max_age_hours: Some(48),
        max_requests_per_minute: None,
        categories_required: &[],
        notes: "OAuth endpoints come from the Conformance statement; refresh tokens must be used within 48 hours",
    },
    Preset {
        name: "nextgen-office-r4",
        title: "NextGen Office — Patient Access API (FHIR R4)",
        fhir_base: "https://fhir.meditouchehr.com/api/fhir/r4",
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: true,
        send_aud: true,
        refresh_token_max_age_hours: None,
        max_requests_per_minute: Some(20),
        categories_required: &[],
        notes: "published limit of 20 requests per minute; no _lastUpdated search",
    },
    Preset {
        name: "smart-sandbox",
        title: "SMART Health IT public sandbox (FHIR R4, synthetic data)",
        fhir_base: "https://launch.smarthealthit.org/v/r4/fhir",
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: false,
        send_aud: true,
        refresh_token_max_age_hours: None,
        max_requests_per_minute: None,
        categories_required: &[],
        notes: "any client id is accepted; sign in with any of the listed test patients",
    },
];

/// Looks up a preset by name (case-insensitive).
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Names of all presets, for error messages.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_https_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for p in PRESETS {
            assert!(seen.insert(p.name), "duplicate {}", p.name);
            assert!(p.fhir_base.starts_with("https://"));
            assert!(!p.fhir_base.ends_with('/'));
            assert!(url::Url::parse(p.fhir_base).is_ok());
        }
        assert_eq!(
            find("NEXTGEN-ENTERPRISE-R4").map(|p| p.fhir_release),
            Some("R4")
        );
        assert!(find("nope").is_none());
    }
}
