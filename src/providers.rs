//! Built-in provider presets: known FHIR bases (or how to find a practice's) and what each
//! vendor documents about signing in and staying signed in.
//!
//! A preset only fills in defaults; every endpoint is still discovered from the server's own
//! SMART configuration or CapabilityStatement at login. What a preset knows that discovery cannot
//! tell: where the FHIR bases of the vendor's practices are listed, whether the app
//! registration is confidential, whether `aud` is accepted, token lifetimes and refresh rules,
//! published rate limits, and which types the server searches only by category. How the
//! vendor's servers search is in [`crate::quirks`].

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Preset {
    /// The name used with `--provider`.
    pub name: &'static str,
    pub title: &'static str,
    /// The one FHIR base every patient of this preset uses; `None` when each organization
    /// has its own (give it with `--fhir-base`; `base_pattern` and `find_base` say how).
    pub fhir_base: Option<&'static str>,
    /// What an organization's FHIR base looks like (`https://<host>/…/api/FHIR/R4`).
    pub base_pattern: Option<&'static str>,
    /// Where the vendor publishes its organizations' FHIR bases.
    pub find_base: Option<&'static str>,
    /// FHIR release the base serves, as the user would say it.
    pub fhir_release: &'static str,
    /// Published authorize/token/revoke endpoints (informational; discovery decides).
    pub authorize: Option<&'static str>,
    pub token: Option<&'static str>,
    pub revoke: Option<&'static str>,
    /// The vendor issues a client secret with every app registration.
    pub confidential: bool,
    /// A patient app stays signed in only by registering each computer (dynamic client
    /// registration, RFC 7591) and using the JWT bearer grant: `login` registers by default.
    pub dynamic_registration: bool,
    /// Send `aud` (the FHIR base) with the authorization request.
    pub send_aud: bool,
    /// How long an access token lasts, in seconds, when the vendor documents it.
    pub access_token_secs: Option<u32>,
    /// How a patient app stays signed in, in words.
    pub refresh: &'static str,
    /// How long a refresh token lives unused, in hours, when the vendor documents it.
    pub refresh_token_max_age_hours: Option<u32>,
    /// Published request limit, requests per minute.
    pub max_requests_per_minute: Option<u32>,
    /// The vendor of fhirdl's quirks list (`src/quirks.json`) whose rules apply to this
    /// preset's servers even when neither their host nor their CapabilityStatement names it
    /// (categories searched one by one, refused searches, rate and refresh limits).
    pub vendor: Option<&'static str>,
    pub notes: &'static str,
    /// The pages the preset's facts come from.
    pub evidence: &'static [&'static str],
}

/// The usual rule: a refresh token, rotated or not, renews the access token.
const REFRESH_STANDARD: &str =
    "a refresh token (offline_access) renews the access token; a rotated one is saved at once";

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "nextgen-enterprise-r4",
        title: "NextGen Enterprise EHR — Patient Access API (FHIR R4)",
        fhir_base: Some("https://fhir.nextgen.com/nge/prod/fhir-api-r4/fhir/r4"),
        base_pattern: None,
        find_base: None,
        fhir_release: "R4",
        authorize: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/authorize"),
        token: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/token"),
        revoke: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/token/revoke"),
        confidential: true,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: None,
        refresh: REFRESH_STANDARD,
        refresh_token_max_age_hours: Some(48),
        max_requests_per_minute: None,
        vendor: Some("NextGen Healthcare"),
        notes: "client id and secret are issued per application; refresh tokens must be used within 48 hours",
        evidence: &["https://www.nextgen.com/patient-access-api"],
    },
    Preset {
        name: "nextgen-enterprise-dstu2",
        title: "NextGen Enterprise EHR — Patient Access API (FHIR DSTU2)",
        fhir_base: Some("https://fhir.nextgen.com/nge/prod/fhir-api/fhir/dstu2"),
        base_pattern: None,
        find_base: None,
        fhir_release: "DSTU2",
        authorize: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/authorize"),
        token: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/token"),
        revoke: Some("https://fhir.nextgen.com/nge/prod/patient-oauth/token/revoke"),
        confidential: true,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: None,
        refresh: REFRESH_STANDARD,
        refresh_token_max_age_hours: Some(48),
        max_requests_per_minute: None,
        vendor: Some("NextGen Healthcare"),
        notes: "OAuth endpoints come from the Conformance statement; refresh tokens must be used within 48 hours",
        evidence: &[],
    },
    Preset {
        name: "nextgen-office-r4",
        title: "NextGen Office — Patient Access API (FHIR R4)",
        fhir_base: Some("https://fhir.meditouchehr.com/api/fhir/r4"),
        base_pattern: None,
        find_base: None,
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: true,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: None,
        refresh: REFRESH_STANDARD,
        refresh_token_max_age_hours: None,
        max_requests_per_minute: Some(20),
        vendor: Some("NextGen Healthcare"),
        notes: "published limit of 20 requests per minute; no _lastUpdated search",
        evidence: &[],
    },
    Preset {
        name: "smart-sandbox",
        title: "SMART Health IT public sandbox (FHIR R4, synthetic data)",
        fhir_base: Some("https://launch.smarthealthit.org/v/r4/fhir"),
        base_pattern: None,
        find_base: None,
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: false,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: None,
        refresh: REFRESH_STANDARD,
        refresh_token_max_age_hours: None,
        max_requests_per_minute: None,
        vendor: None,
        notes: "any client id is accepted; sign in with any of the listed test patients",
        evidence: &[],
    },
    Preset {
        name: "epic",
        title: "Epic — a MyChart organization's patient-facing FHIR API (R4)",
        fhir_base: None,
        base_pattern: Some("https://<organization host>/<path>/api/FHIR/R4"),
        find_base: Some("Epic's list of organizations and their FHIR bases: https://open.epic.com/MyApps/Endpoints"),
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: false,
        dynamic_registration: true,
        send_aud: true,
        access_token_secs: Some(3600),
        refresh: "no refresh token for a public patient app: after the first sign-in fhirdl registers this computer (dynamic client registration) and gets each new access token with a key kept here (JWT bearer grant), without a browser",
        refresh_token_max_age_hours: None,
        max_requests_per_minute: None,
        vendor: Some("Epic"),
        notes: "register the app at fhir.epic.com; no _lastUpdated search, so incremental runs go by each type's date search",
        evidence: &[
            "https://fhir.epic.com/Documentation?docId=oauth2",
            "https://open.epic.com/MyApps/Endpoints",
        ],
    },
    Preset {
        name: "oracle-health",
        title: "Oracle Health (Cerner Millennium) — patient access FHIR API (R4)",
        fhir_base: None,
        base_pattern: Some("https://fhir-myrecord.cerner.com/r4/<tenant id>"),
        find_base: Some("Oracle's list of Millennium patient endpoints: https://github.com/oracle-samples/ignite-endpoints (oracle_health_fhir_endpoints/millennium_patient_r4_endpoints.json)"),
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: false,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: Some(570),
        refresh: "a refresh returns no new refresh token: the one from sign-in is kept and used again",
        refresh_token_max_age_hours: None,
        max_requests_per_minute: None,
        vendor: Some("Oracle Health (Cerner Millennium)"),
        notes: "register the app in the Oracle Health code console; CarePlan only with category=assess-plan",
        evidence: &[
            "https://fhir.cerner.com/authorization/",
            "https://github.com/oracle-samples/ignite-endpoints",
        ],
    },
    Preset {
        name: "athena",
        title: "athenahealth (athenaOne) — patient access FHIR API (R4)",
        fhir_base: Some("https://api.platform.athenahealth.com/fhir/r4"),
        base_pattern: None,
        find_base: None,
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: false,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: None,
        refresh: REFRESH_STANDARD,
        refresh_token_max_age_hours: None,
        max_requests_per_minute: None,
        vendor: Some("athenahealth"),
        notes: "one base for every practice: sign in with --search-param ah-practice=Organization/a-1.Practice-<your practice id>",
        evidence: &["https://fhir.athena.io/athenacoreext/StructureDefinition-ah-practice.html"],
    },
    Preset {
        name: "ecw",
        title: "eClinicalWorks (healow) — patient access FHIR API (R4)",
        fhir_base: None,
        base_pattern: Some("https://<host>/fhir/r4/<practice code>"),
        find_base: Some("eClinicalWorks' endpoint list: https://fhir.eclinicalworks.com/ecwopendev/fhir-endpoints"),
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: false,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: Some(3600),
        refresh: "a refresh token renews the access token for up to 90 days",
        refresh_token_max_age_hours: None,
        max_requests_per_minute: Some(250),
        vendor: Some("eClinicalWorks"),
        notes: "250 requests a minute per practice (past it, refused for the rest of the minute): fhirdl keeps under it",
        evidence: &["https://app2.doordoc.com/docs/endpoints", "https://app2.doordoc.com/docs"],
    },
    Preset {
        name: "meditech",
        title: "MEDITECH Expanse — patient access FHIR API (R4)",
        fhir_base: None,
        base_pattern: Some("https://<organization host>/…/fhir/r4 (the organization's own)"),
        find_base: Some("the organization's patient portal or MEDITECH's app registration (Greenfield Workspace)"),
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: false,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: None,
        refresh: REFRESH_STANDARD,
        refresh_token_max_age_hours: None,
        max_requests_per_minute: None,
        vendor: None,
        notes: "offers Patient/$everything: once it proves complete, whole fetches use it",
        evidence: &["https://ehr.meditech.com/ehr-solutions/greenfield-workspace"],
    },
    Preset {
        name: "veradigm",
        title: "Veradigm (Allscripts) — patient access FHIR API (R4)",
        fhir_base: None,
        base_pattern: Some("https://<host>/…/open (patient endpoints end in /open)"),
        find_base: Some("Veradigm's endpoint directory: https://developer.veradigm.com/Fhir/EndpointDirectory"),
        fhir_release: "R4",
        authorize: None,
        token: None,
        revoke: None,
        confidential: false,
        dynamic_registration: false,
        send_aud: true,
        access_token_secs: None,
        refresh: REFRESH_STANDARD,
        refresh_token_max_age_hours: None,
        max_requests_per_minute: None,
        vendor: None,
        notes: "use the endpoint ending in /open; a versionless endpoint serves DSTU2 or R4 by the Accept header, so prefer the R4 one",
        evidence: &["https://developer.veradigm.com/Fhir/EndpointDirectory"],
    },
];

/// Looks up a preset by name (case-insensitive).
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The preset for the practices of `vendor` as an endpoint directory names it ("Epic",
/// "Oracle Health", "NextGen"): the first preset whose quirks-list vendor begins with that name.
pub fn for_vendor(vendor: &str) -> Option<&'static Preset> {
    let wanted = vendor.trim().to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    PRESETS.iter().find(|p| {
        p.vendor
            .is_some_and(|v| v.to_lowercase().starts_with(&wanted))
    })
}

/// Names of all presets, for error messages.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_vendor_leads_to_its_preset() {
        let name = |v: &str| for_vendor(v).map(|p| p.name);
        assert_eq!(name("Epic"), Some("epic"));
        assert_eq!(name("Oracle Health"), Some("oracle-health"));
        assert_eq!(name("NextGen"), Some("nextgen-enterprise-r4"));
        assert_eq!(name("eClinicalWorks"), Some("ecw"));
        assert_eq!(name("MEDITECH"), None);
        assert_eq!(name(""), None);
    }

    #[test]
    fn presets_are_https_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for p in PRESETS {
            assert!(seen.insert(p.name), "duplicate {}", p.name);
            match p.fhir_base {
                Some(base) => {
                    assert!(base.starts_with("https://"));
                    assert!(!base.ends_with('/'));
                    assert!(url::Url::parse(base).is_ok());
                }
                // Each organization has its own base: the preset says how to find it.
                None => assert!(
                    p.base_pattern.is_some() && p.find_base.is_some(),
                    "{}",
                    p.name
                ),
            }
            for page in p.evidence {
                assert!(page.starts_with("https://"), "{page}");
            }
        }
        assert_eq!(
            find("NEXTGEN-ENTERPRISE-R4").map(|p| p.fhir_release),
            Some("R4")
        );
        assert!(find("nope").is_none());
    }
}
