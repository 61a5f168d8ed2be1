//! How a sandbox is set up ([`SandboxConfig`]): which FHIR release it speaks ([`FhirFlavor`]),
//! its OAuth clients and token rules, the size of the generated record, paging, the quirks and
//! faults of real servers, and its portal accounts ([`SandboxUser`], [`SandboxProxy`]).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::faults::FaultPlan;
use crate::quirks::Quirks;

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
    pub(crate) fn base_path(self) -> &'static str {
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
    /// Accepted confidential client authentication methods (`private_key_jwt` among them
    /// accepts client assertions signed with a key of [`SandboxConfig::client_keys`]).
    pub token_auth_methods: Vec<String>,
    /// `(client_id, JWKS)`: public key sets registered for `private_key_jwt` clients (more
    /// while running: `Sandbox::register_client_key`).
    pub client_keys: Vec<(String, serde_json::Value)>,
    pub access_token_ttl: Duration,
    /// Each refresh issues a new refresh token and invalidates the old one; off, a refresh
    /// answers without a refresh token and the old one stays valid (Oracle Health).
    pub refresh_token_rotation: bool,
    /// The public client gets a refresh token (with `offline_access`); off, only confidential
    /// clients do (Epic gives public clients one only after dynamic registration).
    pub refresh_tokens_for_public_clients: bool,
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
    /// Dynamic client registration and the JWT bearer grant for the public client (Epic).
    pub dynamic_registration: crate::DynamicRegistration,
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
            client_keys: Vec::new(),
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_rotation: true,
            refresh_tokens_for_public_clients: true,
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
            dynamic_registration: crate::DynamicRegistration::Off,
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
            .field("client_keys", &self.client_keys)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_rotation", &self.refresh_token_rotation)
            .field(
                "refresh_tokens_for_public_clients",
                &self.refresh_tokens_for_public_clients,
            )
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
            .field("dynamic_registration", &self.dynamic_registration)
            .field("tls", &self.tls)
            .finish()
    }
}
