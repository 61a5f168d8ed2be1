//! The credential store: the OS keyring (through `keyring`) or an owner-only file.
//!
//! One entry per profile holds the JSON of [`Credentials`]. The store kind is chosen at login and
//! saved with the profile, so later runs (cron) find it again. A keyring that cannot be reached
//! is an error that names `--credential-store file`; fhirdl never falls back silently.

use super::credentials::Credentials;
use crate::atomic;
use crate::error::{Failure, Kind};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

const KEYRING_SERVICE: &str = "fhirdl";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
/// Where a profile's credentials are kept (saved with the profile; `--credential-store`).
pub enum StoreKind {
    /// The OS credential store (Keychain, Credential Manager, Secret Service).
    Keyring,
    /// An owner-only (0600) file in the data folder.
    File,
}

#[derive(Debug, Clone)]
pub enum CredentialStore {
    Keyring { service: String },
    File { dir: PathBuf },
}

impl CredentialStore {
    /// A store of `kind`; the file store keeps one file per profile in `credentials_dir`.
    pub fn new(kind: StoreKind, credentials_dir: &Path) -> CredentialStore {
        match kind {
            StoreKind::Keyring => CredentialStore::Keyring {
                service: KEYRING_SERVICE.to_string(),
            },
            StoreKind::File => CredentialStore::File {
                dir: credentials_dir.to_path_buf(),
            },
        }
    }

    /// For people: which store, and where.
    pub fn describe(&self) -> String {
        match self {
            CredentialStore::Keyring { .. } => format!("OS keyring ({})", keyring_backend_name()),
            CredentialStore::File { dir } => format!("file in {}", dir.display()),
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            CredentialStore::Keyring { .. } => "keyring",
            CredentialStore::File { .. } => "file",
        }
    }

    fn file_path(dir: &std::path::Path, profile: &str) -> PathBuf {
        dir.join(format!("{profile}.json"))
    }

    pub async fn load(&self, profile: &str) -> Result<Option<Credentials>> {
        let text = match self {
            CredentialStore::File { dir } => {
                let path = Self::file_path(dir, profile);
                match std::fs::read_to_string(&path) {
                    Ok(t) => Some(t),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot read {}", path.display()))
                    }
                }
            }
            CredentialStore::Keyring { service } => {
                let (service, profile) = (service.clone(), profile.to_string());
                blocking(
                    move || match keyring::Entry::new(&service, &profile)?.get_password() {
                        Ok(t) => Ok(Some(t)),
                        Err(keyring::Error::NoEntry) => Ok(None),
                        Err(e) => Err(e),
                    },
                )
                .await?
            }
        };
        let Some(text) = text else { return Ok(None) };
        // The parse error is not shown: serde's message could quote part of a token.
        serde_json::from_str(&text).map(Some).map_err(|_| {
            crate::auth::Error::login_required(
                profile,
                format!("the stored credentials of profile '{profile}' are damaged"),
            )
            .into()
        })
    }

    pub async fn save(&self, profile: &str, creds: &Credentials) -> Result<()> {
        let text = serde_json::to_string(creds).context("cannot serialize the credentials")?;
        match self {
            CredentialStore::File { dir } => {
                atomic::write_atomic(&Self::file_path(dir, profile), text.as_bytes())
            }
            CredentialStore::Keyring { service } => {
                let (service, profile) = (service.clone(), profile.to_string());
                blocking(move || keyring::Entry::new(&service, &profile)?.set_password(&text)).await
            }
        }
    }

    /// Deletes the profile's entry; `false` when there was none.
    pub async fn delete(&self, profile: &str) -> Result<bool> {
        match self {
            CredentialStore::File { dir } => {
                atomic::remove_if_exists(&Self::file_path(dir, profile))
            }
            CredentialStore::Keyring { service } => {
                let (service, profile) = (service.clone(), profile.to_string());
                blocking(move || {
                    match keyring::Entry::new(&service, &profile)?.delete_credential() {
                        Ok(()) => Ok(true),
                        Err(keyring::Error::NoEntry) => Ok(false),
                        Err(e) => Err(e),
                    }
                })
                .await
            }
        }
    }

    /// Checks that the store works before a sign-in depends on it.
    pub async fn probe(&self) -> Result<()> {
        match self {
            CredentialStore::File { dir } => atomic::create_private_dir(dir),
            CredentialStore::Keyring { service } => {
                let service = service.clone();
                blocking(move || {
                    let entry = keyring::Entry::new(&service, "fhirdl-probe")?;
                    entry.set_password("probe")?;
                    entry.get_password()?;
                    entry.delete_credential()
                })
                .await
            }
        }
    }
}

/// Runs a keyring call off the async threads and turns its errors into a clear failure.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<T> {
    let result = tokio::task::spawn_blocking(f)
        .await
        .context("the credential store task failed")?;
    result.map_err(keyring_failure)
}

fn keyring_failure(e: keyring::Error) -> anyhow::Error {
    let detail = match &e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            inner.to_string()
        }
        other => other.to_string(),
    };
    Failure::new(
        Kind::CredentialStore,
        format!("the OS keyring ({}) cannot be used: {detail}", keyring_backend_name()),
    )
    .hint("on a headless machine there is often no keyring: sign in with --credential-store file to keep the tokens in an owner-only file in the data folder")
    .into()
}

fn keyring_backend_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS Keychain"
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager"
    } else {
        "Secret Service"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn creds() -> Credentials {
        Credentials {
            access_token: Secret::new("at-1"),
            expires_at: Some(10),
            refresh_token: Some(Secret::new("rt-1")),
            refresh_token_issued_at: Some(5),
            scope: "patient/*.rs".into(),
            patient: Some("p1".into()),
            encounter: None,
            fhir_user: None,
            user_name: None,
            launch: Default::default(),
            client_secret: None,
            signed_in_at: 1,
        }
    }

    #[tokio::test]
    async fn file_store_round_trip_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("d").join("credentials");
        let store = CredentialStore::new(StoreKind::File, &credentials);
        assert!(store.load("p").await.unwrap().is_none());
        store.save("p", &creds()).await.unwrap();
        let back = store.load("p").await.unwrap().unwrap();
        assert_eq!(back.refresh_token.unwrap().expose(), "rt-1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let f = credentials.join("p.json");
            assert_eq!(
                std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(store.delete("p").await.unwrap());
        assert!(!store.delete("p").await.unwrap());
    }

    #[tokio::test]
    async fn damaged_file_asks_for_login_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::File {
            dir: dir.path().to_path_buf(),
        };
        std::fs::write(dir.path().join("p.json"), "{\"access_token\": \"sekrit").unwrap();
        let err = store.load("p").await.unwrap_err();
        assert!(!format!("{err:#}").contains("sekrit"));
        assert_eq!(crate::exit::exit_code(&err), 4);
    }
}
