//! Unattended backups on Epic's terms: a public patient app gets no refresh token, so after the
//! first sign-in fhirdl registers this computer (RFC 7591, an RSA key made here), and every
//! later run gets its access token with the JWT bearer grant (RFC 7523), no browser. Covered: a
//! day of hourly expiries with no browser, what `status` shows (never the key), a registration
//! the organization revoked (exit 4, "sign in again"), a registration refused with a bare 400
//! (named, with the fix), `--no-register`, and `logout` deleting the registration (RFC 7592).

use crate::common::{code, json, text, TestContext};
use fhirdl_sandbox::{DynamicRegistration, Ehr, SandboxConfig};
use serde_json::Value;

fn epic(registration: DynamicRegistration) -> TestContext {
    TestContext::new(SandboxConfig {
        dynamic_registration: registration,
        ..SandboxConfig::for_ehr(Ehr::Epic)
    })
}

fn status(ctx: &TestContext) -> Value {
    let out = ctx.fhirdl(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    json(&out)["profiles"][0].clone()
}

/// Moves the stored access token's expiry into the past, as an hour on the clock would.
fn expire_stored_token(ctx: &TestContext, profile: &str) {
    let file = ctx.credential_file(profile);
    let mut creds: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    creds["expires_at"] = (creds["expires_at"].as_i64().unwrap() - 7200).into();
    std::fs::write(&file, serde_json::to_vec(&creds).unwrap()).unwrap();
}

fn sync(ctx: &TestContext) -> std::process::Output {
    ctx.fhirdl(&["sync", "--types", "Patient,Condition", "--json"])
}

#[test]
fn a_registered_computer_runs_a_day_of_hourly_backups_without_a_browser() {
    let ctx = epic(DynamicRegistration::Open);
    let out = ctx.login("e", &["--register", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let login = json(&out);
    let reg = &login["registration"];
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    assert!(client_id.starts_with("dyn-"), "{login}");
    assert_eq!(reg["software_id"], "fhirdl-sandbox");
    assert_eq!(reg["key"]["alg"], "RS384");
    assert_eq!(
        login["refresh_token"], false,
        "Epic gives a public app none"
    );
    assert!(
        !login["warnings"].to_string().contains("offline access"),
        "registered, the sign-in stays alive: {login}"
    );
    assert_eq!(ctx.sandbox.stats().registrations, 1);
    let sign_in_pages = ctx.sandbox.stats().authorize_requests;

    let shown = status(&ctx);
    assert_eq!(shown["registration"]["client_id"], client_id.as_str());
    assert_eq!(shown["registration"]["key"]["kid"], reg["key"]["kid"]);
    assert!(shown["registration"]["key"]["created_at"].is_string());
    assert!(shown["registration"].get("der").is_none() && shown.to_string().len() < 20_000);
    let human = ctx.fhirdl(&["status"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains(&format!("as client id {client_id}")),
        "{}",
        text(&human)
    );

    // A day: every hour the access token is over, once by the clock here (expires_at), once by
    // the server (a 401 on the first request); no browser can open (`BROWSER=false`).
    for hour in 0..24u64 {
        ctx.sandbox.expire_access_tokens();
        if hour % 2 == 0 {
            expire_stored_token(&ctx, "e");
        }
        let mut c = ctx.command_with_browser("false");
        c.args(["sync", "--types", "Patient,Condition", "--json"]);
        if hour < 2 {
            // Traced with bodies: the assertion and the tokens must not reach the file.
            let trace = ctx.root().join(format!("trace-{hour}.jsonl"));
            c.args([
                "-vv",
                "--trace-file",
                trace.to_str().unwrap(),
                "--trace-bodies",
            ]);
        }
        let out = ctx.run(c);
        assert_eq!(code(&out), 0, "hour {hour}: {}", text(&out));
        assert_eq!(
            ctx.sandbox.stats().jwt_bearer_grants,
            hour + 1,
            "hour {hour}"
        );
    }
    let stats = ctx.sandbox.stats();
    assert_eq!(
        stats.authorize_requests, sign_in_pages,
        "no sign-in page after the first sign-in: {stats:?}"
    );
    assert_eq!(stats.refresh_grants, 0);
    ctx.assert_no_leaks();
}

#[test]
fn a_revoked_registration_asks_for_a_new_sign_in() {
    let ctx = epic(DynamicRegistration::Open);
    assert_eq!(code(&ctx.login("e", &["--register"])), 0);
    ctx.sandbox.revoke_registrations();
    ctx.sandbox.expire_access_tokens();
    let out = sync(&ctx);
    assert_eq!(code(&out), 4, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("this computer's registration"), "{err}");
    assert!(err.contains("fhirdl login --profile e"), "{err}");
    // Signing in again registers anew, and the backups go on.
    assert_eq!(code(&ctx.login("e", &[])), 0);
    ctx.sandbox.expire_access_tokens();
    assert_eq!(code(&sync(&ctx)), 0);
    assert_eq!(ctx.sandbox.stats().registrations, 2);
    ctx.assert_no_leaks();
}

#[test]
fn a_registration_refused_without_a_reason_is_named_with_its_fix() {
    let ctx = epic(DynamicRegistration::RefusedBare);
    let out = ctx.login("e", &["--register"]);
    assert_eq!(code(&out), 5, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused the registration without saying why"),
        "{err}"
    );
    assert!(
        err.contains("HTTP 400") && err.contains("software_id=fhirdl-sandbox"),
        "{err}"
    );
    assert!(
        err.contains("not enabled for dynamic client registration"),
        "{err}"
    );
    assert!(err.contains("--no-register"), "{err}");
    // The sign-in itself is kept: the hour of its access token is still usable.
    assert_eq!(status(&ctx)["signed_in"], true);
    assert_eq!(code(&sync(&ctx)), 0);

    // From a preset that registers by default, a refusal is a warning, not a failure.
    let out = ctx.run({
        let mut c = ctx.login_command("p", &["--provider", "epic"]);
        c.arg("--json");
        c
    });
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(json(&out)["warnings"]
        .to_string()
        .contains("without saying why"));
}

#[test]
fn no_register_and_logout_forget_the_registration_at_the_provider_too() {
    let ctx = epic(DynamicRegistration::Open);
    assert_eq!(code(&ctx.login("e", &["--register"])), 0);
    assert_eq!(ctx.sandbox.registered_clients(), 1);
    let entry = ctx
        .data_dir()
        .join("credentials")
        .join("e+registration.json");
    assert!(entry.exists());

    // Signing in again without registration deletes the old one there (RFC 7592) and here.
    let out = ctx.login("e", &["--no-register", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(json(&out)["registration"].is_null());
    assert_eq!(ctx.sandbox.registered_clients(), 0);
    assert!(!entry.exists());
    assert!(status(&ctx)["registration"].is_null());

    assert_eq!(code(&ctx.login("e", &["--register"])), 0);
    let out = ctx.fhirdl(&["logout", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(json(&out)["registration_forgotten"], true);
    assert_eq!(ctx.sandbox.registered_clients(), 0);
    assert_eq!(ctx.sandbox.stats().unregistrations, 2);
    assert!(!entry.exists());
    ctx.assert_no_leaks();
}

#[test]
fn a_provider_that_gives_a_refresh_token_needs_no_registration() {
    let ctx = TestContext::new(SandboxConfig {
        dynamic_registration: DynamicRegistration::Open,
        ..SandboxConfig::default()
    });
    let out = ctx.login("s", &["--register", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(json(&out)["registration"].is_null());
    assert!(json(&out)["warnings"]
        .to_string()
        .contains("gave a refresh token"));
    assert_eq!(ctx.sandbox.stats().registrations, 0);
}

#[test]
fn a_server_without_registration_says_so() {
    let ctx = epic(DynamicRegistration::Off);
    let out = ctx.login("e", &["--register"]);
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("offers no dynamic client registration"),
        "{}",
        text(&out)
    );
}
