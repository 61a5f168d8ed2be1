//! The signed-in session used in-process: concurrent 401s collapse into one refresh, and the
//! rotated refresh token is on disk before the new access token is used.

use crate::common::{code, json, text, TestContext};
use fhirdl::auth::store::StoreKind;
use fhirdl::config::ConfigFile;
use fhirdl::config::Paths;
use fhirdl::http::Http;
use fhirdl::output::Ui;
use fhirdl::tls::ExtraRoots;
use fhirdl_sandbox::SandboxConfig;
use std::sync::Arc;

#[test]
fn concurrent_unauthorized_requests_share_one_refresh() {
    let ctx = TestContext::with_defaults();
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let paths = paths_of(&ctx);
    let patient = ctx.sandbox.users()[0].patient_id.clone();
    ctx.sandbox.expire_access_tokens();
    let refreshed = ctx.block_on(async {
        let store = paths.credential_store(StoreKind::File);
        let (fhir, name) = in_process_client(&paths, "a").await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (fhir, patient) = (fhir.clone(), patient.clone());
            tasks.spawn(async move {
                fhir.read("Patient", &patient)
                    .await
                    .map(|p| p["id"].clone())
            });
        }
        while let Some(r) = tasks.join_next().await {
            assert_eq!(r.unwrap().unwrap(), serde_json::json!(patient));
        }
        let on_disk = store.load(&name).await.unwrap().unwrap();
        let in_memory = fhir.session().credentials().await;
        on_disk.refresh_token == in_memory.refresh_token
            && on_disk.access_token == in_memory.access_token
    });
    assert!(
        refreshed,
        "the credential store must hold the rotated tokens"
    );
    assert_eq!(
        ctx.sandbox.stats().refresh_grants,
        1,
        "eight 401s, one refresh"
    );
}

fn paths_of(ctx: &TestContext) -> Paths {
    Paths {
        config_dir: ctx.config_dir(),
        data_dir: ctx.data_dir(),
    }
}

/// The FHIR client of a signed-in profile, in this process, and the profile's name.
async fn in_process_client(
    paths: &Paths,
    profile: &str,
) -> (fhirdl::fhir::client::FhirClient, String) {
    let cfg = ConfigFile::load(&paths.config_file()).unwrap();
    let (name, profile) = cfg.select(Some(profile)).unwrap();
    let http = Http::new(Arc::new(Ui::default()), &ExtraRoots::default()).unwrap();
    let fhir = fhirdl::connect::fhir_client(&http, paths, &name, profile, None)
        .await
        .unwrap();
    (fhir, name)
}

/// While many requests are in flight, one of them may meet several tokens that the others'
/// refreshes replaced: those cost it no refresh of its own, so it does not give up on the
/// sign-in (a fault campaign in CI once ended in "refused even after a refresh" that way).
#[test]
fn a_request_outlives_tokens_that_other_requests_refreshed() {
    use fhirdl::fhir::client::MAX_REFRESHES;
    const DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);
    let ctx = TestContext::with_defaults();
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let paths = paths_of(&ctx);
    let patient = ctx.sandbox.users()[0].patient_id.clone();
    let read_path = format!("Patient/{patient}");
    ctx.block_on(async {
        let (fhir, _) = in_process_client(&paths, "a").await;
        let mut held = ctx.sandbox.hold(&read_path);
        let read = {
            let (fhir, patient) = (fhir.clone(), patient.clone());
            tokio::spawn(async move {
                fhir.read("Patient", &patient)
                    .await
                    .map(|p| p["id"].clone())
            })
        };
        // The requests run on the runtime's workers; this thread may block.
        assert!(held.wait_held(1, DEADLINE), "the read did not arrive");
        let search =
            url::Url::parse(&format!("{}/Condition?patient={patient}", ctx.base())).unwrap();
        for round in 1..=MAX_REFRESHES + 1 {
            // The held read's token dies; another request refreshes it; the read goes on, meets
            // a 401 and comes back with the newer token (held again, but for the last round).
            ctx.sandbox.expire_access_tokens();
            fhir.get(&search).await.unwrap();
            let next = (round <= MAX_REFRESHES).then(|| ctx.sandbox.hold(&read_path));
            held.release();
            match next {
                Some(hold) => {
                    assert!(
                        hold.wait_held(1, DEADLINE),
                        "round {round}: the read did not come back"
                    );
                    held = hold;
                }
                None => break,
            }
        }
        assert_eq!(read.await.unwrap().unwrap(), serde_json::json!(patient));
    });
    assert_eq!(
        ctx.sandbox.stats().refresh_grants,
        u64::from(MAX_REFRESHES) + 1,
        "one refresh per expiry, each by the other request"
    );
}

#[test]
fn issuer_parameter_and_localhost_redirects() {
    let ctx = TestContext::new(SandboxConfig {
        iss_parameter: true,
        ..SandboxConfig::default()
    });
    let out = ctx.login("a", &["--redirect-host", "localhost", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc = json(&out);
    assert!(
        doc["redirect_uri"]
            .as_str()
            .unwrap()
            .starts_with("http://localhost:"),
        "{doc}"
    );
}

#[test]
fn sandbox_command_serves_a_usable_server() {
    use std::io::BufRead;
    let ctx = TestContext::with_defaults();
    let mut child = ctx
        .command()
        .args(["sandbox", "--port", "0", "--json", "--seed", "7"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut doc = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        doc.push_str(&line);
        if line.trim_end() == "}" {
            break;
        }
    }
    let info: serde_json::Value =
        serde_json::from_str(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    let base = info["fhir_base"].as_str().unwrap().to_string();
    assert!(info["users"][0]["password"].is_string());
    let mut c = ctx.command();
    c.args([
        "login",
        "--profile",
        "s",
        "--fhir-base",
        &base,
        "--client-id",
        "fhirdl-sandbox",
    ])
    .args(["--credential-store", "file", "--timeout", "20s"]);
    let out = ctx.run(c);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains(info["users"][0]["patient"].as_str().unwrap()));
}

/// A server that refuses every token it issues (the token endpoint goes on refreshing) ends the
/// sync with exit 4 and "sign in again", after a bounded number of refreshes; the export of the
/// previous run is left as it was.
#[test]
fn a_server_that_refuses_every_token_ends_the_run_with_sign_in_again() {
    use fhirdl::fhir::client::{MAX_REFRESHES, MAX_UNAUTHORIZED};
    let ctx = TestContext::with_defaults();
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let first = ctx.fhirdl(&["sync"]);
    assert_eq!(code(&first), 0, "{}", text(&first));
    let before = crate::common::snapshot(&ctx.export_dir("a"));
    let refreshes_before = ctx.sandbox.stats().refresh_grants;
    ctx.sandbox.set_hostile(fhirdl_sandbox::Hostile {
        refuse_every_token: true,
        ..fhirdl_sandbox::Hostile::default()
    });
    let out = ctx.fhirdl(&["sync", "--full"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(err.contains("sign in again"), "{err}");
    assert!(err.contains("fhirdl login --profile a"), "{err}");
    let refreshes = ctx.sandbox.stats().refresh_grants - refreshes_before;
    assert!(refreshes >= 1, "a refresh was tried first");
    // Bounded: every request in flight refreshes at most MAX_REFRESHES times within
    // MAX_UNAUTHORIZED refusals, and the run stops at the first that gives up.
    let unauthorized = ctx.sandbox.stats().unauthorized;
    assert!(
        refreshes <= u64::from(MAX_REFRESHES) * 64,
        "{refreshes} refreshes for {unauthorized} refusals (at most {MAX_UNAUTHORIZED} each)"
    );
    // Nothing of the previous export changed but what a failed run may note.
    let now = crate::common::snapshot(&ctx.export_dir("a"));
    for (file, bytes) in &before {
        if file.ends_with(".ndjson") || file == "manifest.json" {
            assert!(now.get(file) == Some(bytes), "{file} changed");
        }
    }
}
