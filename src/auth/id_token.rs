//! The OpenID Connect id_token of a sign-in, validated before anything in it is used (OpenID
//! Connect Core 1.0 3.1.3.7; SMART App Launch 2.x "the id_token must be validated"):
//! the signature against the server's JWKS (RS256, ES256 and the other RSA and EC algorithms;
//! never `none` or a shared-secret HMAC), `iss` equal to the discovered issuer, `aud`
//! containing the client id (and `azp` equal to it when there are several audiences), `exp`
//! in the future and `iat` not in the future nor older than a day (with a two-minute clock
//! allowance), and `nonce` equal to the one sent with the authorization request.
//!
//! Keys are cached with the profile's discovery data and read again from `jwks_uri` once when
//! an id_token names a key id (`kid`) the cache does not hold (the server rotated its keys).
//! A server that publishes no `jwks_uri` gets every check but the signature (3.1.3.7 step 6
//! allows TLS to stand in for it, and the token came straight from the token endpoint).

use super::discovery::Discovery;
use crate::datetime::{now_unix, unix_to_rfc3339};
use crate::error::{Failure, Kind};
use crate::http::{redact_url, Http};
use crate::sanitize::clean;
use anyhow::Result;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// How far the server's clock may be from ours.
pub const CLOCK_ALLOWANCE_SECS: u64 = 120;
/// An id_token issued longer ago than this is not from the sign-in that just happened.
const MAX_AGE_SECS: i64 = 24 * 3600;
/// The asymmetric algorithms accepted (HS* would need a shared secret; `none` is no signature).
pub const ACCEPTED_ALGS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// What the id_token must say.
pub struct Expected<'a> {
    /// The discovered issuer; `None` when discovery named none (then `iss` is only required).
    pub issuer: Option<&'a str>,
    pub client_id: &'a str,
    /// The `nonce` sent with the authorization request.
    pub nonce: &'a str,
}

/// The claims fhirdl uses from a validated id_token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClaims {
    pub sub: String,
    /// `fhirUser`: the FHIR resource of the person who signed in (Patient, RelatedPerson, …).
    pub fhir_user: Option<String>,
    /// `name`: how the person who signed in is called (OpenID Connect standard claim).
    pub name: Option<String>,
}

/// How the signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Verified with the key `kid` (algorithm `alg`) from the server's JWKS.
    Verified { alg: String, kid: Option<String> },
    /// The server publishes no `jwks_uri`.
    NoJwksUri,
}

#[derive(Debug)]
pub struct Validated {
    pub claims: IdClaims,
    pub signature: SignatureCheck,
    /// The key set as read anew from `jwks_uri` (JSON), for the caller to keep; `None` when
    /// the cached set served.
    pub fresh_jwks: Option<String>,
}

#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    #[serde(default)]
    aud: Value,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default, rename = "fhirUser")]
    fhir_user: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// Validates `token`; every failure is a refused sign-in (exit 5) that says which check failed.
pub async fn validate(
    http: &Http,
    discovery: &Discovery,
    token: &str,
    expected: &Expected<'_>,
) -> Result<Validated> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| {
        refused(
            "it is not a signed JWT (or uses an algorithm fhirdl does not accept, such as none)",
        )
    })?;
    if !ACCEPTED_ALGS.contains(&header.alg) {
        return Err(refused(format!(
            "it is signed with {:?}; fhirdl accepts only public-key signatures (RS256, ES256, …)",
            header.alg
        )));
    }
    let kid = header.kid.clone();
    let mut fresh_jwks = None;
    let (key, signature) = match &discovery.jwks_uri {
        Some(uri) => {
            let cached = discovery
                .jwks
                .as_deref()
                .and_then(|j| serde_json::from_str::<JwkSet>(j).ok());
            let key = match cached.as_ref().and_then(|set| pick(set, kid.as_deref())) {
                Some(key) => key,
                None => {
                    // Not cached, or a key id the cache lacks: the server may have rotated.
                    let (set, json) = fetch_jwks(http, uri)
                        .await
                        .map_err(|e| refused(format!("{e:#}")))?;
                    fresh_jwks = Some(json);
                    pick(&set, kid.as_deref()).ok_or_else(|| {
                        refused(format!(
                            "it names signing key {}, which the server's key set {} does not hold",
                            kid.as_deref().map_or("(no kid)".to_string(), clean),
                            shown(uri)
                        ))
                    })?
                }
            };
            let signature = SignatureCheck::Verified {
                alg: format!("{:?}", header.alg),
                kid: kid.clone(),
            };
            (key, signature)
        }
        None => (DecodingKey::from_secret(&[]), SignatureCheck::NoJwksUri),
    };

    let mut validation = Validation::new(header.alg);
    validation.leeway = CLOCK_ALLOWANCE_SECS;
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    if let Some(issuer) = expected.issuer {
        validation.set_issuer(&[issuer]);
    }
    if signature == SignatureCheck::NoJwksUri {
        validation.insecure_disable_signature_validation();
    }
    let data = jsonwebtoken::decode::<RawClaims>(token, &key, &validation)
        .map_err(|e| refused(explain(e.kind(), token, expected)))?;
    let claims = data.claims;
    check_times_and_parties(&claims, expected)?;
    Ok(Validated {
        claims: IdClaims {
            sub: claims.sub,
            fhir_user: claims.fhir_user.or(claims.profile),
            name: claims.name,
        },
        signature,
        fresh_jwks,
    })
}

/// The checks `jsonwebtoken` leaves to the caller: `iat`, `azp` and `nonce`.
fn check_times_and_parties(claims: &RawClaims, expected: &Expected<'_>) -> Result<()> {
    let now = now_unix();
    let allowance = CLOCK_ALLOWANCE_SECS as i64;
    match claims.iat {
        None => return Err(refused("it has no 'iat' (issued at) claim")),
        Some(iat) if iat > now + allowance => {
            return Err(refused(format!(
                "it was issued in the future ({}); check this computer's clock",
                unix_to_rfc3339(iat)
            )))
        }
        Some(iat) if iat < now - MAX_AGE_SECS => {
            return Err(refused(format!(
                "it was issued at {}, too long ago for the sign-in that just happened",
                unix_to_rfc3339(iat)
            )))
        }
        Some(_) => {}
    }
    let several = claims.aud.as_array().is_some_and(|list| list.len() > 1);
    match &claims.azp {
        Some(azp) if azp != expected.client_id => {
            return Err(refused(format!(
                "its authorized party (azp) is {}, not this app's client id",
                clean(azp)
            )))
        }
        None if several => {
            return Err(refused(
                "it has several audiences but no authorized party (azp)",
            ))
        }
        _ => {}
    }
    if claims.nonce.as_deref() != Some(expected.nonce) {
        return Err(refused(
            "its nonce is not the one this sign-in sent (a replayed or substituted id_token)",
        ));
    }
    Ok(())
}

/// The key for `kid`; without a `kid`, the set's only key.
fn pick(set: &JwkSet, kid: Option<&str>) -> Option<DecodingKey> {
    let jwk = match kid {
        Some(kid) => set.find(kid)?,
        None if set.keys.len() == 1 => &set.keys[0],
        None => return None,
    };
    DecodingKey::from_jwk(jwk).ok()
}

/// Reads the JWKS at `uri`: the parsed set and its JSON, for the cache.
pub async fn fetch_jwks(http: &Http, uri: &str) -> Result<(JwkSet, String)> {
    let url =
        Url::parse(uri).map_err(|e| anyhow::anyhow!("the server's jwks_uri is not a URL: {e}"))?;
    let shown = redact_url(&url);
    let resp = http
        .get_json(&url, "application/json")
        .await
        .map_err(|e| anyhow::anyhow!("the signing keys could not be read from {shown}: {e:#}"))?;
    if !resp.status.is_success() {
        anyhow::bail!(
            "the signing keys could not be read: {shown} answered HTTP {}",
            resp.status.as_u16()
        );
    }
    let set = parse_jwks(&resp.body)
        .map_err(|why| anyhow::anyhow!("the key set at {shown} is unusable: {why}"))?;
    Ok((set, resp.body.to_string()))
}

/// A JWKS document, with the keys fhirdl cannot use (other key types, encryption keys) left out
/// instead of failing the whole set.
pub fn parse_jwks(doc: &Value) -> std::result::Result<JwkSet, String> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no 'keys' array")?;
    let usable: Vec<_> = keys
        .iter()
        .filter(|k| k.get("use").and_then(Value::as_str) != Some("enc"))
        .filter_map(|k| serde_json::from_value(k.clone()).ok())
        .collect();
    if usable.is_empty() {
        return Err("it holds no signature key fhirdl can read".into());
    }
    Ok(JwkSet { keys: usable })
}

fn shown(uri: &str) -> String {
    Url::parse(uri).map_or_else(|_| clean(uri), |u| redact_url(&u).to_string())
}

/// Which check failed, in words; the claim values shown are the server's (cleaned), never the
/// token itself.
fn explain(kind: &ErrorKind, token: &str, expected: &Expected<'_>) -> String {
    let unverified = unverified_claims(token);
    let claim = |name: &str| {
        unverified
            .as_ref()
            .and_then(|c| c.get(name))
            .map(|v| clean(&v.to_string()))
            .unwrap_or_else(|| "nothing".into())
    };
    match kind {
        ErrorKind::InvalidSignature => {
            "its signature does not verify with the server's published key (the token was altered or not made by this server)".into()
        }
        ErrorKind::InvalidIssuer => format!(
            "it was issued by {} instead of the server's issuer {}",
            claim("iss"),
            expected.issuer.unwrap_or("?")
        ),
        ErrorKind::InvalidAudience => format!(
            "it is meant for {}, not for this app (client id {})",
            claim("aud"),
            expected.client_id
        ),
        ErrorKind::ExpiredSignature => format!(
            "it expired at {}",
            unverified
                .as_ref()
                .and_then(|c| c.get("exp"))
                .and_then(Value::as_i64)
                .map_or_else(|| "?".into(), unix_to_rfc3339)
        ),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf); check this computer's clock".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("it has no '{}' claim", clean(c)),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "its algorithm does not match the signing key".into()
        }
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            "the server's published key is not a usable key for its algorithm".into()
        }
        other => format!("it could not be read ({other:?})"),
    }
}

/// The payload without any check, only to say what was wrong with it.
fn unverified_claims(token: &str) -> Option<Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn refused(why: impl Into<String>) -> anyhow::Error {
    Failure::new(
        Kind::LoginFailed,
        format!("the provider's id_token was refused: {}", why.into()),
    )
    .hint("nothing was saved; if this persists, the provider's sign-in is misconfigured or someone tampered with it — tell the provider, and check this computer's clock")
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: Some("https://idp"),
            client_id: "app",
            nonce: "n-1",
        }
    }

    fn claims(v: Value) -> RawClaims {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn iat_azp_and_nonce_are_checked() {
        let now = now_unix();
        let good = json!({"sub": "p", "aud": "app", "iat": now, "nonce": "n-1"});
        assert!(check_times_and_parties(&claims(good.clone()), &expected()).is_ok());
        let mut c = good.clone();
        c["nonce"] = json!("other");
        let e = check_times_and_parties(&claims(c), &expected()).unwrap_err();
        assert!(format!("{e}").contains("nonce"), "{e}");
        let mut c = good.clone();
        c["iat"] = json!(now + 3600);
        assert!(check_times_and_parties(&claims(c), &expected()).is_err());
        let mut c = good.clone();
        c["iat"] = json!(now - 3 * 86400);
        assert!(check_times_and_parties(&claims(c), &expected()).is_err());
        let mut c = good.clone();
        c["aud"] = json!(["app", "other"]);
        assert!(check_times_and_parties(&claims(c.clone()), &expected()).is_err());
        c["azp"] = json!("app");
        assert!(check_times_and_parties(&claims(c.clone()), &expected()).is_ok());
        c["azp"] = json!("other");
        assert!(check_times_and_parties(&claims(c), &expected()).is_err());
    }

    /// A fresh ES256 key: its PKCS#8 and its public JWK under `kid`.
    fn es256(kid: &str) -> (jsonwebtoken::EncodingKey, Value) {
        use base64::Engine as _;
        use ring::signature::KeyPair as _;
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": kid,
                         "x": b64(&point[1..33]), "y": b64(&point[33..])});
        (jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
    }

    fn sign(key: &jsonwebtoken::EncodingKey, kid: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn discovery(jwks: Option<Value>) -> Discovery {
        let mut d = super::super::discovery::from_smart_configuration(
            &json!({"authorization_endpoint": "https://idp/a", "token_endpoint": "https://idp/t",
                    "issuer": "https://idp"}),
            "t",
        )
        .unwrap();
        if let Some(set) = jwks {
            // Port 9 (discard) is never asked: the cached set holds the key.
            d.jwks_uri = Some("http://127.0.0.1:9/jwks".into());
            d.jwks = Some(set.to_string());
        }
        d
    }

    fn good_claims() -> Value {
        let now = now_unix();
        json!({"iss": "https://idp", "sub": "p", "aud": "app", "iat": now, "exp": now + 300,
               "nonce": "n-1", "fhirUser": "https://idp/fhir/RelatedPerson/r1", "name": "Pat Proxy"})
    }

    #[tokio::test]
    async fn signatures_and_algorithms() {
        let http = Http::new(
            std::sync::Arc::new(crate::console::Silent),
            &crate::tls::ExtraRoots::default(),
        )
        .unwrap();
        let (key, jwk) = es256("k1");
        let d = discovery(Some(json!({"keys": [jwk]})));
        let token = sign(&key, "k1", &good_claims());
        let v = validate(&http, &d, &token, &expected()).await.unwrap();
        assert_eq!(v.claims.name.as_deref(), Some("Pat Proxy"));
        assert_eq!(
            v.signature,
            SignatureCheck::Verified {
                alg: "ES256".into(),
                kid: Some("k1".into())
            }
        );
        assert!(v.fresh_jwks.is_none(), "the cached key served");

        // Another key under the same kid: the signature does not verify.
        let (other, _) = es256("k1");
        let forged = sign(&other, "k1", &good_claims());
        let e = validate(&http, &d, &forged, &expected()).await.unwrap_err();
        assert!(format!("{e}").contains("signature does not verify"), "{e}");

        // HS256 (a shared secret) and `none` are refused before any key is looked at.
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &good_claims(),
            &jsonwebtoken::EncodingKey::from_secret(b"guessable"),
        )
        .unwrap();
        let e = validate(&http, &d, &hs, &expected()).await.unwrap_err();
        assert!(format!("{e}").contains("only public-key signatures"), "{e}");
        let none = format!("eyJhbGciOiJub25lIn0.{}.", token.split('.').nth(1).unwrap());
        let e = validate(&http, &d, &none, &expected()).await.unwrap_err();
        assert!(format!("{e}").contains("not a signed JWT"), "{e}");

        // No jwks_uri: every claim is still checked.
        let bare = discovery(None);
        let v = validate(&http, &bare, &forged, &expected()).await.unwrap();
        assert_eq!(v.signature, SignatureCheck::NoJwksUri);
        let mut late = good_claims();
        late["exp"] = json!(now_unix() - 3600);
        let e = validate(&http, &bare, &sign(&key, "k1", &late), &expected())
            .await
            .unwrap_err();
        assert!(format!("{e}").contains("expired at"), "{e}");
    }

    #[test]
    fn jwks_skips_unusable_keys() {
        let doc = json!({"keys": [
            {"kty": "oct", "k": "abc", "use": "enc"},
            {"kty": "EC", "crv": "P-256", "kid": "k1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]});
        let set = parse_jwks(&doc).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert!(pick(&set, Some("k1")).is_some());
        assert!(pick(&set, None).is_some());
        assert!(pick(&set, Some("k2")).is_none());
        assert!(parse_jwks(&json!({"keys": []})).is_err());
        assert!(parse_jwks(&json!({})).is_err());
    }
}
