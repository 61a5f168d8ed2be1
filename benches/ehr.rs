//! `cargo bench --bench ehr [-- --latency-ms N] [--resources N] [--runs N] [--json FILE]`:
//! each EHR personality of the sandbox (`fhirdl sandbox --ehr …`) with the typical record
//! (2,000 resources) at 100 ms latency: a full export, a no-change incremental run, and an
//! incremental run after 5 new resources — requests, bytes received and wall time of the real
//! `fhirdl` binary, the median of `--runs` (default 3). The target it checks and prints: on the
//! Epic personality a no-change incremental run transfers at most 10 % of the full export's
//! bytes. `cargo test --all-targets` runs this file without `--bench`: it then only says so.

// Shared with the other benchmarks; this one starts its sandbox from a personality.
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use anyhow::{ensure, Context, Result};
use fhirdl_sandbox::{Ehr, Sandbox, SandboxConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// New resources added before the last scenario.
const NEW: usize = 5;
/// The Epic target: a no-change incremental run's bytes over the full export's, at most.
const EPIC_NO_CHANGE_SHARE: f64 = 0.10;

struct Args {
    latency_ms: u64,
    resources: usize,
    runs: usize,
    json: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        latency_ms: 100,
        resources: 2_000,
        runs: 3,
        json: PathBuf::from("target/bench-ehr.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--bench" => {}
            "--latency-ms" => args.latency_ms = value()?.parse().context("--latency-ms")?,
            "--resources" => args.resources = value()?.parse().context("--resources")?,
            "--runs" => args.runs = value()?.parse().context("--runs")?,
            "--json" => args.json = PathBuf::from(value()?),
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    ensure!(args.runs >= 1, "--runs must be at least 1");
    Ok(args)
}

/// The preset a user of `ehr` signs in with (NextGen's is for a confidential client, which
/// the sandbox's public one is not: none).
fn preset_of(ehr: Ehr) -> Option<&'static str> {
    match ehr {
        Ehr::Epic => Some("epic"),
        Ehr::Oracle => Some("oracle-health"),
        Ehr::Athena => Some("athena"),
        Ehr::Ecw => Some("ecw"),
        Ehr::Meditech => Some("meditech"),
        Ehr::Veradigm => Some("veradigm"),
        Ehr::NextGen => None,
    }
}

/// One measured `fhirdl sync`.
#[derive(Clone, Copy, Default)]
struct Run {
    requests: u64,
    bytes: u64,
    wall_s: f64,
}

/// A personality's sandbox, signed in. Fields drop in order: the sandbox stops before its
/// runtime goes.
struct Bench {
    sandbox: Sandbox,
    _rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Bench {
    fn start(ehr: Ehr, resources: usize, latency_ms: u64) -> Result<Bench> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let mut config = SandboxConfig::for_ehr(ehr);
        config.resources_per_patient = resources;
        config.quirks.latency = Duration::from_millis(latency_ms);
        let sandbox = rt.block_on(Sandbox::start(config))?;
        let dir = tempfile::tempdir()?;
        let bench = Bench {
            sandbox,
            _rt: rt,
            dir,
        };
        let base = bench.sandbox.fhir_base().to_string();
        let mut login = support::login_args(&base).to_vec();
        let public = bench.sandbox.config().public_client_id.clone();
        if let Some(i) = login.iter().position(|a| *a == "--client-id") {
            login[i + 1] = &public;
        }
        // A server that wants a parameter on every search (athenahealth's practice).
        let param = bench.sandbox.config().required_search_param();
        if let Some(p) = &param {
            login.extend_from_slice(&["--search-param", p]);
        }
        // Signed in as a user of the vendor's preset would be (its rate limit, its
        // categories), where the preset is for a public client like the sandbox's.
        if let Some(preset) = preset_of(ehr) {
            login.extend_from_slice(&["--provider", preset]);
        }
        let out = support::fhirdl(bench.dir.path(), &login).output()?;
        ensure!(
            out.status.success(),
            "{ehr}: fhirdl login failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(bench)
    }

    fn sync(&self, out: &Path) -> Result<Run> {
        let out_s = out.display().to_string();
        let args = [
            "sync",
            "--profile",
            support::PROFILE,
            "--out",
            &out_s,
            "-q",
            "--json",
        ];
        let started = Instant::now();
        let done = support::fhirdl(self.dir.path(), &args).output()?;
        let wall_s = started.elapsed().as_secs_f64();
        ensure!(
            done.status.success(),
            "fhirdl sync failed ({:?}):\n{}",
            done.status.code(),
            String::from_utf8_lossy(&done.stderr)
        );
        let report: Value = serde_json::from_slice(&done.stdout).context("sync --json")?;
        Ok(Run {
            requests: report["requests"].as_u64().unwrap_or(0),
            bytes: report["bytes"].as_u64().unwrap_or(0),
            wall_s,
        })
    }

    /// Adds `NEW` laboratory Observations dated now (round `round` gives them fresh ids).
    fn add_new(&self, out: &Path, round: usize) -> Result<()> {
        let text = std::fs::read_to_string(out.join("Observation.ndjson"))?;
        let lab = text
            .lines()
            .map(serde_json::from_str::<Value>)
            .filter_map(Result::ok)
            .find(|o| o["category"].to_string().contains("laboratory"))
            .context("no laboratory Observation to copy")?;
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?;
        for i in 0..NEW {
            let mut obs = lab.clone();
            obs["id"] = json!(format!("bench-new-{round}-{i}"));
            obs["effectiveDateTime"] = json!(now);
            if let Some(meta) = obs.get_mut("meta").and_then(Value::as_object_mut) {
                meta.remove("lastUpdated");
                meta.remove("versionId");
            }
            self.sandbox.set_resource(obs)?;
        }
        Ok(())
    }
}

/// The three scenarios of one personality, `runs` times each.
fn measure(ehr: Ehr, args: &Args) -> Result<[Vec<Run>; 3]> {
    eprintln!(
        "== {ehr}: {} resources, {} ms",
        args.resources, args.latency_ms
    );
    let bench = Bench::start(ehr, args.resources, args.latency_ms)?;
    let (mut full, mut same, mut new) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.runs {
        let out = bench.dir.path().join(format!("export-{round}"));
        full.push(bench.sync(&out)?);
        same.push(bench.sync(&out)?);
        bench.add_new(&out, round)?;
        new.push(bench.sync(&out)?);
    }
    Ok([full, same, new])
}

fn median(runs: &[Run], f: fn(&Run) -> f64) -> f64 {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("EHR benchmark: run it with `cargo bench --bench ehr`; skipped");
        return Ok(());
    }
    let args = parse_args()?;
    let scenarios = [
        "full export".to_string(),
        "no-change incremental".to_string(),
        format!("incremental, {NEW} new"),
    ];
    println!(
        "{:<10} {:<24} {:>9} {:>12} {:>9} {:>13}",
        "--ehr", "scenario", "requests", "bytes", "wall s", "bytes / full"
    );
    let mut rows = Vec::new();
    let mut epic_share = None;
    for ehr in Ehr::ALL {
        let measured = measure(ehr, &args)?;
        let full_bytes = median(&measured[0], |r| r.bytes as f64);
        for (scenario, runs) in scenarios.iter().zip(&measured) {
            let bytes = median(runs, |r| r.bytes as f64);
            let share = bytes / full_bytes.max(1.0);
            if ehr == Ehr::Epic && scenario.starts_with("no-change") {
                epic_share = Some(share);
            }
            println!(
                "{:<10} {:<24} {:>9} {:>12} {:>9.2} {:>12.1}%",
                ehr.name(),
                scenario,
                median(runs, |r| r.requests as f64),
                bytes,
                median(runs, |r| r.wall_s),
                100.0 * share
            );
            rows.push(json!({
                "ehr": ehr.name(),
                "scenario": scenario,
                "requests": median(runs, |r| r.requests as f64),
                "bytes": bytes,
                "wall_s": median(runs, |r| r.wall_s),
                "share_of_full_bytes": share,
                "runs": runs.iter().map(|r| json!({
                    "requests": r.requests, "bytes": r.bytes, "wall_s": r.wall_s
                })).collect::<Vec<_>>(),
            }));
        }
    }
    if let Some(share) = epic_share {
        println!(
            "\nEpic target: a no-change incremental run transfers at most {:.0} % of the full export's bytes: {:.1} % ({})",
            100.0 * EPIC_NO_CHANGE_SHARE,
            100.0 * share,
            if share <= EPIC_NO_CHANGE_SHARE { "met" } else { "NOT met" }
        );
    }
    if let Some(parent) = args.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let doc = json!({
        "latency_ms": args.latency_ms,
        "resources": args.resources,
        "runs": args.runs,
        "commit": Command::new("git").args(["rev-parse", "HEAD"]).output().ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
        "rows": rows,
    });
    std::fs::write(&args.json, serde_json::to_string_pretty(&doc)?)?;
    eprintln!("wrote {}", args.json.display());
    Ok(())
}
