//! `fhirdl key create`: the app's own key for `private_key_jwt` sign-in. The private key goes
//! into the profile's credential store only; the profile keeps its key id, algorithm and
//! creation time; stdout gets the public key set (JWKS) for the app registration.

use super::Ctx;
use crate::auth::client_key::{ClientKey, KeyAlg};
use crate::auth::discovery::Discovery;
use crate::auth::store::StoreKind;
use crate::cli::{KeyCommand, KeyCreateArgs};
use crate::config::{self, validate_profile_name};
use crate::error::{Failure, Kind};
use anyhow::{Context, Result};
use serde_json::json;

pub async fn run(ctx: &Ctx, cmd: &KeyCommand) -> Result<()> {
    match cmd {
        KeyCommand::Create(args) => create(ctx, args).await,
    }
}

async fn create(ctx: &Ctx, args: &KeyCreateArgs) -> Result<()> {
    let paths = &ctx.settings.paths;
    let name = ctx.settings.profile.clone().ok_or_else(|| {
        Failure::new(Kind::Usage, "which profile is the key for?")
            .hint("name it with --profile NAME (the profile you sign in with, new or saved)")
    })?;
    validate_profile_name(&name)?;
    let mut cfg = config::load(paths)?;
    let profile = cfg.profiles.get(&name);
    let kind = args
        .credential_store
        .or(profile.map(|p| p.credential_store))
        .unwrap_or(StoreKind::Keyring);
    let discovery = profile.and_then(|p| p.discovery.as_ref());
    let alg = choose_alg(ctx, args.alg, discovery, &name)?;
    let store = paths.credential_store(kind);
    store.probe().await?;
    if let Some(old) = store.load_client_key(&name).await.ok().flatten() {
        ctx.ui.warn(&format!(
            "profile '{name}' had key {}: it is replaced, so register the new key set with the app",
            old.info.kid
        ));
    }
    let key = ClientKey::generate_alg(alg, crate::datetime::now_rfc3339())?;
    store.save_client_key(&name, &key).await?;
    if let Some(p) = cfg.profiles.get_mut(&name) {
        p.client_key = Some(key.info.clone());
        cfg.save(&paths.config_file())?;
    }
    let jwks = key.jwks()?;
    let text = serde_json::to_string_pretty(&jwks).context("cannot format the key set")?;
    if let Some(path) = &args.jwks_out {
        crate::atomic::write_atomic(path, format!("{text}\n").as_bytes())?;
    }
    ctx.ui.success(&format!(
        "Made {} key {} for profile '{name}'; the private key is in the {} only",
        key.info.alg.name(),
        key.info.kid,
        store.describe()
    ));
    ctx.ui.info(&format!(
        "Register this public key set with the app (or publish it at your JWKS URL{}), then sign in: fhirdl login --profile {name}",
        args.jwks_out
            .as_ref()
            .map(|p| format!("; it is also in {}", p.display()))
            .unwrap_or_default()
    ));
    ctx.ui.out(&text);
    ctx.ui.json_out(&json!({
        "profile": name,
        "kid": key.info.kid,
        "alg": key.info.alg.name(),
        "created_at": key.info.created_at,
        "credential_store": store.kind_name(),
        "jwks": jwks,
    }));
    Ok(())
}

/// The algorithm to make a key for: the one asked for, else the server's advertised choice
/// (`token_endpoint_auth_signing_alg_values_supported`), else ES384 (smaller and faster than
/// RS384; eClinicalWorks takes RS384 only, and says so in its configuration).
fn choose_alg(
    ctx: &Ctx,
    asked: Option<KeyAlg>,
    discovery: Option<&Discovery>,
    name: &str,
) -> Result<KeyAlg> {
    let advertised = discovery
        .map(|d| d.token_endpoint_auth_signing_algs.clone())
        .unwrap_or_default();
    let offered = |a: KeyAlg| advertised.iter().any(|x| x == a.name());
    let alg = match asked {
        Some(a) => {
            if !advertised.is_empty() && !offered(a) {
                ctx.ui.warn(&format!(
                    "the server of profile '{name}' advertises client assertions signed with {}, not {}",
                    crate::sanitize::clean(&advertised.join(", ")),
                    a.name()
                ));
            }
            a
        }
        None if advertised.is_empty() || offered(KeyAlg::Es384) => KeyAlg::Es384,
        None if offered(KeyAlg::Rs384) => KeyAlg::Rs384,
        None => {
            return Err(Failure::new(
                Kind::Usage,
                format!(
                    "the server of profile '{name}' takes client assertions signed with {} only, and fhirdl signs with ES384 or RS384",
                    crate::sanitize::clean(&advertised.join(", "))
                ),
            )
            .into())
        }
    };
    Ok(alg)
}
