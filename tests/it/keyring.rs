//! The OS credential store (Secret Service on Linux), tested for real.
//!
//! With `FHIRDL_TEST_KEYRING=1` (`.ci/run` sets it inside `dbus-run-session` with an unlocked
//! gnome-keyring) the whole login → status → logout cycle runs against the keyring. Without a
//! session bus the test proves the opposite: fhirdl refuses clearly and never falls back to a
//! file on its own.

use crate::common::{code, text, TestContext};

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
fn keyring_store_round_trip_or_clear_refusal() {
    let ctx = TestContext::with_defaults();
    let real = std::env::var("FHIRDL_TEST_KEYRING").is_ok_and(|v| v == "1");
    let profile = format!("keyring-test-{}", std::process::id());
    let out = login_with_default_store(&ctx, &profile);
    if real {
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
    } else if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
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
}
