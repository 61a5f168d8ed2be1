//! The published directories `fhirdl directory update` reads when no `--source` is given: each
//! vendor's free list of its customers' FHIR endpoints (ONC HTI-1 "service base URLs"), with
//! where the URL was found.

use serde::Serialize;

/// One published directory.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// The vendor whose customers it lists (shown by `find`, filtered by `find --vendor`).
    pub vendor: &'static str,
    pub url: &'static str,
    /// Where the URL is documented.
    pub evidence: &'static str,
}

pub const BUILT_IN: &[Source] = &[
    Source {
        vendor: "Epic",
        // SMART 2.2 Brands bundle: ~90,000 organizations (facilities partOf brands), ~800
        // endpoints, about 90 MB.
        url: "https://open.epic.com/Endpoints/Brands",
        evidence: "https://open.epic.com/MyApps/Endpoints",
    },
    Source {
        vendor: "Oracle Health",
        url: "https://raw.githubusercontent.com/oracle-samples/ignite-endpoints/main/oracle_health_fhir_endpoints/millennium_patient_r4_endpoints.json",
        evidence: "https://github.com/oracle-samples/ignite-endpoints",
    },
    Source {
        vendor: "NextGen",
        url: "https://services.fhir.nextgen.com/FhirServiceBaseBundle-R4",
        evidence: "https://www.nextgen.com/patient-access-api",
    },
    Source {
        vendor: "eClinicalWorks",
        url: "https://fhir.eclinicalworks.com/ecwopendev/external/practiceList",
        evidence: "https://fhir.eclinicalworks.com/ecwopendev/fhir-endpoints",
    },
    Source {
        vendor: "MEDITECH",
        url: "https://fhir.meditech.com/brands.json",
        evidence: "https://fhir.meditech.com/explorer/endpoints",
    },
];

/// The vendor of a built-in source with this URL, if it is one.
pub fn vendor_of(url: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|s| s.url == url).map(|s| s.vendor)
}
