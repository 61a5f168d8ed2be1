//! A running sandbox ([`Sandbox`]): binding, the router of every endpoint, serving over HTTP or
//! HTTPS, the test hooks that change the server while it runs, and the graceful stop.

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

use crate::config::{SandboxConfig, SandboxProxy, SandboxUser};
use crate::faults::FaultPlan;
use crate::hold::Hold;
use crate::hostile::Hostile;
use crate::quirks::AttachmentStyle;
use crate::state::Shared;
use crate::stats::SandboxStats;
use crate::{
    authorize, directory, document, everything, fhir, generator, https, intake, read, search,
    token, transaction,
};

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

    /// Registers the public key set `jwks` of a `private_key_jwt` client (replacing an earlier
    /// one); its token requests are then authenticated by client assertions signed with it.
    pub fn register_client_key(
        &self,
        client_id: &str,
        jwks: serde_json::Value,
    ) -> anyhow::Result<()> {
        self.shared.client_keys.register(client_id, jwks)
    }

    /// The organization ends every dynamic registration: their JWT bearer grants are refused.
    pub fn revoke_registrations(&self) {
        self.shared
            .registrations
            .revoke_all(&self.shared.client_keys);
    }

    /// How many clients are registered dynamically now.
    pub fn registered_clients(&self) -> usize {
        self.shared.registrations.count()
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

    /// Ends the current window of [`Quirks::rate_limit`](crate::Quirks): the next FHIR request
    /// starts a fresh count (as the next minute does on eClinicalWorks).
    pub fn next_rate_window(&self) {
        self.shared.rate.next_window();
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

    /// Edits an existing resource without moving its `meta.lastUpdated` (its version still goes
    /// up): an update that is not "clinically significant" to Oracle Health, so a
    /// `_lastUpdated` search does not see it and only a whole fetch does.
    pub fn set_resource_quietly(&self, resource: serde_json::Value) -> anyhow::Result<()> {
        self.shared.set_resource_quietly(resource)
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
    if let Some(limit) = &config.quirks.rate_limit {
        anyhow::ensure!(
            limit.limit >= 1,
            "the sandbox's rate limit must admit at least 1 request"
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
    let base = shared.base_path.as_str();
    let mut app = Router::new()
        .route(
            "/oauth/authorize",
            get(authorize::get).post(authorize::post),
        )
        .route("/oauth/token", post(token::token))
        .route("/oauth/jwks", get(token::jwks))
        .route("/oauth/introspect", post(token::introspect))
        .route("/directory/{name}", get(directory::serve));
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
    if shared.config.quirks.everything {
        app = app.route(
            &format!("{base}/Patient/{{id}}/$everything"),
            get(everything::everything),
        );
    }
    if shared.config.revocation {
        app = app.route("/oauth/revoke", post(token::revoke));
    }
    if shared.config.dynamic_registration != crate::DynamicRegistration::Off {
        app = app
            .route("/oauth/register", post(crate::registration::register))
            .route(
                "/oauth/register/{client_id}",
                axum::routing::delete(crate::registration::delete),
            );
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
            intake::count_request,
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
        .route(&format!("{base}/{{resource_type}}/{{id}}"), get(read::read))
}
