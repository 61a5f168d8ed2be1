//! Keeping a sign-in alive on a server whose refresh tokens die unused: the sandbox calls
//! itself "Nextgen FHIR Server", so the quirks list gives it NextGen's 48 h use-or-lose limit.
//! Past half of it, `status` warns (saying when and what to run) and a `sync` refreshes
//! though its access token is still good; the sync after that does not.

use crate::common::{code, json, text, TestContext};
use fhirdl_sandbox::{Quirks, SandboxConfig};
use serde_json::Value;

const HOUR: i64 = 3600;

fn nextgen_named() -> TestContext {
    TestContext::new(SandboxConfig {
        quirks: Quirks {
            software_name: Some("Nextgen FHIR Server".to_owned()),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    })
}

/// Moves the stored refresh token's issue time `hours` back, as if it had lain unused.
fn age_refresh_token(ctx: &TestContext, profile: &str, hours: i64) -> i64 {
    let file = ctx.credential_file(profile);
    let mut creds: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let issued = creds["refresh_token_issued_at"].as_i64().unwrap() - hours * HOUR;
    creds["refresh_token_issued_at"] = issued.into();
    std::fs::write(&file, serde_json::to_vec(&creds).unwrap()).unwrap();
    issued
}

fn status_of(ctx: &TestContext) -> Value {
    let out = ctx.fhirdl(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    json(&out)["profiles"][0].clone()
}

#[test]
fn status_warns_of_an_idle_refresh_token_and_sync_refreshes_it_early() {
    let ctx = nextgen_named();
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let fresh = status_of(&ctx);
    assert_eq!(fresh["refresh_token_idle_limit_hours"], 48, "{fresh}");
    assert!(fresh["refresh_token_warning"].is_null(), "{fresh}");

    age_refresh_token(&ctx, "a", 30);
    let out = ctx.fhirdl(&["status"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("warning:")
            && shown.contains("of the provider's 48 h")
            && shown.contains("fhirdl sync --profile a"),
        "{shown}"
    );
    let aged = status_of(&ctx);
    assert!(aged["refresh_token_idle_seconds"].as_i64().unwrap() >= 30 * HOUR);
    assert!(aged["refresh_token_unusable_after"].is_string(), "{aged}");
    assert!(aged["refresh_token_warning"].is_string(), "{aged}");

    let before = ctx.sandbox.stats().refresh_grants;
    let out = ctx.fhirdl(&["sync"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("Refreshed the sign-in of profile 'a' early"),
        "{}",
        text(&out)
    );
    assert_eq!(ctx.sandbox.stats().refresh_grants, before + 1);
    assert!(status_of(&ctx)["refresh_token_warning"].is_null());

    // Renewed: the next sync has no reason to refresh.
    let out = ctx.fhirdl(&["sync"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(ctx.sandbox.stats().refresh_grants, before + 1);
}

#[test]
fn providers_quirks_describes_the_refresh_rules() {
    let ctx = TestContext::with_defaults();
    let out = ctx.fhirdl(&["providers", "--quirks"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("refresh tokens: die after 48 h unused")
            && shown.contains("refreshes at least 60 s apart; a refresh returns no new one"),
        "{shown}"
    );
}
