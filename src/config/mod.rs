//! The settings file: one human-readable TOML file holding every profile.
//!
//! A profile is a provider sign-in: FHIR base, client id, redirect settings, which credential
//! store holds its tokens, and the cached discovery result. No secret is ever stored here; the
//! credential store ([`crate::auth::store`]) holds tokens and client secrets.

use crate::atomic;
use crate::auth::discovery::Discovery;
use crate::auth::loopback::RedirectSettings;
use crate::auth::store::StoreKind;
use crate::error::{Failure, Kind};
use anyhow::{Context, Result};

mod paths;
mod request;
pub use paths::Paths;
pub use request::ProfileRequest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigFile {
    /// Profile used when --profile is not given and there is more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile: Option<String>,
    /// Pairs of profiles that are one person, as the user said (`fhirdl profile link`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same_person: Vec<[String; 2]>,
    /// Pairs of profiles that are not, as the user said (`fhirdl profile unlink`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub different_people: Vec<[String; 2]>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// Client ids of the app registrations used so far, by vendor (`vendor:Epic`) and by
    /// server (`server:https://host`): a second practice on the same vendor or server signs
    /// in without `--client-id` (an app registration is per vendor, not per practice).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client_ids: BTreeMap<String, String>,
    /// More endpoint directories for `fhirdl directory update` to read besides the built-in
    /// list (URLs of FHIR Bundles: other vendors, a mirror, an organization's own list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_sources: Vec<String>,
}

/// The practice a profile signs in to, as the endpoint directory listed it (`login
/// --practice`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Practice {
    /// The directory's id (`fhirdl find`).
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// Preset name, when the profile was made from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub fhir_base: String,
    pub client_id: String,
    /// A client secret is kept in the credential store and sent to the token endpoint.
    #[serde(default)]
    pub confidential: bool,
    /// The `private_key_jwt` key the client authenticates with (its private half is in the
    /// credential store): key id, algorithm, creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<crate::auth::client_key::KeyInfo>,
    /// Register this computer with the provider after signing in (dynamic client
    /// registration), where the server offers it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub register: bool,
    /// This computer's registration (its key and management token are in the credential
    /// store): later runs get access tokens with the JWT bearer grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<crate::auth::registration::Registration>,
    /// Scopes to request instead of the computed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default = "yes")]
    pub send_aud: bool,
    #[serde(default)]
    pub redirect: RedirectSettings,
    pub credential_store: StoreKind,
    /// Where `sync` writes (remembered from `--out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_dir: Option<PathBuf>,
    /// `name=value` pairs sent with every search (athenahealth's
    /// `ah-practice=Organization/a-1.Practice-<id>`), from `login --search-param`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search_params: Vec<String>,
    /// Cached SMART discovery; refreshed by every login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Discovery>,
    /// The organization chosen with `login --practice`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<Practice>,
}

fn yes() -> bool {
    true
}

impl Profile {
    /// [`Profile::search_params`] as `(name, value)` pairs (an entry without `=` is a name
    /// with an empty value).
    pub fn search_param_pairs(&self) -> Vec<(String, String)> {
        self.search_params
            .iter()
            .map(|p| match p.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => (p.clone(), String::new()),
            })
            .collect()
    }

    /// Where profile `name` exports: the folder it remembers from `--out`, else
    /// `<data dir>/exports/<name>`.
    pub fn export_dir(&self, name: &str, paths: &Paths) -> PathBuf {
        self.out_dir
            .clone()
            .unwrap_or_else(|| paths.data_dir.join("exports").join(name))
    }
}

/// Profile names become file names and keyring entries: keep them simple.
pub fn validate_profile_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(
            Failure::new(Kind::Usage, format!("'{name}' is not a valid profile name"))
                .hint("use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' or '-'")
                .into(),
        )
    }
}

impl ConfigFile {
    /// Reads the settings file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        toml::from_str(&text).map_err(|e| {
            Failure::new(
                Kind::Usage,
                format!(
                    "the settings file {} is not valid: {}",
                    path.display(),
                    e.message()
                ),
            )
            .hint("fix or remove the file; `fhirdl login` recreates profiles")
            .into()
        })
    }

    /// Writes the settings file atomically (0600).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = String::from(
            "# fhirdl settings: one [profiles.NAME] table per provider sign-in.\n\
             # No secrets are kept here; tokens live in the credential store.\n\n",
        );
        text.push_str(&toml::to_string_pretty(self).context("cannot serialize the settings")?);
        atomic::write_atomic(path, text.as_bytes())
    }

    /// Which profile a command means: --profile, else the default, else the only one.
    pub fn select(&self, explicit: Option<&str>) -> Result<(String, &Profile)> {
        let name = match explicit {
            Some(n) => n.to_string(),
            None => match (&self.default_profile, self.profiles.len()) {
                (Some(d), _) if self.profiles.contains_key(d) => d.clone(),
                (_, 1) => self.profiles.keys().next().cloned().unwrap_or_default(),
                (_, 0) => {
                    return Err(Failure::new(Kind::LoginRequired, "no profile is saved yet")
                        .hint("sign in first: fhirdl login --provider <preset> --client-id <id>  (see `fhirdl providers`)")
                        .into())
                }
                _ => {
                    return Err(Failure::new(
                        Kind::Usage,
                        format!("several profiles are saved ({}); which one?", self.names().join(", ")),
                    )
                    .hint("pass --profile NAME, or set one with `fhirdl profile default NAME`")
                    .into())
                }
            },
        };
        match self.profiles.get(&name) {
            Some(p) => Ok((name, p)),
            None => Err(Failure::new(Kind::Usage, format!("no profile named '{name}'"))
                .hint(if self.profiles.is_empty() {
                    "sign in first: fhirdl login --profile NAME --provider <preset> --client-id <id>".to_string()
                } else {
                    format!("saved profiles: {}", self.names().join(", "))
                })
                .into()),
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }

    /// What the user said of who is who, for [`crate::person::decide`].
    pub fn links(&self) -> crate::person::Links<'_> {
        crate::person::Links {
            same: &self.same_person,
            different: &self.different_people,
        }
    }

    /// Records that `a` and `b` are one person (`same`) or not, replacing what was said of
    /// the pair before.
    pub fn set_link(&mut self, a: &str, b: &str, same: bool) {
        self.forget_link(a, Some(b));
        let pair = [a.to_owned(), b.to_owned()];
        match same {
            true => self.same_person.push(pair),
            false => self.different_people.push(pair),
        }
    }

    /// Forgets what was said of `a` and `b` (of `a` and every profile when `b` is `None`).
    pub fn forget_link(&mut self, a: &str, b: Option<&str>) {
        let keep = |[x, y]: &[String; 2]| {
            let names = |p: &str| x == p || y == p;
            !(names(a) && b.is_none_or(names))
        };
        self.same_person.retain(keep);
        self.different_people.retain(keep);
    }
}

/// Loads the settings file of `paths`.
pub fn load(paths: &Paths) -> Result<ConfigFile> {
    ConfigFile::load(&paths.config_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            provider: None,
            fhir_base: "https://example.org/fhir".into(),
            client_id: "app".into(),
            confidential: false,
            client_key: None,
            register: false,
            registration: None,
            scope: None,
            send_aud: true,
            redirect: RedirectSettings::default(),
            credential_store: StoreKind::File,
            out_dir: None,
            search_params: Vec::new(),
            discovery: None,
            practice: None,
        }
    }

    #[test]
    fn round_trip_and_select() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut cfg = ConfigFile::load(&path).unwrap();
        assert!(cfg.select(None).is_err());
        cfg.profiles.insert("a".into(), profile());
        cfg.save(&path).unwrap();
        let back = ConfigFile::load(&path).unwrap();
        assert_eq!(back.profiles["a"], profile());
        assert_eq!(back.select(None).unwrap().0, "a");
        let mut two = back.clone();
        two.profiles.insert("b".into(), profile());
        assert!(two.select(None).is_err());
        two.default_profile = Some("b".into());
        assert_eq!(two.select(None).unwrap().0, "b");
        assert!(two.select(Some("zzz")).is_err());
        two.set_link("a", "b", true);
        two.set_link("b", "a", false);
        two.save(&path).unwrap();
        let back = ConfigFile::load(&path).unwrap();
        assert!(back.same_person.is_empty());
        assert_eq!(
            back.different_people,
            vec![["b".to_string(), "a".to_string()]]
        );
        let mut back = back;
        back.forget_link("a", None);
        assert!(back.different_people.is_empty());
    }

    #[test]
    fn bad_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "profiles = 3").unwrap();
        let err = ConfigFile::load(&path).unwrap_err();
        assert!(err.to_string().contains("is not valid"), "{err}");
    }

    #[test]
    fn profile_names() {
        for ok in ["nextgen", "a.b-c_d", "X1"] {
            assert!(validate_profile_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "a b", "../x", &"x".repeat(65)] {
            assert!(validate_profile_name(bad).is_err(), "{bad}");
        }
    }
}
