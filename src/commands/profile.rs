//! `fhirdl profile list|show|remove|default`.

use super::Ctx;
use crate::cli::ProfileCommand;
use crate::config;
use crate::error::{Failure, Kind};
use anyhow::Result;
use serde_json::json;

pub async fn run(ctx: &Ctx, cmd: &ProfileCommand) -> Result<()> {
    let mut cfg = config::load(&ctx.settings.paths)?;
    let path = ctx.settings.paths.config_file();
    match cmd {
        ProfileCommand::List => {
            let rows: Vec<_> = cfg
                .profiles
                .iter()
                .map(|(name, p)| {
                    json!({
                        "profile": name,
                        "default": cfg.default_profile.as_deref() == Some(name.as_str()),
                        "provider": p.provider,
                        "fhir_base": p.fhir_base,
                        "credential_store": p.credential_store,
                    })
                })
                .collect();
            if cfg.profiles.is_empty() {
                ctx.ui.info("No profiles yet. Sign in with: fhirdl login --provider <preset> --client-id <id>");
            }
            for (name, p) in &cfg.profiles {
                let mark = if cfg.default_profile.as_deref() == Some(name.as_str()) {
                    "*"
                } else {
                    " "
                };
                ctx.ui.out(&format!("{mark} {name:<24} {}", p.fhir_base));
            }
            ctx.ui
                .json_out(&json!({ "config_file": path, "profiles": rows }));
        }
        ProfileCommand::Show { name } => {
            let (name, p) = cfg.select(name.as_deref().or(ctx.settings.profile.as_deref()))?;
            let text = toml::to_string_pretty(p).unwrap_or_default();
            ctx.ui
                .out(&format!("# profile '{name}' in {}\n{text}", path.display()));
            ctx.ui.json_out(&json!({ "profile": name, "settings": p }));
        }
        ProfileCommand::Remove { name } => {
            let Some(p) = cfg.profiles.remove(name) else {
                return Err(Failure::new(Kind::Usage, format!("no profile named '{name}'")).into());
            };
            let store = ctx.settings.paths.credential_store(p.credential_store);
            let deleted = store.delete(name).await?;
            store.delete_client_key(name).await?;
            if cfg.default_profile.as_deref() == Some(name.as_str()) {
                cfg.default_profile = None;
            }
            cfg.save(&path)?;
            ctx.ui.success(&format!(
                "Removed profile '{name}'{}",
                if deleted {
                    " and its stored credentials (not revoked; `fhirdl logout` revokes)"
                } else {
                    ""
                }
            ));
            ctx.ui.json_out(
                &json!({ "profile": name, "removed": true, "credentials_deleted": deleted }),
            );
        }
        ProfileCommand::Default { name } => {
            if !cfg.profiles.contains_key(name) {
                return Err(
                    Failure::new(Kind::Usage, format!("no profile named '{name}'"))
                        .hint(format!("saved profiles: {}", cfg.names().join(", ")))
                        .into(),
                );
            }
            cfg.default_profile = Some(name.clone());
            cfg.save(&path)?;
            ctx.ui
                .success(&format!("'{name}' is now the default profile"));
            ctx.ui.json_out(&json!({ "default_profile": name }));
        }
    }
    Ok(())
}
