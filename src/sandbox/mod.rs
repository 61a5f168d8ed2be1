//! The embedded sandbox EHR: a SMART on FHIR server (OAuth 2 + FHIR R4/DSTU2 read API) that runs
//! in-process on 127.0.0.1 for tests, benchmarks and `fhirdl demo`.
//!
//! This file owns the public surface ([`Sandbox`], [`SandboxConfig`]) and the server's lifetime.
//! It does not own behaviour: OAuth lives in `authorize` and `token`, the FHIR API in `fhir`, `search`,
//! `bundle`, `document` and `transaction` (POSTed transaction Bundles), the generated record in `data` and `extras`, mutable state in `store`,
//! the real servers' oddities the sandbox can imitate in `quirks` ([`Quirks`]), seeded
//! failures of the FHIR data endpoints in `faults` ([`FaultPlan`]), and HTTPS (h2 and http/1.1
//! with a fresh certificate, [`SandboxConfig::tls`]) in `https`. `browser` plays the user's
//! part of a login so tests can drive the whole flow without a real browser.

mod authorize;
pub mod browser;
mod bundle;
mod catalog;
mod ccda;
mod crypto;
mod document;
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
mod pdf;
mod quirks;
mod scopes;
mod search;
mod signing;
mod state;
mod store;
mod token;
mod transaction;
mod vocabulary;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub use faults::{FaultKind, FaultPlan};
pub use hold::Hold;
pub use hostile::{Hostile, HostileAnswer, HostileBody, HostileLink, IdTokenFault};
pub use https::SelfSigned;
pub use quirks::{AttachmentStyle, NextLinkStyle, Quirks};
use state::Shared;

/// Which FHIR release the sandbox speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FhirFlavor {
    R4,
    /// STU3 (3.0.2): R4's resource names, but a Binary's bytes are in `content`.
    Stu3,
    /// DSTU2 (1.0.2): `Conformance`, `MedicationOrder`, single-concept categories and
    /// `Binary.content`.
    Dstu2,
}

impl FhirFlavor {
    fn base_path(self) -> &'static str {
        match self {
            FhirFlavor::R4 => "/fhir/r4",
            FhirFlavor::Stu3 => "/fhir/stu3",
            FhirFlavor::Dstu2 => "/fhir/dstu2",
        }
    }
}

/// A portal account of the sandbox; each one sees exactly one patient.
#[derive(Clone, Debug)]
pub struct SandboxUser {
    pub username: String,
    pub password: String,
    pub patient_id: String,
    pub display_name: String,
}

/// The proxy portal account (a parent or caregiver): signs in as a RelatedPerson and picks,
/// on the consent page, one of the patients it may act for.
#[derive(Clone, Debug)]
pub struct SandboxProxy {
    pub username: String,
    pub password: String,
    pub display_name: String,
    pub related_person_id: String,
    pub patients: Vec<String>,
}

/// How the sandbox behaves; every field maps to a server quirk fhirdl must cope with.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Listen address; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Seed of the generated record (same seed, same resources).
    pub seed: u64,
    pub flavor: FhirFlavor,
    /// Serve `/.well-known/smart-configuration` (never served for DSTU2).
    pub smart_configuration: bool,
    /// Put the `oauth-uris` extension into the CapabilityStatement (always for DSTU2).
    pub oauth_uris_in_metadata: bool,
    /// Advertise and accept SMART v2 scopes (`patient/*.rs`); v1 `.read` is always accepted.
    pub scopes_v2: bool,
    pub public_client_id: String,
    /// `(client_id, client_secret)` of a confidential client.
    pub confidential_client: Option<(String, String)>,
    /// Accepted confidential client authentication methods.
    pub token_auth_methods: Vec<String>,
    pub access_token_ttl: Duration,
    /// Each refresh issues a new refresh token and invalidates the old one.
    pub refresh_token_rotation: bool,
    pub revocation: bool,
    /// The authorize request must carry `aud` equal to the FHIR base URL.
    pub require_aud: bool,
    /// RFC 9207 `iss` on authorization responses.
    pub iss_parameter: bool,
    /// Sign this user in without a login form or consent page.
    pub auto_login: Option<String>,
    /// `None`: any http loopback redirect URI; `Some`: exact match against this list.
    pub registered_redirect_uris: Option<Vec<String>>,
    /// Grant exactly this scope string, whatever was asked for.
    pub granted_scope_override: Option<String>,
    /// Clinical resources generated per patient (the Patient itself and Binaries not counted).
    pub resources_per_patient: usize,
    pub page_size_default: usize,
    pub page_size_max: usize,
    /// Real servers' oddities (NextGen and others), all off by default.
    pub quirks: Quirks,
    /// Seeded faults on the FHIR data endpoints (see [`FaultPlan`]); `None`: none.
    pub faults: Option<FaultPlan>,
    /// Serve HTTPS (ALPN `h2` and `http/1.1` on the one port) with a self-signed certificate
    /// made at start ([`Sandbox::ca_pem`]); every URL the sandbox hands out is `https://`.
    pub tls: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 42,
            flavor: FhirFlavor::R4,
            smart_configuration: true,
            oauth_uris_in_metadata: true,
            scopes_v2: true,
            public_client_id: "fhirdl-sandbox".to_owned(),
            confidential_client: None,
            token_auth_methods: vec![
                "client_secret_basic".to_owned(),
                "client_secret_post".to_owned(),
            ],
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_rotation: true,
            revocation: true,
            require_aud: true,
            iss_parameter: false,
            auto_login: None,
            registered_redirect_uris: None,
            granted_scope_override: None,
            resources_per_patient: 120,
            page_size_default: 50,
            page_size_max: 200,
            quirks: Quirks::default(),
            faults: None,
            tls: false,
        }
    }
}

// Written by hand so a confidential client's secret never reaches a log line.
impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let confidential = self
            .confidential_client
            .as_ref()
            .map(|(id, _)| format!("({id:?}, (redacted))"));
        f.debug_struct("SandboxConfig")
            .field("bind", &self.bind)
            .field("seed", &self.seed)
            .field("flavor", &self.flavor)
            .field("smart_configuration", &self.smart_configuration)
            .field("oauth_uris_in_metadata", &self.oauth_uris_in_metadata)
            .field("scopes_v2", &self.scopes_v2)
            .field("public_client_id", &self.public_client_id)
            .field("confidential_client", &confidential)
            .field("token_auth_methods", &self.token_auth_methods)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_rotation", &self.refresh_token_rotation)
            .field("revocation", &self.revocation)
            .field("require_aud", &self.require_aud)
            .field("iss_parameter", &self.iss_parameter)
            .field("auto_login", &self.auto_login)
            .field("registered_redirect_uris", &self.registered_redirect_uris)
            .field("granted_scope_override", &self.granted_scope_override)
            .field("resources_per_patient", &self.resources_per_patient)
            .field("page_size_default", &self.page_size_default)
            .field("page_size_max", &self.page_size_max)
            .field("quirks", &self.quirks)
            .field("faults", &self.faults)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Request counters, for tests that must prove a request was (or was not) made.
///
/// `requests` counts every request; `fhir_requests` those under the FHIR base (metadata and
/// smart-configuration included); `token_requests` every POST to the token endpoint;
/// `refresh_grants` token requests with `grant_type=refresh_token` (successful or not);
/// `revocations` authenticated revocation requests; `jwks_requests` GETs of the JWKS; `authorize_requests` GET and POST to the
/// authorize endpoint (login and consent steps included); `unauthorized` responses with status 401;
/// `pages_served` search responses with status 200 (a `_summary=count` answer included);
/// `max_in_flight` the most FHIR requests (under either base path spelling) being answered at
/// once, latency included; `quickest_fhir_answer` the shortest time from a FHIR request's arrival
/// to its answer (latency and holds included), so a test can see the latency applied without
/// timing anything itself; `http2_requests` the requests (of every kind) that came over HTTP/2,
/// which only a TLS sandbox offers; `faults` the faults injected, per kind, since the sandbox
/// started.
#[derive(Clone, Debug, Default)]
pub struct SandboxStats {
    pub requests: u64,
    pub fhir_requests: u64,
    pub token_requests: u64,
    pub refresh_grants: u64,
    pub revocations: u64,
    pub jwks_requests: u64,
    pub authorize_requests: u64,
    pub unauthorized: u64,
    pub pages_served: u64,
    pub max_in_flight: u64,
    pub quickest_fhir_answer: Option<Duration>,
    pub http2_requests: u64,
    pub faults: std::collections::BTreeMap<FaultKind, u64>,
}

/// A running sandbox server. Dropping it stops the server.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// The certificate of a TLS sandbox, in PEM.
    ca_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Generates the record, binds `config.bind` and serves on the current tokio runtime
    /// (HTTPS with a fresh certificate when `config.tls`).
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        validate(&config)?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding the sandbox to {}", config.bind))?;
        let addr = listener
            .local_addr()
            .context("reading the sandbox's bound address")?;
        let tls = config
            .tls
            .then(|| https::SelfSigned::generate(addr))
            .transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let origin =
            Url::parse(&format!("{scheme}://{addr}/")).context("building the origin URL")?;
        let shared = Arc::new(Shared::new(config, origin)?);

        let app = router(&shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let ca_pem = tls.as_ref().map(|t| t.pem.clone());
        let task = match tls {
            Some(tls) => tokio::spawn(https::serve(listener, tls.acceptor, app, stopped)),
            None => {
                let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                    let _ = stopped.await;
                });
                tokio::spawn(async move {
                    // The listener is ours; an accept error here only ends the sandbox.
                    let _ = server.await;
                })
            }
        };
        Ok(Sandbox {
            shared,
            addr,
            ca_pem,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/` (`https://` with [`SandboxConfig::tls`]).
    pub fn origin(&self) -> Url {
        self.shared.origin.clone()
    }

    /// `http://127.0.0.1:PORT/fhir/r4` (or `/fhir/dstu2`; `https://` with
    /// [`SandboxConfig::tls`]), without a trailing slash.
    pub fn fhir_base(&self) -> Url {
        self.shared.fhir_base_url()
    }

    /// The self-signed certificate of a TLS sandbox in PEM, for a client to trust (as
    /// `FHIRDL_CA_FILE`); `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    pub fn users(&self) -> Vec<SandboxUser> {
        self.shared.users.clone()
    }

    /// The proxy account, which may sign in for every patient of [`Sandbox::users`].
    pub fn proxy(&self) -> SandboxProxy {
        self.shared.proxy.clone()
    }

    /// Every token, code, verifier and client secret issued or received, for leak scans.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.shared.secrets.snapshot()
    }

    /// Server-side revocation of every grant: refresh gives `invalid_grant`, bearer gives 401.
    pub fn revoke_all_tokens(&self) {
        self.shared.auth().revoke_all();
    }

    /// A fresh ES256 key signs id_tokens from now on and the JWKS publishes only it, so a
    /// client that cached the old key set meets an unknown key id.
    pub fn rotate_signing_key(&self) -> anyhow::Result<()> {
        self.shared.signing_keys_mut().rotate()
    }

    /// Every current access token becomes expired; refresh tokens stay valid.
    pub fn expire_access_tokens(&self) {
        self.shared.auth().expire_access_tokens();
    }

    /// Replaces the hostile behaviours ([`Quirks::hostile`]) while the sandbox runs, so a test
    /// can make a good export first and then turn the server hostile.
    pub fn set_hostile(&self, hostile: Hostile) {
        self.shared.set_hostile(hostile);
    }

    /// Holds every FHIR request whose path and query (after the base path, e.g.
    /// `/Observation?patient=…` or `/metadata`) contain `matching`, from now until the returned
    /// [`Hold`] is released or dropped. A held request counts as in flight; it waits before the
    /// configured latency and faults. For tests that must act while a request is provably in
    /// flight: [`Hold::wait_held`] says when the requests have arrived.
    pub fn hold(&self, matching: &str) -> Hold {
        self.shared.holds.add(matching)
    }

    pub fn stats(&self) -> SandboxStats {
        let mut stats = self.shared.stats.snapshot();
        stats.faults = self.shared.faults.tally();
        stats
    }

    /// Puts `plan` in force from the next request on (`None`: no faults) and forgets which
    /// requests were seen, so draws start again from each request's first sighting. The tally
    /// in [`Sandbox::stats`] keeps counting.
    pub fn set_faults(&self, plan: Option<FaultPlan>) {
        self.shared.faults.set_plan(plan);
    }

    /// Inserts or replaces a resource by type and id; bumps `meta.versionId` and sets
    /// `meta.lastUpdated` to now.
    pub fn set_resource(&self, resource: serde_json::Value) -> anyhow::Result<()> {
        self.shared.set_resource(resource)
    }

    /// Adds or replaces a resource served exactly as `text` (number texts, key order, escapes
    /// and whitespace kept; the sandbox only puts `"meta":{…},` before the first key). For
    /// tests of byte fidelity; `text` must have no top-level `meta`.
    pub fn set_resource_text(&self, text: &str) -> anyhow::Result<()> {
        self.shared.set_resource_text(text)
    }

    /// The text the sandbox serves for a resource (what a read returns as its body).
    pub fn resource_text(&self, resource_type: &str, id: &str) -> Option<String> {
        let stored = self.shared.resources().get(resource_type, id)?;
        Some(stored.json.clone())
    }

    /// The bytes a Binary holds, exactly as served raw (for tests that compare documents).
    pub fn binary_bytes(&self, id: &str) -> Option<Vec<u8>> {
        let stored = self.shared.resources().get("Binary", id)?;
        stored.content.as_ref().map(|(_, bytes)| bytes.clone())
    }

    pub fn delete_resource(&self, resource_type: &str, id: &str) -> bool {
        self.shared.resources_mut().remove(resource_type, id)
    }

    /// Resources in the patient's compartment that search can reach: the Patient and its
    /// clinical resources (Binaries and shared resources are not counted). With
    /// [`Quirks::serves_extra_types`](Quirks) on, that includes the generated CarePlans (3 per
    /// patient) and Specimens (one per DiagnosticReport), which come on top of
    /// `resources_per_patient`; PractitionerRoles and Medications are shared, hence not counted.
    pub fn resource_count(&self, patient_id: &str) -> usize {
        self.shared.resources().count_for_patient(patient_id)
    }

    /// Stops accepting connections, lets in-flight requests finish (5 s at most) and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

fn validate(config: &SandboxConfig) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.page_size_default >= 1 && config.page_size_max >= 1,
        "sandbox page sizes must be at least 1"
    );
    anyhow::ensure!(
        !config.public_client_id.is_empty(),
        "the sandbox's public client id must not be empty"
    );
    anyhow::ensure!(
        config.quirks.fixed_page_size != Some(0),
        "the sandbox's fixed page size must be at least 1"
    );
    if let Some(plan) = &config.faults {
        anyhow::ensure!(
            (0.0..=1.0).contains(&plan.rate),
            "the fault rate must be between 0 and 1"
        );
    }
    if let Some((_, page)) = &config.quirks.drop_next_link {
        anyhow::ensure!(*page >= 1, "drop_next_link pages count from 1");
    }
    if let Some(user) = &config.auto_login {
        anyhow::ensure!(
            generator::USERNAMES.contains(&user.as_str()),
            "auto_login names unknown user {user:?}; the sandbox has {:?}",
            generator::USERNAMES
        );
    }
    Ok(())
}

fn router(shared: &Arc<Shared>) -> Router {
    let base = shared.config.flavor.base_path();
    let mut app = Router::new()
        .route(
            "/oauth/authorize",
            get(authorize::get).post(authorize::post),
        )
        .route("/oauth/token", post(token::token))
        .route("/oauth/jwks", get(signing::jwks))
        .route("/oauth/introspect", post(token::introspect));
    app = fhir_routes(app, base);
    // NextGen's next links switch `/fhir/r4/` to `/fhir/R4/`; both spellings must answer.
    if let Some(alternate) = &shared.alternate_base_path {
        app = fhir_routes(app, alternate);
    }
    if shared.config.quirks.attachment_style == AttachmentStyle::NextGenDocument {
        app = app.route(
            &format!("{base}/document/{{name}}"),
            get(document::download),
        );
    }
    if shared.config.revocation {
        app = app.route("/oauth/revoke", post(token::revoke));
    }
    if shared.serves_smart_configuration() {
        app = app.route(
            &format!("{base}/.well-known/smart-configuration"),
            get(fhir::smart_configuration),
        );
    }
    app.fallback(fhir::not_found)
        .method_not_allowed_fallback(fhir::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(shared),
            state::count_request,
        ))
        .with_state(Arc::clone(shared))
}

/// Metadata, search, read and transactions under one base path.
fn fhir_routes(app: Router<Arc<Shared>>, base: &str) -> Router<Arc<Shared>> {
    let transaction =
        post(transaction::post).layer(axum::extract::DefaultBodyLimit::max(transaction::MAX_BODY));
    app.route(base, transaction)
        .route(&format!("{base}/metadata"), get(fhir::metadata))
        .route(
            &format!("{base}/{{resource_type}}"),
            get(search::search_get),
        )
        .route(
            &format!("{base}/{{resource_type}}/_search"),
            post(search::search_post),
        )
        .route(&format!("{base}/{{resource_type}}/{{id}}"), get(fhir::read))
}
