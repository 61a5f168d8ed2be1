//! What we will do: the global flags, environment and platform folders resolved once.
//!
//! Commands receive a [`Settings`] and never read the environment or clap types for these
//! values themselves. Profile files are read through [`crate::config`].

use crate::cli::{GlobalArgs, TraceArgs};
use crate::config::Paths;
use anyhow::Result;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Global settings for one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub paths: Paths,
    /// The profile named with --profile or FHIRDL_PROFILE.
    pub profile: Option<String>,
    pub verbosity: u8,
    pub quiet: bool,
    pub json: bool,
    /// Colours on stderr: a terminal, and NO_COLOR unset, and TERM not "dumb".
    pub color: bool,
    /// Prompts are allowed only when stdin is a terminal.
    pub interactive: bool,
    /// `--trace-file`: one JSON line per HTTP exchange.
    pub trace_file: Option<PathBuf>,
    /// `--trace-bodies`: the trace file also gets the bodies.
    pub trace_bodies: bool,
    /// `FHIRDL_CLIENT_SECRET`: a confidential client's secret (never taken from argv).
    pub client_secret: Option<crate::secret::Secret>,
    /// `FHIRDL_CA_FILE`: certificates every HTTPS client trusts besides the built-in roots.
    pub extra_roots: crate::tls::ExtraRoots,
}

impl Settings {
    pub fn from_args(global: &GlobalArgs, trace: Option<&TraceArgs>) -> Result<Settings> {
        let paths = Paths::resolve(global.config_dir.clone(), global.data_dir.clone())?;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Ok(Settings {
            paths,
            profile: global.profile.clone(),
            verbosity: global.verbose,
            quiet: global.quiet,
            json: global.json,
            color: !no_color && !dumb && std::io::stderr().is_terminal(),
            interactive: std::io::stdin().is_terminal(),
            trace_file: trace.and_then(|t| t.trace_file.clone()),
            trace_bodies: trace.is_some_and(|t| t.trace_bodies),
            client_secret: std::env::var("FHIRDL_CLIENT_SECRET")
                .ok()
                .filter(|s| !s.is_empty())
                .map(crate::secret::Secret::new),
            extra_roots: crate::tls::ExtraRoots::from_env()?,
        })
    }
}
