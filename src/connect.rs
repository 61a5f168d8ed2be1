//! A saved profile turned into a signed-in FHIR client: its credential store, its session
//! (refreshing tokens as needed) and a [`FhirClient`] on its FHIR base. Every command that
//! talks to the server as the patient (`login`'s first read, `sync`, `status`, `doctor`) gets
//! its client here.

use crate::auth::credentials::Credentials;
use crate::auth::session::Session;
use crate::config::{Paths, Profile};
use crate::fhir::client::FhirClient;
use crate::fhir_url::parse_base;
use crate::http::Http;
use anyhow::Result;
use std::sync::Arc;

/// The FHIR client of profile `name`, signed in with `creds` when given (just received, or
/// already loaded by the caller), else with what its credential store holds.
pub async fn fhir_client(
    http: &Http,
    paths: &Paths,
    name: &str,
    profile: &Profile,
    creds: Option<Credentials>,
) -> Result<FhirClient> {
    let store = paths.credential_store(profile.credential_store);
    let base = parse_base(&profile.fhir_base)?;
    let discovery = profile.discovery.as_ref().ok_or_else(|| {
        crate::auth::Error::login_required(name, format!("profile '{name}' has no discovery data"))
    })?;
    let session = match creds {
        Some(creds) => Session::new(
            http.clone(),
            store,
            name,
            &profile.client_id,
            discovery,
            creds,
        )?,
        None => Session::open(http.clone(), store, name, &profile.client_id, discovery).await?,
    };
    Ok(FhirClient::new(http.clone(), base, Arc::new(session))
        .with_search_params(profile.search_param_pairs()))
}
