//! The credential store: the OS keyring (through `keyring`) or an owner-only file.
//!
//! One entry per profile holds the JSON of [`Credentials`]; a second, `<profile>+client-key`,
//! the profile's `private_key_jwt` key ([`ClientKey`]), when it has one; a third,
//! `<profile>+registration`, the key and management token of this computer's registration
//! ([`RegistrationSecrets`]). The store kind is chosen at login and
//! saved with the profile, so later runs (cron) find it again. A keyring that cannot be reached
//! is an error that names `--credential-store file`; fhirdl never falls back silently.

use super::client_key::ClientKey;
use super::credentials::Credentials;
use super::registration::RegistrationSecrets;
use crate::atomic;
use crate::error::{Failure, Kind};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

const KEYRING_SERVICE: &str = "fhirdl";

/// The entry (keyring user, file stem) of a profile's client key; profile names cannot hold
/// `+`, so it never meets a profile's own entry.
fn key_entry(profile: &str) -> String {
    format!("{profile}+client-key")
}

/// The entry of a profile's registration secrets.
fn registration_entry(profile: &str) -> String {
    format!("{profile}+registration")
}

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

    fn file_path(dir: &std::path::Path, entry: &str) -> PathBuf {
        dir.join(format!("{entry}.json"))
    }

    pub async fn load(&self, profile: &str) -> Result<Option<Credentials>> {
        let Some(text) = self.read_entry(profile).await? else {
            return Ok(None);
        };
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
        self.write_entry(profile, text).await
    }

    /// Deletes the profile's entry; `false` when there was none.
    pub async fn delete(&self, profile: &str) -> Result<bool> {
        self.remove_entry(profile).await
    }

    /// The profile's `private_key_jwt` key, kept in an entry of its own so that it outlives
    /// the tokens (it is made before the first sign-in and stays registered with the vendor).
    pub async fn load_client_key(&self, profile: &str) -> Result<Option<ClientKey>> {
        let Some(text) = self.read_entry(&key_entry(profile)).await? else {
            return Ok(None);
        };
        // Not quoted: the text is the private key.
        serde_json::from_str(&text).map(Some).map_err(|_| {
            Failure::new(
                Kind::CredentialStore,
                format!("the stored client key of profile '{profile}' is damaged"),
            )
            .hint(format!("make a new one with `fhirdl key create --profile {profile}` and register its key set again"))
            .into()
        })
    }

    pub async fn save_client_key(&self, profile: &str, key: &ClientKey) -> Result<()> {
        let text = serde_json::to_string(key).context("cannot serialize the client key")?;
        self.write_entry(&key_entry(profile), text).await
    }

    /// Deletes the profile's client key; `false` when there was none.
    pub async fn delete_client_key(&self, profile: &str) -> Result<bool> {
        self.remove_entry(&key_entry(profile)).await
    }

    /// The key (and RFC 7592 token) of this computer's registration with the provider.
    pub async fn load_registration(&self, profile: &str) -> Result<Option<RegistrationSecrets>> {
        let Some(text) = self.read_entry(&registration_entry(profile)).await? else {
            return Ok(None);
        };
        // Not quoted: the text holds the private key.
        serde_json::from_str(&text).map(Some).map_err(|_| {
            crate::auth::Error::login_required(
                profile,
                format!("the stored registration of profile '{profile}' is damaged"),
            )
            .into()
        })
    }

    pub async fn save_registration(
        &self,
        profile: &str,
        secrets: &RegistrationSecrets,
    ) -> Result<()> {
        let text = serde_json::to_string(secrets).context("cannot serialize the registration")?;
        self.write_entry(&registration_entry(profile), text).await
    }

    /// Forgets the profile's registration secrets; `false` when there were none.
    pub async fn delete_registration(&self, profile: &str) -> Result<bool> {
        self.remove_entry(&registration_entry(profile)).await
    }

    async fn read_entry(&self, entry: &str) -> Result<Option<String>> {
        match self {
            CredentialStore::File { dir } => {
                let path = Self::file_path(dir, entry);
                match std::fs::read_to_string(&path) {
                    Ok(t) => Ok(Some(t)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
                }
            }
            CredentialStore::Keyring { service } => {
                let (service, entry) = (service.clone(), entry.to_string());
                blocking(
                    move || match keyring::Entry::new(&service, &entry)?.get_password() {
                        Ok(t) => Ok(Some(t)),
                        Err(keyring::Error::NoEntry) => Ok(None),
                        Err(e) => Err(e),
                    },
                )
                .await
            }
        }
    }

    async fn write_entry(&self, entry: &str, text: String) -> Result<()> {
        match self {
            CredentialStore::File { dir } => {
                atomic::write_atomic(&Self::file_path(dir, entry), text.as_bytes())
            }
            CredentialStore::Keyring { service } => {
                let (service, entry) = (service.clone(), entry.to_string());
                blocking(move || keyring::Entry::new(&service, &entry)?.set_password(&text)).await
            }
        }
    }

    async fn remove_entry(&self, entry: &str) -> Result<bool> {
        match self {
            CredentialStore::File { dir } => atomic::remove_if_exists(&Self::file_path(dir, entry)),
            CredentialStore::Keyring { service } => {
                let (service, entry) = (service.clone(), entry.to_string());
                blocking(
                    move || match keyring::Entry::new(&service, &entry)?.delete_credential() {
                        Ok(()) => Ok(true),
                        Err(keyring::Error::NoEntry) => Ok(false),
                        Err(e) => Err(e),
                    },
                )
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
            refresh_token_used_at: None,
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
    async fn the_client_key_has_an_entry_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(StoreKind::File, dir.path());
        assert!(store.load_client_key("p").await.unwrap().is_none());
        let key = ClientKey::generate("2026-01-01T00:00:00Z".into()).unwrap();
        store.save_client_key("p", &key).await.unwrap();
        store.save("p", &creds()).await.unwrap();
        assert!(store.delete("p").await.unwrap());
        let back = store.load_client_key("p").await.unwrap().unwrap();
        assert_eq!(back.info, key.info);
        assert!(dir.path().join("p+client-key.json").exists());
        assert!(store.delete_client_key("p").await.unwrap());
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
