//! `private_key_jwt` (SMART App Launch 2.x asymmetric client authentication, RFC 7523 §2.2):
//! the key sets registered per client id, and the checks a client assertion must pass — a
//! signature by a registered key (RS384 or ES384), `iss` = `sub` = the client, `aud` = this
//! token endpoint, `exp` ahead but at most five minutes, and a `jti` never seen before.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// `client_assertion_type` of a JWT client assertion.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The algorithms advertised and accepted.
pub(crate) const ALGS: [&str; 2] = ["RS384", "ES384"];
/// The longest an assertion may live (SMART: `exp` no more than five minutes in the future),
/// plus a little for the clocks of two processes.
const MAX_LIFETIME_SECS: i64 = 300 + 5;

/// Registered key sets and the `jti` values already used.
#[derive(Default)]
pub(crate) struct ClientKeys {
    registered: RwLock<HashMap<String, JwkSet>>,
    used: Mutex<HashSet<String>>,
}

impl ClientKeys {
    pub(crate) fn new(configured: &[(String, Value)]) -> anyhow::Result<ClientKeys> {
        let keys = ClientKeys::default();
        for (client_id, jwks) in configured {
            keys.register(client_id, jwks.clone())?;
        }
        Ok(keys)
    }

    /// Registers `jwks` (public keys only) for `client_id`, replacing any earlier set.
    pub(crate) fn register(&self, client_id: &str, jwks: Value) -> anyhow::Result<()> {
        let set: JwkSet = serde_json::from_value(jwks)?;
        self.registered
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client_id.to_owned(), set);
        Ok(())
    }

    /// Forgets the key set of `client_id`; its assertions are refused from now on.
    pub(crate) fn unregister(&self, client_id: &str) {
        self.registered
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client_id);
    }

    /// A key set is registered for `client_id`.
    pub(crate) fn is_registered(&self, client_id: &str) -> bool {
        self.registered
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(client_id)
    }

    /// The client id an assertion authenticates, or why it does not.
    pub(crate) fn verify(
        &self,
        assertion: &str,
        audience: &str,
        now: i64,
    ) -> Result<String, String> {
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|_| "the assertion is not a JWT")?;
        let alg = match header.alg {
            Algorithm::RS384 | Algorithm::ES384 => header.alg,
            other => return Err(format!("alg {other:?} is not accepted (RS384, ES384)")),
        };
        let issuer = unverified_issuer(assertion).ok_or("the assertion has no iss")?;
        let registered = self
            .registered
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let set = registered
            .get(&issuer)
            .ok_or("no key set is registered for this client")?;
        let jwk = match &header.kid {
            Some(kid) => set.find(kid),
            None if set.keys.len() == 1 => set.keys.first(),
            None => None,
        }
        .ok_or("no registered key has the assertion's kid")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| "the registered key is unusable")?;
        let mut validation = Validation::new(alg);
        validation.leeway = 0;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[&issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
            .map_err(|e| format!("the assertion was refused: {e}"))?
            .claims;
        check_claims(&claims, &issuer, now)?;
        let jti = claims["jti"].as_str().ok_or("the assertion has no jti")?;
        let fresh = self
            .used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(jti.to_owned());
        if !fresh {
            return Err("the assertion's jti was used before".into());
        }
        Ok(issuer)
    }
}

/// `sub` is the client and `exp` no further ahead than allowed.
fn check_claims(claims: &Value, issuer: &str, now: i64) -> Result<(), String> {
    if claims["sub"].as_str() != Some(issuer) {
        return Err("the assertion's sub is not its iss".into());
    }
    let exp = claims["exp"].as_i64().ok_or("the assertion has no exp")?;
    if exp <= now {
        return Err("the assertion expired".into());
    }
    if exp - now > MAX_LIFETIME_SECS {
        return Err("the assertion's exp is more than five minutes ahead".into());
    }
    Ok(())
}

/// The `iss` of a JWT before its signature is checked (to know whose keys check it).
fn unverified_issuer(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}
