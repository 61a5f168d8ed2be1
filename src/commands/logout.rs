//! `fhirdl logout`: revoke at the provider when it offers revocation, then forget the tokens
//! (and, unless `--keep-profile`, the profile).

use super::Ctx;
use crate::auth::oauth::{revoke, ClientAuth, TokenKind};
use crate::cli::LogoutArgs;
use crate::config;
use anyhow::Result;
use serde_json::json;

pub async fn run(ctx: &Ctx, args: &LogoutArgs) -> Result<()> {
    let mut cfg = config::load(&ctx.settings.paths)?;
    let (name, profile) = cfg.select(ctx.settings.profile.as_deref())?;
    let (name, profile) = (name, profile.clone());
    let store = ctx
        .settings
        .paths
        .credential_store(profile.credential_store);
    // Damaged credentials are still deleted.
    let creds = crate::auth::unless_login_required(store.load(&name).await)?;
    let mut revoked = Vec::new();
    let mut warnings = Vec::new();
    let revocation = profile
        .discovery
        .as_ref()
        .and_then(|d| d.revocation_endpoint.clone());
    let owner = crate::connect::token_owner(&store, &name, &profile).await;
    match (&creds, &profile.discovery, &revocation) {
        (Some(c), Some(d), Some(endpoint)) => {
            let (client_id, key) = match &owner {
                Ok((id, key)) => (id.as_str(), key.as_ref()),
                Err(_) => (profile.client_id.as_str(), None),
            };
            let client = ClientAuth {
                client_id,
                client_secret: c.client_secret.as_ref(),
                basic_auth: d.prefers_basic_auth(),
                key: key.map(|k| (k, d.token_endpoint.as_str())),
            };
            let mut tokens = Vec::new();
            if let Some(rt) = &c.refresh_token {
                tokens.push(("refresh token", rt, TokenKind::Refresh));
            }
            tokens.push(("access token", &c.access_token, TokenKind::Access));
            for (what, token, kind) in tokens {
                let sent = revoke(&ctx.http, endpoint, &client, token, kind).await;
                match sent {
                    Ok(()) => revoked.push(what),
                    Err(e) => warnings.push(format!("could not revoke the {what}: {e:#}")),
                }
            }
        }
        (Some(_), _, None) => warnings.push(
            "the provider offers no revocation endpoint: the tokens are forgotten here but stay valid until they expire".into(),
        ),
        _ => {}
    }
    let deleted = store.delete(&name).await?;
    // This computer's registration goes with the sign-in: deleted at the provider where it
    // offers that (RFC 7592), and its key forgotten here.
    let mut profile = profile;
    let had_registration = profile.registration.is_some();
    if let Some(w) = super::login::forget_registration(ctx, &store, &name, &mut profile).await {
        warnings.push(w);
    }
    if had_registration {
        if let Some(p) = cfg.profiles.get_mut(&name) {
            p.registration = None;
        }
        cfg.save(&ctx.settings.paths.config_file())?;
    }
    let removed = !args.keep_profile;
    if removed {
        // The key goes with the profile; a kept profile keeps it (it stays registered).
        store.delete_client_key(&name).await?;
        cfg.profiles.remove(&name);
        if cfg.default_profile.as_deref() == Some(name.as_str()) {
            cfg.default_profile = None;
        }
        cfg.save(&ctx.settings.paths.config_file())?;
    }
    for w in &warnings {
        ctx.ui.warn(w);
    }
    let mut msg = format!("Signed out of profile '{name}'");
    if !revoked.is_empty() {
        msg.push_str(&format!(
            "; revoked the {} at the provider",
            revoked.join(" and ")
        ));
    }
    if !deleted {
        msg.push_str("; no stored credentials were found");
    }
    msg.push_str(if removed {
        "; profile removed"
    } else {
        "; profile kept"
    });
    ctx.ui.success(&msg);
    ctx.ui.json_out(&json!({
        "profile": name,
        "revoked": revoked,
        "credentials_deleted": deleted,
        "profile_removed": removed,
        "registration_forgotten": had_registration,
        "warnings": warnings,
    }));
    Ok(())
}
