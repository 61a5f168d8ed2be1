//! `private_key_jwt` (SMART App Launch 2.x asymmetric client authentication): `fhirdl key
//! create` prints only the public key set, the sandbox registers it, and login, sync and a
//! refresh authenticate with signed client assertions; the sandbox refuses a replayed `jti`, a
//! wrong `aud` and an expired assertion; a PEM key comes in with `login --client-key`; the
//! private key is nowhere but the credential store.

use crate::common::{code, json, text, TestContext};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use fhirdl::auth::client_key::{ClientKey, ASSERTION_TYPE};
use fhirdl_sandbox::SandboxConfig;
use reqwest::StatusCode;
use serde_json::Value;

const CLIENT: &str = "key-app";

fn sandbox() -> TestContext {
    TestContext::new(SandboxConfig {
        token_auth_methods: vec!["client_secret_basic".into(), "private_key_jwt".into()],
        ..SandboxConfig::default()
    })
}

fn login(ctx: &TestContext, profile: &str, extra: &[&str]) -> std::process::Output {
    let mut c = ctx.command();
    c.args(["login", "--profile", profile, "--fhir-base", &ctx.base()])
        .args(["--client-id", CLIENT, "--credential-store", "file"])
        .args(["--timeout", "20s"])
        .args(extra);
    ctx.run(c)
}

/// The private key the file store keeps for `profile`.
fn stored_key(ctx: &TestContext, profile: &str) -> ClientKey {
    let file = ctx
        .data_dir()
        .join("credentials")
        .join(format!("{profile}+client-key.json"));
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

#[test]
fn a_made_key_signs_in_syncs_and_refreshes_and_stays_in_the_store() {
    let ctx = sandbox();
    let jwks_file = ctx.root().join("published-jwks.json");
    let out = ctx.fhirdl(&[
        "key",
        "create",
        "--profile",
        "k",
        "--credential-store",
        "file",
        "--jwks-out",
        jwks_file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let jwks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["alg"], "ES384");
    assert_eq!(jwk["use"], "sig");
    assert!(jwk.get("d").is_none(), "{jwks}");
    let published: Value = serde_json::from_slice(&std::fs::read(&jwks_file).unwrap()).unwrap();
    assert_eq!(published, jwks);
    ctx.sandbox
        .register_client_key(CLIENT, jwks.clone())
        .unwrap();

    let trace = ctx.root().join("trace.jsonl");
    let out = login(
        &ctx,
        "k",
        &[
            "-vv",
            "--trace-file",
            trace.to_str().unwrap(),
            "--trace-bodies",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = ctx.fhirdl(&[
        "sync",
        "--trace-file",
        trace.to_str().unwrap(),
        "--trace-bodies",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    ctx.sandbox.expire_access_tokens();
    let refreshes = ctx.sandbox.stats().refresh_grants;
    let out = ctx.fhirdl(&[
        "sync",
        "--trace-file",
        trace.to_str().unwrap(),
        "--trace-bodies",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        ctx.sandbox.stats().refresh_grants > refreshes,
        "no refresh was made"
    );

    let status = json(&ctx.fhirdl(&["status", "--json", "--offline"]));
    let key = &status["profiles"][0]["client_key"];
    assert_eq!(key["kid"], jwk["kid"]);
    assert_eq!(key["alg"], "ES384");
    assert!(key["created_at"].is_string());
    assert!(key.get("der").is_none(), "{status}");
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    assert!(
        trace_text.contains("client_assertion"),
        "the trace shows no assertion was sent"
    );
    ctx.assert_no_leaks();
}

#[test]
fn replayed_misaddressed_and_expired_assertions_are_refused() {
    let ctx = sandbox();
    let out = ctx.fhirdl(&[
        "key",
        "create",
        "--profile",
        "k",
        "--credential-store",
        "file",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    ctx.sandbox
        .register_client_key(CLIENT, serde_json::from_slice(&out.stdout).unwrap())
        .unwrap();
    let key = stored_key(&ctx, "k");
    let token_url = ctx
        .sandbox
        .origin()
        .join("oauth/token")
        .unwrap()
        .to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let send = |assertion: &str| {
        ctx.block_on(ctx.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "not-a-refresh-token"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ]))
    };
    let good = key.assertion(CLIENT, &token_url, now, "jti-once").unwrap();
    // Authenticated (the refresh token is what is wrong), then the same jti again: refused.
    let (status, body) = send(good.expose());
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = send(good.expose());
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{body}"
    );
    let elsewhere = key
        .assertion(CLIENT, "https://elsewhere.example/token", now, "jti-aud")
        .unwrap();
    let (status, body) = send(elsewhere.expose());
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{body}"
    );
    let expired = key
        .assertion(CLIENT, &token_url, now - 600, "jti-old")
        .unwrap();
    let (status, body) = send(expired.expose());
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{body}"
    );
    let too_long = key
        .assertion(CLIENT, &token_url, now + 3600, "jti-far")
        .unwrap();
    let (status, _) = send(too_long.expose());
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn a_pem_key_is_imported_with_login_client_key() {
    let ctx = sandbox();
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let body = STANDARD.encode(pkcs8.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    // Outside the test's root: the leak scan would find the key in the file the user gave.
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("key.pem");
    std::fs::write(&file, &pem).unwrap();
    let key = ClientKey::import(&pem, "t".into()).unwrap();
    ctx.sandbox
        .register_client_key(CLIENT, key.jwks().unwrap())
        .unwrap();

    let out = login(&ctx, "imp", &["--client-key", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = ctx.fhirdl(&["sync"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = ctx.fhirdl(&["status", "--offline"]);
    assert!(text(&out).contains(&key.info.kid), "{}", text(&out));
    assert!(!ctx.transcript().contains(&body));
    ctx.assert_no_leaks();
}

/// `key create --alg RS384` makes an RSA-2048 key; the sign-in works with it, and `logout`
/// revokes both tokens authenticated by an assertion signed with it (the sandbox accepts no
/// other proof from this client).
#[test]
fn an_rs384_key_made_here_signs_in_and_logout_revokes_with_it() {
    let ctx = sandbox();
    let out = ctx.fhirdl(&[
        "key",
        "create",
        "--profile",
        "r",
        "--alg",
        "RS384",
        "--credential-store",
        "file",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let jwks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["alg"].as_str()),
        (Some("RSA"), Some("RS384"))
    );
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().unwrap())
        .unwrap();
    assert_eq!(n.len(), 256, "2048 bits");
    ctx.sandbox
        .register_client_key(CLIENT, jwks.clone())
        .unwrap();
    let out = login(&ctx, "r", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let revoked = ctx.sandbox.stats().revocations;
    let out = ctx.fhirdl(&["logout", "--profile", "r", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let done = json(&out);
    assert_eq!(done["revoked"].as_array().map(Vec::len), Some(2), "{done}");
    assert!(done["warnings"].as_array().unwrap().is_empty(), "{done}");
    assert_eq!(ctx.sandbox.stats().revocations, revoked + 2);
    ctx.assert_no_leaks();
}
