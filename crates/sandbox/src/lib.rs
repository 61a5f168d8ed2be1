//! The embedded sandbox EHR: a SMART on FHIR server (OAuth 2 + FHIR R4/STU3/DSTU2 read API)
//! that runs in-process on 127.0.0.1 for fhirdl's tests, benchmarks and `fhirdl demo`.
//!
//! [`Sandbox`] (`server`) is a running server made from a [`SandboxConfig`] (`config`). OAuth
//! lives in `authorize` and `token` (client assertions in `assertion`); the FHIR API in `fhir`, `read`, `search`, `bundle`,
//! `document` and `transaction` (POSTed transaction Bundles); the generated record in
//! `generator` and `extras`; the shared state in `state`, the resources in `store`; what every
//! request passes first (counters, holds, latency, injected faults) in `intake`; the real
//! servers' oddities the sandbox can imitate in `quirks` ([`Quirks`]) and `hostile`
//! ([`Hostile`]), with opaque paging cursors in `cursor` and the request-rate cap in
//! `ratelimit`; its own published endpoint directory, in the vendors' shapes, in `directory`; whole EHRs (Epic, Oracle Health, athenahealth, eClinicalWorks, MEDITECH,
//! Veradigm, NextGen) in [`personality`] ([`Ehr`], [`SandboxConfig::for_ehr`]); seeded failures
//! of the FHIR data endpoints in `faults` ([`FaultPlan`]); HTTPS (h2 and http/1.1 with a fresh
//! certificate, [`SandboxConfig::tls`]) in `https`. [`browser`] plays the user's part of a
//! login so tests can drive the whole flow without a real browser.

mod assertion;
mod authorize;
pub mod browser;
mod bundle;
mod catalog;
mod ccda;
mod config;
mod crypto;
mod cursor;
mod directory;
mod document;
mod everything;
mod extras;
mod faults;
mod fhir;
mod form;
mod generator;
mod grants;
mod hold;
mod hostile;
mod html;
mod https;
mod instant;
mod intake;
mod pdf;
pub mod personality;
mod quirks;
mod ratelimit;
mod read;
mod registration;
mod scopes;
mod search;
mod server;
mod signing;
mod state;
mod stats;
mod store;
mod token;
mod transaction;
mod vocabulary;

pub use config::{FhirFlavor, SandboxConfig, SandboxProxy, SandboxUser};
pub use faults::{FaultKind, FaultPlan};
pub use hold::Hold;
pub use hostile::{Hostile, HostileAnswer, HostileBody, HostileLink, IdTokenFault};
pub use https::SelfSigned;
pub use personality::{Ehr, Evidence};
pub use quirks::{AttachmentStyle, NextLinkStyle, Quirks, RateLimit, RateWindow};
pub use registration::DynamicRegistration;
pub use server::Sandbox;
pub use stats::SandboxStats;
