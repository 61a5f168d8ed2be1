//! `cargo bench --bench verify [-- --resources N] [--runs N]`: how long `fhirdl verify` takes on
//! a large export (the target: 100,000 resources in under 10 s).
//!
//! The embedded sandbox runs in this process with one generated patient of `--resources`
//! resources (default 100,000) and no added latency; the real binary signs in once
//! (`--credential-store file`, the scripted `fhirdl sandbox-browser` as `$BROWSER`, private
//! folders) and syncs once with `--format both`. Then `fhirdl verify --out DIR -q --json` runs
//! `--runs` times on the whole export (NDJSON files, documents and one pretty file per
//! resource), and as many times with `json/` moved aside (NDJSON files and documents only).
//! Per run: wall time and the child's CPU time (user + sys, from `getrusage(RUSAGE_CHILDREN)`
//! before and after; the runs are one after another). This file measures and prints; it
//! asserts only that each verify exits 0.

#[path = "support/mod.rs"]
mod support;

#[cfg(unix)]
mod bench {
    use anyhow::{ensure, Context, Result};
    use fhirdl_sandbox::Quirks;
    use serde_json::Value;
    use std::path::Path;
    use std::process::Command;
    use std::time::Instant;

    use crate::support::{self, PROFILE};

    fn cmd(root: &Path, args: &[&str]) -> Command {
        support::fhirdl(root, args)
    }

    fn children_cpu_s() -> f64 {
        // SAFETY: rusage is plain data that getrusage fills.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(usage.ru_utime) + secs(usage.ru_stime)
    }

    /// Runs `c` to its end: (wall s, CPU s, stdout); fails on a non-zero exit.
    fn timed(mut c: Command, what: &str) -> Result<(f64, f64, String)> {
        let cpu = children_cpu_s();
        let started = Instant::now();
        let out = c.output().with_context(|| format!("starting {what}"))?;
        let wall = started.elapsed().as_secs_f64();
        ensure!(
            out.status.success(),
            "{what} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Ok((wall, children_cpu_s() - cpu, stdout))
    }

    fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2], v[v.len() - 1])
    }

    pub fn main() -> Result<()> {
        // `cargo test --all-targets` runs harness = false benches without `--bench`.
        if !std::env::args().any(|a| a == "--bench") {
            eprintln!("verify benchmark: run it with `cargo bench --bench verify`; skipped");
            return Ok(());
        }
        let args = crate::support::size_and_runs(100_000)?;
        let (_rt, sandbox) = support::start_sandbox(args.resources, Quirks::default(), false)?;
        let root = tempfile::tempdir()?;
        let base = sandbox.fhir_base().to_string();
        let login = support::login_args(&base);
        timed(cmd(root.path(), &login), "fhirdl login")?;
        let out = root.path().join("export");
        let out_s = out.display().to_string();
        let sync = [
            "sync",
            "--profile",
            PROFILE,
            "--out",
            &out_s,
            "--format",
            "both",
            "-q",
        ];
        eprintln!("== syncing {} resources (--format both)", args.resources);
        let (wall, _, _) = timed(cmd(root.path(), &sync), "fhirdl sync")?;
        eprintln!("   synced in {wall:.2} s");
        let verify = ["verify", "--out", &out_s, "-q", "--json"];
        let mut rows = Vec::new();
        for scenario in ["verify, with json/", "verify, NDJSON and documents"] {
            if scenario.ends_with("documents") {
                std::fs::rename(out.join("json"), root.path().join("json-aside"))?;
            }
            let (mut walls, mut cpus) = (Vec::new(), Vec::new());
            let mut report = Value::Null;
            for _ in 0..args.runs {
                let (wall, cpu, stdout) = timed(cmd(root.path(), &verify), "fhirdl verify")?;
                report = serde_json::from_str(&stdout).context("verify --json output")?;
                ensure!(
                    report["intact"] == true,
                    "the export is not intact: {report}"
                );
                walls.push(wall);
                cpus.push(cpu);
            }
            rows.push((
                scenario,
                report["checked"].clone(),
                median(walls),
                median(cpus),
            ));
        }
        println!(
            "{:<30} {:>9} {:>10} {:>9} {:>7} {:>22} {:>7}",
            "scenario",
            "resources",
            "NDJSON MiB",
            "documents",
            "pretty",
            "wall s min/med/max",
            "CPU s"
        );
        for (scenario, checked, wall, cpu) in &rows {
            println!(
                "{:<30} {:>9} {:>10.1} {:>9} {:>7} {:>22} {:>7.2}",
                scenario,
                checked["resources"].as_u64().unwrap_or(0),
                checked["bytes"].as_f64().unwrap_or(0.0) / (1024.0 * 1024.0),
                checked["attachments"].as_u64().unwrap_or(0),
                checked["pretty_files"].as_u64().unwrap_or(0),
                format!("{:.2} / {:.2} / {:.2}", wall.0, wall.1, wall.2),
                cpu.1
            );
        }
        drop(sandbox);
        Ok(())
    }
}

#[cfg(unix)]
fn main() -> anyhow::Result<()> {
    bench::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("the verify benchmark needs getrusage (Unix); skipped");
}
