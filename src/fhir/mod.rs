//! Talking FHIR with a signed-in session.

pub mod client;
