//! `cargo bench --bench merged_view [-- --resources N] [--runs N]`: how long `fhirdl view
//! --profiles a,b` takes on two providers' exports of one person, and its peak memory (the
//! targets: two 100,000-resource exports in at most 10 s and 256 MiB).
//!
//! Two embedded sandboxes run in this process with the same seed, so they hold the same
//! generated patient of `--resources` resources (default 100,000): every fact is at both
//! providers, the most merging a page can have. The real binary signs in to each once
//! (`--credential-store file`, the scripted `fhirdl sandbox-browser`, private folders) and
//! syncs each once; then `fhirdl view --profiles a,b --json` runs `--runs` times. Each run is a
//! child reaped with `wait4`: its wall time, CPU time (user + sys), and its peak RSS from
//! `/proc/<pid>/status` `VmHWM`, polled every 2 ms as the export benchmark does.
//! This file measures and prints; it asserts only that each command exits 0.

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

    /// One child run: wall s, CPU s, peak RSS MiB, stdout.
    struct Run {
        wall: f64,
        cpu: f64,
        rss_mib: f64,
        stdout: String,
    }

    /// Runs `c` to its end and reaps it with `wait4`; fails on a non-zero exit.
    fn run(mut c: Command, what: &str) -> Result<Run> {
        let dir = tempfile::tempdir()?;
        let (out, err) = (dir.path().join("out"), dir.path().join("err"));
        c.stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(&err)?);
        let started = Instant::now();
        let child = c.spawn().with_context(|| format!("starting {what}"))?;
        let pid = child.id() as i32;
        let status_file = format!("/proc/{pid}/status");
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills; the pid is our own child's.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // The child's peak RSS is its VmHWM, read until it ends (wait4's ru_maxrss would count
        // the pages of this process, two 100,000-resource sandboxes, that the fork copied).
        let mut peak_kib = 0u64;
        let reaped = loop {
            if let Ok(text) = std::fs::read_to_string(&status_file) {
                if let Some(kib) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak_kib = peak_kib.max(kib);
                }
            }
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if r != 0 {
                break r;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        let wall = started.elapsed().as_secs_f64();
        ensure!(reaped == pid, "wait4 failed for {what}");
        ensure!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{what} failed ({status}):\n{}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Ok(Run {
            wall,
            cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
            rss_mib: peak_kib as f64 / 1024.0,
            stdout: std::fs::read_to_string(&out)?,
        })
    }

    fn login(root: &Path, profile: &str, base: &str) -> Command {
        let mut args = crate::support::login_args(base);
        args[2] = profile;
        crate::support::fhirdl(root, &args)
    }

    pub fn main() -> Result<()> {
        // `cargo test --all-targets` runs harness = false benches without `--bench`.
        if !std::env::args().any(|a| a == "--bench") {
            eprintln!(
                "merged_view benchmark: run it with `cargo bench --bench merged_view`; skipped"
            );
            return Ok(());
        }
        let args = crate::support::size_and_runs(100_000)?;
        let (_rt_a, a) = crate::support::start_sandbox(args.resources, Quirks::default(), false)?;
        let (_rt_b, b) = crate::support::start_sandbox(args.resources, Quirks::default(), false)?;
        let root = tempfile::tempdir()?;
        for (profile, sandbox) in [("a", &a), ("b", &b)] {
            let base = sandbox.fhir_base().to_string();
            run(login(root.path(), profile, &base), "fhirdl login")?;
            eprintln!(
                "== syncing {} resources for profile {profile}",
                args.resources
            );
            let sync = ["sync", "--profile", profile, "--no-attachments", "-q"];
            let r = run(crate::support::fhirdl(root.path(), &sync), "fhirdl sync")?;
            eprintln!("   synced in {:.2} s", r.wall);
        }
        let page = root.path().join("merged.html");
        let page_s = page.display().to_string();
        let view = ["view", "--profiles", "a,b", "--page", &page_s, "--json"];
        let mut runs = Vec::new();
        for _ in 0..args.runs {
            runs.push(run(
                crate::support::fhirdl(root.path(), &view),
                "fhirdl view --profiles a,b",
            )?);
        }
        let report: Value = serde_json::from_str(&runs[0].stdout).context("view --json")?;
        let (rows, merged) = report["sections"].as_array().into_iter().flatten().fold(
            (0, 0),
            |(rows, merged), s| {
                let n = |k: &str| s[k].as_u64().unwrap_or(0);
                (rows + n("rows"), merged + n("merged"))
            },
        );
        let mut walls: Vec<f64> = runs.iter().map(|r| r.wall).collect();
        walls.sort_by(f64::total_cmp);
        let max = |f: fn(&Run) -> f64| runs.iter().map(f).fold(0.0, f64::max);
        println!(
            "{:<34} {:>9} {:>8} {:>8} {:>22} {:>7} {:>13} {:>9}",
            "scenario",
            "resources",
            "rows",
            "merged",
            "wall s min/med/max",
            "CPU s",
            "peak RSS MiB",
            "page MiB"
        );
        println!(
            "{:<34} {:>9} {:>8} {:>8} {:>22} {:>7.2} {:>13.1} {:>9.1}",
            "view --profiles a,b (2 exports)",
            report["resources"].as_u64().unwrap_or(0),
            rows,
            merged,
            format!(
                "{:.2} / {:.2} / {:.2}",
                walls[0],
                walls[walls.len() / 2],
                walls[walls.len() - 1]
            ),
            runs[walls.len() / 2].cpu,
            max(|r| r.rss_mib),
            report["bytes"].as_f64().unwrap_or(0.0) / (1024.0 * 1024.0),
        );
        drop((a, b));
        Ok(())
    }
}

#[cfg(unix)]
fn main() -> anyhow::Result<()> {
    bench::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("the merged_view benchmark needs wait4 (Unix); skipped");
}
