//! Sign-in as a certification test kit checks it: the id_token validated (signature
//! against the JWKS, iss, aud, exp, nonce), keys cached and fetched again after a rotation.

use crate::common::{code, json, text, TestContext};
use fhirdl_sandbox::{Hostile, IdTokenFault, SandboxConfig};

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
    // No id_token although openid was granted: the login works (the patient context comes
    // from the token response) and says that who signed in could not be checked.
    ctx.sandbox.set_hostile(Hostile {
        id_token: Some(IdTokenFault::Omitted),
        ..Hostile::default()
    });
    let out = ctx.login("alice", &["--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    assert!(report["id_token"].is_null(), "{report}");
    assert!(
        report["warnings"].to_string().contains("sent no id_token"),
        "{report}"
    );
    std::fs::remove_file(ctx.credential_file("alice")).unwrap();
    std::fs::remove_file(ctx.config_dir().join("config.toml")).unwrap();

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

/// A proxy (a parent) signs in twice, once for each child: "Signed in as Pat Proxy
/// (RelatedPerson) for …", one profile per patient, and `status` names both.
#[test]
fn a_proxy_with_two_patients_gets_one_profile_per_patient() {
    let ctx = TestContext::with_defaults();
    let proxy = ctx.sandbox.proxy();
    let users = ctx.sandbox.users();
    assert!(proxy.patients.len() >= 2);
    let login_for = |patient: &str| proxy_login(&ctx, &format!("--patient {patient}"), &[]);
    let first = login_for(&users[0].patient_id);
    assert_eq!(code(&first), 0, "{}", text(&first));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains(&format!(
            "Signed in as Pat Proxy (RelatedPerson) for {}",
            users[0].display_name
        )),
        "{}",
        text(&first)
    );
    let second = login_for(&users[1].patient_id);
    assert_eq!(code(&second), 0, "{}", text(&second));
    let other = format!("kids-{}", users[1].patient_id);
    assert!(
        text(&second).contains(&format!("saved as profile '{other}'")),
        "{}",
        text(&second)
    );

    let status = ctx.fhirdl(&["status", "--all", "--json"]);
    assert_eq!(code(&status), 0, "{}", text(&status));
    let doc = json(&status);
    let profiles = doc["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 2, "{doc}");
    for (p, user) in profiles.iter().zip(&users) {
        assert_eq!(p["patient"], user.patient_id.as_str(), "{doc}");
        assert_eq!(p["patient_name"], user.display_name.as_str(), "{doc}");
        assert_eq!(p["signed_in_as"], "Pat Proxy (RelatedPerson)", "{doc}");
    }
    let human = ctx.fhirdl(&["status", "--all"]);
    let s = String::from_utf8_lossy(&human.stdout);
    assert!(
        s.contains(&users[0].display_name) && s.contains(&users[1].display_name),
        "{s}"
    );
    assert!(
        s.contains("signed in as:  Pat Proxy (RelatedPerson)"),
        "{s}"
    );
    ctx.assert_no_leaks();
}

/// SMART 2.2 token-response fields are kept and shown by `status --json`.
#[test]
fn smart_2_2_context_is_kept_and_shown() {
    let ctx = TestContext::with_defaults();
    let out = ctx.login("alice", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let status = ctx.fhirdl(&["status", "--json", "--offline"]);
    let doc = json(&status);
    let launch = &doc["profiles"][0]["launch_context"];
    assert_eq!(launch["need_patient_banner"], false, "{doc}");
    assert_eq!(launch["tenant"], "sandbox", "{doc}");
    assert!(launch["smart_style_url"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/smart-style.json"));
    assert_eq!(
        launch["fhirContext"][0]["reference"],
        format!("Patient/{}", ctx.sandbox.users()[0].patient_id).as_str()
    );
    assert!(doc["profiles"][0]["signed_in_as"].is_null());
}

/// The patient allows only their Patient record and laboratory Observations on the consent
/// page: sync searches Observation only with `category=laboratory`, asks for nothing else, says
/// once what was not granted, and ends with exit 0.
#[test]
fn a_consent_for_laboratory_results_only_drives_the_plan() {
    let ctx = TestContext::with_defaults();
    let granted = "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs?category=laboratory";
    let grants: Vec<String> = granted
        .split_whitespace()
        .map(|s| format!("--grant {s}"))
        .collect();
    let browser = format!(
        "{} sandbox-browser {}",
        crate::common::bin().display(),
        grants.join(" ")
    );
    let mut c = ctx.command_with_browser(&browser);
    c.args(["login", "--profile", "lab", "--fhir-base", &ctx.base()])
        .args([
            "--client-id",
            "fhirdl-sandbox",
            "--credential-store",
            "file",
        ])
        .args(["--timeout", "20s"]);
    let out = ctx.run(c);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        !text(&out).contains("no read access"),
        "granular scopes are read access: {}",
        text(&out)
    );

    let trace = ctx.root().join("trace.jsonl");
    let trace_arg = trace.display().to_string();
    let out = ctx.fhirdl(&[
        "sync",
        "--profile",
        "lab",
        "--json",
        "--trace-file",
        &trace_arg,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("not granted at sign-in: ")
            && warnings.contains("Condition")
            && warnings.contains("run `fhirdl login` again and allow them to include them"),
        "{report}"
    );
    let obs = crate::common::type_report(&report, "Observation");
    assert!(
        obs["warnings"]
            .to_string()
            .contains("limited by the granted scopes: only category=laboratory searched"),
        "{obs}"
    );
    assert!(obs["fetched"].as_u64().unwrap_or(0) > 0, "{obs}");
    assert!(crate::common::type_report(&report, "Condition").is_null());
    assert_eq!(obs["completeness"]["status"], "unverified", "{obs}");
    // References to types not granted are not read (no 403 noise), and said once.
    assert!(!report.to_string().contains("HTTP 403"), "{report}");
    assert!(
        warnings.contains("referenced resources were not read") || !warnings.contains("Encounter/"),
        "{report}"
    );

    // Every request for Observation asked for laboratory results only; no type that was not
    // granted was searched for the patient.
    let lines = std::fs::read_to_string(&trace).unwrap();
    let urls: Vec<String> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["url"].as_str().map(str::to_string))
        .collect();
    let observation: Vec<&String> = urls.iter().filter(|u| u.contains("/Observation")).collect();
    assert!(!observation.is_empty());
    for u in &observation {
        assert!(u.contains("category=laboratory"), "{u}");
    }
    for ty in [
        "Condition",
        "Encounter",
        "MedicationRequest",
        "DocumentReference",
    ] {
        let search = format!("/{ty}?patient=");
        assert!(
            !urls.iter().any(|u| u.contains(&search)),
            "{ty} was searched"
        );
    }
    assert!(
        !urls
            .iter()
            .any(|u| u.contains("/Encounter?_id=") || u.contains("/Encounter/")),
        "a reference to a type not granted was read"
    );
    // doctor probes what was granted, as sync searches it, and names the rest.
    let out = ctx.fhirdl(&["doctor", "--profile", "lab", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    let probes = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "type_probes")
        .cloned()
        .unwrap();
    assert_eq!(probes["status"], "ok", "{probes}");
    let detail = probes["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("1 types searched: 1 answered")
            && detail.contains("not granted at sign-in (not searched): ")
            && detail.contains("Condition"),
        "{detail}"
    );
    let lab_only =
        std::fs::read_to_string(ctx.export_dir("lab").join("Observation.ndjson")).unwrap();
    assert!(lab_only.lines().all(|l| l.contains("laboratory")));
    let lab_count = lab_only.lines().count();

    // Signed in again with everything allowed: the next sync fetches Observation whole, not
    // incrementally from the lab-only mark (which says nothing about the other categories).
    let mut c = ctx.command();
    c.args(["login", "--profile", "lab", "--fhir-base", &ctx.base()])
        .args([
            "--client-id",
            "fhirdl-sandbox",
            "--credential-store",
            "file",
        ])
        .args(["--timeout", "20s"]);
    assert_eq!(code(&ctx.run(c)), 0);
    let out = ctx.fhirdl(&["sync", "--profile", "lab", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let obs = crate::common::type_report(&report, "Observation");
    assert_eq!(obs["incremental"], false, "{obs}");
    assert!(obs["stored"].as_u64().unwrap() > lab_count as u64, "{obs}");
    assert!(
        !report["warnings"].to_string().contains("not granted"),
        "{report}"
    );
    ctx.assert_no_leaks();
}

/// The sandbox enforces granular scopes as a server would: a search must carry the granted
/// query, and a read by id is allowed only for a resource that matches it.
#[test]
fn the_sandbox_enforces_granular_scopes() {
    let ctx = TestContext::with_defaults();
    let alice = ctx.patient("alice");
    ctx.block_on(async {
        let body = ctx
            .sign_in(
                "alice",
                "launch/patient patient/Observation.rs?category=laboratory",
            )
            .await;
        assert_eq!(
            body["scope"],
            "launch/patient patient/Observation.rs?category=laboratory"
        );
        let token = body["access_token"].as_str().unwrap();
        let (status, _) = ctx
            .get_json(&format!("Observation?patient={alice}"), token)
            .await;
        assert_eq!(status, 403, "a search without the granted query");
        let (status, _) = ctx
            .get_json(
                &format!("Observation?patient={alice}&category=vital-signs"),
                token,
            )
            .await;
        assert_eq!(status, 403, "another category");
        let (status, lab) = ctx
            .get_json(
                &format!("Observation?patient={alice}&category=laboratory"),
                token,
            )
            .await;
        assert_eq!(status, 200);
        let lab_id = lab["entry"][0]["resource"]["id"].as_str().unwrap();
        let (status, _) = ctx.get_json(&format!("Observation/{lab_id}"), token).await;
        assert_eq!(status, 200, "a laboratory result read by id");

        // A vital sign, found with a whole grant, cannot be read with the lab-only one.
        let whole = ctx.sign_in("alice", "launch/patient patient/*.rs").await;
        let (_, vitals) = ctx
            .get_json(
                &format!("Observation?patient={alice}&category=vital-signs"),
                whole["access_token"].as_str().unwrap(),
            )
            .await;
        let vital_id = vitals["entry"][0]["resource"]["id"].as_str().unwrap();
        let (status, _) = ctx
            .get_json(&format!("Observation/{vital_id}"), token)
            .await;
        assert_eq!(
            status, 403,
            "a vital sign read by id under a lab-only grant"
        );
    });
}

/// A proxy whose sign-in comes back without a patient: the id_token names a RelatedPerson, who
/// cannot stand in for the patient, so the login stops, says who signed in and what to do.
#[test]
fn a_proxy_without_patient_context_is_refused_with_the_next_step() {
    let ctx = TestContext::new(SandboxConfig {
        quirks: fhirdl_sandbox::Quirks {
            hostile: Hostile {
                token_without_patient: true,
                ..Hostile::default()
            },
            ..fhirdl_sandbox::Quirks::default()
        },
        ..SandboxConfig::default()
    });
    let out = proxy_login(&ctx, "", &["--timeout", "20s"]);
    assert_eq!(code(&out), 5, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("did not say which patient record is yours")
            && stderr.contains("/RelatedPerson/proxy-carol")
            && stderr.contains("hint: ")
            && stderr.contains("then run `fhirdl login` again"),
        "{}",
        text(&out)
    );
    assert!(!ctx.credential_file("kids").exists());
}

/// `fhirdl login --profile kids` as the sandbox's proxy user (the scripted browser gets
/// `browser_extra`, the login `extra`).
pub(crate) fn proxy_login(
    ctx: &TestContext,
    browser_extra: &str,
    extra: &[&str],
) -> std::process::Output {
    let proxy = ctx.sandbox.proxy();
    let browser = format!(
        "{} sandbox-browser --user {} --password {} {browser_extra}",
        crate::common::bin().display(),
        proxy.username,
        proxy.password
    );
    let mut c = ctx.command_with_browser(&browser);
    c.args(["login", "--profile", "kids", "--fhir-base", &ctx.base()])
        .args([
            "--client-id",
            "fhirdl-sandbox",
            "--credential-store",
            "file",
        ])
        .args(extra);
    ctx.run(c)
}

/// `fhirdl login` of profile `p` with `client_id` and a short timeout, for refusals that never
/// come back to the loopback listener.
fn login_refused_in_the_browser(ctx: &TestContext, client_id: &str) -> std::process::Output {
    let mut c = ctx.command();
    c.args(["login", "--profile", "p", "--fhir-base", &ctx.base()])
        .args(["--client-id", client_id, "--credential-store", "file"])
        .args(["--timeout", "3s"]);
    ctx.run(c)
}

/// A provider shows an unregistered redirect URI as a page: after the timeout the hint names
/// the redirect URI sent and the flags that make it exact.
#[test]
fn an_unregistered_redirect_uri_is_named_with_the_flags_that_fix_it() {
    let ctx = TestContext::new(SandboxConfig {
        registered_redirect_uris: Some(vec!["http://127.0.0.1:1/registered".into()]),
        ..SandboxConfig::default()
    });
    let out = login_refused_in_the_browser(&ctx, "fhirdl-sandbox");
    assert_eq!(code(&out), 5, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let hint = err.lines().find(|l| l.starts_with("hint:")).unwrap_or("");
    assert!(
        hint.contains("redirect URI http://127.0.0.1:") && hint.contains("/callback"),
        "{err}"
    );
    for flag in ["--port", "--redirect-path", "--redirect-host"] {
        assert!(hint.contains(flag), "{err}");
    }
}

/// An unknown client id: at sign-in the provider's page says so (the hint names the client
/// id); at a refresh the token endpoint answers `invalid_client` (exit 5, cause and fix).
#[test]
fn an_unknown_client_id_is_named_at_sign_in_and_at_refresh() {
    let ctx = TestContext::new(SandboxConfig {
        access_token_ttl: std::time::Duration::from_secs(5),
        ..SandboxConfig::default()
    });
    let out = login_refused_in_the_browser(&ctx, "no-such-app");
    assert_eq!(code(&out), 5, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("client id 'no-such-app'") && err.contains("enabled for this provider"),
        "{err}"
    );

    assert_eq!(code(&ctx.login("a", &[])), 0);
    let config = ctx.config_dir().join("config.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        toml.replace("\"fhirdl-sandbox\"", "\"no-such-app\""),
    )
    .unwrap();
    // status shows the failure of each profile on its "problem:" line.
    let out = ctx.fhirdl(&["status", "--profile", "a"]);
    let all = text(&out);
    assert_eq!(code(&out), 5, "{all}");
    assert!(
        all.contains("does not accept the client id 'no-such-app'")
            && all.contains("invalid_client"),
        "{all}"
    );
    assert!(
        all.contains("check the client id") && all.contains("fhirdl login --profile a"),
        "{all}"
    );
    ctx.assert_no_leaks();
}

/// Granted less than asked: the login says, scope by scope, what was left out.
#[test]
fn scopes_granted_less_than_requested_are_listed() {
    let ctx = TestContext::new(SandboxConfig {
        granted_scope_override: Some("launch/patient offline_access patient/*.rs".into()),
        ..SandboxConfig::default()
    });
    let out = ctx.login("a", &["--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let warnings = json(&out)["warnings"].to_string();
    assert!(
        warnings.contains("granted less than requested")
            && warnings.contains("openid: NOT granted"),
        "{warnings}"
    );
}
