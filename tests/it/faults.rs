//! The fault campaign: `fhirdl sync` against the sandbox's seeded fault injector.
//!
//! For each seed, a full export and then an incremental sync (after changes on the server) run
//! twice against the same sandbox: once without faults (into `base/`) and once with the plan
//! in force (into `chaos/`). The two folders must be equal: same files, same bytes, same
//! manifests (the run's own times aside). Permanent faults (a type failing every retry, the
//! refresh token revoked) must end with their documented exit code, the affected types named,
//! and the previous export untouched.
//!
//! CI runs a few seeds at a high rate. The long form runs any number of seeds and prints the
//! tally:
//!
//! ```sh
//! FHIRDL_FAULT_SEEDS=1000 cargo test --release --test it -- --ignored --nocapture faults::fault_campaign
//! ```
//!
//! `FHIRDL_FAULT_RATE` (default 0.3) and `FHIRDL_FAULT_FIRST_SEED` (default 1) change the rate
//! and the first seed.

use crate::common::{code, complete_but_short, snapshot, text, TestContext};
use fhirdl_sandbox::{FaultKind, FaultPlan, Quirks, SandboxConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// fhirdl's whole-request timeout in these runs; the sandbox's slow answers take longer.
const CLIENT_TIMEOUT: &str = "1s";
const SLOW_ANSWER: Duration = Duration::from_millis(1500);
/// Backoff base in these runs (the real one is 400 ms).
const RETRY_BASE_MS: &str = "5";

/// A tidy R4 server, or one that behaves like NextGen Enterprise (categories required, paths
/// changing in next links, raw PDF/XML document downloads, references outside the base).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Server {
    R4,
    NextGen,
}

fn server_config(server: Server) -> SandboxConfig {
    let quirks = match server {
        Server::R4 => Quirks::default(),
        Server::NextGen => Quirks {
            fixed_page_size: Some(10),
            ..Quirks::nextgen()
        },
    };
    SandboxConfig {
        quirks,
        ..sandbox_config()
    }
}

fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        seed: 11,
        // Small pages so that every type takes several requests.
        resources_per_patient: 150,
        page_size_default: 10,
        page_size_max: 10,
        ..SandboxConfig::default()
    }
}

fn plan(seed: u64, rate: f64) -> FaultPlan {
    FaultPlan {
        slow: SLOW_ANSWER,
        ..FaultPlan::transient(seed, rate)
    }
}

/// One sandbox and two signed-in profiles (the same patient): `base` syncs without faults,
/// `chaos` with them.
struct Campaign {
    ctx: TestContext,
    root: tempfile::TempDir,
}

impl Campaign {
    fn new() -> Campaign {
        Campaign::on(Server::R4)
    }

    fn on(server: Server) -> Campaign {
        let ctx = TestContext::new(server_config(server));
        for profile in ["base", "chaos"] {
            let out = ctx.login(profile, &[]);
            assert_eq!(code(&out), 0, "{}", text(&out));
        }
        Campaign {
            ctx,
            root: tempfile::tempdir().unwrap(),
        }
    }

    fn sync(&self, profile: &str, out: &Path) -> Output {
        let mut c = self.ctx.command();
        c.env("FHIRDL_HTTP_TIMEOUT", CLIENT_TIMEOUT)
            .env("FHIRDL_RETRY_BASE_MS", RETRY_BASE_MS)
            .args(["sync", "--profile", profile, "--json", "--out"])
            .arg(out);
        self.ctx.run(c)
    }

    /// `base` without faults, then `chaos` under `plan`; what the chaos run did.
    fn both(&self, base: &Path, chaos: &Path, plan: &FaultPlan) -> RunOutcome {
        self.ctx.sandbox.set_faults(None);
        let out = self.sync("base", base);
        assert_eq!(code(&out), 0, "the fault-free run failed: {}", text(&out));
        let before = self.ctx.sandbox.stats().faults;
        self.ctx.sandbox.set_faults(Some(plan.clone()));
        let out = self.sync("chaos", chaos);
        self.ctx.sandbox.set_faults(None);
        let after = self.ctx.sandbox.stats().faults;
        let faults = after
            .iter()
            .map(|(k, n)| (*k, n - before.get(k).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let retries = report["retries"].as_u64().unwrap_or(0);
        let mut differences = if code(&out) == 0 {
            differences(base, chaos)
        } else {
            Vec::new()
        };
        // Whatever the exit code, a type called complete holds what the fault-free run holds.
        differences.extend(
            complete_but_short(&report, chaos, base)
                .into_iter()
                .map(|ty| {
                    format!("{ty} is called complete but differs from the fault-free export")
                }),
        );
        RunOutcome {
            exit: code(&out),
            faults,
            retries,
            differences,
            shown: text(&out),
        }
    }

    /// A full export and an incremental one under the plan of `seed`.
    fn seed(&self, seed: u64, rate: f64) -> [RunOutcome; 2] {
        let dir = self.root.path().join(format!("seed-{seed}"));
        let (base, chaos) = (dir.join("base"), dir.join("chaos"));
        let plan = plan(seed, rate);
        let full = self.both(&base, &chaos, &plan);
        change_the_record(&self.ctx, &base, seed);
        let incremental = self.both(&base, &chaos, &plan);
        // The folders of a finished seed are not needed any more.
        let _ = std::fs::remove_dir_all(&dir);
        [full, incremental]
    }
}

#[derive(Debug)]
struct RunOutcome {
    exit: i32,
    faults: BTreeMap<FaultKind, u64>,
    retries: u64,
    differences: Vec<String>,
    shown: String,
}

impl RunOutcome {
    fn matched(&self) -> bool {
        self.exit == 0 && self.differences.is_empty()
    }
}

/// Server-side changes between the full and the incremental run, chosen by `seed`: an
/// Observation amended, a Condition added, an Immunization changed.
fn change_the_record(ctx: &TestContext, export: &Path, seed: u64) {
    let pick = |ty: &str| -> Value {
        let text = std::fs::read_to_string(export.join(format!("{ty}.ndjson"))).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        serde_json::from_str(lines[(seed as usize * 7) % lines.len()]).unwrap()
    };
    let mut obs = pick("Observation");
    obs["status"] = json!("amended");
    obs["note"] = json!([{"text": format!("amended in seed {seed}")}]);
    ctx.sandbox.set_resource(obs).unwrap();
    let mut cond = pick("Condition");
    cond["id"] = json!(format!("zz-seed-{seed}"));
    ctx.sandbox.set_resource(cond).unwrap();
    let mut imm = pick("Immunization");
    imm["lotNumber"] = json!(format!("LOT-{seed}"));
    ctx.sandbox.set_resource(imm).unwrap();
}

/// Every file under `dir` (relative path → bytes), run-dependent content set aside: the
/// `synced_at` of `manifest.json`, the marks, times, reconcile times and file stamps of `.fhirdl/state.json`, and the other
/// files of `.fhirdl/` (the last run's times, the lock).
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(dir)
        .into_iter()
        .filter_map(|(rel, bytes)| {
            let kept = match rel.as_str() {
                // When, and how each type was fetched by the run that wrote it.
                "manifest.json" => without(&bytes, &["synced_at", "freshness"]),
                ".fhirdl/state.json" => {
                    let mut state: Value = serde_json::from_slice(&bytes).unwrap();
                    if let Some(types) = state["types"].as_object_mut() {
                        for t in types.values_mut() {
                            if let Some(t) = t.as_object_mut() {
                                t.remove("mark");
                                t.remove("synced_at");
                                // When the type was last fetched whole: the run's start.
                                t.remove("reconciled_at");
                                // The file's stamp (size, modification time, inode).
                                t.remove("file");
                            }
                        }
                    }
                    serde_json::to_vec(&state).unwrap()
                }
                r if r.starts_with(".fhirdl/") => return None,
                _ => bytes,
            };
            Some((rel, kept))
        })
        .collect()
}

fn without(bytes: &[u8], keys: &[&str]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(bytes).unwrap();
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    serde_json::to_vec(&v).unwrap()
}

/// What differs between two exports (empty when they are the same).
fn differences(base: &Path, chaos: &Path) -> Vec<String> {
    let (a, b) = (contents(base), contents(chaos));
    let mut out = Vec::new();
    for (name, bytes) in &a {
        match b.get(name) {
            None => out.push(format!("{name} is missing")),
            Some(other) if other != bytes => out.push(format!("{name} differs")),
            Some(_) => {}
        }
    }
    for name in b.keys().filter(|n| !a.contains_key(*n)) {
        out.push(format!("{name} is extra"));
    }
    out
}

/// What a campaign saw.
#[derive(Default)]
struct Tally {
    seeds: u64,
    runs: u64,
    matched: u64,
    failed: BTreeMap<i32, u64>,
    mismatched: u64,
    retries: u64,
    faults: BTreeMap<FaultKind, u64>,
    examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, seed: u64, phase: &str, o: &RunOutcome) {
        self.runs += 1;
        self.retries += o.retries;
        for (k, n) in &o.faults {
            *self.faults.entry(*k).or_default() += n;
        }
        if o.matched() {
            self.matched += 1;
            return;
        }
        if o.exit != 0 {
            *self.failed.entry(o.exit).or_default() += 1;
        } else {
            self.mismatched += 1;
        }
        if self.examples.len() < 5 {
            self.examples.push(format!(
                "seed {seed} ({phase}): exit {}, faults {:?}, differences {:?}\n{}",
                o.exit, o.faults, o.differences, o.shown
            ));
        }
    }

    fn print(&self, rate: f64) {
        let injected: u64 = self.faults.values().sum();
        println!(
            "fault campaign: {} seeds at rate {rate} (even seeds: R4 server, odd: NextGen-like)",
            self.seeds
        );
        println!(
            "  runs {} (full + incremental per seed), matched the fault-free export {}, failed {:?}, mismatched {}",
            self.runs, self.matched, self.failed, self.mismatched
        );
        println!(
            "  faults injected {injected}, retries by fhirdl {}",
            self.retries
        );
        for (k, n) in &self.faults {
            println!("    {:<28} {n}", k.name());
        }
        for e in &self.examples {
            println!("--- {e}");
        }
    }
}

/// Seeds `first..first + seeds`, even ones against the R4 server, odd ones against the
/// NextGen-like one.
fn campaign(first: u64, seeds: u64, rate: f64) -> Tally {
    let r4 = Campaign::on(Server::R4);
    let nextgen = Campaign::on(Server::NextGen);
    let mut tally = Tally::default();
    for seed in first..first + seeds {
        let (campaign, server) = if seed % 2 == 0 {
            (&r4, "r4")
        } else {
            (&nextgen, "nextgen")
        };
        let [full, incremental] = campaign.seed(seed, rate);
        tally.seeds += 1;
        tally.add(seed, &format!("{server} full"), &full);
        tally.add(seed, &format!("{server} incremental"), &incremental);
    }
    r4.ctx.assert_no_leaks();
    nextgen.ctx.assert_no_leaks();
    tally
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CI's short form: a few seeds at a high rate; every run must end in the fault-free export.
#[test]
fn transient_faults_leave_the_same_export_as_a_fault_free_run() {
    let rate = 0.3;
    let tally = campaign(1, 4, rate);
    tally.print(rate);
    assert_eq!(tally.matched, tally.runs, "see the examples above");
    // The campaign proves something only if it injected faults of many kinds.
    assert!(
        tally.faults.len() >= 8 && tally.retries > 0,
        "{:?}",
        tally.faults
    );
}

/// The long form: `FHIRDL_FAULT_SEEDS=1000 cargo test --release --test it -- --ignored
/// --nocapture faults::fault_campaign` prints the tally.
#[test]
#[ignore = "long: run with FHIRDL_FAULT_SEEDS=N ... -- --ignored --nocapture"]
fn fault_campaign() {
    let seeds = env_number("FHIRDL_FAULT_SEEDS", 100u64);
    let first = env_number("FHIRDL_FAULT_FIRST_SEED", 1u64);
    let rate = env_number("FHIRDL_FAULT_RATE", 0.3f64);
    let started = std::time::Instant::now();
    let tally = campaign(first, seeds, rate);
    tally.print(rate);
    println!("  took {:.0} s", started.elapsed().as_secs_f64());
    assert_eq!(tally.matched, tally.runs, "see the examples above");
}

/// Every file under `dir` but the lock, byte for byte.
fn every_byte(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = snapshot(dir);
    files.remove(".fhirdl/lock");
    files
}

/// A type that fails every retry: exit 3 naming it, its file and mark untouched, the other
/// types synced; the next run without the fault completes the export.
#[test]
fn a_type_failing_every_retry_fails_alone_with_exit_3() {
    let c = Campaign::new();
    let (base, chaos) = (c.root.path().join("base"), c.root.path().join("chaos"));
    let none = FaultPlan::transient(0, 0.0);
    assert!(c.both(&base, &chaos, &none).matched());
    change_the_record(&c.ctx, &base, 5);
    let condition_before = std::fs::read(chaos.join("Condition.ndjson")).unwrap();
    let state_before: Value =
        serde_json::from_slice(&std::fs::read(chaos.join(".fhirdl/state.json")).unwrap()).unwrap();

    let plan = FaultPlan::permanent(
        FaultKind::ServiceUnavailable,
        Some(vec!["Condition".into()]),
    );
    let o = c.both(&base, &chaos, &plan);
    assert_eq!(o.exit, 3, "{}", o.shown);
    assert!(o.differences.is_empty(), "{:?}", o.differences);
    assert!(
        o.shown.contains("1 of") && o.shown.contains("Condition"),
        "{}",
        o.shown
    );
    assert!(
        o.faults[&FaultKind::ServiceUnavailable] >= 5,
        "{:?}",
        o.faults
    );
    assert_eq!(
        std::fs::read(chaos.join("Condition.ndjson")).unwrap(),
        condition_before,
        "the failed type keeps its previous file"
    );
    let state: Value =
        serde_json::from_slice(&std::fs::read(chaos.join(".fhirdl/state.json")).unwrap()).unwrap();
    assert_eq!(
        state["types"]["Condition"], state_before["types"]["Condition"],
        "nor does its mark advance"
    );
    // Every other type holds the server's changes.
    let (a, b) = (contents(&base), contents(&chaos));
    for (name, bytes) in &a {
        if name.ends_with(".ndjson") && name != "Condition.ndjson" {
            assert_eq!(Some(bytes), b.get(name), "{name}");
        }
    }
    // The server recovers: the next run completes the export.
    let out = c.sync("chaos", &chaos);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(differences(&base, &chaos), Vec::<String>::new());
}

/// The refresh token revoked in the middle of a sync: exit 4 (sign in again), the export on
/// disk exactly as the previous run left it; after a new sign-in the next run completes it.
#[test]
fn a_revoked_refresh_token_ends_with_exit_4_and_the_export_untouched() {
    let c = Campaign::new();
    let (base, chaos) = (c.root.path().join("base"), c.root.path().join("chaos"));
    assert!(c
        .both(&base, &chaos, &FaultPlan::transient(0, 0.0))
        .matched());
    change_the_record(&c.ctx, &base, 9);
    let before = every_byte(&chaos);

    let o = c.both(
        &base,
        &chaos,
        &FaultPlan::permanent(FaultKind::RefreshTokenRevoked, None),
    );
    assert_eq!(o.exit, 4, "{}", o.shown);
    assert!(
        o.shown.contains("fhirdl login --profile chaos"),
        "{}",
        o.shown
    );
    assert!(o.faults[&FaultKind::RefreshTokenRevoked] >= 1);
    assert!(
        every_byte(&chaos) == before,
        "the previous export is untouched"
    );

    let out = c.ctx.login("chaos", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = c.sync("chaos", &chaos);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(differences(&base, &chaos), Vec::<String>::new());
    c.ctx.assert_no_leaks();
}

/// A document whose record announces the wrong `size` is fetched again (it might have been cut
/// short); one that still differs after the last attempt is a failed document: no
/// file, named in the report, exit 3.
#[test]
fn an_attachment_with_a_wrong_announced_size_is_retried_then_named_as_failed() {
    let c = Campaign::new();
    let out_dir = c.root.path().join("a");
    let out = c.sync("base", &out_dir);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let docs = std::fs::read_to_string(out_dir.join("DocumentReference.ndjson")).unwrap();
    let mut doc: Value = serde_json::from_str(docs.lines().next().unwrap()).unwrap();
    let size = doc["content"][0]["attachment"]["size"].as_u64().unwrap();
    doc["content"][0]["attachment"]["size"] = json!(size + 1);
    doc["id"] = json!("zz-wrong-size");
    c.ctx.sandbox.set_resource(doc).unwrap();
    let binary_requests = || c.ctx.sandbox.stats().fhir_requests;
    let before = binary_requests();
    let out = c.sync("base", &out_dir);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "{size} bytes arrived where the record announces {}",
            size + 1
        )),
        "{}",
        text(&out)
    );
    assert!(
        text(&out)
            .contains("DocumentReference-zz-wrong-size-1.pdf of DocumentReference/zz-wrong-size"),
        "{}",
        text(&out)
    );
    assert!(!out_dir
        .join("attachments/DocumentReference-zz-wrong-size-1.pdf")
        .exists());
    assert!(
        binary_requests() - before >= fhirdl::fhir::retry::MAX_ATTEMPTS as u64,
        "the document was fetched again before it failed"
    );
}

/// What each kind looks like to an HTTP client (the sandbox side of the campaign).
#[test]
fn every_fault_kind_reaches_the_client_as_described() {
    let c = Campaign::new();
    let creds: Value =
        serde_json::from_slice(&std::fs::read(c.ctx.credential_file("base")).unwrap()).unwrap();
    let token = creds["access_token"].as_str().unwrap().to_owned();
    let url = format!(
        "{}/Condition?patient={}",
        c.ctx.base(),
        creds["patient"].as_str().unwrap()
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let get = |kind: FaultKind| {
        let mut plan = FaultPlan::permanent(kind, None);
        plan.max_per_request = 1;
        plan.slow = Duration::from_secs(3);
        c.ctx.sandbox.set_faults(Some(plan));
        c.ctx.block_on(async {
            let resp = client.get(&url).bearer_auth(&token).send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map(|b| b.to_vec());
            Ok::<_, reqwest::Error>((status, headers, body))
        })
    };
    let header = |h: &reqwest::header::HeaderMap, name: &str| {
        h.get(name).map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, h, _) = get(FaultKind::TooManyRequestsSeconds).unwrap();
    assert_eq!(
        (status, header(&h, "retry-after").as_deref()),
        (429, Some("0"))
    );
    let (status, h, _) = get(FaultKind::TooManyRequestsDate).unwrap();
    assert_eq!(status, 429);
    assert!(httpdate::parse_http_date(&header(&h, "retry-after").unwrap()).is_ok());
    for (kind, want) in [
        (FaultKind::InternalServerError, 500),
        (FaultKind::BadGateway, 502),
        (FaultKind::ServiceUnavailable, 503),
        (FaultKind::GatewayTimeout, 504),
    ] {
        assert_eq!(get(kind).unwrap().0, want, "{kind:?}");
    }
    assert!(get(FaultKind::ResetBeforeBody).is_err(), "no answer at all");
    for kind in [FaultKind::ResetMidBody, FaultKind::TruncatedWithoutLength] {
        let (status, _, body) = get(kind).unwrap();
        assert_eq!(status, 200);
        assert!(body.is_err(), "{kind:?}: the body breaks off");
    }
    let (_, h, body) = get(FaultKind::TruncatedWithLength).unwrap();
    let body = body.unwrap();
    assert_eq!(header(&h, "content-length"), Some(body.len().to_string()));
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "complete but cut"
    );
    let (status, _, body) = get(FaultKind::InvalidJson).unwrap();
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&body.unwrap()).is_err());
    let (status, h, _) = get(FaultKind::HtmlLoginPage).unwrap();
    assert_eq!(status, 200);
    assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
    assert!(get(FaultKind::Slow).unwrap_err().is_timeout());
    // Once the plan is lifted, the same request is answered normally.
    c.ctx.sandbox.set_faults(None);
    assert_eq!(get_plain(&c, &client, &url, &token), 200);
    c.ctx.sandbox.set_faults(Some(FaultPlan::permanent(
        FaultKind::AccessTokenExpired,
        None,
    )));
    assert_eq!(get_plain(&c, &client, &url, &token), 401);
    c.ctx.sandbox.set_faults(None);
    assert_eq!(
        get_plain(&c, &client, &url, &token),
        401,
        "the token stays expired"
    );
    assert!(c.ctx.sandbox.stats().faults.len() >= 14);
}

/// A plan given at start applies from the first request, to data endpoints only.
#[test]
fn a_plan_in_the_configuration_spares_metadata_and_oauth() {
    let ctx = TestContext::new(SandboxConfig {
        faults: Some(FaultPlan::permanent(FaultKind::ServiceUnavailable, None)),
        ..sandbox_config()
    });
    // Sign-in (OAuth endpoints) and discovery (metadata) work…
    let out = ctx.login("a", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let status = |path: &str| {
        ctx.block_on(async {
            reqwest::get(format!("{}{path}", ctx.base()))
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(status("/metadata"), 200);
    assert_eq!(status("/.well-known/smart-configuration"), 200);
    // …data requests do not: every attempt fails, and the run says so.
    assert_eq!(status("/Patient/x"), 503);
    let mut c = ctx.command();
    c.env("FHIRDL_RETRY_BASE_MS", RETRY_BASE_MS)
        .args(["sync", "--profile", "a"]);
    let out = ctx.run(c);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("Patient/"), "{}", text(&out));
    assert!(ctx.sandbox.stats().faults[&FaultKind::ServiceUnavailable] >= 5);
}

fn get_plain(c: &Campaign, client: &reqwest::Client, url: &str, token: &str) -> u16 {
    c.ctx.block_on(async {
        client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}
