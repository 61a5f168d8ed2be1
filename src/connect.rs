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
    // A registered computer is a client of its own, with the registration's key.
    let (client_id, client_key, registered) = match &profile.registration {
        Some(reg) => (
            reg.client_id.as_str(),
            Some(registration_key(&store, name, reg).await?),
            true,
        ),
        None => (
            profile.client_id.as_str(),
            client_key(&store, name, profile).await?,
            false,
        ),
    };
    let session = match creds {
        Some(creds) => Session::new(http.clone(), store, name, client_id, discovery, creds)?,
        None => Session::open(http.clone(), store, name, client_id, discovery).await?,
    }
    .with_client_key(client_key)
    .with_registration(registered);
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

/// The key of this computer's registration, from its credential store.
async fn registration_key(
    store: &CredentialStore,
    name: &str,
    registration: &crate::auth::registration::Registration,
) -> Result<ClientKey> {
    match store.load_registration(name).await? {
        Some(secrets) if secrets.key.info.kid == registration.key.kid => Ok(secrets.key),
        _ => Err(crate::auth::Error::login_required(
            name,
            format!(
                "the key of this computer's registration (client id {}) is not in the credential store of profile '{name}'",
                crate::sanitize::clean(&registration.client_id)
            ),
        )
        .into()),
    }
}

/// Who the profile's tokens belong to, for the revocation and introspection endpoints: this
/// computer's registration with its key, else the app's client id with its key (if any).
pub async fn token_owner(
    store: &CredentialStore,
    name: &str,
    profile: &Profile,
) -> Result<(String, Option<ClientKey>)> {
    match &profile.registration {
        Some(reg) => Ok((
            reg.client_id.clone(),
            Some(registration_key(store, name, reg).await?),
        )),
        None => Ok((
            profile.client_id.clone(),
            client_key(store, name, profile).await?,
        )),
    }
}
