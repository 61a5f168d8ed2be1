//! `fhirdl logout`: revoke at the provider when it offers revocation, then forget the tokens
//! (and, unless `--keep-profile`, the profile).

use super::Ctx;
use crate::auth::oauth::{revoke, TokenKind};
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
    match (&creds, &profile.discovery, &revocation) {
        (Some(c), Some(d), Some(endpoint)) => {
            let mut tokens = Vec::new();
            if let Some(rt) = &c.refresh_token {
                tokens.push(("refresh token", rt, TokenKind::Refresh));
            }
            tokens.push(("access token", &c.access_token, TokenKind::Access));
            for (what, token, kind) in tokens {
                let sent = revoke(
                    &ctx.http,
                    endpoint,
                    &profile.client_id,
                    c.client_secret.as_ref(),
                    d.prefers_basic_auth(),
                    token,
                    kind,
                )
                .await;
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
        "warnings": warnings,
    }));
    Ok(())
}
