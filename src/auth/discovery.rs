//! SMART discovery: where to sign in, found from the FHIR server's own documents.
//!
//! First `<base>/.well-known/smart-configuration` (SMART App Launch 2.x); when that is missing or
//! unusable, the `oauth-uris` extension in the CapabilityStatement (R4/STU3) or Conformance
//! (DSTU2) `rest.security`. `<base>/metadata` is read either way for the FHIR version and the
//! server software. Endpoints must be https (or http on loopback).

use super::client_key::KeyInfo;
use crate::error::{Failure, Kind};
use crate::http::{is_secure_or_loopback, redact_url, Http, FHIR_JSON};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiscoverySource {
    SmartConfiguration,
    CapabilityStatement,
    Conformance,
}

/// What the server told us about signing in, cached in the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    pub source: DiscoverySource,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods: Vec<String>,
    /// `token_endpoint_auth_signing_alg_values_supported`: what a client assertion may be
    /// signed with (`private_key_jwt`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_signing_algs: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods: Vec<String>,
    /// Where the id_token signing keys are published (OpenID Connect Discovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `id_token_signing_alg_values_supported`, when the server says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_algs: Vec<String>,
    /// RFC 7662 token introspection, when the server offers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// RFC 7591 dynamic client registration (RFC 8414 metadata, as Epic's configuration
    /// names it), when the server offers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// The JWKS last read from `jwks_uri` (JSON), kept so that a sign-in needs it again only
    /// when an id_token names a key id it does not hold. Public keys only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// RFC 9207: the server adds `iss` to its authorization responses.
    #[serde(default)]
    pub iss_parameter_supported: bool,
    /// `fhirVersion` from the CapabilityStatement/Conformance, e.g. "4.0.1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_version: Option<String>,
    /// `software.name` and `software.version`, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// When this was fetched (RFC 3339).
    pub fetched_at: String,
}

impl Discovery {
    /// The server takes a client secret in the Authorization header (the RFC 8414 default
    /// when the server lists no methods) rather than in the form body.
    pub fn prefers_basic_auth(&self) -> bool {
        let m = &self.token_endpoint_auth_methods;
        m.is_empty()
            || m.iter().any(|x| x == "client_secret_basic")
            || !m.iter().any(|x| x == "client_secret_post")
    }
}

impl Discovery {
    /// Whether a client with `key` may authenticate here: the server lists `private_key_jwt`
    /// among its methods (or lists none) and the key's algorithm among its assertion
    /// algorithms (or lists none). The error says which and what to do.
    pub fn accepts_client_key(&self, key: &KeyInfo, profile: &str) -> Result<()> {
        let methods = &self.token_endpoint_auth_methods;
        if !methods.is_empty() && !methods.iter().any(|m| m == "private_key_jwt") {
            return Err(Failure::new(
                Kind::LoginFailed,
                format!(
                    "the token endpoint {} does not take private_key_jwt client authentication (it lists: {})",
                    self.token_endpoint,
                    crate::sanitize::clean(&methods.join(", "))
                ),
            )
            .hint(format!("use the client secret of your app registration instead (FHIRDL_CLIENT_SECRET, `fhirdl login --profile {profile} --confidential`), or ask the vendor about asymmetric client authentication"))
            .into());
        }
        let algs = &self.token_endpoint_auth_signing_algs;
        if !algs.is_empty() && !algs.iter().any(|a| a == key.alg.name()) {
            return Err(Failure::new(
                Kind::LoginFailed,
                format!(
                    "the token endpoint {} takes client assertions signed with {}, not {}",
                    self.token_endpoint,
                    crate::sanitize::clean(&algs.join(", ")),
                    key.alg.name()
                ),
            )
            .hint(format!("make a key it takes: fhirdl key create --profile {profile} --alg <one of those>, or import one with `fhirdl login --client-key FILE`"))
            .into());
        }
        Ok(())
    }
}

/// Fetches and combines the discovery documents of `base`; also gives back the
/// CapabilityStatement (Conformance) when the server sent one, for the sync's cache.
pub async fn discover(http: &Http, base: &Url) -> Result<(Discovery, Option<Value>)> {
    let smart_url = crate::fhir_url::join(base, ".well-known/smart-configuration")?;
    let metadata_url = crate::fhir_url::join(base, "metadata")?;
    let (smart, metadata) = tokio::join!(
        http.get_json(&smart_url, "application/json"),
        http.get_json(&metadata_url, FHIR_JSON)
    );
    // A refused certificate says nothing about SMART: that is the error.
    let metadata = match metadata {
        Err(e) if crate::tls::refused_certificate_of(&e).is_some() => return Err(e),
        answered => answered,
    };
    let smart_doc = match smart {
        Ok(r) if r.status.is_success() => Some(r.body),
        _ => None,
    };
    let (metadata_doc, metadata_err) = match metadata {
        Ok(r) if r.status.is_success() => (Some(r.body), None),
        Ok(r) => (None, Some(format!("HTTP {}", r.status.as_u16()))),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let now = crate::datetime::now_rfc3339();
    let found = smart_doc
        .as_ref()
        .and_then(|d| from_smart_configuration(d, &now))
        .or_else(|| metadata_doc.as_ref().and_then(|d| from_metadata(d, &now)));
    let Some(mut discovery) = found else {
        let mut why = format!(
            "{} offers no SMART sign-in: no usable {} and no oauth-uris in {}",
            redact_url(base),
            smart_url.path(),
            metadata_url.path()
        );
        if let Some(e) = metadata_err {
            why.push_str(&format!(" ({}: {e})", metadata_url.path()));
        }
        return Err(Failure::new(Kind::Network, why)
            .hint("check that this is the FHIR base URL of a SMART on FHIR server (it usually ends in /fhir/r4 or similar)")
            .into());
    };
    if let Some(meta) = &metadata_doc {
        discovery.fhir_version = meta
            .get("fhirVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        discovery.software = software_of(meta);
    }
    check_endpoints(&discovery)?;
    Ok((discovery, metadata_doc))
}

fn strings(doc: &Value, key: &str) -> Vec<String> {
    doc.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn string(doc: &Value, key: &str) -> Option<String> {
    doc.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Reads `.well-known/smart-configuration`; `None` unless both required endpoints are present.
pub fn from_smart_configuration(doc: &Value, now: &str) -> Option<Discovery> {
    Some(Discovery {
        source: DiscoverySource::SmartConfiguration,
        authorization_endpoint: string(doc, "authorization_endpoint")?,
        token_endpoint: string(doc, "token_endpoint")?,
        revocation_endpoint: string(doc, "revocation_endpoint"),
        issuer: string(doc, "issuer"),
        jwks_uri: string(doc, "jwks_uri"),
        id_token_algs: strings(doc, "id_token_signing_alg_values_supported"),
        introspection_endpoint: string(doc, "introspection_endpoint"),
        registration_endpoint: string(doc, "registration_endpoint"),
        jwks: None,
        token_endpoint_auth_methods: strings(doc, "token_endpoint_auth_methods_supported"),
        token_endpoint_auth_signing_algs: strings(
            doc,
            "token_endpoint_auth_signing_alg_values_supported",
        ),
        scopes_supported: strings(doc, "scopes_supported"),
        capabilities: strings(doc, "capabilities"),
        code_challenge_methods: strings(doc, "code_challenge_methods_supported"),
        iss_parameter_supported: doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        fhir_version: None,
        software: None,
        fetched_at: now.to_string(),
    })
}

/// Reads the `oauth-uris` extension of a CapabilityStatement or Conformance.
pub fn from_metadata(doc: &Value, now: &str) -> Option<Discovery> {
    let source = match doc.get("resourceType").and_then(Value::as_str)? {
        "CapabilityStatement" => DiscoverySource::CapabilityStatement,
        "Conformance" => DiscoverySource::Conformance,
        _ => return None,
    };
    let rests = doc.get("rest")?.as_array()?;
    let uris = rests.iter().find_map(|rest| {
        rest.get("security")?
            .get("extension")?
            .as_array()?
            .iter()
            .find(|e| e.get("url").and_then(Value::as_str) == Some(OAUTH_URIS))
    })?;
    let sub = |name: &str| -> Option<String> {
        uris.get("extension")?
            .as_array()?
            .iter()
            .find(|e| e.get("url").and_then(Value::as_str) == Some(name))?
            .get("valueUri")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Some(Discovery {
        source,
        authorization_endpoint: sub("authorize")?,
        token_endpoint: sub("token")?,
        revocation_endpoint: sub("revoke"),
        issuer: None,
        jwks_uri: None,
        id_token_algs: Vec::new(),
        introspection_endpoint: sub("introspect"),
        registration_endpoint: sub("register"),
        jwks: None,
        token_endpoint_auth_methods: Vec::new(),
        token_endpoint_auth_signing_algs: Vec::new(),
        scopes_supported: Vec::new(),
        capabilities: Vec::new(),
        code_challenge_methods: Vec::new(),
        iss_parameter_supported: false,
        fhir_version: None,
        software: None,
        fetched_at: now.to_string(),
    })
}

fn software_of(meta: &Value) -> Option<String> {
    let sw = meta.get("software")?;
    let name = sw.get("name").and_then(Value::as_str)?;
    Some(match sw.get("version").and_then(Value::as_str) {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    })
}

fn check_endpoints(d: &Discovery) -> Result<()> {
    let named = [
        ("authorization", Some(&d.authorization_endpoint)),
        ("token", Some(&d.token_endpoint)),
        ("revocation", d.revocation_endpoint.as_ref()),
        ("introspection", d.introspection_endpoint.as_ref()),
        ("registration", d.registration_endpoint.as_ref()),
        ("JWKS", d.jwks_uri.as_ref()),
    ];
    for (what, value) in named {
        let Some(raw) = value else { continue };
        let url = Url::parse(raw).map_err(|e| {
            Failure::new(
                Kind::Network,
                format!("the server's {what} endpoint '{raw}' is not a valid URL: {e}"),
            )
        })?;
        if !is_secure_or_loopback(&url) {
            return Err(Failure::new(
                Kind::Network,
                format!("refusing the server's {what} endpoint {url}: it is not https"),
            )
            .hint("sign-in traffic must be encrypted; report this to the provider")
            .into());
        }
    }
    if !d.code_challenge_methods.is_empty() && !d.code_challenge_methods.iter().any(|m| m == "S256")
    {
        return Err(Failure::new(
            Kind::Network,
            "the server does not offer PKCE with S256, which fhirdl requires for a safe sign-in",
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_smart_configuration() {
        let doc = json!({
            "authorization_endpoint": "https://a.example/authorize",
            "token_endpoint": "https://a.example/token",
            "capabilities": ["permission-v2"],
            "code_challenge_methods_supported": ["S256"]
        });
        let d = from_smart_configuration(&doc, "t").unwrap();
        assert_eq!(d.source, DiscoverySource::SmartConfiguration);
        assert_eq!(d.capabilities, vec!["permission-v2"]);
        assert!(d.prefers_basic_auth());
        assert!(from_smart_configuration(&json!({"token_endpoint": "x"}), "t").is_none());
        assert!(from_smart_configuration(&json!([1, 2]), "t").is_none());
    }

    #[test]
    fn a_client_key_needs_private_key_jwt_and_its_algorithm_when_the_server_lists_them() {
        use crate::auth::client_key::KeyAlg;
        let key = KeyInfo {
            kid: "k".into(),
            alg: KeyAlg::Es384,
            created_at: "t".into(),
        };
        let doc = |methods: Value, algs: Value| {
            from_smart_configuration(
                &json!({
                    "authorization_endpoint": "https://a.example/authorize",
                    "token_endpoint": "https://a.example/token",
                    "token_endpoint_auth_methods_supported": methods,
                    "token_endpoint_auth_signing_alg_values_supported": algs,
                }),
                "t",
            )
            .unwrap()
        };
        assert!(doc(json!([]), json!([]))
            .accepts_client_key(&key, "p")
            .is_ok());
        let both = doc(json!(["private_key_jwt"]), json!(["RS384", "ES384"]));
        assert!(both.accepts_client_key(&key, "p").is_ok());
        let secret_only = doc(json!(["client_secret_basic"]), json!([]));
        let err = secret_only.accepts_client_key(&key, "p").unwrap_err();
        assert!(format!("{err}").contains("private_key_jwt"), "{err}");
        let rsa_only = doc(json!(["private_key_jwt"]), json!(["RS384"]));
        let err = rsa_only.accepts_client_key(&key, "p").unwrap_err();
        assert!(format!("{err}").contains("not ES384"), "{err}");
    }

    #[test]
    fn reads_oauth_uris_from_conformance() {
        let doc = json!({
            "resourceType": "Conformance",
            "fhirVersion": "1.0.2",
            "rest": [{"security": {"extension": [{
                "url": OAUTH_URIS,
                "extension": [
                    {"url": "authorize", "valueUri": "https://a.example/auth"},
                    {"url": "token", "valueUri": "https://a.example/token"},
                    {"url": "revoke", "valueUri": "https://a.example/revoke"}
                ]
            }]}}]
        });
        let d = from_metadata(&doc, "t").unwrap();
        assert_eq!(d.source, DiscoverySource::Conformance);
        assert_eq!(
            d.revocation_endpoint.as_deref(),
            Some("https://a.example/revoke")
        );
        assert!(from_metadata(&json!({"resourceType": "Patient"}), "t").is_none());
        assert!(from_metadata(
            &json!({"resourceType": "CapabilityStatement", "rest": "x"}),
            "t"
        )
        .is_none());
    }

    #[test]
    fn refuses_plain_http_endpoints() {
        let mut d = from_smart_configuration(
            &json!({"authorization_endpoint": "http://evil.example/a", "token_endpoint": "https://a/t"}),
            "t",
        )
        .unwrap();
        assert!(check_endpoints(&d).is_err());
        d.authorization_endpoint = "http://127.0.0.1:4/a".into();
        assert!(check_endpoints(&d).is_ok());
        d.code_challenge_methods = vec!["plain".into()];
        assert!(check_endpoints(&d).is_err());
    }
}
