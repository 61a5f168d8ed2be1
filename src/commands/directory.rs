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
    let wanted = wanted(args)?;
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

/// `--source` URLs (checked), or the built-in list.
fn wanted(args: &DirectoryUpdateArgs) -> Result<Vec<Wanted>> {
    if args.sources.is_empty() {
        return Ok(BUILT_IN
            .iter()
            .map(|s| Wanted {
                url: s.url.to_string(),
                vendor: Some(s.vendor.to_string()),
            })
            .collect());
    }
    args.sources
        .iter()
        .map(|s| {
            let url = url::Url::parse(s).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
            match url {
                Some(_) => Ok(Wanted { url: s.clone(), vendor: sources::vendor_of(s).map(str::to_string) }),
                None => Err(Failure::new(Kind::Usage, format!("--source {s} is not an http(s) URL"))
                    .hint("pass the address of a FHIR Bundle, e.g. `fhirdl directory update --source https://host/brands.json`")
                    .into()),
            }
        })
        .collect()
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
