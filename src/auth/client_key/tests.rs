use super::*;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, Validation};

/// The sandbox's fixed RSA test key (2048 bits, PKCS#1; no secret).
const RSA_PKCS1: &[u8] = include_bytes!("../../../crates/sandbox/src/keys/rs256-pkcs1.der");

fn pem_of(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn verify(key: &ClientKey, token: &str, aud: &str) -> Value {
    let jwk: Jwk = serde_json::from_value(key.public_jwk().unwrap()).unwrap();
    let mut v = Validation::new(key.info.alg.jwt());
    v.set_audience(&[aud]);
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(&jwk).unwrap(), &v)
        .unwrap()
        .claims
}

#[test]
fn claims_name_the_client_the_endpoint_and_five_minutes() {
    let c = assertion_claims("app-1", "https://ehr/token", 1_000, "j-1");
    assert_eq!(c["iss"], "app-1");
    assert_eq!(c["sub"], "app-1");
    assert_eq!(c["aud"], "https://ehr/token");
    assert_eq!(c["iat"], 1_000);
    assert_eq!(c["exp"], 1_300);
    assert_eq!(c["jti"], "j-1");
    assert_ne!(new_jti(), new_jti());
    assert_eq!(new_jti().len(), 22);
}

#[test]
fn a_made_key_signs_what_its_public_jwks_verifies() {
    let key = ClientKey::generate("2026-01-01T00:00:00Z".into()).unwrap();
    assert_eq!(key.info.alg, KeyAlg::Es384);
    let jwks = key.jwks().unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-384");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "ES384");
    assert_eq!(jwk["kid"], key.info.kid.as_str());
    assert!(jwk.get("d").is_none(), "{jwks}");
    let token = key.assertion("app", "https://ehr/token", 5, "j").unwrap();
    let header = jsonwebtoken::decode_header(token.expose()).unwrap();
    assert_eq!(header.kid.as_deref(), Some(key.info.kid.as_str()));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        verify(&key, token.expose(), "https://ehr/token")["sub"],
        "app"
    );
    assert!(!format!("{key:?}").contains(key.der.expose()));
}

#[test]
fn a_key_comes_back_the_same_from_pem_and_from_a_private_jwk() {
    let key = ClientKey::generate("t".into()).unwrap();
    let der = key.der().unwrap();
    let from_pem = ClientKey::import(&pem_of("PRIVATE KEY", &der), "t".into()).unwrap();
    assert_eq!(from_pem.info, key.info);
    let mut jwk = key.public_jwk().unwrap();
    jwk["d"] = json!(URL_SAFE_NO_PAD.encode(der::p384_scalar(&der).unwrap()));
    let from_jwk = ClientKey::import(&jwk.to_string(), "t".into()).unwrap();
    assert_eq!(from_jwk.info, key.info);
    // The public half alone is no key to sign with.
    let public = key.public_jwk().unwrap().to_string();
    assert!(ClientKey::import(&public, "t".into()).is_err());
}

#[test]
fn an_rsa_key_signs_rs384() {
    let key = ClientKey::import(&pem_of("RSA PRIVATE KEY", RSA_PKCS1), "t".into()).unwrap();
    assert_eq!(key.info.alg, KeyAlg::Rs384);
    let jwk = key.public_jwk().unwrap();
    assert_eq!(jwk["kty"], "RSA");
    assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
    let token = key.assertion("app", "aud", 5, "j").unwrap();
    assert_eq!(verify(&key, token.expose(), "aud")["iss"], "app");
}

#[test]
fn bad_files_are_named_without_being_quoted() {
    for text in [
        "not a key at all sekrit",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"d\":\"sekrit\"}",
        "-----BEGIN EC PRIVATE KEY-----\nc2Vrcml0\n-----END EC PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\nc2Vrcml0\n-----END PRIVATE KEY-----",
    ] {
        let err = ClientKey::import(text, "t".into()).unwrap_err();
        let shown = format!("{err:#}");
        assert!(
            !shown.contains("sekrit") && !shown.contains("c2Vrcml0"),
            "{shown}"
        );
    }
}

#[test]
fn a_made_rsa_key_is_2048_bits_and_signs_rs384() {
    let key = ClientKey::generate_alg(KeyAlg::Rs384, "t".into()).unwrap();
    assert_eq!(key.info.alg, KeyAlg::Rs384);
    let jwk = &key.jwks().unwrap()["keys"][0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["alg"].as_str()),
        (Some("RSA"), Some("RS384"))
    );
    assert_eq!(jwk["e"], "AQAB");
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len() * 8, super::RSA_BITS);
    assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
    let token = key.assertion("app", "https://ehr/token", 5, "j").unwrap();
    assert_eq!(
        verify(&key, token.expose(), "https://ehr/token")["iss"],
        "app"
    );
    assert_ne!(
        ClientKey::generate_rsa("t".into()).unwrap().info.kid,
        key.info.kid,
        "each key is new"
    );
}
