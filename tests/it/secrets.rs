//! The secret harvest: one long scenario through everything that handles secrets — a
//! confidential client's login (secret from the environment) with `-vv` and a body trace, syncs
//! with `--trace-file --trace-bodies`, a refresh after the access token expired, `doctor
//! --report`, `status`, failures (a type the server breaks, a revoked sign-in, an unreachable
//! server) and `logout` — then every token, refresh token, id token, authorization code, PKCE
//! verifier and client secret the sandbox issued or received is searched for in every captured
//! stdout and stderr, every trace file and report, and every file fhirdl wrote outside the
//! credential store: zero hits. The same run checks that every file and folder fhirdl created
//! is owner-only.

use crate::common::{code, free_port, text, walk, TestContext};
use fhirdl_sandbox::{Hostile, HostileAnswer, HostileBody, SandboxConfig};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const CLIENT_SECRET: &str = "harvest-client-secret-0123456789";

#[test]
fn no_secret_issued_during_a_long_scenario_appears_anywhere_but_the_credential_store() {
    let ctx = TestContext::new(SandboxConfig {
        confidential_client: Some(("conf-app".into(), CLIENT_SECRET.into())),
        iss_parameter: true,
        access_token_ttl: std::time::Duration::from_secs(3600),
        ..SandboxConfig::default()
    });
    let root = ctx.root();
    let traces = root.join("traces");
    std::fs::create_dir(&traces).unwrap();
    let trace = |name: &str| traces.join(name).to_str().unwrap().to_string();
    let out_dir = ctx.data_dir().join("exports").join("c");
    let mut steps = 0;
    let mut step = |out: std::process::Output, want: i32| {
        steps += 1;
        assert_eq!(code(&out), want, "step {steps}: {}", text(&out));
        assert!(
            !text(&out).contains("panicked"),
            "step {steps}: {}",
            text(&out)
        );
    };

    // Sign in as a confidential client, with headers and bodies traced.
    let mut c = ctx.command();
    c.env("FHIRDL_CLIENT_SECRET", CLIENT_SECRET)
        .args([
            "login",
            "--profile",
            "c",
            "--fhir-base",
            &ctx.base(),
            "--client-id",
            "conf-app",
            "--confidential",
        ])
        .args(["--credential-store", "file", "--timeout", "20s", "-vv"])
        .args(["--trace-file", &trace("login.jsonl"), "--trace-bodies"]);
    step(ctx.run(c), 0);
    // Sync with a body trace, then again after the access token expired (a refresh).
    step(
        ctx.fhirdl(&[
            "sync",
            "--format",
            "both",
            "-vv",
            "--trace-file",
            &trace("sync.jsonl"),
            "--trace-bodies",
        ]),
        0,
    );
    ctx.sandbox.expire_access_tokens();
    step(
        ctx.fhirdl(&[
            "sync",
            "--full",
            "-v",
            "--json",
            "--trace-file",
            &trace("refresh.jsonl"),
            "--trace-bodies",
        ]),
        0,
    );
    assert!(ctx.sandbox.stats().refresh_grants >= 1);
    // The doctor's report, and status.
    step(
        ctx.fhirdl(&[
            "doctor",
            "--report",
            &trace("report.json"),
            "-vv",
            "--trace-file",
            &trace("doctor.jsonl"),
        ]),
        0,
    );
    step(ctx.fhirdl(&["status", "--json"]), 0);
    // A type the server breaks: a partial run, traced with bodies.
    ctx.sandbox.set_hostile(Hostile {
        answer: Some((
            "Observation".into(),
            HostileAnswer {
                status: 500,
                headers: vec![],
                body: HostileBody::Bytes(std::sync::Arc::new(b"<html>oops</html>".to_vec())),
            },
        )),
        ..Hostile::default()
    });
    step(
        ctx.fhirdl(&[
            "sync",
            "-vv",
            "--trace-file",
            &trace("partial.jsonl"),
            "--trace-bodies",
        ]),
        3,
    );
    ctx.sandbox.set_hostile(Hostile::default());
    // A revoked sign-in: login required.
    ctx.sandbox.revoke_all_tokens();
    ctx.sandbox.expire_access_tokens();
    step(ctx.fhirdl(&["sync", "-vv"]), 4);
    // Sign in again (a second code, verifier and token set), then an unreachable server.
    let mut c = ctx.command();
    c.env("FHIRDL_CLIENT_SECRET", CLIENT_SECRET)
        .args(["login", "--profile", "c", "-vv"])
        .args(["--trace-file", &trace("login2.jsonl"), "--trace-bodies"]);
    step(ctx.run(c), 0);
    let dead = format!("http://127.0.0.1:{}/fhir/r4", free_port());
    step(
        ctx.fhirdl(&[
            "doctor",
            "--fhir-base",
            &dead,
            "--report",
            &trace("dead.json"),
        ]),
        9,
    );
    step(ctx.fhirdl(&["logout", "-vv"]), 0);

    // The harvest.
    let secrets = ctx.sandbox.issued_secrets();
    assert!(secrets.iter().any(|s| s == CLIENT_SECRET));
    assert!(
        secrets.len() >= 10,
        "codes, verifiers, tokens of two logins and a refresh: {}",
        secrets.len()
    );
    let transcript = ctx.transcript();
    let mut scanned = vec![("every stdout and stderr".to_string(), transcript)];
    for f in walk(root) {
        if f.starts_with(ctx.data_dir().join("credentials")) {
            continue;
        }
        scanned.push((
            f.display().to_string(),
            String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned(),
        ));
    }
    let mut hits = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        for (name, content) in &scanned {
            if content.contains(s.as_str()) {
                hits.push(format!("{name} holds a secret of {} characters", s.len()));
            }
        }
    }
    eprintln!(
        "secret harvest: {} secrets issued or received by the sandbox, {} steps, {} outputs and files scanned ({} trace files and reports), {} hits",
        secrets.len(),
        steps,
        scanned.len(),
        std::fs::read_dir(&traces).unwrap().count(),
        hits.len()
    );
    assert!(hits.is_empty(), "{hits:#?}");

    // Owner-only: every folder fhirdl created is 0700, every file 0600 (the traces folder and
    // the test's root were made by the test).
    let mut checked = 0;
    for dir in [ctx.config_dir(), ctx.data_dir(), out_dir.clone()] {
        assert_owner_only(&dir, &mut checked);
    }
    for f in walk(&traces) {
        assert_mode(&f, 0o600);
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
}

fn assert_mode(p: &Path, want: u32) {
    let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, want, "{} is {mode:o}", p.display());
}

fn assert_owner_only(dir: &Path, checked: &mut usize) {
    assert_mode(dir, 0o700);
    *checked += 1;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            assert_owner_only(&p, checked);
        } else {
            assert_mode(&p, 0o600);
            *checked += 1;
        }
    }
}
