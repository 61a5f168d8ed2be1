//! The profile a login is for: what the user asked (`--profile`, `--provider`, `--fhir-base`,
//! `--client-id`, redirect and store flags) laid over what the profile already remembers.

use super::{validate_profile_name, ConfigFile, Profile};
use crate::auth::loopback::{RedirectHost, RedirectSettings};
use crate::auth::store::StoreKind;
use crate::error::{Failure, Kind};
use crate::fhir_url::parse_base;
use crate::providers::{self, Preset};
use anyhow::Result;

/// Client id used with the public SMART sandbox preset when none is given (it accepts any).
const SMART_SANDBOX_CLIENT_ID: &str = "fhirdl";

const WHICH_PROVIDER: &str =
    "give --provider <preset> (see `fhirdl providers`) or --fhir-base URL, with --client-id";

/// What a login asks of its profile; every field left empty keeps what is saved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileRequest {
    /// `--profile`.
    pub name: Option<String>,
    /// A preset of `fhirdl providers`.
    pub provider: Option<String>,
    pub fhir_base: Option<String>,
    pub client_id: Option<String>,
    pub confidential: bool,
    pub scope: Option<String>,
    pub no_aud: bool,
    pub port: Option<u16>,
    pub redirect_path: Option<String>,
    pub redirect_host: Option<RedirectHost>,
    pub credential_store: Option<StoreKind>,
    /// `--search-param name=value`, all of them: replace what the profile remembers.
    pub search_params: Vec<String>,
    /// `--client-key FILE`: a private key to import for `private_key_jwt`.
    pub client_key: Option<std::path::PathBuf>,
    /// `--register` (`Some(true)`) or `--no-register` (`Some(false)`).
    pub register: Option<bool>,
    /// `--redirect-uri`: a registered redirect URI that is not the loopback listener.
    pub redirect_uri: Option<String>,
    /// `--practice`: the organization the directory listed at `fhir_base`.
    pub practice: Option<super::Practice>,
}

impl ConfigFile {
    /// The name and settings of the profile `request` signs in: the saved profile with the
    /// request's flags laid over it, or a new one made from the preset or the FHIR base.
    pub fn profile_for_login(&self, request: &ProfileRequest) -> Result<(String, Profile)> {
        let preset = request.provider.as_deref().and_then(providers::find);
        let explicit_base = request.fhir_base.as_deref().map(parse_base).transpose()?;
        let name = self.login_name(request, preset, explicit_base.as_ref())?;
        validate_profile_name(&name)?;
        let mut profile = match self.profiles.get(&name) {
            Some(saved) => {
                let mut p = saved.clone();
                if let Some(preset) = preset {
                    p.provider = Some(preset.name.to_string());
                    if let Some(base) = preset.fhir_base {
                        p.fhir_base = base.to_string();
                    }
                }
                if let Some(base) = &explicit_base {
                    p.fhir_base = base.to_string();
                }
                if let Some(c) = &request.client_id {
                    p.client_id = c.clone();
                }
                p
            }
            None => {
                let remembered = explicit_base
                    .as_ref()
                    .and_then(|base| self.remembered_client_id(base, request.practice.as_ref()));
                new_profile(&name, request, preset, explicit_base.as_ref(), remembered)?
            }
        };
        if request.practice.is_some() {
            profile.practice = request.practice.clone();
        }
        apply_flags(&mut profile, request);
        profile.fhir_base = parse_base(&profile.fhir_base)?.to_string();
        Ok((name, profile))
    }

    /// The client id an earlier login used with this practice's vendor or this server.
    fn remembered_client_id(
        &self,
        base: &url::Url,
        practice: Option<&super::Practice>,
    ) -> Option<String> {
        let by_vendor = practice.and_then(|p| p.vendor.as_deref()).map(vendor_key);
        by_vendor
            .into_iter()
            .chain(std::iter::once(server_key(base)))
            .find_map(|key| self.client_ids.get(&key).cloned())
    }

    /// Remembers the client id `profile` signed in with, for its vendor and its server.
    pub fn remember_client_id(&mut self, profile: &Profile) {
        if let Ok(base) = parse_base(&profile.fhir_base) {
            self.client_ids
                .insert(server_key(&base), profile.client_id.clone());
        }
        if let Some(vendor) = profile.practice.as_ref().and_then(|p| p.vendor.as_deref()) {
            self.client_ids
                .insert(vendor_key(vendor), profile.client_id.clone());
        }
    }

    /// `--profile`, else the preset's name or the server's host, else the saved one.
    fn login_name(
        &self,
        request: &ProfileRequest,
        preset: Option<&Preset>,
        base: Option<&url::Url>,
    ) -> Result<String> {
        if let Some(n) = &request.name {
            return Ok(n.clone());
        }
        // A practice found in the directory is named by its server, so that two practices of
        // one vendor (whose preset it takes) are two profiles.
        if let (Some(_), Some(base)) = (&request.practice, base) {
            return Ok(base.host_str().unwrap_or("fhir").to_string());
        }
        if let Some(p) = preset {
            return Ok(p.name.to_string());
        }
        if let Some(base) = base {
            return Ok(base.host_str().unwrap_or("fhir").to_string());
        }
        if self.profiles.is_empty() {
            return Err(
                Failure::new(Kind::Usage, "which provider? none is saved yet")
                    .hint(WHICH_PROVIDER)
                    .into(),
            );
        }
        Ok(self.select(None)?.0)
    }
}

fn new_profile(
    name: &str,
    request: &ProfileRequest,
    preset: Option<&Preset>,
    base: Option<&url::Url>,
    remembered: Option<String>,
) -> Result<Profile> {
    let base = match (base, preset) {
        (Some(b), _) => b.to_string(),
        (None, Some(p)) => match p.fhir_base {
            Some(base) => base.to_string(),
            None => return Err(base_per_organization(p).into()),
        },
        (None, None) => {
            return Err(Failure::new(
                Kind::Usage,
                format!("profile '{name}' does not exist yet: which provider?"),
            )
            .hint(WHICH_PROVIDER)
            .into())
        }
    };
    let client_id = match (request.client_id.clone().or(remembered), preset) {
        (Some(c), _) => c,
        (None, Some(p)) if p.name == "smart-sandbox" => SMART_SANDBOX_CLIENT_ID.to_string(),
        _ => {
            return Err(Failure::new(Kind::Usage, "--client-id is required for a new profile")
                .hint("use the client id of your app registration with this provider (or set FHIRDL_CLIENT_ID)")
                .into())
        }
    };
    Ok(Profile {
        provider: preset.map(|p| p.name.to_string()),
        fhir_base: base,
        client_id,
        confidential: preset.is_some_and(|p| p.confidential),
        client_key: None,
        register: preset.is_some_and(|p| p.dynamic_registration),
        registration: None,
        scope: None,
        send_aud: preset.is_none_or(|p| p.send_aud),
        redirect: RedirectSettings::default(),
        credential_store: StoreKind::Keyring,
        out_dir: None,
        search_params: Vec::new(),
        discovery: None,
        practice: request.practice.clone(),
    })
}

fn vendor_key(vendor: &str) -> String {
    format!("vendor:{}", vendor.to_lowercase())
}

/// The server's origin: the practices a vendor hosts share it (Oracle Health's, NextGen's).
fn server_key(base: &url::Url) -> String {
    format!("server:{}", base.origin().ascii_serialization())
}

/// A preset whose organizations each have their own FHIR base, used without `--fhir-base`.
fn base_per_organization(preset: &Preset) -> Failure {
    let mut hint = format!(
        "give your organization's FHIR base with --fhir-base{}",
        preset
            .base_pattern
            .map(|p| format!(" (it looks like {p})"))
            .unwrap_or_default()
    );
    if let Some(find) = preset.find_base {
        hint.push_str(&format!("; find it in {find}"));
    }
    Failure::new(
        Kind::Usage,
        format!(
            "the {} preset has a FHIR base per organization: which one is yours?",
            preset.name
        ),
    )
    .hint(hint)
}

/// Flags given now override what the profile remembers.
fn apply_flags(profile: &mut Profile, request: &ProfileRequest) {
    if request.confidential {
        profile.confidential = true;
    }
    if request.scope.is_some() {
        profile.scope = request.scope.clone();
    }
    if request.no_aud {
        profile.send_aud = false;
    }
    if let Some(port) = request.port {
        profile.redirect.port = port;
    }
    if let Some(path) = &request.redirect_path {
        profile.redirect.path = path.clone();
    }
    if let Some(host) = request.redirect_host {
        profile.redirect.host = host;
    }
    // A loopback flag goes back to the loopback listener; --redirect-uri leaves it.
    if request.port.is_some() || request.redirect_path.is_some() || request.redirect_host.is_some()
    {
        profile.redirect.uri = None;
    }
    if let Some(uri) = &request.redirect_uri {
        profile.redirect.uri = Some(uri.clone());
    }
    if let Some(register) = request.register {
        profile.register = register;
    }
    if let Some(store) = request.credential_store {
        profile.credential_store = store;
    }
    if !request.search_params.is_empty() {
        profile.search_params = request.search_params.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_profile_from_a_base_and_from_a_preset() {
        let cfg = ConfigFile::default();
        let err = cfg
            .profile_for_login(&ProfileRequest::default())
            .unwrap_err();
        assert!(err.to_string().contains("none is saved yet"), "{err}");
        let (name, p) = cfg
            .profile_for_login(&ProfileRequest {
                fhir_base: Some("https://fhir.example.org/r4/".into()),
                client_id: Some("app".into()),
                port: Some(8400),
                ..ProfileRequest::default()
            })
            .unwrap();
        assert_eq!(name, "fhir.example.org");
        assert_eq!(p.fhir_base, "https://fhir.example.org/r4");
        assert_eq!(
            (p.redirect.port, p.credential_store),
            (8400, StoreKind::Keyring)
        );
        let no_client = cfg.profile_for_login(&ProfileRequest {
            fhir_base: Some("https://fhir.example.org/r4".into()),
            ..ProfileRequest::default()
        });
        assert!(no_client.unwrap_err().to_string().contains("--client-id"));
        let (name, p) = cfg
            .profile_for_login(&ProfileRequest {
                provider: Some("smart-sandbox".into()),
                ..ProfileRequest::default()
            })
            .unwrap();
        assert_eq!(
            (name.as_str(), p.client_id.as_str()),
            ("smart-sandbox", "fhirdl")
        );
        // A vendor with a base per organization asks for it, saying how to find it.
        let epic = ProfileRequest {
            provider: Some("epic".into()),
            client_id: Some("app".into()),
            ..ProfileRequest::default()
        };
        let err = cfg.profile_for_login(&epic).unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert!(
            failure.to_string().contains("FHIR base per organization"),
            "{failure}"
        );
        assert!(
            format!("{failure:?}").contains("open.epic.com"),
            "{failure:?}"
        );
        let (name, p) = cfg
            .profile_for_login(&ProfileRequest {
                fhir_base: Some("https://mychart.example.org/FHIR/api/FHIR/R4".into()),
                ..epic
            })
            .unwrap();
        assert_eq!(name, "epic");
        assert_eq!(p.fhir_base, "https://mychart.example.org/FHIR/api/FHIR/R4");
        assert!(!p.confidential);
    }

    #[test]
    fn flags_given_now_override_the_saved_profile() {
        let mut cfg = ConfigFile::default();
        let (name, saved) = cfg
            .profile_for_login(&ProfileRequest {
                name: Some("clinic".into()),
                fhir_base: Some("https://a.example/fhir".into()),
                client_id: Some("one".into()),
                ..ProfileRequest::default()
            })
            .unwrap();
        cfg.profiles.insert(name, saved);
        // The only saved profile is the one meant when nothing names it.
        let (name, p) = cfg
            .profile_for_login(&ProfileRequest {
                client_id: Some("two".into()),
                credential_store: Some(StoreKind::File),
                no_aud: true,
                ..ProfileRequest::default()
            })
            .unwrap();
        assert_eq!(name, "clinic");
        assert_eq!(p.client_id, "two");
        assert_eq!(p.fhir_base, "https://a.example/fhir");
        assert_eq!(p.credential_store, StoreKind::File);
        assert!(!p.send_aud);
        // Search parameters are kept, replaced when given again, and read back as pairs.
        let with_params = |params: &[&str]| ProfileRequest {
            search_params: params.iter().map(|p| p.to_string()).collect(),
            ..ProfileRequest::default()
        };
        let (_, p) = cfg
            .profile_for_login(&with_params(&["a=1", "b=x=y"]))
            .unwrap();
        assert_eq!(
            p.search_param_pairs(),
            [("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
        cfg.profiles.insert("clinic".into(), p);
        let (_, kept) = cfg.profile_for_login(&ProfileRequest::default()).unwrap();
        assert_eq!(kept.search_params, ["a=1", "b=x=y"]);
        let (_, replaced) = cfg.profile_for_login(&with_params(&["c=2"])).unwrap();
        assert_eq!(replaced.search_params, ["c=2"]);
        let bad = cfg.profile_for_login(&ProfileRequest {
            name: Some("../x".into()),
            ..ProfileRequest::default()
        });
        assert!(bad.is_err());
    }
}
