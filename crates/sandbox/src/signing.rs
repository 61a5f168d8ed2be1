//! The keys that sign the sandbox's id_tokens, and the key set `/oauth/jwks` publishes.
//!
//! The first key is RS256 (SMART App Launch requires servers to support it) from a fixed test
//! key pair under `keys/` (ring cannot make RSA keys, and a test server's key is no secret).
//! [`SigningKeys::rotate`] retires it for a fresh ES256 key, so tests can prove that fhirdl
//! fetches the JWKS again when an id_token names a key id it has not seen.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::KeyPair as _;
use serde_json::{json, Value};

/// PKCS#1 DER of the sandbox's RSA key (2048 bits), made once with
/// `openssl genrsa -traditional 2048 | openssl rsa -outform DER`.
const RS256_KEY: &[u8] = include_bytes!("keys/rs256-pkcs1.der");

/// One signing key: its id, algorithm, private half and public JWK.
pub(crate) struct SigningKey {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

impl SigningKey {
    /// The fixed RS256 key.
    fn rs256() -> anyhow::Result<SigningKey> {
        let pair = ring::rsa::KeyPair::from_der(RS256_KEY)
            .map_err(|e| anyhow::anyhow!("the sandbox's RSA key is unusable: {e}"))?;
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        Ok(SigningKey {
            kid: "sandbox-rs256-1".to_owned(),
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_der(RS256_KEY),
            jwk: json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "sandbox-rs256-1",
                "n": URL_SAFE_NO_PAD.encode(&public.n),
                "e": URL_SAFE_NO_PAD.encode(&public.e),
            }),
        })
    }

    /// A fresh P-256 key made from the OS's randomness.
    pub(crate) fn es256(kid: &str) -> anyhow::Result<SigningKey> {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
            .map_err(|_| anyhow::anyhow!("cannot make an ES256 key"))?;
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng)
            .map_err(|e| anyhow::anyhow!("cannot read the ES256 key just made: {e}"))?;
        // An uncompressed point: 0x04, x (32 bytes), y (32 bytes).
        let point = pair.public_key().as_ref();
        anyhow::ensure!(point.len() == 65, "unexpected P-256 public key length");
        Ok(SigningKey {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..]),
            }),
        })
    }

    /// A compact JWS of `claims` with this key (`kid` in the header).
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        // Signing a JSON value with a key that parsed cannot fail; an empty token would only
        // make fhirdl refuse the sign-in, which a test would notice.
        jsonwebtoken::encode(&header, claims, &self.key).unwrap_or_default()
    }
}

/// The key in use and the keys published.
pub(crate) struct SigningKeys {
    current: Arc<SigningKey>,
    published: Vec<Value>,
    rotations: u32,
}

impl SigningKeys {
    pub(crate) fn new() -> anyhow::Result<SigningKeys> {
        let key = SigningKey::rs256()?;
        Ok(SigningKeys {
            published: vec![key.jwk.clone()],
            current: Arc::new(key),
            rotations: 0,
        })
    }

    pub(crate) fn current(&self) -> Arc<SigningKey> {
        Arc::clone(&self.current)
    }

    /// A new ES256 key signs from now on; the JWKS publishes only it (the old key is retired).
    pub(crate) fn rotate(&mut self) -> anyhow::Result<()> {
        self.rotations += 1;
        let key = SigningKey::es256(&format!("sandbox-es256-{}", self.rotations))?;
        self.published = vec![key.jwk.clone()];
        self.current = Arc::new(key);
        Ok(())
    }

    /// The published keys as a JWK Set (RFC 7517).
    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": self.published })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{decode, DecodingKey, Validation};

    fn verify(keys: &SigningKeys, token: &str) -> Value {
        let set: JwkSet = serde_json::from_value(keys.jwks()).unwrap();
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        let jwk = set.find(&kid).expect("the key is published");
        let alg = jsonwebtoken::decode_header(token).unwrap().alg;
        let mut v = Validation::new(alg);
        v.set_audience(&["app"]);
        decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
            .unwrap()
            .claims
    }

    #[test]
    fn rs256_then_rotated_es256_verify_against_the_published_jwks() {
        let mut keys = SigningKeys::new().unwrap();
        let claims = json!({"sub": "p", "aud": "app", "exp": 4_000_000_000u64});
        let token = keys.current().sign(&claims);
        assert!(token.starts_with("eyJ"), "{token}");
        assert_eq!(verify(&keys, &token)["sub"], "p");
        keys.rotate().unwrap();
        let rotated = keys.current().sign(&claims);
        assert_eq!(
            jsonwebtoken::decode_header(&rotated).unwrap().alg,
            Algorithm::ES256
        );
        assert_eq!(verify(&keys, &rotated)["sub"], "p");
        // The old key is no longer published.
        let set: JwkSet = serde_json::from_value(keys.jwks()).unwrap();
        assert!(set.find("sandbox-rs256-1").is_none());
    }
}
