//! OAuth state: login transactions, authorization codes, access and refresh tokens. Pure
//! bookkeeping with expiry rules; HTTP and client authentication live in `oauth`.
//!
//! Every authorization gets a grant id; the tokens born from it (including rotated refresh
//! tokens) share it, so revoking a refresh token or replaying a code can revoke the whole grant.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::crypto::random_token;

/// Login transactions (form → consent) live this long.
const TRANSACTION_TTL: Duration = Duration::from_secs(600);
/// Authorization codes live this long.
const CODE_TTL: Duration = Duration::from_secs(60);

/// A validated authorize request, waiting for the user.
#[derive(Clone, Debug)]
pub(crate) struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
    /// The scope as the app asked for it.
    pub requested_scope: String,
    /// The scope the code will grant, space separated.
    pub granted_scope: String,
    /// OpenID Connect `nonce`, repeated in the id_token.
    pub nonce: Option<String>,
    /// The username of the proxy (parent, caregiver) who signed in for the patient.
    pub proxy: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Transaction {
    pub request: AuthRequest,
    /// The username once the login form was passed.
    pub signed_in: Option<String>,
    created: Instant,
}

#[derive(Clone, Debug)]
pub(crate) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub patient: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub proxy: Option<String>,
    issued: Instant,
    used: bool,
    grant: u64,
}

impl CodeGrant {
    pub(crate) fn grant(&self) -> u64 {
        self.grant
    }
}

/// What a valid access token allows.
#[derive(Clone, Debug)]
pub(crate) struct AccessGrant {
    pub client_id: String,
    pub patient: String,
    pub scope: String,
    /// `None`: the TTL was too large to represent, so it never expires.
    expires_at: Option<Instant>,
    expired: bool,
    pub grant: u64,
}

impl AccessGrant {
    /// Seconds until the token expires (`None`: it never does).
    pub(crate) fn seconds_left(&self) -> Option<u64> {
        self.expires_at
            .map(|at| at.saturating_duration_since(Instant::now()).as_secs())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub patient: String,
    /// The scope of the original authorization; refreshes may only narrow it.
    pub scope: String,
    pub grant: u64,
    /// The proxy who signed in for the patient (`None`: the patient did).
    pub proxy: Option<String>,
}

/// Why a bearer token was refused (never shown with the token itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BearerError {
    Unknown,
    Expired,
}

#[derive(Default)]
pub(crate) struct AuthStore {
    transactions: HashMap<String, Transaction>,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
    next_grant: u64,
}

impl AuthStore {
    pub(crate) fn start_transaction(&mut self, request: AuthRequest) -> String {
        self.transactions
            .retain(|_, t| t.created.elapsed() < TRANSACTION_TTL);
        let id = random_token();
        self.transactions.insert(
            id.clone(),
            Transaction {
                request,
                signed_in: None,
                created: Instant::now(),
            },
        );
        id
    }

    /// A live transaction, or `None` when unknown or older than ten minutes.
    pub(crate) fn transaction(&mut self, id: &str) -> Option<&mut Transaction> {
        self.transactions
            .get_mut(id)
            .filter(|t| t.created.elapsed() < TRANSACTION_TTL)
    }

    pub(crate) fn finish_transaction(&mut self, id: &str) -> Option<Transaction> {
        self.transactions
            .remove(id)
            .filter(|t| t.created.elapsed() < TRANSACTION_TTL)
    }

    /// A fresh single-use code for a new grant.
    pub(crate) fn issue_code(&mut self, request: &AuthRequest, patient: &str) -> String {
        // Used codes stay until they expire so a replay can still be recognised.
        self.codes.retain(|_, c| c.issued.elapsed() < CODE_TTL);
        self.next_grant += 1;
        let code = random_token();
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                patient: patient.to_owned(),
                scope: request.granted_scope.clone(),
                nonce: request.nonce.clone(),
                proxy: request.proxy.clone(),
                issued: Instant::now(),
                used: false,
                grant: self.next_grant,
            },
        );
        code
    }

    /// Marks the code used and returns it. A second use revokes what the first one issued
    /// (RFC 6749 4.1.2).
    pub(crate) fn redeem_code(&mut self, code: &str) -> Result<CodeGrant, &'static str> {
        let Some(grant) = self.codes.get_mut(code) else {
            return Err("the authorization code is unknown");
        };
        if grant.issued.elapsed() >= CODE_TTL {
            return Err("the authorization code has expired");
        }
        if grant.used {
            let family = grant.grant;
            self.revoke_grant(family);
            return Err("the authorization code was already used");
        }
        grant.used = true;
        Ok(grant.clone())
    }

    pub(crate) fn issue_access(&mut self, refresh: &RefreshGrant, ttl: Duration) -> String {
        let token = random_token();
        self.access.insert(
            token.clone(),
            AccessGrant {
                client_id: refresh.client_id.clone(),
                patient: refresh.patient.clone(),
                scope: refresh.scope.clone(),
                expires_at: Instant::now().checked_add(ttl),
                expired: false,
                grant: refresh.grant,
            },
        );
        token
    }

    pub(crate) fn issue_refresh(&mut self, grant: RefreshGrant) -> String {
        let token = random_token();
        self.refresh.insert(token.clone(), grant);
        token
    }

    pub(crate) fn refresh_grant(&self, token: &str) -> Option<&RefreshGrant> {
        self.refresh.get(token)
    }

    pub(crate) fn remove_refresh(&mut self, token: &str) {
        self.refresh.remove(token);
    }

    pub(crate) fn bearer(&self, token: &str) -> Result<&AccessGrant, BearerError> {
        let grant = self.access.get(token).ok_or(BearerError::Unknown)?;
        let past_ttl = grant.expires_at.is_some_and(|at| Instant::now() >= at);
        if grant.expired || past_ttl {
            return Err(BearerError::Expired);
        }
        Ok(grant)
    }

    /// RFC 7009: revokes the token if `client_id` owns it; a refresh token takes its whole
    /// grant with it. Unknown tokens are silently ignored.
    pub(crate) fn revoke(&mut self, token: &str, client_id: &str) {
        if let Some(refresh) = self.refresh.get(token) {
            if refresh.client_id == client_id {
                let grant = refresh.grant;
                self.revoke_grant(grant);
            }
        } else if self
            .access
            .get(token)
            .is_some_and(|a| a.client_id == client_id)
        {
            self.access.remove(token);
        }
    }

    fn revoke_grant(&mut self, grant: u64) {
        self.access.retain(|_, a| a.grant != grant);
        self.refresh.retain(|_, r| r.grant != grant);
    }

    pub(crate) fn revoke_all(&mut self) {
        self.codes.clear();
        self.access.clear();
        self.refresh.clear();
    }

    /// Marks one access token expired (the fault injector's "token expired mid-sync").
    pub(crate) fn expire_access_token(&mut self, token: &str) {
        if let Some(grant) = self.access.get_mut(token) {
            grant.expired = true;
        }
    }

    /// Revokes the whole grant `token` belongs to: its access and refresh tokens (the fault
    /// injector's "refresh token revoked mid-sync").
    pub(crate) fn revoke_grant_of(&mut self, token: &str) {
        if let Some(grant) = self.access.get(token).map(|a| a.grant) {
            self.revoke_grant(grant);
        }
    }

    pub(crate) fn expire_access_tokens(&mut self) {
        for grant in self.access.values_mut() {
            grant.expired = true;
        }
    }
}

/// One registered client: whose record its tokens read, and the token that manages it.
#[derive(Clone)]
pub(crate) struct Registered {
    pub grant: RefreshGrant,
    pub management_token: String,
}

/// The clients registered so far, by issued client id.
#[derive(Default)]
pub(crate) struct Registrations {
    clients: Mutex<HashMap<String, Registered>>,
}

impl Registrations {
    pub(crate) fn get(&self, client_id: &str) -> Option<Registered> {
        self.lock().get(client_id).cloned()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Registered>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends every registration (a test's "the organization revoked this computer").
    pub(crate) fn revoke_all(&self, keys: &crate::assertion::ClientKeys) {
        for id in self.lock().drain().map(|(id, _)| id) {
            keys.unregister(&id);
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AuthRequest {
        AuthRequest {
            client_id: "app".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            state: "s".into(),
            code_challenge: "c".into(),
            requested_scope: "patient/*.rs offline_access".into(),
            granted_scope: "patient/*.rs offline_access".into(),
            nonce: None,
            proxy: None,
        }
    }

    fn tokens_for(store: &mut AuthStore, code: &CodeGrant) -> (String, String) {
        let grant = RefreshGrant {
            client_id: code.client_id.clone(),
            patient: code.patient.clone(),
            scope: code.scope.clone(),
            grant: code.grant(),
            proxy: None,
        };
        let access = store.issue_access(&grant, Duration::from_secs(60));
        (access, store.issue_refresh(grant))
    }

    #[test]
    fn a_replayed_code_revokes_its_tokens() {
        let mut store = AuthStore::default();
        let code = store.issue_code(&request(), "p1");
        let grant = store.redeem_code(&code).unwrap();
        let (access, refresh) = tokens_for(&mut store, &grant);
        assert!(store.bearer(&access).is_ok());
        assert!(store.redeem_code(&code).is_err());
        assert_eq!(store.bearer(&access).unwrap_err(), BearerError::Unknown);
        assert!(store.refresh_grant(&refresh).is_none());
    }

    #[test]
    fn revoking_a_refresh_token_revokes_its_access_tokens_only_for_the_owner() {
        let mut store = AuthStore::default();
        let code = store.issue_code(&request(), "p1");
        let grant = store.redeem_code(&code).unwrap();
        let (access, refresh) = tokens_for(&mut store, &grant);
        store.revoke(&refresh, "someone-else");
        assert!(store.bearer(&access).is_ok());
        store.revoke(&refresh, "app");
        assert!(store.bearer(&access).is_err());
        assert!(store.refresh_grant(&refresh).is_none());
    }

    #[test]
    fn expiring_access_tokens_keeps_refresh_tokens() {
        let mut store = AuthStore::default();
        let code = store.issue_code(&request(), "p1");
        let grant = store.redeem_code(&code).unwrap();
        let (access, refresh) = tokens_for(&mut store, &grant);
        store.expire_access_tokens();
        assert_eq!(store.bearer(&access).unwrap_err(), BearerError::Expired);
        assert!(store.refresh_grant(&refresh).is_some());
    }
}
