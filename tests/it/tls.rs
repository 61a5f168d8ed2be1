//! HTTPS: the sandbox with `tls` (ALPN h2 and http/1.1 on one port, a fresh self-signed
//! certificate) and `FHIRDL_CA_FILE`, which makes fhirdl trust that certificate besides the
//! built-in roots: sign-in and sync over HTTP/2, the refusal of an untrusted certificate, a bad
//! CA file, `doctor`, and `fhirdl sandbox --tls --ca-out`.

use crate::common::{
    assert_whole_compartment, code, doctor_check, json, signal, text, wait_output, walk,
    TestContext,
};
use fhirdl::tls::CA_FILE_ENV;
use fhirdl_sandbox::browser::{sign_in_with, Choices, Consent};
use fhirdl_sandbox::SandboxConfig;
use serde_json::Value;
use std::io::BufRead as _;
use std::process::{Output, Stdio};
use std::time::Duration;

fn tls_sandbox() -> TestContext {
    TestContext::new(SandboxConfig {
        tls: true,
        ..SandboxConfig::default()
    })
}

/// `fhirdl ARGS` trusting the sandbox's certificate.
fn trusting(ctx: &TestContext, args: &[&str]) -> Output {
    let mut c = ctx.command();
    c.env(CA_FILE_ENV, ctx.ca_file()).args(args);
    ctx.run(c)
}

fn login_trusting(ctx: &TestContext) -> Output {
    let mut c = ctx.login_command("a", &[]);
    c.env(CA_FILE_ENV, ctx.ca_file());
    ctx.run(c)
}

#[test]
fn login_and_sync_over_https_go_over_http2() {
    let ctx = tls_sandbox();
    assert!(
        ctx.base().starts_with("https://127.0.0.1:"),
        "{}",
        ctx.base()
    );
    let out = login_trusting(&ctx);
    assert_eq!(code(&out), 0, "{}", text(&out));

    let out = trusting(&ctx, &["sync", "--json", "-v"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    // `-v` says which requests went over HTTP/2.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(" → 200 (") && stderr.contains(", HTTP/2)"),
        "{stderr}"
    );
    let report = json(&out);
    let patient = ctx.patient("alice");
    assert_whole_compartment(&ctx.sandbox, &patient, &report, "over HTTP/2");
    // The documents came too: their URLs are https like every other the sandbox hands out.
    let dir = ctx.export_dir("a");
    let docs = std::fs::read_to_string(dir.join("DocumentReference.ndjson")).unwrap();
    assert!(docs.contains("\"url\":\"https://127.0.0.1:"), "{docs}");
    let pdfs = walk(&dir.join("attachments"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .count();
    assert_eq!(pdfs, docs.lines().count());
    let out = ctx.fhirdl(&["verify", "--out", &dir.display().to_string()]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    // Browser, discovery, tokens, FHIR searches and documents: all of it over HTTP/2.
    let stats = ctx.sandbox.stats();
    assert!(
        stats.fhir_requests > 0 && stats.token_requests > 0,
        "{stats:?}"
    );
    assert_eq!(stats.http2_requests, stats.requests, "{stats:?}");
    ctx.assert_no_leaks();
}

#[test]
fn an_untrusted_certificate_is_refused_and_named() {
    let ctx = tls_sandbox();
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 6, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TLS certificate is not trusted")
            && stderr.contains("UnknownIssuer")
            && stderr.contains("hint: ")
            && stderr.contains(CA_FILE_ENV),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!ctx.config_dir().join("config.toml").exists());
    assert!(
        walk(&ctx.data_dir()).is_empty(),
        "{:?}",
        walk(&ctx.data_dir())
    );
    // The handshake failed: no request reached the sandbox.
    assert_eq!(ctx.sandbox.stats().requests, 0);

    // Signed in with the certificate trusted, a sync without it stops at once, says why and
    // how to trust it (exit 6, as for the sign-in), and stores nothing.
    let out = login_trusting(&ctx);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let before = ctx.sandbox.stats().requests;
    let out = ctx.fhirdl(&["sync", "-v"]);
    assert_eq!(code(&out), 6, "{}", text(&out));
    let all = text(&out);
    // Asking again gets the same certificate: no retries.
    assert!(!all.contains("retry"), "{all}");
    assert!(
        all.contains("invalid peer certificate: UnknownIssuer")
            && all.contains("TLS certificate is not trusted")
            && all.contains("hint: ")
            && all.contains(CA_FILE_ENV)
            && !all.contains("again later"),
        "{all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    assert_eq!(ctx.sandbox.stats().requests, before);
    let records: Vec<_> = walk(&ctx.export_dir("a"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "ndjson" || e == "pdf"))
        .collect();
    assert!(records.is_empty(), "{records:?}");
}

#[test]
fn a_bad_ca_file_is_an_error_naming_the_variable_and_the_file() {
    let ctx = tls_sandbox();
    let garbage = ctx.root().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let damaged = ctx.root().join("damaged.pem");
    std::fs::write(
        &damaged,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let missing = ctx.root().join("missing.pem");
    for (file, why) in [
        (&missing, "cannot read the file"),
        (&garbage, "the file holds no PEM certificate"),
        (&damaged, "certificate 1 cannot be used as a trust root"),
    ] {
        let mut c = ctx.login_command("a", &[]);
        c.env(CA_FILE_ENV, file);
        let out = ctx.run(c);
        assert_eq!(code(&out), 2, "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let named = format!("error: {CA_FILE_ENV}={}: {why}", file.display());
        assert!(stderr.contains(&named), "{stderr}");
        assert!(
            stderr.contains("hint: set FHIRDL_CA_FILE to a PEM file"),
            "{stderr}"
        );
    }
    assert_eq!(ctx.sandbox.stats().requests, 0);
    assert!(walk(&ctx.data_dir()).is_empty());
}

#[test]
fn doctor_trusts_what_the_client_trusts() {
    let ctx = tls_sandbox();
    let out = login_trusting(&ctx);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = trusting(&ctx, &["doctor", "--profile", "a", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    let tls = doctor_check(&doc, "tls");
    assert_eq!(tls["status"], "ok", "{doc:#}");
    assert_eq!(tls["figures"]["verified"], true);
    assert_eq!(tls["figures"]["hostname_match"], true);
    assert_eq!(
        tls["figures"]["ca_file"],
        ctx.ca_file().display().to_string()
    );
    assert_eq!(doc["result"], "ok", "{doc:#}");

    // Without the file the doctor refuses the certificate as the client does, and says how.
    let out = ctx.fhirdl(&["doctor", "--fhir-base", &ctx.base(), "--json"]);
    assert_eq!(code(&out), 9, "{}", text(&out));
    let doc = json(&out);
    let tls = doctor_check(&doc, "tls");
    assert_eq!(tls["status"], "fail", "{doc:#}");
    assert!(
        tls["hint"].as_str().unwrap().contains(CA_FILE_ENV),
        "{tls:#}"
    );
}

#[test]
fn one_port_answers_http2_and_http1_and_every_url_is_https() {
    let ctx = tls_sandbox();
    let origin = ctx.sandbox.origin().to_string();
    assert!(origin.starts_with("https://"), "{origin}");
    let pem = ctx.sandbox.ca_pem().unwrap();
    let h1 = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .http1_only()
        .build()
        .unwrap();
    let smart = format!("{}/.well-known/smart-configuration", ctx.base());
    let (h2_version, h1_version, discovery) = ctx.block_on(async {
        let by_h2 = ctx.http().get(&smart).send().await.unwrap();
        let by_h1 = h1.get(&smart).send().await.unwrap();
        let versions = (by_h2.version(), by_h1.version());
        (versions.0, versions.1, by_h2.json::<Value>().await.unwrap())
    });
    assert_eq!(h2_version, reqwest::Version::HTTP_2);
    assert_eq!(h1_version, reqwest::Version::HTTP_11);
    assert_eq!(ctx.sandbox.stats().http2_requests, 1);
    for key in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
    ] {
        let url = discovery[key].as_str().unwrap();
        assert!(
            url.starts_with(origin.trim_end_matches('/')),
            "{key}: {url}"
        );
    }

    // Search pages: the next links and fullUrls are https too.
    let token = ctx.block_on(sign_in_trusting(&ctx, "alice"));
    let first = format!("Observation?patient={}&_count=5", ctx.patient("alice"));
    let pages = ctx.block_on(ctx.all_pages(&first, &token));
    assert!(pages.pages > 1 && !pages.links.is_empty());
    assert!(pages.links.iter().all(|l| l.starts_with(&origin)));
    assert!(pages
        .entries
        .iter()
        .all(|e| e["fullUrl"].as_str().unwrap().starts_with(&origin)));
    ctx.shutdown();
}

/// `fhirdl sandbox --tls --ca-out FILE`: the certificate lands in FILE (0600), the server
/// answers HTTPS with it, and Ctrl-C stops it.
#[test]
fn sandbox_command_serves_https_and_writes_its_certificate() {
    use std::os::unix::fs::PermissionsExt as _;
    let ctx = TestContext::with_defaults();
    let ca = ctx.root().join("out").join("ca.pem");
    let mut child = ctx
        .command()
        .args(["sandbox", "--port", "0", "--json", "--tls", "--ca-out"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let info = first_json_document(child.stdout.take().unwrap(), Duration::from_secs(60));
    let base = info["fhir_base"].as_str().unwrap().to_string();
    assert!(base.starts_with("https://127.0.0.1:"), "{info}");
    assert_eq!(info["ca_file"], ca.display().to_string());
    let mode = std::fs::metadata(&ca).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // fhirdl itself, trusting the file, reaches it (doctor's TLS and metadata checks).
    let mut c = ctx.command();
    c.env(CA_FILE_ENV, &ca)
        .args(["doctor", "--fhir-base", &base, "--json"]);
    let out = ctx.run(c);
    let doc = json(&out);
    for id in ["tls", "metadata", "smart_discovery"] {
        assert_eq!(doctor_check(&doc, id)["status"], "ok", "{id}: {doc:#}");
    }

    signal(child.id(), "INT");
    let out = wait_output(child, Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Stopping the sandbox"));
}

/// Reads `stdout` up to the end of its first JSON document (a line `}`) on a thread, with a
/// deadline, and parses it.
fn first_json_document(stdout: std::process::ChildStdout, timeout: Duration) -> Value {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut doc = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            doc.push_str(&line);
            doc.push('\n');
            if line == "}" {
                break;
            }
        }
        let _ = tx.send(doc);
    });
    let doc = rx
        .recv_timeout(timeout)
        .expect("the sandbox printed its JSON document");
    serde_json::from_str(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"))
}

/// Signs `username` in through the scripted browser trusting the sandbox's certificate (what
/// `fhirdl sandbox-browser` does with `FHIRDL_CA_FILE`); the access token.
async fn sign_in_trusting(ctx: &TestContext, username: &str) -> String {
    let url = ctx.authorize_url(crate::common::SCOPE, &[]);
    let roots = fhirdl::tls::ExtraRoots::from_file(&ctx.ca_file()).unwrap();
    let password = format!("{username}-sandbox");
    let outcome = sign_in_with(
        &url,
        username,
        &password,
        Consent::Allow,
        &Choices::default(),
        roots.certificates(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    let code = crate::common::query(&outcome.final_url, "code").unwrap();
    let (status, token) = ctx.exchange(&code).await;
    assert_eq!(status, 200, "{token}");
    token["access_token"].as_str().unwrap().to_string()
}

/// Over HTTP/2 fhirdl's default window grows past HTTP/1.1's 64 requests in flight (one
/// connection carries them; the server's stream limit applies): with every later page held by
/// the sandbox, more than 64 of them arrive at once. Nothing is timed: the test waits for the
/// held count, with a deadline.
#[test]
fn over_http2_more_than_64_requests_are_in_flight() {
    let ctx = TestContext::new(SandboxConfig {
        tls: true,
        resources_per_patient: 2_000,
        page_size_default: 10,
        page_size_max: 10,
        ..SandboxConfig::default()
    });
    let out = login_trusting(&ctx);
    assert_eq!(code(&out), 0, "{}", text(&out));
    // Every page after the first of every search waits here until released, then every
    // document.
    let hold = ctx.sandbox.hold("_offset=");
    let documents = ctx.sandbox.hold("/Binary/");
    let mut c = ctx.command();
    c.env(CA_FILE_ENV, ctx.ca_file())
        .args(["sync", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let many = hold.wait_held(65, Duration::from_secs(120));
    let held = hold.held();
    hold.release();
    // The documents follow the window (the sandbox's announce their sizes, all small).
    let many_documents = documents.wait_held(65, Duration::from_secs(120));
    let held_documents = documents.held();
    documents.release();
    let out = wait_output(child, Duration::from_secs(300));
    assert!(many, "only {held} later pages were in flight at once");
    assert!(
        many_documents,
        "only {held_documents} documents were in flight at once"
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stats = ctx.sandbox.stats();
    assert!(stats.max_in_flight > 64, "{stats:?}");
    assert_eq!(stats.http2_requests, stats.requests, "{stats:?}");
}
