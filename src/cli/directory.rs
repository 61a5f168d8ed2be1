//! The arguments of `fhirdl directory` and `fhirdl find`: the published directories of
//! practices and their FHIR endpoints.

use super::TraceArgs;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Download the vendors' published directories into the local index (data folder).
    #[command(after_help = UPDATE_EXAMPLES)]
    Update(DirectoryUpdateArgs),
}

#[derive(Debug, Args, Clone)]
pub struct DirectoryUpdateArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Read this directory instead of the built-in list and the settings file's
    /// `directory_sources` (repeat for more): a FHIR Bundle of Organizations and Endpoints,
    /// plain or gzip.
    #[arg(long = "source", value_name = "URL")]
    pub sources: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct FindArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Words of the practice's, brand's or portal's name (any order; typos are forgiven).
    #[arg(required = true, num_args = 1.., value_name = "WORDS")]
    pub words: Vec<String>,
    /// Only practices in this state (two letters, e.g. IL).
    #[arg(long, value_name = "XX")]
    pub state: Option<String>,
    /// Only practices in this city.
    #[arg(long, value_name = "NAME")]
    pub city: Option<String>,
    /// Only endpoints of this EHR vendor (e.g. Epic, NextGen).
    #[arg(long, value_name = "NAME")]
    pub vendor: Option<String>,
    /// Show at most N matches.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub limit: u16,
    /// Check each match's endpoint: its SMART configuration and CapabilityStatement.
    #[arg(long)]
    pub check: bool,
}

pub const UPDATE_EXAMPLES: &str = "\
Examples:
  fhirdl directory update                 # every built-in vendor directory
  fhirdl directory update --json
  fhirdl directory update --source https://mirror.example.net/brands.json.gz

Sources that did not change since the last update answer 304 and keep their
rows; a source that fails keeps the rows it had, and the others still update.";

pub const FIND_EXAMPLES: &str = "\
Examples:
  fhirdl find sunrise family medicine
  fhirdl find sunrize famly --state IL --city Springfield
  fhirdl find lakeside --vendor epic --check
  fhirdl find sunrise --json --limit 3

Each match ends with the command that signs in to it:
  fhirdl login --practice <id>
Run `fhirdl directory update` first, and again when it is a month old.";
