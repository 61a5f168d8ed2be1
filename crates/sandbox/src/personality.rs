//! The sandbox as a named EHR ([`Ehr`]): each personality is a [`SandboxConfig`] that turns on
//! the behaviours that vendor documents, one function per vendor, and [`Ehr::evidence`] names
//! the public page each behaviour comes from. `fhirdl sandbox --ehr <name>` serves one.
//!
//! What is not reproduced: athenahealth's other practice-scoped parameters (`ah-department`);
//! eClinicalWorks' counting of `/authorize` and `/token` against the rate limit (only FHIR
//! requests are counted); MEDITECH's `$everything` itself (only declared); Veradigm's
//! "versionless" endpoints, which choose DSTU2 or R4 from the `Accept` header (one sandbox
//! speaks one FHIR release).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::SandboxConfig;
use crate::quirks::{NextLinkStyle, Quirks, RateLimit, RateWindow};

/// The EHRs the sandbox can imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ehr {
    Athena,
    Ecw,
    Meditech,
    Veradigm,
}

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

impl Ehr {
    pub const ALL: [Ehr; 4] = [Ehr::Athena, Ehr::Ecw, Ehr::Meditech, Ehr::Veradigm];

    /// The name `--ehr` takes.
    pub fn name(self) -> &'static str {
        match self {
            Ehr::Athena => "athena",
            Ehr::Ecw => "ecw",
            Ehr::Meditech => "meditech",
            Ehr::Veradigm => "veradigm",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Ehr::Athena => "athenahealth (athenaOne)",
            Ehr::Ecw => "eClinicalWorks (healow)",
            Ehr::Meditech => "MEDITECH Expanse",
            Ehr::Veradigm => "Veradigm",
        }
    }

    /// `(behaviour, URL of the public page it comes from)`.
    pub fn evidence(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Ehr::Athena => athena_evidence(),
            Ehr::Ecw => ecw_evidence(),
            Ehr::Meditech => meditech_evidence(),
            Ehr::Veradigm => veradigm_evidence(),
        }
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
                format!("unknown EHR {s:?}; the sandbox knows {}", names.join(", "))
            })
    }
}

impl SandboxConfig {
    /// The sandbox as `ehr` behaves (see each vendor's function for what and why).
    pub fn for_ehr(ehr: Ehr) -> SandboxConfig {
        match ehr {
            Ehr::Athena => athena(),
            Ehr::Ecw => ecw(),
            Ehr::Meditech => meditech(),
            Ehr::Veradigm => veradigm(),
        }
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
    fn names_round_trip() {
        for ehr in Ehr::ALL {
            assert_eq!(ehr.name().parse::<Ehr>(), Ok(ehr));
            assert!(!ehr.title().is_empty());
            assert!(ehr
                .evidence()
                .iter()
                .all(|(_, url)| url.starts_with("https://")));
        }
        assert!("ATHENA".parse::<Ehr>().is_ok());
        let err = "cerner".parse::<Ehr>().unwrap_err();
        assert!(err.contains("athena, ecw, meditech, veradigm"), "{err}");
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
