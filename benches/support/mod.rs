//! What the benchmarks share: the embedded sandbox on a runtime of its own, and the real
//! `fhirdl` binary run against it with private folders and the scripted sandbox browser.

use anyhow::{ensure, Context, Result};
use fhirdl_sandbox::{Quirks, Sandbox, SandboxConfig};
use std::path::Path;
use std::process::{Command, Stdio};

/// Cargo builds the binary for benchmarks and tells us where it is.
pub const BIN: &str = env!("CARGO_BIN_EXE_fhirdl");
/// The profile every benchmark signs in as.
pub const PROFILE: &str = "bench";

/// The sandbox with one generated patient of `resources` resources and `quirks`, served by a
/// two-thread runtime of its own (drop the sandbox before the runtime); over HTTPS with
/// HTTP/2 when `tls` (its certificate: [`Sandbox::ca_pem`]).
pub fn start_sandbox(
    resources: usize,
    quirks: Quirks,
    tls: bool,
) -> Result<(tokio::runtime::Runtime, Sandbox)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sandbox = rt.block_on(Sandbox::start(SandboxConfig {
        resources_per_patient: resources,
        quirks,
        tls,
        ..SandboxConfig::default()
    }))?;
    Ok((rt, sandbox))
}

/// `fhirdl <args>` with its settings and data under `root`, the sandbox's scripted browser,
/// no colour, no profile or client from the environment, and no stdin.
pub fn fhirdl(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("FHIRDL_CONFIG_DIR", root.join("config"))
        .env("FHIRDL_DATA_DIR", root.join("data"))
        .env("BROWSER", format!("{BIN} sandbox-browser"))
        .env("NO_COLOR", "1")
        .env_remove("FHIRDL_PROFILE")
        .env_remove("FHIRDL_CLIENT_ID")
        .env_remove("FHIRDL_CLIENT_SECRET")
        .stdin(Stdio::null());
    c
}

/// The arguments of `fhirdl login` for [`PROFILE`] at the sandbox's FHIR base.
pub fn login_args(base: &str) -> [&str; 11] {
    [
        "login",
        "--profile",
        PROFILE,
        "--fhir-base",
        base,
        "--client-id",
        "fhirdl-sandbox",
        "--credential-store",
        "file",
        "--timeout",
        "60s",
    ]
}

/// `--resources N` (default `resources`) and `--runs N` (default 3), the arguments of the
/// benchmarks that measure one command on one large record.
pub struct SizeAndRuns {
    pub resources: usize,
    pub runs: usize,
}

/// Reads [`SizeAndRuns`] from the command line (cargo's `--bench` is skipped).
pub fn size_and_runs(resources: usize) -> Result<SizeAndRuns> {
    let mut args = SizeAndRuns { resources, runs: 3 };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--bench" => {}
            "--resources" => args.resources = value()?.parse().context("--resources")?,
            "--runs" => args.runs = value()?.parse().context("--runs")?,
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    ensure!(args.runs >= 1, "--runs must be at least 1");
    Ok(args)
}
