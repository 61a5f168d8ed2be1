//! Issue 13, sign-in as a certification test kit checks it: the id_token validated (signature
//! against the JWKS, iss, aud, exp, nonce), keys cached and fetched again after a rotation.

use crate::common::{code, json, text, TestContext};
use fhirdl::sandbox::{Hostile, IdTokenFault, SandboxConfig};

/// Each spoiled id_token fails the login with exit 5, says which check failed, and leaves no
/// profile and no tokens behind.
#[test]
fn every_failing_id_token_check_refuses_the_login() {
    let ctx = TestContext::with_defaults();
    let cases = [
        (
            IdTokenFault::WrongIssuer,
            "issued by \"https://impostor.example\"",
        ),
        (IdTokenFault::WrongAudience, "meant for \"another-app\""),
        (IdTokenFault::Expired, "it expired at"),
        (
            IdTokenFault::WrongNonce,
            "nonce is not the one this sign-in sent",
        ),
        (IdTokenFault::BadSignature, "signature does not verify"),
        (IdTokenFault::UnpublishedKey, "signing key unpublished-key"),
    ];
    for (fault, words) in cases {
        ctx.sandbox.set_hostile(Hostile {
            id_token: Some(fault),
            ..Hostile::default()
        });
        let out = ctx.login("alice", &[]);
        assert_eq!(code(&out), 5, "{fault:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("id_token was refused") && stderr.contains(words),
            "{fault:?}: {}",
            text(&out)
        );
        assert!(!ctx.credential_file("alice").exists(), "{fault:?}");
        assert!(!ctx.config_dir().join("config.toml").exists(), "{fault:?}");
    }
    // The same sandbox, honest again: the login works.
    ctx.sandbox.set_hostile(Hostile::default());
    let out = ctx.login("alice", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    ctx.assert_no_leaks();
}

/// The JWKS is read at the first sign-in and kept with the profile; a second sign-in uses the
/// cache; after the server rotates to a new (ES256) key, the unknown `kid` makes fhirdl read the
/// JWKS once more, and the sign-in succeeds.
#[test]
fn keys_are_cached_and_read_again_after_a_rotation() {
    let ctx = TestContext::new(SandboxConfig::default());
    let out = ctx.login("alice", &["--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let check = report["id_token"].as_str().unwrap_or_default();
    assert!(
        check.contains("RS256") && check.contains("sandbox-rs256-1"),
        "{}",
        text(&out)
    );
    assert_eq!(ctx.sandbox.stats().jwks_requests, 1);
    let config = std::fs::read_to_string(ctx.config_dir().join("config.toml")).unwrap();
    assert!(config.contains("jwks_uri") && config.contains("sandbox-rs256-1"));

    let out = ctx.login("alice", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        ctx.sandbox.stats().jwks_requests,
        1,
        "the cached keys serve"
    );

    ctx.sandbox.rotate_signing_key().unwrap();
    let out = ctx.login("alice", &["--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(json(&out)["id_token"]
        .as_str()
        .unwrap_or_default()
        .contains("ES256"));
    assert_eq!(ctx.sandbox.stats().jwks_requests, 2, "read again once");
    let config = std::fs::read_to_string(ctx.config_dir().join("config.toml")).unwrap();
    assert!(config.contains("sandbox-es256-1") && !config.contains("sandbox-rs256-1"));
    ctx.assert_no_leaks();
}
