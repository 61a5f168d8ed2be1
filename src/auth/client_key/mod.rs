//! The client's own signing key for `private_key_jwt` (SMART App Launch 2.x asymmetric client
//! authentication; RFC 7523 §2.2 client assertions): made here (ES384, with ring) or imported
//! (PKCS#8 PEM, PKCS#1 PEM or a private JWK; ES384 or RS384), the public JWKS to paste into the
//! app registration, and the short-lived assertions it signs for the token endpoint.
//!
//! ring makes the ES384 keys; ring cannot make RSA keys, so the `rsa` crate makes RS384 keys
//! (2048 bits) and nothing else: ring signs with them. The private half lives only in the
//! credential store ([`crate::auth::store`]); the profile keeps [`KeyInfo`] (key id, algorithm,
//! creation time).

mod der;

use crate::secret::Secret;
use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::signature::KeyPair as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long an assertion is good for. SMART App Launch: `exp` no more than five minutes ahead.
pub const ASSERTION_LIFETIME_SECS: i64 = 300;

/// The signature algorithms SMART App Launch names for client assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
pub enum KeyAlg {
    /// ECDSA P-384 with SHA-384 (made here).
    #[default]
    #[serde(rename = "ES384")]
    #[value(name = "ES384")]
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (a 2048-bit key made here, or one you supply).
    #[serde(rename = "RS384")]
    #[value(name = "RS384")]
    Rs384,
}

impl KeyAlg {
    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Es384 => "ES384",
            KeyAlg::Rs384 => "RS384",
        }
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            KeyAlg::Es384 => jsonwebtoken::Algorithm::ES384,
            KeyAlg::Rs384 => jsonwebtoken::Algorithm::RS384,
        }
    }
}

/// What the profile keeps about its key: public facts only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    pub alg: KeyAlg,
    /// RFC 3339.
    pub created_at: String,
}

/// The private key as the credential store keeps it: PKCS#8 DER (ES384) or PKCS#1 DER (RS384),
/// base64. `Debug` shows only the [`KeyInfo`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientKey {
    #[serde(flatten)]
    pub info: KeyInfo,
    der: Secret,
}

/// The public half: the JWK members that identify it (RFC 7638 order is alphabetical).
enum Public {
    Ec { x: String, y: String },
    Rsa { n: String, e: String },
}

/// Bits of the RSA keys made here (what Epic's dynamic registration asks for).
pub const RSA_BITS: usize = 2048;

impl ClientKey {
    /// A new key of `alg` from the OS's randomness.
    pub fn generate_alg(alg: KeyAlg, created_at: String) -> Result<ClientKey> {
        match alg {
            KeyAlg::Es384 => ClientKey::generate(created_at),
            KeyAlg::Rs384 => ClientKey::generate_rsa(created_at),
        }
    }

    /// A new RS384 key: RSA, [`RSA_BITS`] bits, exponent 65537, kept as PKCS#1 DER.
    pub fn generate_rsa(created_at: String) -> Result<ClientKey> {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let mut rng = rand::rngs::OsRng;
        let key = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS)
            .map_err(|_| anyhow!("cannot make an RSA key"))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|_| anyhow!("cannot encode the new RSA key"))?;
        ClientKey::from_der(KeyAlg::Rs384, der.as_bytes(), created_at)
    }

    /// A new ES384 key from the OS's randomness.
    pub fn generate(created_at: String) -> Result<ClientKey> {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
            .map_err(|_| anyhow!("cannot make an ES384 key"))?;
        ClientKey::from_der(KeyAlg::Es384, pkcs8.as_ref(), created_at)
    }

    /// A key the user supplies: PEM (PKCS#8 `PRIVATE KEY`, or PKCS#1 `RSA PRIVATE KEY`) or a
    /// JWK with its private members. Errors never quote the text.
    pub fn import(text: &str, created_at: String) -> Result<ClientKey> {
        if text.trim_start().starts_with('{') {
            let jwk: Value = serde_json::from_str(text)
                .map_err(|_| anyhow!("the key file is neither PEM nor valid JSON"))?;
            let (alg, der) = from_private_jwk(&jwk)?;
            return ClientKey::from_der(alg, &der, created_at);
        }
        let (label, der) = pem(text)?;
        match label.as_str() {
            "PRIVATE KEY" => {
                let rng = ring::rand::SystemRandom::new();
                let p384 = &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING;
                if ring::signature::EcdsaKeyPair::from_pkcs8(p384, &der, &rng).is_ok() {
                    return ClientKey::from_der(KeyAlg::Es384, &der, created_at);
                }
                let pkcs1 = ring::rsa::KeyPair::from_pkcs8(&der)
                    .ok()
                    .and_then(|_| der::pkcs8_private_key(&der))
                    .ok_or_else(|| anyhow!("the key is neither a P-384 (ES384) nor an RSA (RS384) private key"))?;
                ClientKey::from_der(KeyAlg::Rs384, pkcs1, created_at)
            }
            "RSA PRIVATE KEY" => ClientKey::from_der(KeyAlg::Rs384, &der, created_at),
            "ENCRYPTED PRIVATE KEY" => bail!("the key is encrypted: give fhirdl the unencrypted PKCS#8 key (openssl pkcs8 -topk8 -nocrypt)"),
            "EC PRIVATE KEY" => bail!("the key is in SEC 1 form: convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY`"),
            other => bail!("the PEM block is a {other:?}, not a private key"),
        }
    }

    /// Checks the key with ring and names it by its thumbprint.
    fn from_der(alg: KeyAlg, der: &[u8], created_at: String) -> Result<ClientKey> {
        let mut key = ClientKey {
            info: KeyInfo {
                kid: String::new(),
                alg,
                created_at,
            },
            der: Secret::new(STANDARD.encode(der)),
        };
        key.info.kid = key.public()?.thumbprint();
        Ok(key)
    }

    fn der(&self) -> Result<Vec<u8>> {
        STANDARD
            .decode(self.der.expose())
            .map_err(|_| anyhow!("the stored client key is damaged"))
    }

    fn public(&self) -> Result<Public> {
        let der = self.der()?;
        match self.info.alg {
            KeyAlg::Es384 => {
                let rng = ring::rand::SystemRandom::new();
                let alg = &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING;
                let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, &der, &rng)
                    .map_err(|e| anyhow!("the key is not a usable P-384 key: {e}"))?;
                let point = pair.public_key().as_ref();
                if point.len() != 97 {
                    bail!("unexpected P-384 public key length");
                }
                Ok(Public::Ec {
                    x: URL_SAFE_NO_PAD.encode(&point[1..49]),
                    y: URL_SAFE_NO_PAD.encode(&point[49..]),
                })
            }
            KeyAlg::Rs384 => {
                let pair = ring::rsa::KeyPair::from_der(&der)
                    .map_err(|e| anyhow!("the key is not a usable RSA key: {e}"))?;
                if pair.public().modulus_len() < 256 {
                    bail!("the RSA key is shorter than 2048 bits");
                }
                let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
                Ok(Public::Rsa {
                    n: URL_SAFE_NO_PAD.encode(&parts.n),
                    e: URL_SAFE_NO_PAD.encode(&parts.e),
                })
            }
        }
    }

    /// The public JWK for the app registration: `kty`, the key's public members, `kid`, `alg`,
    /// `use: sig`. Never a private member.
    pub fn public_jwk(&self) -> Result<Value> {
        let mut jwk = match self.public()? {
            Public::Ec { x, y } => json!({"kty": "EC", "crv": "P-384", "x": x, "y": y}),
            Public::Rsa { n, e } => json!({"kty": "RSA", "n": n, "e": e}),
        };
        jwk["kid"] = json!(self.info.kid);
        jwk["alg"] = json!(self.info.alg.name());
        jwk["use"] = json!("sig");
        Ok(jwk)
    }

    /// The JWK Set (RFC 7517) to register or publish.
    pub fn jwks(&self) -> Result<Value> {
        Ok(json!({ "keys": [self.public_jwk()?] }))
    }

    /// A client assertion for `audience` (the token endpoint URL) at `now` (Unix seconds),
    /// identified by `jti`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
        jti: &str,
    ) -> Result<Secret> {
        let mut header = jsonwebtoken::Header::new(self.info.alg.jwt());
        header.kid = Some(self.info.kid.clone());
        header.typ = Some("JWT".into());
        let der = self.der()?;
        let key = match self.info.alg {
            KeyAlg::Es384 => jsonwebtoken::EncodingKey::from_ec_der(&der),
            KeyAlg::Rs384 => jsonwebtoken::EncodingKey::from_rsa_der(&der),
        };
        let claims = assertion_claims(client_id, audience, now, jti);
        // jsonwebtoken's error names no key material.
        jsonwebtoken::encode(&header, &claims, &key)
            .map(Secret::new)
            .context("cannot sign the client assertion")
    }
}

/// The claims of a client assertion (RFC 7523 §3, SMART App Launch 2.x): `iss` = `sub` = the
/// client id, `aud` = the token endpoint, `exp` five minutes ahead, `iat`, a unique `jti`.
pub fn assertion_claims(client_id: &str, audience: &str, now: i64, jti: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
        "jti": jti,
    })
}

/// A fresh `jti`: 128 random bits, base64url.
pub fn new_jti() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

impl Public {
    /// RFC 7638: SHA-256 of the required members in lexicographic order, base64url.
    fn thumbprint(&self) -> String {
        let canonical = match self {
            Public::Ec { x, y } => format!(r#"{{"crv":"P-384","kty":"EC","x":"{x}","y":"{y}"}}"#),
            Public::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// The label and bytes of the first PEM block of `text`.
fn pem(text: &str) -> Result<(String, Vec<u8>)> {
    let mut lines = text.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|l| l.strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .ok_or_else(|| {
            anyhow!("the key file is neither PEM (-----BEGIN PRIVATE KEY-----) nor a JWK")
        })?
        .to_string();
    let body: String = lines
        .take_while(|l| !l.starts_with("-----END "))
        .filter(|l| !l.contains(':'))
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|_| anyhow!("the PEM block of the key file is not valid base64"))?;
    Ok((label, der))
}

/// A private JWK (EC P-384 or RSA) as the DER the store keeps.
fn from_private_jwk(jwk: &Value) -> Result<(KeyAlg, Vec<u8>)> {
    let member = |name: &str| -> Result<Vec<u8>> {
        let text = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("the JWK has no '{name}' (a private key needs it)"))?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| anyhow!("the JWK's '{name}' is not base64url"))
    };
    match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-384") {
                bail!("only P-384 EC keys (ES384) are supported");
            }
            let (d, x, y) = (member("d")?, member("x")?, member("y")?);
            if d.len() != 48 || x.len() != 48 || y.len() != 48 {
                bail!("the JWK's P-384 members have the wrong length");
            }
            let point = [&[4u8][..], &x, &y].concat();
            Ok((KeyAlg::Es384, der::p384_pkcs8(&d, &point)))
        }
        Some("RSA") => {
            let names = ["n", "e", "d", "p", "q", "dp", "dq", "qi"];
            let mut parts: [Vec<u8>; 8] = Default::default();
            for (slot, name) in parts.iter_mut().zip(names) {
                *slot = member(name)?;
            }
            Ok((KeyAlg::Rs384, der::rsa_pkcs1(&parts)))
        }
        _ => bail!("the JWK is neither an EC nor an RSA key"),
    }
}

#[cfg(test)]
mod tests;
