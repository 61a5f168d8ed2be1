//! How a type was fetched in a run ([`Strategy`]) and what its copy is fresh as of
//! ([`Freshness`]): what the report, `last_run.json` and the manifest say of each type.

use serde::{Deserialize, Serialize};

/// How a type was fetched in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Incremental,
    #[default]
    Whole,
    Reconcile,
    /// Fetched whole through `Patient/$everything` instead of its search.
    Everything,
}

/// How a type was fetched and what its copy is fresh as of, as `last_run.json` and the
/// manifest keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_as_of: Option<String>,
}
