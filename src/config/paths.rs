//! Where fhirdl keeps its files: the settings folder (config.toml) and the data folder
//! (credentials of the file store, default export folders), from flags, environment or the
//! platform's conventions (`directories`).

use crate::auth::store::{CredentialStore, StoreKind};
use crate::error::{Failure, Kind};
use anyhow::Result;
use std::path::PathBuf;

/// Where fhirdl keeps its settings and its data.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// Flag (or its environment variable, via clap) first, then the platform's folders.
    pub fn resolve(config_dir: Option<PathBuf>, data_dir: Option<PathBuf>) -> Result<Paths> {
        let project = directories::ProjectDirs::from("org", "fhirdl", "fhirdl");
        let from_platform = |pick: fn(&directories::ProjectDirs) -> PathBuf| {
            project.as_ref().map(pick).ok_or_else(|| {
                Failure::new(Kind::Usage, "cannot find a home folder for fhirdl's files")
                    .hint("set FHIRDL_CONFIG_DIR and FHIRDL_DATA_DIR, or pass --config-dir and --data-dir")
            })
        };
        let config_dir = match config_dir {
            Some(d) => d,
            None => from_platform(|p| p.config_dir().to_path_buf())?,
        };
        let data_dir = match data_dir {
            Some(d) => d,
            None => from_platform(|p| p.data_dir().to_path_buf())?,
        };
        Ok(Paths {
            config_dir,
            data_dir,
        })
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    pub fn credentials_dir(&self) -> PathBuf {
        self.data_dir.join("credentials")
    }

    /// The credential store of `kind` (the file store lives in [`Self::credentials_dir`]).
    pub fn credential_store(&self, kind: StoreKind) -> CredentialStore {
        CredentialStore::new(kind, &self.credentials_dir())
    }
}
