//! A saved profile turned into a signed-in FHIR client: its credential store, its session
//! (refreshing tokens as needed) and a [`FhirClient`] on its FHIR base. Every command that
//! talks to the server as the patient (`login`'s first read, `sync`, `status`, `doctor`) gets
//! its client here.

use crate::auth::client_key::ClientKey;
use crate::auth::credentials::Credentials;
use crate::auth::session::Session;
use crate::auth::store::CredentialStore;
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
    let client_key = client_key(&store, name, profile).await?;
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
    }
    .with_client_key(client_key);
    Ok(FhirClient::new(http.clone(), base, Arc::new(session))
        .with_search_params(profile.search_param_pairs()))
}

/// The profile's `private_key_jwt` key from its credential store, when the profile has one.
async fn client_key(
    store: &CredentialStore,
    name: &str,
    profile: &Profile,
) -> Result<Option<ClientKey>> {
    let Some(info) = &profile.client_key else {
        return Ok(None);
    };
    match store.load_client_key(name).await? {
        Some(key) if key.info.kid == info.kid => Ok(Some(key)),
        _ => Err(crate::auth::Error::login_required(
            name,
            format!(
                "the client key {} of profile '{name}' is not in its credential store",
                info.kid
            ),
        )
        .into()),
    }
}
