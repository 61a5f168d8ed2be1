//! `fhirdl login`, `status`, `logout` and profiles, run as the real binary against the embedded
//! sandbox.

use crate::common::{bin, code, free_port, json, text, TestContext};
use fhirdl_sandbox::{FhirFlavor, SandboxConfig};
use std::io::{BufRead, BufReader, Write};

#[test]
fn login_with_ephemeral_port_then_status_and_json() {
    let ctx = TestContext::with_defaults();
    let out = ctx.login("alice", &["-v"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let alice = &ctx.sandbox.users()[0];
    assert!(stdout.contains(&alice.patient_id), "{}", text(&out));
    assert!(
        stdout.contains("patient/*.rs"),
        "v2 scopes expected: {}",
        text(&out)
    );
    // -v traces HTTP exchanges with codes and verifiers redacted.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("http: POST") && stderr.contains("/oauth/token"),
        "{stderr}"
    );

    // The credential file is owner-only and the settings file holds no token.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ctx.credential_file("alice"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(ctx.data_dir().join("credentials"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }
    let config = std::fs::read_to_string(ctx.config_dir().join("config.toml")).unwrap();
    assert!(config.contains("[profiles.alice]") && config.contains("credential_store = \"file\""));

    // Later commands need only --profile (here: not even that, it is the default).
    let status = ctx.fhirdl(&["status", "--json"]);
    assert_eq!(code(&status), 0, "{}", text(&status));
    let doc = json(&status);
    let p = &doc["profiles"][0];
    assert_eq!(p["profile"], "alice");
    assert_eq!(p["patient"], alice.patient_id.as_str());
    assert_eq!(p["patient_name"], alice.display_name.as_str());
    assert_eq!(p["fhir_version"], "R4");
    assert_eq!(p["refresh_token"], true);
    assert!(p["credential_store"].as_str().unwrap().starts_with("file"));

    let human = ctx.fhirdl(&["status", "--profile", "alice"]);
    let s = String::from_utf8_lossy(&human.stdout);
    assert!(
        s.contains("refresh token: held since") && s.contains(&alice.display_name),
        "{}",
        text(&human)
    );

    let list = ctx.fhirdl(&["profile", "list", "--json"]);
    assert_eq!(json(&list)["profiles"][0]["profile"], "alice");
    let show = ctx.fhirdl(&["profile", "show", "alice"]);
    assert!(String::from_utf8_lossy(&show.stdout).contains("client_id = \"fhirdl-sandbox\""));
    ctx.assert_no_leaks();
}

#[test]
fn fixed_port_and_path_for_an_exactly_registered_redirect_uri() {
    let port = free_port();
    let registered = format!("http://127.0.0.1:{port}/oauth/cb");
    let ctx = TestContext::new(SandboxConfig {
        registered_redirect_uris: Some(vec![registered.clone()]),
        ..SandboxConfig::default()
    });
    let out = ctx.login(
        "fixed",
        &[
            "--port",
            &port.to_string(),
            "--redirect-path",
            "/oauth/cb",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(json(&out)["redirect_uri"], registered.as_str());

    // Without the fixed port the server refuses the redirect URI in the browser; fhirdl gives
    // up after --timeout with a hint naming the redirect URI.
    let mut c = ctx.command();
    c.args([
        "login",
        "--profile",
        "other",
        "--fhir-base",
        &ctx.base(),
        "--client-id",
        "fhirdl-sandbox",
    ])
    .args(["--credential-store", "file", "--timeout", "3s"]);
    let out = ctx.run(c);
    assert_eq!(code(&out), 5, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("redirect URI") && err.contains("--port"),
        "{err}"
    );
}

#[test]
fn deny_in_the_browser_is_a_clear_failure() {
    let ctx = TestContext::with_defaults();
    let mut c = ctx.command_with_browser(&format!("{} sandbox-browser --deny", bin().display()));
    c.args([
        "login",
        "--profile",
        "p",
        "--fhir-base",
        &ctx.base(),
        "--client-id",
        "fhirdl-sandbox",
    ])
    .args(["--credential-store", "file", "--timeout", "20s"]);
    let out = ctx.run(c);
    assert_eq!(code(&out), 5, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("access_denied") && err.contains("Allow"),
        "{err}"
    );
    assert!(
        err.contains("error: access was declined on the provider's consent page"),
        "{err}"
    );
    assert!(!ctx.credential_file("p").exists());
    assert!(
        !ctx.config_dir().join("config.toml").exists(),
        "a failed login must not save a profile"
    );
}

#[test]
fn a_callback_with_the_wrong_state_is_refused() {
    let ctx = TestContext::with_defaults();
    let mut c = ctx.command_with_browser(&format!(
        "{} sandbox-browser --tamper-state",
        bin().display()
    ));
    c.args([
        "login",
        "--profile",
        "p",
        "--fhir-base",
        &ctx.base(),
        "--client-id",
        "fhirdl-sandbox",
    ])
    .args(["--credential-store", "file", "--timeout", "20s"]);
    let out = ctx.run(c);
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong 'state'"),
        "{}",
        text(&out)
    );
    assert_eq!(
        ctx.sandbox.stats().token_requests,
        0,
        "no code may be exchanged after a state mismatch"
    );
}

#[test]
fn timeout_when_no_browser_answers() {
    let ctx = TestContext::with_defaults();
    let mut c = ctx.command_with_browser("false");
    c.args([
        "login",
        "--profile",
        "p",
        "--fhir-base",
        &ctx.base(),
        "--client-id",
        "fhirdl-sandbox",
    ])
    .args(["--credential-store", "file", "--timeout", "2s"]);
    let out = ctx.run(c);
    assert_eq!(code(&out), 5, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No browser could be started"), "{err}");
    assert!(
        err.contains("/oauth/authorize?"),
        "the address must be printed: {err}"
    );
    assert!(err.contains("--timeout"), "{err}");
}

#[test]
fn paste_mode_for_remote_machines() {
    let ctx = TestContext::new(SandboxConfig {
        auto_login: Some("bob".into()),
        ..SandboxConfig::default()
    });
    let out = login_by_pasting(
        &ctx,
        "remote",
        &["--paste"],
        "http://127.0.0.1:",
        |landed| {
            assert!(landed.contains("code="), "{landed}");
            format!("  {landed}  ")
        },
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bob = &ctx.sandbox.users()[1];
    assert!(String::from_utf8_lossy(&out.stdout).contains(&bob.patient_id));
}

#[test]
fn confidential_client_with_basic_and_post_authentication() {
    for methods in [vec!["client_secret_basic"], vec!["client_secret_post"]] {
        let ctx = TestContext::new(SandboxConfig {
            confidential_client: Some(("conf-app".into(), "s3cret-value-123".into())),
            token_auth_methods: methods.iter().map(|s| s.to_string()).collect(),
            ..SandboxConfig::default()
        });
        // Without the secret and without a terminal: a clear usage error, before any browser.
        let mut c = ctx.command();
        c.args([
            "login",
            "--profile",
            "c",
            "--fhir-base",
            &ctx.base(),
            "--client-id",
            "conf-app",
        ])
        .args(["--credential-store", "file", "--confidential"]);
        let out = ctx.run(c);
        assert_eq!(code(&out), 2, "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("FHIRDL_CLIENT_SECRET"));
        assert_eq!(ctx.sandbox.stats().authorize_requests, 0);

        let mut c = ctx.command();
        c.env("FHIRDL_CLIENT_SECRET", "s3cret-value-123")
            .args([
                "login",
                "--profile",
                "c",
                "--fhir-base",
                &ctx.base(),
                "--client-id",
                "conf-app",
            ])
            .args(["--credential-store", "file", "-vv"]);
        let out = ctx.run(c);
        assert_eq!(code(&out), 0, "{methods:?}: {}", text(&out));
        // The secret was kept for refreshes: a refresh works without the variable.
        ctx.sandbox.expire_access_tokens();
        let out = ctx.fhirdl(&["status", "--profile", "c"]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert_eq!(ctx.sandbox.stats().refresh_grants, 1);
        ctx.assert_no_leaks();
        assert!(!ctx.transcript().contains("s3cret-value-123"));
    }
}

#[test]
fn dstu2_server_found_through_its_conformance_statement() {
    let ctx = TestContext::new(SandboxConfig {
        flavor: FhirFlavor::Dstu2,
        smart_configuration: false,
        ..SandboxConfig::default()
    });
    assert!(ctx.base().ends_with("/fhir/dstu2"));
    let out = ctx.login("old", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("patient/*.read"),
        "v1 scopes for a server without v2: {stdout}"
    );
    let doc = json(&ctx.fhirdl(&["status", "--json"]));
    assert_eq!(doc["profiles"][0]["fhir_version"], "DSTU2");
    let config = std::fs::read_to_string(ctx.config_dir().join("config.toml")).unwrap();
    assert!(config.contains("source = \"conformance\""), "{config}");
}

#[test]
fn refresh_rotates_and_saves_the_new_refresh_token() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.credential_file("a")).unwrap()).unwrap();
    ctx.sandbox.expire_access_tokens();
    let out = ctx.fhirdl(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(ctx.sandbox.stats().refresh_grants, 1);
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.credential_file("a")).unwrap()).unwrap();
    assert_ne!(
        before["refresh_token"], after["refresh_token"],
        "the rotated refresh token must be saved"
    );
    assert_ne!(before["access_token"], after["access_token"]);
    // The old refresh token is dead at the server; the saved one works: a second expiry refreshes again.
    ctx.sandbox.expire_access_tokens();
    assert_eq!(code(&ctx.fhirdl(&["status"])), 0);
    assert_eq!(ctx.sandbox.stats().refresh_grants, 2);
    // Nothing to refresh now.
    assert_eq!(code(&ctx.fhirdl(&["status"])), 0);
    assert_eq!(ctx.sandbox.stats().refresh_grants, 2);
    ctx.assert_no_leaks();
}

#[test]
fn invalid_grant_asks_for_a_new_login() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("a", &[])), 0);
    ctx.sandbox.revoke_all_tokens();
    let out = ctx.fhirdl(&["status", "--profile", "a"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    let s = text(&out);
    assert!(s.contains("fhirdl login --profile a"), "{s}");
    assert!(s.contains("invalid_grant"), "{s}");
    assert!(s.contains("expired or was revoked"), "{s}");
    // Offline status does not contact the server and succeeds.
    assert_eq!(code(&ctx.fhirdl(&["status", "--offline"])), 0);
}

#[test]
fn logout_revokes_then_forgets() {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("a", &[])), 0);
    assert_eq!(code(&ctx.login("b", &[])), 0);
    let out = ctx.fhirdl(&["logout", "--profile", "a", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(
        doc["revoked"],
        serde_json::json!(["refresh token", "access token"])
    );
    assert_eq!(doc["profile_removed"], true);
    assert_eq!(ctx.sandbox.stats().revocations, 2);
    assert!(!ctx.credential_file("a").exists());
    let out = ctx.fhirdl(&["status", "--profile", "a"]);
    assert_eq!(code(&out), 2, "{}", text(&out));

    let out = ctx.fhirdl(&["logout", "--profile", "b", "--keep-profile"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = ctx.fhirdl(&["status", "--profile", "b"]);
    assert_eq!(code(&out), 4, "kept profile, no tokens: {}", text(&out));
    ctx.assert_no_leaks();
}

#[test]
fn offline_access_not_granted_is_warned_about() {
    let ctx = TestContext::new(SandboxConfig {
        granted_scope_override: Some("launch/patient openid fhirUser patient/*.rs".into()),
        ..SandboxConfig::default()
    });
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("offline access was not granted"),
        "{}",
        text(&out)
    );
}

#[test]
fn bad_input_gives_usage_errors() {
    let ctx = TestContext::with_defaults();
    let out = ctx.fhirdl(&[
        "login",
        "--fhir-base",
        "http://example.org/fhir",
        "--client-id",
        "x",
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not https"));
    let out = ctx.fhirdl(&["login", "--fhir-base", &ctx.base()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--client-id"));
    // Nothing saved yet: status says how to begin, like `profile list`.
    let out = ctx.fhirdl(&["status"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = ctx.fhirdl(&[
        "login",
        "--profile",
        "../x",
        "--fhir-base",
        &ctx.base(),
        "--client-id",
        "x",
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    // Not a SMART server: an HTML page where JSON was expected.
    let html = format!("{}oauth", ctx.sandbox.origin());
    let out = ctx.fhirdl(&[
        "login",
        "--profile",
        "h",
        "--fhir-base",
        &html,
        "--client-id",
        "x",
        "--credential-store",
        "file",
    ]);
    assert_eq!(code(&out), 6, "{}", text(&out));
}

#[test]
fn providers_and_help_work_offline() {
    let ctx = TestContext::with_defaults();
    let out = ctx.fhirdl(&["providers", "--json"]);
    assert_eq!(code(&out), 0);
    let names: Vec<String> = json(&out)["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    for n in [
        "nextgen-enterprise-r4",
        "nextgen-enterprise-dstu2",
        "nextgen-office-r4",
        "smart-sandbox",
    ] {
        assert!(names.contains(&n.to_string()), "{n}");
    }
    for cmd in [
        "login",
        "status",
        "logout",
        "providers",
        "completions",
        "sandbox",
        "demo",
        "sync",
        "doctor",
        "profile",
    ] {
        let out = ctx.fhirdl(&[cmd, "--help"]);
        assert_eq!(code(&out), 0);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Examples:"),
            "{cmd} --help lacks examples"
        );
    }
}

#[test]
fn demo_signs_in_against_the_embedded_sandbox() {
    let ctx = TestContext::with_defaults();
    let out = ctx.fhirdl(&["demo", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["login"]["profile"], "demo");
    assert!(
        doc["login"]["patient_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "{doc}"
    );
    let stored = |k: &str| -> u64 {
        doc[k]["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["stored"].as_u64().unwrap())
            .sum()
    };
    assert!(stored("full_sync") > 100, "{doc}");
    assert_eq!(stored("full_sync"), stored("incremental_sync"));
    let updated: u64 = doc["incremental_sync"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["updated"].as_u64().unwrap())
        .sum();
    assert_eq!(updated, 1, "{doc}");
    // A second demo run starts afresh and works too.
    let again = ctx.fhirdl(&["demo", "-q"]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(ctx
        .data_dir()
        .join("demo/data/credentials/demo.json")
        .exists());
    assert!(
        !ctx.config_dir().join("config.toml").exists(),
        "the demo must not touch real profiles"
    );
}

/// `fhirdl login` of profile `profile` with `flags` that make it ask for the address the browser
/// landed on (`--paste`, `--redirect-uri`): the "browser" on another computer follows
/// the printed authorize URL without loading the redirect, and what `paste` makes of the address
/// it landed on is pasted.
fn login_by_pasting(
    ctx: &TestContext,
    profile: &str,
    flags: &[&str],
    lands_at: &str,
    paste: impl Fn(&str) -> String,
) -> std::process::Output {
    let mut c = ctx.command_with_browser("false");
    c.args(["login", "--profile", profile, "--fhir-base", &ctx.base()])
        .args([
            "--client-id",
            "fhirdl-sandbox",
            "--credential-store",
            "file",
        ])
        .args(flags)
        .args(["--timeout", "20s"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let authorize = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no authorize URL printed:\n{seen}"
        );
        seen.push_str(&line);
        if let Some(u) = line
            .trim()
            .strip_prefix("http")
            .filter(|u| u.contains("/oauth/authorize?"))
        {
            break format!("http{u}");
        }
    };
    let landed: String = ctx.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = client.get(&authorize).send().await.unwrap();
        resp.headers()["location"].to_str().unwrap().to_string()
    });
    assert!(landed.starts_with(lands_at), "{landed}");
    writeln!(child.stdin.take().unwrap(), "{}", paste(&landed)).unwrap();
    let mut out = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    out.stderr = format!("{seen}{rest}").into_bytes();
    out
}

#[test]
fn a_registered_https_redirect_is_pasted_back_with_the_same_checks() {
    const REGISTERED: &str = "https://app.example.org/fhirdl/callback";
    let ctx = TestContext::new(SandboxConfig {
        auto_login: Some("bob".into()),
        registered_redirect_uris: Some(vec![REGISTERED.into()]),
        ..SandboxConfig::default()
    });
    let out = login_by_pasting(
        &ctx,
        "web",
        &["--redirect-uri", REGISTERED],
        REGISTERED,
        |landed| format!("  {landed} "),
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("may show an error or a blank page"),
        "{}",
        text(&out)
    );
    let status = ctx.fhirdl(&["status", "--profile", "web", "--json"]);
    assert_eq!(json(&status)["profiles"][0]["redirect_uri"], REGISTERED);
    // Kept in the profile: the next login pastes again without the flag.
    assert!(
        std::fs::read_to_string(ctx.config_dir().join("config.toml"))
            .unwrap()
            .contains(REGISTERED)
    );

    // An address from elsewhere, or one whose state was changed, is refused.
    let out = login_by_pasting(
        &ctx,
        "web2",
        &["--redirect-uri", REGISTERED],
        REGISTERED,
        |landed| landed.replace("app.example.org", "evil.example"),
    );
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(
        text(&out).contains("not at the redirect URI"),
        "{}",
        text(&out)
    );
    let out = login_by_pasting(
        &ctx,
        "web3",
        &["--redirect-uri", REGISTERED],
        REGISTERED,
        |landed| landed.replace("state=", "state=x"),
    );
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(text(&out).contains("state"), "{}", text(&out));
}
