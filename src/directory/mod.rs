//! The published endpoint directories: every certified EHR vendor publishes the FHIR endpoints
//! of its customers as FHIR `Endpoint` + `Organization` resources (ONC HTI-1, from 2024-12-31;
//! <https://www.healthit.gov/test-method/standardized-api-patient-and-population-services>),
//! many in the SMART App Launch 2.2 "User-access Brands and Endpoints" shape
//! (<https://hl7.org/fhir/smart-app-launch/brands.html>).
//!
//! One file per concern: [`stream`] reads a Bundle (plain or gzip) one entry at a time;
//! [`shapes`] turns its Organizations and Endpoints into [`Listing`]s whatever the shape;
//! [`clean`] drops placeholders and normalises FHIR bases; [`index`] keeps them in a SQLite
//! index with full-text search; [`rank`] orders what a search found; [`sources`] is the
//! built-in list of published directories; [`update`] downloads them.

pub mod check;
pub mod clean;
pub mod index;
pub mod rank;
pub mod search;
pub mod shapes;
pub mod sources;
pub mod stream;
pub mod update;

use serde::Serialize;

/// One organization reachable at one FHIR base: a row of the index and a match of `find`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The organization's (or facility's) name.
    pub name: String,
    /// Other names it goes by (`Organization.alias`).
    pub aliases: Vec<String>,
    /// The brand it belongs to (`partOf`), when it is a facility of one.
    pub brand: Option<String>,
    /// The patient portal's name (the `organization-portal` extension's `portalName`).
    pub portal: Option<String>,
    /// Street, city, state and postal code in one line, as published.
    pub address: Option<String>,
    pub city: Option<String>,
    /// Two-letter state, upper case, as published.
    pub state: Option<String>,
    /// The endpoint's FHIR base, normalised ([`clean::normalise_base`]).
    pub fhir_base: String,
    /// The FHIR version the endpoint says it serves ("4.0.1"), or what its base tells ("R4").
    pub fhir_version: Option<String>,
}

/// What one directory document held once read.
#[derive(Debug, Default)]
pub struct Parsed {
    pub listings: Vec<Listing>,
    /// Organizations and endpoints dropped as placeholders or test entries.
    pub dropped: usize,
    /// Distinct FHIR bases among the listings.
    pub endpoints: usize,
}
