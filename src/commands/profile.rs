//! `fhirdl profile list|show|remove|default|link|unlink`.

use super::Ctx;
use crate::cli::ProfileCommand;
use crate::config::{self, ConfigFile};
use crate::error::{Failure, Kind};
use crate::person::{self, Person, Verdict};
use anyhow::Result;
use serde_json::json;

pub async fn run(ctx: &Ctx, cmd: &ProfileCommand) -> Result<()> {
    let mut cfg = config::load(&ctx.settings.paths)?;
    let path = ctx.settings.paths.config_file();
    match cmd {
        ProfileCommand::List => list(ctx, &cfg),
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
            cfg.forget_link(name, None);
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
            known(&cfg, name)?;
            cfg.default_profile = Some(name.clone());
            cfg.save(&path)?;
            ctx.ui
                .success(&format!("'{name}' is now the default profile"));
            ctx.ui.json_out(&json!({ "default_profile": name }));
        }
        ProfileCommand::Link { a, b } => link(ctx, &mut cfg, a, b, true)?,
        ProfileCommand::Unlink { a, b } => link(ctx, &mut cfg, a, b, false)?,
    }
    Ok(())
}

fn known(cfg: &ConfigFile, name: &str) -> Result<()> {
    if cfg.profiles.contains_key(name) {
        return Ok(());
    }
    Err(
        Failure::new(Kind::Usage, format!("no profile named '{name}'"))
            .hint(format!("saved profiles: {}", cfg.names().join(", ")))
            .into(),
    )
}

/// Every saved profile's person, read from its export folder.
pub fn persons(ctx: &Ctx, cfg: &ConfigFile, names: &[String]) -> Vec<Person> {
    let exports: Vec<_> = names
        .iter()
        .filter_map(|n| {
            let p = cfg.profiles.get(n)?;
            Some((n.clone(), p.export_dir(n, &ctx.settings.paths)))
        })
        .collect();
    Person::read_all(&exports)
}

/// Each profile, with the person (group of profiles) it belongs to.
fn list(ctx: &Ctx, cfg: &ConfigFile) {
    let names = cfg.names();
    let persons = persons(ctx, cfg, &names);
    let groups = person::groups(cfg.links(), &persons);
    let mut person_of = vec![0; names.len()];
    for (g, members) in groups.iter().enumerate() {
        for &i in members {
            person_of[i] = g + 1;
        }
    }
    if cfg.profiles.is_empty() {
        ctx.ui.info(
            "No profiles yet. Sign in with: fhirdl login --provider <preset> --client-id <id>",
        );
    }
    let mut rows = Vec::new();
    for (i, (name, p)) in cfg.profiles.iter().enumerate() {
        let default = cfg.default_profile.as_deref() == Some(name.as_str());
        let mark = if default { "*" } else { " " };
        ctx.ui.out(&format!(
            "{mark} {name:<24} person {:<3} {}",
            person_of[i], p.fhir_base
        ));
        rows.push(json!({
            "profile": name,
            "default": default,
            "provider": p.provider,
            "fhir_base": p.fhir_base,
            "credential_store": p.credential_store,
            "person": person_of[i],
        }));
    }
    let people: Vec<_> = groups
        .iter()
        .enumerate()
        .map(|(g, members)| {
            let first = &persons[members[0]];
            json!({
                "person": g + 1,
                "name": members.iter().find_map(|&i| persons[i].display.clone()),
                "birth_date": first.birth_date,
                "profiles": members.iter().map(|&i| &names[i]).collect::<Vec<_>>(),
                "unread": members.iter().filter_map(|&i| persons[i].problem.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    for p in people
        .iter()
        .filter(|p| p["profiles"].as_array().is_some_and(|a| a.len() > 1))
    {
        let profiles: Vec<&str> = p["profiles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        ctx.ui.info(&format!(
            "person {}: {} are one person's records (`fhirdl view --profiles {}` shows them together)",
            p["person"],
            profiles.join(", "),
            profiles.join(",")
        ));
    }
    ctx.ui.json_out(&json!({
        "config_file": ctx.settings.paths.config_file(),
        "profiles": rows,
        "people": people,
    }));
}

/// `link` (`same`) or `unlink`: what the user says of two profiles, kept in the settings file.
fn link(ctx: &Ctx, cfg: &mut ConfigFile, a: &str, b: &str, same: bool) -> Result<()> {
    known(cfg, a)?;
    known(cfg, b)?;
    if a == b {
        return Err(Failure::new(Kind::Usage, format!("'{a}' is one profile; name two")).into());
    }
    let pair = persons(ctx, cfg, &[a.to_owned(), b.to_owned()]);
    let found = person::compare(&pair[0], &pair[1]);
    if same && person::two_patients_of_one_server(&pair[0], &pair[1]) {
        return Err(Failure::new(
            Kind::Usage,
            format!("'{a}' and '{b}' cannot be linked: {}", found.why()),
        )
        .hint("a proxy's patients keep their own records; view each with `fhirdl view --profile NAME`")
        .into());
    }
    cfg.set_link(a, b, same);
    cfg.save(&ctx.settings.paths.config_file())?;
    let said = if same {
        "one person"
    } else {
        "different people"
    };
    ctx.ui.success(&format!(
        "'{a}' and '{b}' are now {said} (their exports said: {})",
        found.why()
    ));
    ctx.ui.json_out(&json!({
        "profiles": [a, b],
        "same_person": same,
        "exports_say": match found {
            Verdict::Same { .. } => "same",
            Verdict::Different { .. } => "different",
            Verdict::Unknown { .. } => "unknown",
        },
        "why": found.why(),
    }));
    Ok(())
}
