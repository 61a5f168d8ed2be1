//! What the benchmarks share: the embedded sandbox on a runtime of its own, and the real
//! `fhirdl` binary run against it with private folders and the scripted sandbox browser.

use anyhow::Result;
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
