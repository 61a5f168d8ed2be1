//! The EHR personalities of the sandbox: [`Ehr`] names a vendor's FHIR server and
//! [`SandboxConfig::for_ehr`] sets up everything that vendor documents (token lifetimes, refresh
//! rules, page sizes, quirks), with [`Ehr::evidence`] listing where each behaviour is written
//! down. Adding a vendor is one arm in each `match` here.
//!
//! What is not reproduced: athenahealth's other practice-scoped parameters (`ah-department`);
//! eClinicalWorks' counting of `/authorize` and `/token` against the rate limit (only FHIR
//! requests are counted); Veradigm's "versionless" endpoints, which choose DSTU2 or R4 from
//! the `Accept` header (one sandbox speaks one FHIR release).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::SandboxConfig;
use crate::quirks::{AttachmentStyle, NextLinkStyle, Quirks, RateLimit, RateWindow};

/// A vendor whose FHIR server the sandbox can imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ehr {
    /// Epic (fhir.epic.com), patient-facing standalone launch.
    Epic,
    /// Oracle Health Millennium, formerly Cerner (fhir.cerner.com).
    Oracle,
    /// athenahealth athenaOne: one national base, the practice named on every search.
    Athena,
    /// eClinicalWorks (healow): a base per practice and a request-rate limit.
    Ecw,
    /// MEDITECH Expanse: declares `Patient/$everything`.
    Meditech,
    /// Veradigm: patient endpoints ending in `/open`.
    Veradigm,
    /// NextGen Enterprise R4 as recorded ([`Quirks::nextgen`]).
    NextGen,
}

/// One documented behaviour and where it is written down.
pub type Evidence = (&'static str, &'static str);

const EPIC_OAUTH: &str = "https://fhir.epic.com/Documentation?docId=oauth2";
const EPIC_METADATA: &str = "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/metadata";
const EPIC_OBSERVATION: &str = "https://open.epic.com/Clinical/Observation";
const EPIC_SPECIFICATIONS: &str = "https://fhir.epic.com/Specifications";
const EPIC_CUMULUS: &str =
    "https://github.com/smart-on-fhir/cumulus-etl/blob/main/docs/vendors/epic.md";
const CERNER_AUTH: &str = "https://fhir.cerner.com/authorization/";
const CERNER_OBSERVATION: &str =
    "https://fhir.cerner.com/millennium/r4/clinical/diagnostics/observation/";
const CERNER_CAREPLAN: &str =
    "https://fhir.cerner.com/millennium/r4/clinical/care-provision/care-plan/";
const CERNER_BINARY: &str = "https://fhir.cerner.com/millennium/r4/foundation/other/binary/";
const CERNER_METADATA: &str =
    "https://fhir.cerner.com/millennium/r4/foundation/conformance/capability-statement/";

/// athenahealth's practice reference of the sandbox (its preview practice id).
pub const ATHENA_PRACTICE: &str = "Organization/a-1.Practice-195900";
/// eClinicalWorks' practice code of the sandbox: the last segment of its FHIR base.
pub const ECW_PRACTICE_CODE: &str = "FFBJCD";

const ATHENA_PRACTICE_URL: &str =
    "https://fhir.athena.io/athenacoreext/StructureDefinition-ah-practice.html";
const ATHENA_DOCS_URL: &str = "https://docs.athenahealth.com/api/";
const ECW_ENDPOINTS_URL: &str = "https://app2.doordoc.com/docs/endpoints";
const ECW_CONSTRAINTS_URL: &str = "https://app2.doordoc.com/docs/constraints";
const MEDITECH_URL: &str = "https://ehr.meditech.com/ehr-solutions/greenfield-workspace";
const VERADIGM_DIRECTORY_URL: &str = "https://developer.veradigm.com/Fhir/EndpointDirectory";

/// The types Oracle Health documents `_lastUpdated` for (fhir.cerner.com, each type's page).
const ORACLE_LAST_UPDATED: [&str; 9] = [
    "AllergyIntolerance",
    "Condition",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Immunization",
    "MedicationRequest",
    "Observation",
    "Procedure",
];

impl Ehr {
    /// Every personality, in the order `--ehr` lists them.
    pub const ALL: [Ehr; 7] = [
        Ehr::Epic,
        Ehr::Oracle,
        Ehr::Athena,
        Ehr::Ecw,
        Ehr::Meditech,
        Ehr::Veradigm,
        Ehr::NextGen,
    ];

    /// The lowercase name `--ehr` takes.
    pub fn name(self) -> &'static str {
        match self {
            Ehr::Epic => "epic",
            Ehr::Oracle => "oracle",
            Ehr::Athena => "athena",
            Ehr::Ecw => "ecw",
            Ehr::Meditech => "meditech",
            Ehr::Veradigm => "veradigm",
            Ehr::NextGen => "nextgen",
        }
    }

    /// The vendor's product, as people call it.
    pub fn title(self) -> &'static str {
        match self {
            Ehr::Epic => "Epic",
            Ehr::Oracle => "Oracle Health (Cerner Millennium)",
            Ehr::Athena => "athenahealth (athenaOne)",
            Ehr::Ecw => "eClinicalWorks (healow)",
            Ehr::Meditech => "MEDITECH Expanse",
            Ehr::Veradigm => "Veradigm",
            Ehr::NextGen => "NextGen Enterprise R4",
        }
    }

    /// Each behaviour the personality imitates and the page that documents it.
    pub fn evidence(self) -> Vec<Evidence> {
        let listed: &[Evidence] = match self {
            Ehr::Athena => return athena_evidence(),
            Ehr::Ecw => return ecw_evidence(),
            Ehr::Meditech => return meditech_evidence(),
            Ehr::Veradigm => return veradigm_evidence(),
            Ehr::Epic => &[
                ("access tokens last 3600 s", EPIC_OAUTH),
                (
                    "public clients get no refresh token without dynamic registration",
                    EPIC_OAUTH,
                ),
                (
                    "dynamic client registration with the access token as bearer, then the JWT bearer grant",
                    EPIC_OAUTH,
                ),
                (
                    "confidential clients authenticate with private_key_jwt only",
                    EPIC_OAUTH,
                ),
                ("software name \"Epic\"", EPIC_METADATA),
                (
                    "no meta.lastUpdated; _lastUpdated neither declared nor accepted",
                    EPIC_CUMULUS,
                ),
                ("Observation needs a category or code", EPIC_OBSERVATION),
                ("CarePlan needs a category", EPIC_SPECIFICATIONS),
                (
                    "Observation categories procedure, therapy, activity refused",
                    EPIC_SPECIFICATIONS,
                ),
                (
                    "Patient search refused; Patient read by id",
                    EPIC_SPECIFICATIONS,
                ),
                (
                    "Bundle.total counts the page's entries",
                    EPIC_SPECIFICATIONS,
                ),
                (
                    "attachment URLs are relative Binary/<id>",
                    EPIC_SPECIFICATIONS,
                ),
                (
                    "a C-CDA Binary is generated at each read",
                    EPIC_SPECIFICATIONS,
                ),
                (
                    "each Binary may be read 80 times a day, then 429",
                    EPIC_SPECIFICATIONS,
                ),
            ],
            Ehr::Oracle => &[
                ("access tokens last 570 s", CERNER_AUTH),
                (
                    "a refresh returns no new refresh token; the old one stays valid",
                    CERNER_AUTH,
                ),
                ("_count defaults to 50, at most 200", CERNER_OBSERVATION),
                (
                    "social-history Observations all on the first page",
                    CERNER_OBSERVATION,
                ),
                ("pages after the first may be short", CERNER_OBSERVATION),
                (
                    "_lastUpdated only on the documented types",
                    CERNER_OBSERVATION,
                ),
                (
                    "_lastUpdated qualifies clinically significant updates only",
                    CERNER_OBSERVATION,
                ),
                (
                    "_lastUpdated and date may not be combined",
                    CERNER_OBSERVATION,
                ),
                ("CarePlan only with category=assess-plan", CERNER_CAREPLAN),
                (
                    "Binary needs Accept of its content type or application/fhir+json",
                    CERNER_BINARY,
                ),
                ("CapabilityStatement as published", CERNER_METADATA),
            ],
            Ehr::NextGen => &[(
                "categories required, pages of 25, /fhir/R4 next links, raw documents",
                "https://www.nextgen.com/api/nextgen-enterprise-fhir-r4",
            )],
        };
        listed.to_vec()
    }
}

impl fmt::Display for Ehr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Ehr {
    type Err = String;

    fn from_str(s: &str) -> Result<Ehr, String> {
        Ehr::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Ehr::ALL.iter().map(|e| e.name()).collect();
                format!("unknown EHR {s:?}; one of {}", names.join(", "))
            })
    }
}

impl SandboxConfig {
    /// `name=value` of the parameter every search must carry (athenahealth's practice), as
    /// `fhirdl login --search-param` takes it; `None` when the sandbox wants none.
    pub fn required_search_param(&self) -> Option<String> {
        self.quirks
            .required_search_param
            .as_ref()
            .map(|(name, value)| format!("{name}={value}"))
    }

    /// The sandbox set up as `ehr` documents its server (on the default address and seed).
    pub fn for_ehr(ehr: Ehr) -> SandboxConfig {
        match ehr {
            Ehr::Epic => epic(),
            Ehr::Oracle => oracle(),
            Ehr::Athena => athena(),
            Ehr::Ecw => ecw(),
            Ehr::Meditech => meditech(),
            Ehr::Veradigm => veradigm(),
            Ehr::NextGen => SandboxConfig {
                quirks: Quirks::nextgen(),
                ..SandboxConfig::default()
            },
        }
    }
}

fn epic() -> SandboxConfig {
    let refused = ["procedure", "therapy", "activity"];
    SandboxConfig {
        access_token_ttl: Duration::from_secs(3600),
        refresh_tokens_for_public_clients: false,
        dynamic_registration: crate::DynamicRegistration::Open,
        // Since January 2026 Epic takes no client secret from confidential clients.
        token_auth_methods: vec!["private_key_jwt".to_owned()],
        quirks: Quirks {
            software_name: Some("Epic".to_owned()),
            no_meta_last_updated: true,
            no_last_updated: true,
            categories_required: vec!["Observation".to_owned(), "CarePlan".to_owned()],
            // The generator makes Observations only in vital-signs, laboratory and
            // social-history, so nothing sits behind the refused categories.
            refused_categories: refused
                .iter()
                .map(|c| ("Observation".to_owned(), (*c).to_owned()))
                .collect(),
            extra_types: true,
            patient_search_refused: true,
            total_is_page_count: true,
            attachment_style: AttachmentStyle::RelativeBinary,
            regenerated_ccda: true,
            binary_read_limit: Some(80),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    }
}

fn oracle() -> SandboxConfig {
    SandboxConfig {
        access_token_ttl: Duration::from_secs(570),
        refresh_token_rotation: false,
        page_size_default: 50,
        page_size_max: 200,
        quirks: Quirks {
            // The published statement has no `software`; its implementation says this.
            software_name: Some("Cerner implementation of FHIR on top of Millennium".to_owned()),
            social_history_first_page: true,
            last_updated_only_on: Some(ORACLE_LAST_UPDATED.map(str::to_owned).to_vec()),
            last_updated_without_date: true,
            careplan_category_required: true,
            binary_accept_strict: true,
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    }
}

/// athenaOne: one national base (`/fhir/r4`) for every practice, so every search names its
/// practice with `ah-practice=Organization/a-1.Practice-<id>`
/// (<https://fhir.athena.io/athenacoreext/StructureDefinition-ah-practice.html>); paging by an
/// opaque `_cursor`; MedicationRequest searched only with `intent`. The CapabilityStatement's
/// publisher is "athenahealth" (<https://api.platform.athenahealth.com/fhir/r4/metadata>).
fn athena() -> SandboxConfig {
    SandboxConfig {
        quirks: Quirks {
            required_search_param: Some(("ah-practice".to_owned(), ATHENA_PRACTICE.to_owned())),
            next_link_style: NextLinkStyle::Cursor,
            intent_required: vec!["MedicationRequest".to_owned()],
            software_name: Some("athenahealth".to_owned()),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    }
}

fn athena_evidence() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "every search carries ah-practice=Organization/a-1.Practice-<id>",
            ATHENA_PRACTICE_URL,
        ),
        (
            "one national FHIR base, /fhir/r4",
            "https://api.platform.athenahealth.com/fhir/r4/metadata",
        ),
        // No public page found for these two; they come from recorded athenaOne answers
        // described to us, and point at athena's FHIR documentation until one is found.
        (
            "next links page by an opaque _cursor token (unconfirmed)",
            ATHENA_DOCS_URL,
        ),
        (
            "MedicationRequest searches need intent (unconfirmed)",
            ATHENA_DOCS_URL,
        ),
    ]
}

/// eClinicalWorks: a base per practice (`/fhir/r4/<practice code>`), 250 requests a minute
/// per practice base, then 429 for the rest of the minute (<https://app2.doordoc.com/docs/endpoints>);
/// access tokens of 300 s, the shorter of its two documented lifetimes (backend services 300 s,
/// provider apps 3600 s: <https://app2.doordoc.com/docs/constraints>), so refreshes happen.
fn ecw() -> SandboxConfig {
    SandboxConfig {
        access_token_ttl: Duration::from_secs(300),
        quirks: Quirks {
            base_path_suffix: Some(ECW_PRACTICE_CODE.to_owned()),
            rate_limit: Some(RateLimit {
                limit: 250,
                window: RateWindow::Clock(Duration::from_secs(60)),
            }),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    }
}

fn ecw_evidence() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "a FHIR base per practice: /fhir/r4/<practice code>",
            ECW_ENDPOINTS_URL,
        ),
        (
            "250 requests a minute per practice base; 429 for the rest of the minute",
            ECW_ENDPOINTS_URL,
        ),
        (
            "access tokens of 300 s (backend services; provider apps 3600 s)",
            ECW_CONSTRAINTS_URL,
        ),
    ]
}

/// MEDITECH Expanse (Greenfield): US Core R4, searches paged by the Bundle's `next` links
/// (<https://ehr.meditech.com/ehr-solutions/greenfield-workspace>); its CapabilityStatement
/// declares `Patient/$everything`.
fn meditech() -> SandboxConfig {
    SandboxConfig {
        quirks: Quirks {
            everything: true,
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    }
}

fn meditech_evidence() -> Vec<(&'static str, &'static str)> {
    vec![
        ("the CapabilityStatement declares Patient/$everything", MEDITECH_URL),
        ("searches page by the Bundle's next links", "https://raw.githubusercontent.com/api-evangelist/meditech/refs/heads/main/conventions/meditech-conventions.yml"),
    ]
}

/// Veradigm: patient-facing endpoints end in `/open` (provider ones in `/fhir`), per its
/// endpoint directory (<https://developer.veradigm.com/Fhir/EndpointDirectory>). Its
/// "versionless" endpoints (DSTU2 or R4 by the `Accept` header) are not reproduced.
fn veradigm() -> SandboxConfig {
    SandboxConfig {
        quirks: Quirks {
            base_path_suffix: Some("open".to_owned()),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    }
}

fn veradigm_evidence() -> Vec<(&'static str, &'static str)> {
    vec![
        ("patient endpoints end in /open", VERADIGM_DIRECTORY_URL),
        (
            "versionless endpoints choose DSTU2 or R4 by Accept (not reproduced)",
            VERADIGM_DIRECTORY_URL,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_every_personality_cites_its_sources() {
        for ehr in Ehr::ALL {
            assert_eq!(ehr.name().parse::<Ehr>(), Ok(ehr));
            assert_eq!(ehr.name(), ehr.name().to_lowercase());
            assert!(!ehr.title().is_empty());
            assert!(ehr
                .evidence()
                .iter()
                .all(|(what, url)| !what.is_empty() && url.starts_with("https://")));
        }
        assert_eq!("EPIC".parse::<Ehr>(), Ok(Ehr::Epic));
        let error = "meditech-x".parse::<Ehr>().unwrap_err();
        assert!(
            error.contains("epic, oracle, athena, ecw, meditech, veradigm, nextgen"),
            "{error}"
        );
    }

    #[test]
    fn vendor_settings() {
        let epic = SandboxConfig::for_ehr(Ehr::Epic);
        assert_eq!(epic.access_token_ttl, Duration::from_secs(3600));
        assert!(!epic.refresh_tokens_for_public_clients);
        assert!(!epic.quirks.accepts_last_updated("Observation"));
        assert!(epic.quirks.requires_category("CarePlan"));
        let oracle = SandboxConfig::for_ehr(Ehr::Oracle);
        assert_eq!(oracle.access_token_ttl, Duration::from_secs(570));
        assert!(!oracle.refresh_token_rotation);
        assert!(oracle.quirks.accepts_last_updated("Observation"));
        assert!(!oracle.quirks.accepts_last_updated("CarePlan"));
        let nextgen = SandboxConfig::for_ehr(Ehr::NextGen);
        assert_eq!(
            format!("{:?}", nextgen.quirks),
            format!("{:?}", Quirks::nextgen())
        );
    }

    #[test]
    fn each_personality_sets_its_behaviours() {
        let athena = SandboxConfig::for_ehr(Ehr::Athena).quirks;
        assert_eq!(athena.next_link_style, NextLinkStyle::Cursor);
        assert!(
            athena.required_search_param.is_some() && athena.requires_intent("MedicationRequest")
        );
        let ecw = SandboxConfig::for_ehr(Ehr::Ecw);
        assert_eq!(ecw.access_token_ttl, Duration::from_secs(300));
        assert_eq!(ecw.quirks.rate_limit.map(|r| r.limit), Some(250));
        assert!(SandboxConfig::for_ehr(Ehr::Meditech).quirks.everything);
        let veradigm = SandboxConfig::for_ehr(Ehr::Veradigm).quirks;
        assert_eq!(veradigm.base_path_suffix.as_deref(), Some("open"));
    }
}
