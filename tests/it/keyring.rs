//! The OS credential store (Secret Service on Linux), tested for real.
//!
//! The round trip (login → status with a refresh → logout) needs an unlocked Secret Service, so
//! it is ignored unless asked for: `.ci/run` runs it inside `dbus-run-session` with an unlocked
//! gnome-keyring, as `FHIRDL_TEST_KEYRING=1 cargo test --test it keyring -- --include-ignored`.
//! The refusal runs everywhere on Linux, with the session bus taken away: fhirdl refuses
//! clearly and never falls back to a file on its own.

use crate::common::{code, skipped, text, TestContext};

fn login_with_default_store(ctx: &TestContext, profile: &str) -> std::process::Output {
    let mut c = ctx.command();
    c.args([
        "login",
        "--profile",
        profile,
        "--fhir-base",
        &ctx.base(),
        "--client-id",
        "fhirdl-sandbox",
    ])
    .args(["--timeout", "20s"]);
    ctx.run(c)
}

#[test]
#[ignore = "needs FHIRDL_TEST_KEYRING=1 and an unlocked Secret Service (.ci/run runs it)"]
fn keyring_store_round_trip() {
    if std::env::var("FHIRDL_TEST_KEYRING").is_ok_and(|v| v == "1") {
        round_trip();
    } else {
        skipped("keyring::keyring_store_round_trip: set FHIRDL_TEST_KEYRING=1 where an unlocked Secret Service runs (see .ci/run)");
    }
}

fn round_trip() {
    let ctx = TestContext::with_defaults();
    let profile = format!("keyring-test-{}", std::process::id());
    let out = login_with_default_store(&ctx, &profile);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        !ctx.credential_file(&profile).exists(),
        "tokens must not be in a file"
    );
    let config = std::fs::read_to_string(ctx.config_dir().join("config.toml")).unwrap();
    assert!(
        config.contains("credential_store = \"keyring\""),
        "{config}"
    );
    // A later command finds the tokens with --profile alone, and refreshes through the keyring.
    ctx.sandbox.expire_access_tokens();
    let status = ctx.fhirdl(&["status", "--profile", &profile]);
    assert_eq!(code(&status), 0, "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains("OS keyring"));
    assert_eq!(ctx.sandbox.stats().refresh_grants, 1);
    let logout = ctx.fhirdl(&["logout", "--profile", &profile]);
    assert_eq!(code(&logout), 0, "{}", text(&logout));
    ctx.assert_no_leaks();
}

/// No session bus (none named, and an empty runtime folder where the default one would be).
#[cfg(target_os = "linux")]
#[test]
fn without_a_keyring_login_refuses_clearly() {
    let ctx = TestContext::with_defaults();
    let runtime_dir = ctx.root().join("runtime");
    std::fs::create_dir(&runtime_dir).unwrap();
    let mut c = ctx.command();
    c.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .args(["login", "--profile", "k", "--fhir-base", &ctx.base()])
        .args(["--client-id", "fhirdl-sandbox", "--timeout", "20s"]);
    let out = ctx.run(c);
    assert_eq!(code(&out), 7, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--credential-store file"), "{err}");
    assert_eq!(
        ctx.sandbox.stats().authorize_requests,
        0,
        "no sign-in may start without a store"
    );
    assert!(
        !ctx.data_dir().join("credentials").exists(),
        "no silent fallback to a file"
    );
}
