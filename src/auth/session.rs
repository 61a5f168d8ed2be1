//! A signed-in profile: its credentials, refreshed before they expire and once after a 401.
//!
//! Concurrent callers share one refresh (the credentials sit behind an async mutex and a caller
//! that waited re-checks whether someone else already refreshed). A rotated refresh token is
//! written to the credential store before the new access token is handed out, so a crash can
//! never leave only a revoked refresh token on disk.

use super::client_key::ClientKey;
use super::credentials::Credentials;
use super::discovery::Discovery;
use super::oauth::{build_client, credentials_from, refresh, SmartClient};
use super::registration::jwt_bearer_grant;
use super::store::CredentialStore;
use crate::http::Http;
use crate::secret::Secret;
use anyhow::{Context, Result};
use tokio::sync::Mutex;

pub struct Session {
    pub profile_name: String,
    store: CredentialStore,
    http: Http,
    client: SmartClient,
    /// Signs a client assertion for each refresh (`private_key_jwt`).
    client_key: Option<ClientKey>,
    /// The client is this computer's registration: without a refresh token, the JWT bearer
    /// grant signed with `client_key` gets the next access token.
    registered: bool,
    creds: Mutex<Credentials>,
}

impl Session {
    /// Loads the stored credentials of a profile; none stored means "login required".
    pub async fn open(
        http: Http,
        store: CredentialStore,
        profile_name: &str,
        client_id: &str,
        discovery: &Discovery,
    ) -> Result<Session> {
        let creds = store.load(profile_name).await?.ok_or_else(|| {
            crate::auth::Error::login_required(
                profile_name,
                format!("profile '{profile_name}' is not signed in"),
            )
        })?;
        Session::new(http, store, profile_name, client_id, discovery, creds)
    }

    /// A session over credentials already at hand (just received at sign-in, or loaded).
    pub fn new(
        http: Http,
        store: CredentialStore,
        profile_name: &str,
        client_id: &str,
        discovery: &Discovery,
        creds: Credentials,
    ) -> Result<Session> {
        // The trace file and doctor's report show this patient's id only as a hash.
        if let Some(pid) = &creds.patient {
            http.trace_sink().pseudonymize_patient(pid);
        }
        let client = build_client(client_id, creds.client_secret.as_ref(), discovery, None)?;
        Ok(Session {
            profile_name: profile_name.to_string(),
            store,
            http,
            client,
            client_key: None,
            registered: false,
            creds: Mutex::new(creds),
        })
    }

    /// The session authenticates its refreshes with `key` (`private_key_jwt`) instead of a
    /// client secret.
    pub fn with_client_key(mut self, key: Option<ClientKey>) -> Session {
        self.client_key = key;
        self
    }

    /// The session's client is this computer's registration (dynamic client registration).
    pub fn with_registration(mut self, registered: bool) -> Session {
        self.registered = registered;
        self
    }

    /// A copy of the current credentials.
    pub async fn credentials(&self) -> Credentials {
        self.creds.lock().await.clone()
    }

    pub fn store(&self) -> &CredentialStore {
        &self.store
    }

    pub fn client(&self) -> &SmartClient {
        &self.client
    }

    /// An access token that will last at least the next minute (refreshing when needed).
    pub async fn access_token(&self) -> Result<Secret> {
        let mut creds = self.creds.lock().await;
        if creds.needs_refresh() {
            self.refresh_locked(&mut creds).await?;
        }
        Ok(creds.access_token.clone())
    }

    /// Refreshes now, though the access token may still be good, when `early` says so of the
    /// credentials held (`keep_alive::refresh_early`). Returns whether it refreshed.
    pub async fn refresh_if(&self, early: impl FnOnce(&Credentials) -> bool) -> Result<bool> {
        let mut creds = self.creds.lock().await;
        if !early(&creds) {
            return Ok(false);
        }
        self.refresh_locked(&mut creds).await?;
        Ok(true)
    }

    /// The server refused `used` with 401: refresh, unless another caller already did. Returns
    /// the token to use now and whether this call refreshed it (`false`: a newer one was there).
    pub async fn after_unauthorized(&self, used: &Secret) -> Result<(Secret, bool)> {
        let mut creds = self.creds.lock().await;
        let refresh = &creds.access_token == used;
        if refresh {
            self.refresh_locked(&mut creds).await?;
        }
        Ok((creds.access_token.clone(), refresh))
    }

    async fn refresh_locked(&self, creds: &mut Credentials) -> Result<()> {
        let name = &self.profile_name;
        if let (None, true, Some(key)) = (&creds.refresh_token, self.registered, &self.client_key) {
            let endpoint = self.client.token_uri().as_str();
            let client_id = self.client.client_id().as_str();
            let resp =
                jwt_bearer_grant(&self.http, endpoint, client_id, key, name, &creds.scope).await?;
            let fresh = credentials_from(&resp, &creds.scope, Some(creds), None);
            self.store
                .save(name, &fresh)
                .await
                .context("cannot save the new credentials")?;
            *creds = fresh;
            return Ok(());
        }
        if creds.refresh_token.is_none() {
            return Err(crate::auth::Error::login_required(
                name,
                format!(
                    "the access token of profile '{name}' expired and there is no refresh token (offline access was not granted)"
                ),
            )
            .into());
        }
        let key = self.client_key.as_ref();
        let resp = refresh(&self.http, &self.client, name, creds, key).await?;
        let fresh = credentials_from(&resp, &creds.scope, Some(creds), None);
        self.store
            .save(name, &fresh)
            .await
            .context("cannot save the refreshed credentials")?;
        *creds = fresh;
        Ok(())
    }
}
