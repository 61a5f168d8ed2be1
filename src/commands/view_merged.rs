//! `fhirdl view --all-profiles` / `--profiles A,B`: one page of one person's records at several
//! providers. Profiles not known to be one person (see [`crate::person`]) are refused (exit 2)
//! unless `--force`.

use super::Ctx;
use crate::cli::ViewArgs;
use crate::config::{self, ConfigFile};
use crate::error::{Failure, Kind};
use crate::folder::{self, Folder};
use crate::person::{self, Verdict};
use crate::view::{self, Part};
use anyhow::Result;
use std::path::PathBuf;

pub async fn run(ctx: &Ctx, args: &ViewArgs) -> Result<()> {
    let cfg = config::load(&ctx.settings.paths)?;
    let names = chosen(&cfg, args)?;
    let mut parts = Vec::with_capacity(names.len());
    for name in &names {
        let profile = &cfg.profiles[name];
        let dir = profile.export_dir(name, &ctx.settings.paths);
        let folder = Folder::open(&dir).map_err(|e| {
            Failure::new(
                Kind::Usage,
                format!("profile '{name}' has no export to show: {e:#}"),
            )
            .hint(format!("download it first: fhirdl sync --profile {name}"))
        })?;
        folder::readme::write(&dir)?;
        let provider = profile.provider.clone().unwrap_or_else(|| {
            url::Url::parse(&profile.fhir_base)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| profile.fhir_base.clone())
        });
        parts.push(Part {
            profile: name.clone(),
            provider,
            folder,
        });
    }
    one_person(ctx, &cfg, &names, args.force)?;
    let output: PathBuf = match args.output.as_deref() {
        Some(p) => folder::absolute(p)?,
        None => ctx
            .settings
            .paths
            .data_dir
            .join("exports")
            .join(format!("record-{}.html", names.join("+"))),
    };
    let summary = view::render_merged(&parts, &output, &crate::datetime::now_rfc3339())?;
    let merged: usize = summary.sections.iter().map(|s| s.merged).sum();
    ctx.ui.success(&format!(
        "Wrote {} ({} resources from {}; {merged} facts found at several providers are shown once); open it in any browser, it works offline",
        summary.path.display(),
        summary.resources,
        names.join(", "),
    ));
    ctx.ui.out(&summary.path.display().to_string());
    ctx.ui.json_out(&serde_json::to_value(&summary)?);
    if args.open {
        super::view::open(ctx, &summary.path).await;
    }
    Ok(())
}

/// The profiles to show: `--profiles` (each saved), or every saved one.
fn chosen(cfg: &ConfigFile, args: &ViewArgs) -> Result<Vec<String>> {
    let names = match args.all_profiles {
        true => cfg.names(),
        false => args.profiles.clone(),
    };
    if names.is_empty() {
        return Err(Failure::new(Kind::Usage, "no profile is saved yet")
            .hint("sign in first: fhirdl login --provider <preset> --client-id <id>")
            .into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for n in &names {
        if !cfg.profiles.contains_key(n) {
            return Err(Failure::new(Kind::Usage, format!("no profile named '{n}'"))
                .hint(format!("saved profiles: {}", cfg.names().join(", ")))
                .into());
        }
        if !seen.insert(n) {
            return Err(
                Failure::new(Kind::Usage, format!("'{n}' is named twice in --profiles")).into(),
            );
        }
    }
    Ok(names)
}

/// Refuses (exit 2) profiles not known to be one person, unless `force` (then warns).
fn one_person(ctx: &Ctx, cfg: &ConfigFile, names: &[String], force: bool) -> Result<()> {
    let persons = super::profile::persons(ctx, cfg, names);
    for (i, a) in persons.iter().enumerate() {
        for b in &persons[i + 1..] {
            let verdict = person::decide(cfg.links(), a, b);
            if verdict.is_same() {
                continue;
            }
            let what = match verdict {
                Verdict::Different { .. } => "are different people",
                _ => "are not known to be one person",
            };
            let why = format!(
                "'{}' and '{}' {what}: {}",
                a.profile,
                b.profile,
                verdict.why()
            );
            if force {
                ctx.ui
                    .warn(&format!("{why}; shown together anyway (--force)"));
                continue;
            }
            let mut hint = format!(
                "to put them on one page anyway add --force; view one with `fhirdl view --profile {}`",
                a.profile
            );
            if !person::two_patients_of_one_server(a, b) {
                hint = format!(
                    "if they are one person, say so: fhirdl profile link {} {}; else {hint}",
                    a.profile, b.profile
                );
            }
            return Err(Failure::new(Kind::Usage, format!("cannot merge: {why}"))
                .hint(hint)
                .into());
        }
    }
    Ok(())
}
