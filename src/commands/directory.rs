//! `fhirdl directory update`: downloads the published directories (the built-in list, or
//! `--source`) into the local index and says, source by source, what became of each.

use super::Ctx;
use crate::cli::directory::{DirectoryCommand, DirectoryUpdateArgs};
use crate::directory::sources::{self, BUILT_IN};
use crate::directory::update::{self, Outcome, State, Wanted};
use crate::error::{Failure, Kind};
use crate::http::redact_url;
use anyhow::Result;
use std::io::IsTerminal;

pub async fn run(ctx: &Ctx, cmd: &DirectoryCommand) -> Result<()> {
    match cmd {
        DirectoryCommand::Update(args) => update(ctx, args).await,
    }
}

async fn update(ctx: &Ctx, args: &DirectoryUpdateArgs) -> Result<()> {
    let added = crate::config::load(&ctx.settings.paths)?.directory_sources;
    let wanted = wanted(args, &added)?;
    let ui = &ctx.ui;
    let progress = !ui.quiet && !ui.json && ui.verbosity == 0 && std::io::stderr().is_terminal();
    if !ui.json {
        ui.info(&format!(
            "Updating the practice directory from {} source(s)…",
            wanted.len()
        ));
    }
    let data_dir = &ctx.settings.paths.data_dir;
    let report = update::update(&ctx.http, data_dir, &wanted, progress).await?;
    if let Some(version) = report.rebuilt_from {
        ui.info(&format!(
            "The index was made by another fhirdl (layout {version}); built anew."
        ));
    }
    for o in &report.outcomes {
        say(ctx, o);
    }
    let index = crate::directory::index::path(data_dir);
    ui.json_out(&serde_json::json!({
        "index": index,
        "rebuilt_from_version": report.rebuilt_from,
        "sources": report.outcomes.iter().map(to_json).collect::<Vec<_>>(),
    }));
    let failed = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.state, State::Failed(_)))
        .count();
    if failed == 0 {
        let total: i64 = report.outcomes.iter().map(|o| o.organizations).sum();
        ui.success(&format!(
            "{total} organizations indexed; find yours with `fhirdl find <words of its name>`"
        ));
        return Ok(());
    }
    let kind = if failed == report.outcomes.len() {
        Kind::Network
    } else {
        Kind::Partial
    };
    Err(Failure::new(kind, format!("{failed} of {} directory source(s) could not be updated", report.outcomes.len()))
        .hint("their previous rows are kept; run `fhirdl directory update` again later, or pass a mirror with --source URL")
        .into())
}

/// `--source` URLs (checked), or the built-in list and the settings file's
/// `directory_sources` (`added`).
fn wanted(args: &DirectoryUpdateArgs, added: &[String]) -> Result<Vec<Wanted>> {
    if args.sources.is_empty() {
        let built_in = BUILT_IN.iter().map(|s| Wanted {
            url: s.url.to_string(),
            vendor: Some(s.vendor.to_string()),
        });
        let mut all: Vec<Wanted> = built_in.collect();
        for s in added {
            let w = checked(s, "directory_sources in the settings file has")?;
            if !all.iter().any(|a| a.url == w.url) {
                all.push(w);
            }
        }
        return Ok(all);
    }
    args.sources
        .iter()
        .map(|s| checked(s, "--source"))
        .collect()
}

/// One source URL, which must be http(s); `from` says where it was given.
fn checked(s: &str, from: &str) -> Result<Wanted> {
    let url = url::Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    match url {
        Some(_) => Ok(Wanted { url: s.to_owned(), vendor: sources::vendor_of(s).map(str::to_string) }),
        None => Err(Failure::new(Kind::Usage, format!("{from} {}, which is not an http(s) URL", crate::sanitize::clean(s)))
            .hint("give the address of a FHIR Bundle, e.g. `fhirdl directory update --source https://host/brands.json`")
            .into()),
    }
}

fn shown(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| redact_url(&u))
        .unwrap_or_else(|_| crate::sanitize::clean(url))
}

fn say(ctx: &Ctx, o: &Outcome) {
    let counts = format!(
        "{} organizations, {} endpoints",
        o.organizations, o.endpoints
    );
    match &o.state {
        State::Updated => ctx.ui.success(&format!(
            "{}: {counts}, {} placeholder or test entries dropped ({} bytes)",
            shown(&o.url),
            o.dropped,
            o.bytes
        )),
        State::NotModified => ctx.ui.success(&format!(
            "{}: not modified since the last update; {counts} kept",
            shown(&o.url)
        )),
        State::Failed(why) => ctx.ui.warn(&format!(
            "{} could not be updated: {}; {}",
            shown(&o.url),
            crate::sanitize::clean(why),
            if o.organizations > 0 {
                format!("the {counts} it had are kept")
            } else {
                "it has no rows in the index".into()
            }
        )),
    }
}

fn to_json(o: &Outcome) -> serde_json::Value {
    let (state, error) = match &o.state {
        State::Updated => ("updated", None),
        State::NotModified => ("not_modified", None),
        State::Failed(why) => ("failed", Some(why.clone())),
    };
    serde_json::json!({
        "url": shown(&o.url),
        "state": state,
        "error": error,
        "organizations": o.organizations,
        "endpoints": o.endpoints,
        "dropped": o.dropped,
        "bytes": o.bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(sources: &[&str]) -> DirectoryUpdateArgs {
        DirectoryUpdateArgs {
            trace: Default::default(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_settings_add_sources_to_the_built_in_list_and_source_replaces_both() {
        let added = vec![
            "https://mirror.example.org/brands.json".to_string(),
            BUILT_IN[0].url.to_string(),
        ];
        let all = wanted(&args(&[]), &added).unwrap();
        assert_eq!(
            all.len(),
            BUILT_IN.len() + 1,
            "a built-in URL is not read twice"
        );
        assert_eq!(all.last().unwrap().url, added[0]);
        assert_eq!(all[0].vendor.as_deref(), Some(BUILT_IN[0].vendor));
        let only = wanted(&args(&["http://127.0.0.1:9/d.json"]), &added).unwrap();
        assert_eq!(only.len(), 1);
        let err = wanted(&args(&[]), &["ftp://x/d.json".to_string()]).unwrap_err();
        assert!(err.to_string().contains("settings file"), "{err}");
        assert!(wanted(&args(&["file:///etc/passwd"]), &[]).is_err());
    }
}
