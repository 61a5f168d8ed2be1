//! `cargo bench --bench export [-- --size typical|large|huge|million|all] [--latency-ms N[,N…]]
//! [--runs N] [--json FILE] [--no-rate-cap] [--concurrency N]`: how long the real `fhirdl`
//! binary takes to export a patient from the embedded sandbox, and what it costs; next
//! to the chain bound L, the all-parallel floor P that a minimal client measures on the same
//! sandbox ([`floor`]).
//!
//! The sandbox runs in this process on its own tokio runtime, with a generated patient of the
//! chosen size and a fixed latency added to every request. Each `fhirdl` run is a child process
//! reaped with `wait4`, which gives that child's own peak RSS and CPU time
//! (`getrusage(RUSAGE_CHILDREN)` would report the largest RSS of all children so far, hiding a
//! smaller later run). On the 0 ms pass, `fhirdl view` and `fhirdl bundle` (plain and gzip) run
//! on the full export too. This file measures and prints; it asserts nothing about
//! speed.

mod floor;
// Shared with the other benchmarks; this one does not read --resources/--runs.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;

#[cfg(unix)]
mod bench {
    use crate::floor::{self, Floor};
    use anyhow::{bail, ensure, Context, Result};
    use fhirdl_sandbox::{Quirks, Sandbox, SandboxStats};
    use serde_json::{json, Value};
    use std::collections::BTreeMap;
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant, SystemTime};

    use crate::support::{self, PROFILE};
    /// Resources changed on the server before the incremental sync.
    const CHANGED: usize = 20;
    /// What fhirdl waits for before its searches: the CapabilityStatement and the Patient read.
    /// fhirdl reads the Patient alongside the searches, so this is one round trip generous.
    const DISCOVERY_ROUND_TRIPS: u64 = 2;
    /// The rate-capped row uses a small patient: at 20 requests a minute every request costs 3 s.
    const RATE_CAP_RESOURCES: usize = 200;
    const RATE_CAP: &str = "20/min";
    const RATE_CAP_PER_MINUTE: f64 = 20.0;
    /// An argument of [`full_exports`] that names the profile's provider preset.
    const PRESET: &str = "preset:";
    /// The pseudo-argument of scenarios served over HTTPS with HTTP/2.
    const HTTPS: &str = "https";
    /// `--concurrency` of the benchmark's command line, for every sync.
    static CONCURRENCY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

    struct Args {
        sizes: Vec<(&'static str, usize)>,
        /// Every latency measured (a 0 ms pass is added).
        latencies: Vec<u64>,
        runs: usize,
        json: PathBuf,
        rate_cap: bool,
        /// `--concurrency N` passed to every sync (fhirdl's default otherwise).
        concurrency: Option<String>,
    }

    fn parse_args() -> Result<Args> {
        let mut args = Args {
            sizes: vec![("typical", 2_000), ("large", 5_000)],
            latencies: vec![50, 100, 300],
            runs: 3,
            json: PathBuf::from("target/bench-export.json"),
            rate_cap: true,
            concurrency: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let mut value = || it.next().with_context(|| format!("{a} needs a value"));
            match a.as_str() {
                // cargo passes --bench to harness = false targets.
                "--bench" => {}
                "--size" => {
                    args.sizes = match value()?.as_str() {
                        "typical" => vec![("typical", 2_000)],
                        "large" => vec![("large", 5_000)],
                        "huge" => vec![("huge", 100_000)],
                        "million" => vec![("million", 1_000_000)],
                        "all" => vec![("typical", 2_000), ("large", 5_000), ("huge", 100_000)],
                        other => {
                            bail!("unknown size {other:?} (typical, large, huge, million, all)")
                        }
                    }
                }
                "--latency-ms" => {
                    args.latencies = value()?
                        .split(',')
                        .map(|n| n.trim().parse().context("--latency-ms"))
                        .collect::<Result<_>>()?
                }
                "--runs" => args.runs = value()?.parse().context("--runs")?,
                "--json" => args.json = PathBuf::from(value()?),
                "--no-rate-cap" => args.rate_cap = false,
                "--concurrency" => args.concurrency = Some(value()?),
                other => bail!("unknown argument {other:?}"),
            }
        }
        ensure!(args.runs >= 1, "--runs must be at least 1");
        ensure!(!args.latencies.is_empty(), "--latency-ms needs a value");
        Ok(args)
    }

    /// One `fhirdl` child process, measured.
    #[derive(Clone, Debug, Default)]
    struct Run {
        wall_s: f64,
        cpu_s: f64,
        peak_rss_mib: f64,
        /// Every request the sandbox answered during the run (token requests included).
        server_requests: u64,
        pages_served: u64,
        max_in_flight: u64,
        /// `requests` of fhirdl's own `--json` report.
        reported_requests: u64,
        /// Bytes of the export folder afterwards.
        out_bytes: u64,
        /// Bytes of response bodies fhirdl received (`bytes` of its report).
        http_bytes: u64,
        /// The fewest requests that could have fetched what this run fetched (see
        /// [`minimum_requests`]).
        min_requests: u64,
        /// Export files (outside `.fhirdl/`) created or modified by the run.
        files_written: usize,
    }

    /// A scenario measured over several runs.
    struct Row {
        scenario: String,
        size: String,
        resources: usize,
        latency_ms: u64,
        /// The bound L in seconds (None at 0 ms latency).
        bound_s: Option<f64>,
        bound_note: String,
        /// Measurements of the floor P (none where it means nothing: offline, rate-capped).
        floor: Vec<Floor>,
        runs: Vec<Run>,
    }

    impl Row {
        /// P: the median of its measurements.
        fn floor_s(&self) -> Option<f64> {
            (!self.floor.is_empty()).then(|| stats(self.floor.iter().map(|f| f.wall_s)).1)
        }

        /// The target base: P plus one round trip for the references (None offline).
        fn target_s(&self) -> Option<f64> {
            let p = self.floor_s()?;
            (self.latency_ms > 0).then(|| p + self.latency_ms as f64 / 1000.0)
        }

        fn floor_note(&self) -> String {
            match self.floor.first() {
                None => "-".into(),
                Some(f) => format!(
                    "{} first pages, then {} pages; {} resources (median of {})",
                    f.first_wave,
                    f.second_wave,
                    f.resources,
                    self.floor.len()
                ),
            }
        }
    }

    /// Fields drop in order: the sandbox stops before its runtime goes.
    struct Bench {
        sandbox: Sandbox,
        dir: tempfile::TempDir,
        rt: tokio::runtime::Runtime,
        /// Over HTTPS: the sandbox's certificate, trusted by fhirdl (`FHIRDL_CA_FILE`) and P.
        ca: Option<(String, PathBuf)>,
    }

    impl Bench {
        fn start(resources: usize, quirks: Quirks, tls: bool) -> Result<Bench> {
            let (rt, sandbox) = support::start_sandbox(resources, quirks, tls)?;
            let dir = tempfile::tempdir()?;
            let ca = match sandbox.ca_pem() {
                Some(pem) => {
                    let file = dir.path().join("sandbox-ca.pem");
                    std::fs::write(&file, &pem)?;
                    Some((pem, file))
                }
                None => None,
            };
            let bench = Bench {
                sandbox,
                dir,
                rt,
                ca,
            };
            let base = bench.sandbox.fhir_base().to_string();
            let (status, _, stderr, _) = run_child(bench.cmd(&support::login_args(&base)))?;
            ensure!(status == 0, "fhirdl login failed ({status}):\n{stderr}");
            Ok(bench)
        }

        fn cmd(&self, args: &[&str]) -> Command {
            let mut c = support::fhirdl(self.dir.path(), args);
            if let Some((_, file)) = &self.ca {
                c.env(fhirdl::tls::CA_FILE_ENV, file);
            }
            c
        }

        /// Names `preset` as the profile's provider (as `fhirdl login --provider` would; the
        /// preset's other defaults, such as a client secret, are not wanted here).
        fn use_preset(&self, preset: &str) -> Result<()> {
            let file = self.dir.path().join("config").join("config.toml");
            let mut doc: toml::Table = std::fs::read_to_string(&file)?.parse()?;
            doc["profiles"][PROFILE]
                .as_table_mut()
                .context("the bench's profile is missing")?
                .insert("provider".into(), preset.into());
            std::fs::write(&file, doc.to_string())?;
            Ok(())
        }

        fn stats(&self) -> SandboxStats {
            self.sandbox.stats()
        }

        /// Measures the floor P `runs` times for the searches of `report` (see [`floor`]).
        fn floor(&self, report: &Value, since: Option<&str>, runs: usize) -> Result<Vec<Floor>> {
            let queries = floor::queries(report, &self.sandbox.config().quirks);
            let (token, patient) = floor::credentials(&self.dir.path().join("data"), PROFILE)?;
            let base = self.sandbox.fhir_base();
            let measured: Result<Vec<Floor>> = (0..runs)
                .map(|_| {
                    self.rt.block_on(floor::measure(
                        &base,
                        &token,
                        &patient,
                        &queries,
                        since,
                        self.ca.as_ref().map(|(pem, _)| pem.as_str()),
                    ))
                })
                .collect();
            // A floor that cannot be measured leaves P empty; the syncs' figures still count.
            Ok(measured.unwrap_or_else(|e| {
                eprintln!("   the floor P could not be measured: {e:#}");
                Vec::new()
            }))
        }

        /// The largest page the sandbox honours.
        fn page_size(&self) -> u64 {
            let config = self.sandbox.config();
            config
                .quirks
                .fixed_page_size
                .unwrap_or(config.page_size_max) as u64
        }

        /// `fhirdl sync --out <out> -q --json <extra>`, measured; returns the run and the report.
        fn sync(&self, out: &Path, extra: &[&str]) -> Result<(Run, Value)> {
            let out_s = out.display().to_string();
            let mut args = vec![
                "sync",
                "--profile",
                PROFILE,
                "--out",
                &out_s,
                "-q",
                "--json",
            ];
            args.extend_from_slice(extra);
            if let Some(n) = CONCURRENCY.get().and_then(Option::as_deref) {
                args.extend_from_slice(&["--concurrency", n]);
            }
            let before_files = snapshot(out);
            let before = self.stats();
            let (status, stdout, stderr, mut run) = run_child(self.cmd(&args))?;
            let after = self.stats();
            ensure!(status == 0, "fhirdl sync failed ({status}):\n{stderr}");
            let report: Value = serde_json::from_str(&stdout).context("sync --json output")?;
            let after_files = snapshot(out);
            run.server_requests = after.requests - before.requests;
            run.pages_served = after.pages_served - before.pages_served;
            // A high-water mark over the sandbox's life; the first run of a bench sets it.
            run.max_in_flight = after.max_in_flight;
            run.reported_requests = report["requests"].as_u64().unwrap_or(0);
            run.http_bytes = report["bytes"].as_u64().unwrap_or(0);
            run.min_requests = minimum_requests(&report, self.page_size());
            run.out_bytes = after_files.values().map(|(len, _)| len).sum();
            run.files_written = after_files
                .iter()
                .filter(|(p, v)| {
                    !p.starts_with(out.join(".fhirdl")) && before_files.get(*p) != Some(v)
                })
                .count();
            Ok((run, report))
        }

        /// Amends `CHANGED` stored Observations on the server (a different slice each time).
        fn change_observations(&self, out: &Path, round: usize) -> Result<()> {
            let text = std::fs::read_to_string(out.join("Observation.ndjson"))
                .context("the export has no Observation.ndjson")?;
            let lines: Vec<&str> = text.lines().collect();
            ensure!(lines.len() >= CHANGED, "too few Observations to change");
            for i in 0..CHANGED {
                let line = lines[(round * CHANGED + i) % lines.len()];
                let mut obs: Value = serde_json::from_str(line)?;
                obs["status"] = json!("amended");
                self.sandbox.set_resource(obs)?;
            }
            Ok(())
        }
    }

    /// Spawns, drains stdout and stderr, reaps with `wait4`: (exit code, stdout, stderr, run).
    fn run_child(mut cmd: Command) -> Result<(i32, String, String, Run)> {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().context("starting fhirdl")?;
        let drain = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_string(&mut s);
                }
                s
            })
        };
        let out = drain(
            child
                .stdout
                .take()
                .map(|r| Box::new(r) as Box<dyn Read + Send>),
        );
        let err = drain(
            child
                .stderr
                .take()
                .map(|r| Box::new(r) as Box<dyn Read + Send>),
        );
        let pid = child.id() as libc::pid_t;
        // Peak RSS: wait4's ru_maxrss is useless here, because a child spawned with
        // vfork/CLONE_VM starts its accounting from the parent's memory (this process holds
        // the sandbox's whole patient). /proc/<pid>/status VmHWM is the high-water mark of the
        // child's own address space after exec; it only grows, so the last reading before the
        // exit is the peak (to within the polling interval).
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hwm = {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut peak_kib = 0u64;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                        let kib = status
                            .lines()
                            .find_map(|l| l.strip_prefix("VmHWM:"))
                            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
                        if let Some(kib) = kib {
                            peak_kib = peak_kib.max(kib);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                peak_kib
            })
        };
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain data; wait4 fills it for our own child, which std has not
        // reaped (we never call wait on `child`).
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let wall = started.elapsed();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let polled_kib = hwm.join().unwrap_or(0);
        ensure!(
            reaped == pid,
            "wait4 failed: {}",
            std::io::Error::last_os_error()
        );
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let run = Run {
            wall_s: wall.as_secs_f64(),
            cpu_s: secs(usage.ru_utime) + secs(usage.ru_stime),
            // Linux reports both in KiB; VmHWM when /proc had it (Linux), else ru_maxrss.
            peak_rss_mib: if polled_kib > 0 {
                polled_kib as f64 / 1024.0
            } else {
                usage.ru_maxrss as f64 / 1024.0
            },
            ..Run::default()
        };
        Ok((code, stdout, stderr, run))
    }

    /// Every file under `dir` with its length and modification time.
    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
        let mut files = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                match e.metadata() {
                    Ok(m) if m.is_dir() => stack.push(p),
                    Ok(m) => {
                        files.insert(p, (m.len(), m.modified().ok()));
                    }
                    Err(_) => {}
                }
            }
        }
        files
    }

    /// The fewest requests that fetch what a run's report says it fetched: the
    /// CapabilityStatement, one page per `page` resources of each searched type (at least one
    /// page, also for an empty answer; the Patient is one read), one `_id` search per 50
    /// referenced resources of a type, and one request per downloaded attachment.
    /// Categories that NextGen demands are not counted: each adds at least a page, so for that
    /// server the figure is a lower bound that cannot be reached.
    fn minimum_requests(report: &Value, page: u64) -> u64 {
        const REFERENCE_BATCH: u64 = 50;
        let mut n = 1;
        for t in report["types"].as_array().into_iter().flatten() {
            let fetched = t["fetched"].as_u64().unwrap_or(0);
            let referenced_only = t["pages"].as_u64() == Some(0)
                && t["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("refer to them"));
            n += if referenced_only {
                t["new"].as_u64().unwrap_or(0).div_ceil(REFERENCE_BATCH)
            } else if t["resource_type"] == "Patient" {
                1
            } else {
                fetched.div_ceil(page).max(1)
            };
        }
        n + report["attachments"]["downloaded"].as_u64().unwrap_or(0)
    }

    /// Per-type counts of the searches in a full export's report (referenced reads excluded).
    fn search_counts(report: &Value) -> BTreeMap<String, u64> {
        report["types"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["fetched"].as_u64().unwrap_or(0) > 0)
            .map(|t| {
                let name = t["resource_type"].as_str().unwrap_or("?").to_string();
                (name, t["fetched"].as_u64().unwrap_or(0))
            })
            .collect()
    }

    /// L = (discovery round trips + longest search chain in pages) × latency.
    fn bound(counts: &BTreeMap<String, u64>, page: u64, latency_ms: u64) -> (Option<f64>, String) {
        let (ty, n) = counts
            .iter()
            .max_by_key(|(_, n)| n.div_ceil(page))
            .map(|(t, n)| (t.as_str(), *n))
            .unwrap_or(("-", 0));
        let trips = DISCOVERY_ROUND_TRIPS + n.div_ceil(page);
        let note =
            format!("{DISCOVERY_ROUND_TRIPS} + ceil({n} {ty} / {page}) = {trips} round trips");
        let l = (latency_ms > 0).then(|| trips as f64 * latency_ms as f64 / 1000.0);
        (l, note)
    }

    /// Full export, no-change sync and incremental sync, `runs` times each, on one sandbox.
    fn sync_scenarios(
        size: &str,
        resources: usize,
        latency_ms: u64,
        runs: usize,
    ) -> Result<Vec<Row>> {
        eprintln!("== {size} ({resources} resources), {latency_ms} ms latency");
        let quirks = Quirks {
            latency: Duration::from_millis(latency_ms),
            ..Quirks::default()
        };
        let bench = Bench::start(resources, quirks, false)?;
        let page = bench.sandbox.config().page_size_max as u64;
        let (mut full, mut same, mut incr) = (Vec::new(), Vec::new(), Vec::new());
        let mut counts = BTreeMap::new();
        let mut full_report = Value::Null;
        for round in 0..runs {
            let out = bench.dir.path().join(format!("export-{round}"));
            let (run, report) = bench.sync(&out, &[])?;
            counts = search_counts(&report);
            full_report = report;
            full.push(run);
            same.push(bench.sync(&out, &[])?.0);
            bench.change_observations(&out, round)?;
            incr.push(bench.sync(&out, &[])?.0);
        }
        let patient_id = bench.sandbox.users()[0].patient_id.clone();
        let held = bench.sandbox.resource_count(&patient_id);
        eprintln!("   search counts: {counts:?} (sandbox holds {held} for the patient)");
        let floor_full = bench.floor(&full_report, None, runs)?;
        // The later syncs ask for what changed since their mark minus two minutes; the floor
        // asks for the last two minutes (the amended Observations).
        let since = (time::OffsetDateTime::now_utc() - Duration::from_secs(120))
            .format(&time::format_description::well_known::Rfc3339)?;
        let floor_one = bench.floor(&full_report, Some(&since), runs)?;
        let (l_full, note_full) = bound(&counts, page, latency_ms);
        // After the first export every type's query answers in one page.
        let one_page: BTreeMap<String, u64> = counts.keys().map(|t| (t.clone(), 1)).collect();
        let (l_one, note_one) = bound(&one_page, 1, latency_ms);
        let row =
            |scenario: &str, runs: Vec<Run>, l: Option<f64>, note: &str, floor: &[Floor]| Row {
                scenario: scenario.into(),
                size: size.into(),
                resources: held,
                latency_ms,
                bound_s: l,
                bound_note: note.into(),
                floor: floor.to_vec(),
                runs,
            };
        let mut rows = vec![
            row("full export", full, l_full, &note_full, &floor_full),
            row("no-change sync", same, l_one, &note_one, &floor_one),
            row(
                &format!("incremental ({CHANGED} changed)"),
                incr,
                l_one,
                &note_one,
                &floor_one,
            ),
        ];
        // Offline commands do not depend on the latency: measured once, on the 0 ms pass.
        if latency_ms == 0 {
            let out = bench.dir.path().join("export-0");
            rows.extend(offline_rows(&bench, &out, size, held, runs)?);
        }
        Ok(rows)
    }

    /// `fhirdl view` and `fhirdl bundle` (plain and gzip) on an export, `runs` times each
    /// (the target: 100,000 resources render in 3 s at most). `out MiB` is the file written.
    fn offline_rows(
        bench: &Bench,
        out: &Path,
        size: &str,
        resources: usize,
        runs: usize,
    ) -> Result<Vec<Row>> {
        let out_s = out.display().to_string();
        let commands: [(&str, &[&str], &str); 3] = [
            ("view (record.html)", &["view"], "record.html"),
            ("bundle (collection)", &["bundle"], "record.bundle.json"),
            (
                "bundle --gzip",
                &["bundle", "--gzip"],
                "record.bundle.json.gz",
            ),
        ];
        let mut rows = Vec::new();
        for (scenario, command, file) in commands {
            let mut all = Vec::new();
            for _ in 0..runs {
                let mut args = command.to_vec();
                args.extend_from_slice(&["--out", &out_s, "-q"]);
                let (status, _, stderr, mut run) = run_child(bench.cmd(&args))?;
                ensure!(
                    status == 0,
                    "fhirdl {command:?} failed ({status}):\n{stderr}"
                );
                run.out_bytes = std::fs::metadata(out.join(file))?.len();
                all.push(run);
            }
            rows.push(Row {
                scenario: scenario.into(),
                size: size.into(),
                resources,
                latency_ms: 0,
                bound_s: None,
                bound_note: "offline: reads the export folder only (no bound)".into(),
                floor: Vec::new(),
                runs: all,
            });
        }
        Ok(rows)
    }

    /// Full exports only, on a sandbox with `quirks`, with `extra` sync arguments.
    fn full_exports(
        scenario: &str,
        size: &str,
        resources: usize,
        quirks: Quirks,
        extra: &[&str],
        runs: usize,
        with_floor: bool,
    ) -> Result<Row> {
        let latency_ms = quirks.latency.as_millis() as u64;
        eprintln!("== {scenario}: {size} ({resources} resources), {latency_ms} ms latency");
        // `https` among the arguments is the bench's: the sandbox speaks HTTPS with HTTP/2.
        let tls = extra.contains(&HTTPS);
        let extra: Vec<&str> = extra.iter().copied().filter(|a| *a != HTTPS).collect();
        let bench = Bench::start(resources, quirks, tls)?;
        // `preset:NAME` among the arguments is the bench's: the profile gets that provider.
        let (presets, extra): (Vec<&str>, Vec<&str>) =
            extra.iter().partition(|a| a.starts_with(PRESET));
        for p in presets {
            bench.use_preset(&p[PRESET.len()..])?;
        }
        let extra = extra.as_slice();
        let config = bench.sandbox.config();
        let page = config
            .quirks
            .fixed_page_size
            .unwrap_or(config.page_size_max) as u64;
        let mut all = Vec::new();
        let mut counts = BTreeMap::new();
        let mut last = Value::Null;
        for round in 0..runs {
            let out = bench.dir.path().join(format!("export-{round}"));
            let (run, report) = bench.sync(&out, extra)?;
            counts = search_counts(&report);
            last = report;
            all.push(run);
        }
        let floor = match with_floor {
            true => bench.floor(&last, None, runs)?,
            false => Vec::new(),
        };
        let patient_id = bench.sandbox.users()[0].patient_id.clone();
        let (l, note) = bound(&counts, page, latency_ms);
        Ok(Row {
            scenario: scenario.into(),
            size: size.into(),
            resources: bench.sandbox.resource_count(&patient_id),
            latency_ms,
            bound_s: l,
            bound_note: note,
            floor,
            runs: all,
        })
    }

    fn stats(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
        let mut v: Vec<f64> = values.collect();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => (0.0, 0.0, 0.0),
            n => (v[0], v[n / 2], v[n - 1]),
        }
    }

    fn print_table(rows: &[Row]) {
        println!(
            "{:<36} {:<8} {:>7} {:>5} {:>22} {:>7} {:>17} {:>7} {:>17} {:>10} {:>8} {:>6} {:>8} {:>5} {:>5} {:>7} {:>7} {:>6} {:>8} {:>8}",
            "scenario",
            "size",
            "res",
            "lat",
            "wall s min/med/max",
            "L s",
            "wall/L min/med/max",
            "P s",
            "wall/P min/med/max",
            "wall/(P+r)",
            "cpu s",
            "cpu %",
            "rss MiB",
            "req",
            "min",
            "req/min",
            "server",
            "writes",
            "HTTP MiB",
            "out MiB"
        );
        for r in rows {
            let (w0, w1, w2) = stats(r.runs.iter().map(|x| x.wall_s));
            let ratio = |bound: Option<f64>| match bound {
                Some(b) => format!("{:.2}/{:.2}/{:.2}", w0 / b, w1 / b, w2 / b),
                None => "-".into(),
            };
            let median = |f: fn(&Run) -> f64| stats(r.runs.iter().map(f)).1;
            println!(
                "{:<36} {:<8} {:>7} {:>5} {:>22} {:>7} {:>17} {:>7} {:>17} {:>10} {:>8.2} {:>6.1} {:>8.1} {:>5} {:>5} {:>7.2} {:>7} {:>6} {:>8.1} {:>8.1}",
                r.scenario,
                r.size,
                r.resources,
                format!("{}ms", r.latency_ms),
                format!("{w0:.2}/{w1:.2}/{w2:.2}"),
                r.bound_s.map_or("-".into(), |l| format!("{l:.2}")),
                ratio(r.bound_s),
                r.floor_s().map_or("-".into(), |p| format!("{p:.3}")),
                ratio(r.floor_s()),
                r.target_s().map_or("-".into(), |t| format!("{:.2}", w1 / t)),
                median(|x| x.cpu_s),
                median(|x| 100.0 * x.cpu_s / x.wall_s.max(1e-9)),
                median(|x| x.peak_rss_mib),
                median(|x| x.reported_requests as f64),
                median(|x| x.min_requests as f64),
                median(|x| x.reported_requests as f64 / (x.min_requests.max(1) as f64)),
                median(|x| x.server_requests as f64),
                median(|x| x.files_written as f64),
                median(|x| x.http_bytes as f64) / 1_048_576.0,
                median(|x| x.out_bytes as f64) / 1_048_576.0,
            );
        }
        println!(
            "\nwall/(P+r): the median wall time over P plus one round trip for the references; the target is at most 1.25."
        );
        println!("\nL (bound), in round trips:");
        for r in rows {
            println!("  {:<36} {:<8} {}", r.scenario, r.size, r.bound_note);
        }
        println!("\nP (the all-parallel floor, measured by a minimal client):");
        for r in rows.iter().filter(|r| !r.floor.is_empty()) {
            let lat = format!("{}ms", r.latency_ms);
            println!(
                "  {:<36} {:<8} {:>5} {}",
                r.scenario,
                r.size,
                lat,
                r.floor_note()
            );
        }
        rate_capped_note(rows);
    }

    /// At a rate cap every request costs `60 / cap` seconds, so the expected time of a
    /// record is its fewest requests at that pace; said for each size's full export next to
    /// what the rate-capped row measured.
    fn rate_capped_note(rows: &[Row]) {
        let Some(capped) = rows.iter().find(|r| r.scenario.contains(RATE_CAP)) else {
            return;
        };
        let per_request = 60.0 / RATE_CAP_PER_MINUTE;
        let median = |r: &Row, f: fn(&Run) -> f64| stats(r.runs.iter().map(f)).1;
        println!("\nAt {RATE_CAP} ({per_request:.0} s a request):");
        println!(
            "  measured: {} resources, {:.0} requests (fewest possible {:.0}), {:.0} s (expected {:.0} s)",
            capped.resources,
            median(capped, |x| x.reported_requests as f64),
            median(capped, |x| x.min_requests as f64),
            median(capped, |x| x.wall_s),
            median(capped, |x| x.min_requests as f64) * per_request,
        );
        let mut seen = std::collections::BTreeSet::new();
        for r in rows
            .iter()
            .filter(|r| r.scenario == "full export" && r.latency_ms == 0)
        {
            if seen.insert(r.size.clone()) {
                let min = median(r, |x| x.min_requests as f64);
                println!(
                    "  expected for the {} record ({} resources): {min:.0} requests at the least, {:.1} min",
                    r.size,
                    r.resources,
                    min * per_request / 60.0
                );
            }
        }
    }

    fn to_json(rows: &[Row], args: &Args) -> Value {
        let machine = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_default();
        let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
        json!({
            "commit": git_commit(),
            "machine": { "cpu": machine, "nproc": nproc },
            "runs": args.runs,
            "rows": rows.iter().map(|r| json!({
                "scenario": r.scenario,
                "size": r.size,
                "resources": r.resources,
                "latency_ms": r.latency_ms,
                "bound_s": r.bound_s,
                "bound": r.bound_note,
                "floor_s": r.floor_s(),
                "floor": r.floor_note(),
                "floor_runs_s": r.floor.iter().map(|f| f.wall_s).collect::<Vec<_>>(),
                "runs": r.runs.iter().map(|x| json!({
                    "wall_s": x.wall_s,
                    "ratio_to_bound": r.bound_s.map(|l| x.wall_s / l),
                    "ratio_to_floor": r.floor_s().map(|p| x.wall_s / p),
                    "ratio_to_floor_plus_round_trip": r.target_s().map(|t| x.wall_s / t),
                    "cpu_s": x.cpu_s,
                    "peak_rss_mib": x.peak_rss_mib,
                    "requests_reported": x.reported_requests,
                    "requests_at_server": x.server_requests,
                    "requests_minimum": x.min_requests,
                    "http_bytes": x.http_bytes,
                    "pages_served": x.pages_served,
                    "max_in_flight": x.max_in_flight,
                    "export_files_written": x.files_written,
                    "out_bytes": x.out_bytes,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    fn git_commit() -> Option<String> {
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub fn main() -> Result<()> {
        // `cargo test --all-targets` runs harness = false benches without `--bench`; only
        // `cargo bench` passes it. A test run must stay quick, so it only checks that we start.
        if !std::env::args().any(|a| a == "--bench") {
            floor::self_check()?;
            eprintln!("export benchmark: run it with `cargo bench --bench export`; skipped");
            return Ok(());
        }
        let args = parse_args()?;
        let _ = CONCURRENCY.set(args.concurrency.clone());
        let mut rows = Vec::new();
        let mut latencies = args.latencies.clone();
        if !latencies.contains(&0) {
            latencies.push(0);
        }
        for &(size, resources) in &args.sizes {
            if size == "huge" {
                // Memory and CPU: one run of each scenario, no latency.
                rows.extend(sync_scenarios(size, resources, 0, 1)?);
                continue;
            }
            if size == "million" {
                // Memory: one full export, no latency (the target: RSS at 1,000,000 resources).
                let quirks = Quirks::default();
                rows.push(full_exports(
                    "full export",
                    size,
                    resources,
                    quirks,
                    &[],
                    1,
                    true,
                )?);
                continue;
            }
            for &latency_ms in &latencies {
                rows.extend(sync_scenarios(size, resources, latency_ms, args.runs)?);
            }
            for &latency_ms in latencies.iter().filter(|l| **l > 0) {
                let plain = Quirks {
                    latency: Duration::from_millis(latency_ms),
                    ..Quirks::default()
                };
                let nextgen = Quirks {
                    latency: Duration::from_millis(latency_ms),
                    ..Quirks::nextgen()
                };
                // P leaves the documents out: these rows compare like with like.
                rows.push(full_exports(
                    "full export, no documents",
                    size,
                    resources,
                    plain.clone(),
                    &["--no-attachments"],
                    args.runs,
                    true,
                )?);
                for (scenario, extra) in [
                    ("full export, NextGen", &[][..]),
                    (
                        "full export, NextGen, no documents",
                        &["--no-attachments"][..],
                    ),
                    // A NextGen profile made with its preset knows the categories, like P.
                    (
                        "full export, NextGen preset, no documents",
                        &["--no-attachments", "preset:nextgen-enterprise-r4"][..],
                    ),
                ] {
                    rows.push(full_exports(
                        scenario,
                        size,
                        resources,
                        nextgen.clone(),
                        extra,
                        args.runs,
                        true,
                    )?);
                }
                // Over HTTPS with HTTP/2 the window may grow past 64 (one connection; the
                // server's stream limit applies), and P is measured over HTTP/2 too.
                for (scenario, quirks, extra) in [
                    ("full export, HTTP/2", &plain, &[HTTPS][..]),
                    (
                        "full export, HTTP/2, no documents",
                        &plain,
                        &[HTTPS, "--no-attachments"][..],
                    ),
                    (
                        "full export, NextGen preset, HTTP/2",
                        &nextgen,
                        &[HTTPS, "preset:nextgen-enterprise-r4"][..],
                    ),
                    (
                        "full export, NextGen preset, HTTP/2, no documents",
                        &nextgen,
                        &[HTTPS, "--no-attachments", "preset:nextgen-enterprise-r4"][..],
                    ),
                ] {
                    rows.push(full_exports(
                        scenario,
                        size,
                        resources,
                        quirks.clone(),
                        extra,
                        args.runs,
                        true,
                    )?);
                }
            }
        }
        if args.rate_cap {
            let quirks = Quirks {
                latency: Duration::from_millis(args.latencies[0]),
                ..Quirks::default()
            };
            let scenario = format!("full export, {RATE_CAP}");
            let extra = ["--max-rate", RATE_CAP];
            rows.push(full_exports(
                &scenario,
                "small",
                RATE_CAP_RESOURCES,
                quirks,
                &extra,
                1,
                false,
            )?);
        }
        print_table(&rows);
        if let Some(parent) = args.json.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let doc = serde_json::to_string_pretty(&to_json(&rows, &args))?;
        std::fs::write(&args.json, doc)
            .with_context(|| format!("writing {}", args.json.display()))?;
        eprintln!("wrote {}", args.json.display());
        Ok(())
    }
}

#[cfg(unix)]
fn main() -> anyhow::Result<()> {
    bench::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("the export benchmark needs wait4 (Unix); skipped");
}
