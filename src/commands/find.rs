//! `fhirdl find <words>`: searches the local directory index for a practice by name, and prints
//! each match with its endpoint, where it was listed and the command that signs in to it.

use super::Ctx;
use crate::cli::directory::FindArgs;
use crate::directory::check::Health;
use crate::directory::index::{self, Filters, Index, Match, Opened};
use crate::directory::search;
use crate::error::{Failure, Kind};
use crate::sanitize::clean;
use anyhow::Result;

/// An index older than this is said to be stale.
const STALE_DAYS: i64 = 30;

pub async fn run(ctx: &Ctx, args: &FindArgs) -> Result<()> {
    let index = open_index(ctx)?;
    warn_if_stale(ctx, &index)?;
    let filters = Filters {
        state: args.state.clone(),
        city: args.city.clone(),
        vendor: args.vendor.clone(),
    };
    let query = args.words.join(" ");
    let matches = search::find(&index, &query, &filters, usize::from(args.limit))?;
    let health: Vec<Option<Health>> = match args.check {
        true => {
            let bases: Vec<String> = matches
                .iter()
                .map(|m| m.listing.fhir_base.clone())
                .collect();
            let found = crate::directory::check::check_all(&ctx.http, &bases).await;
            found.into_iter().map(Some).collect()
        }
        false => vec![None; matches.len()],
    };
    let docs: Vec<serde_json::Value> = matches
        .iter()
        .zip(&health)
        .map(|(m, h)| to_json(m, h.as_ref()))
        .collect();
    ctx.ui.json_out(&serde_json::json!({ "matches": docs }));
    if matches.is_empty() {
        ctx.ui.info(&format!(
            "No practice matches \"{}\"{}. Try fewer or other words (the brand, the portal's name), or without --state/--city/--vendor.",
            clean(&query),
            if args.state.is_some() || args.city.is_some() || args.vendor.is_some() { " with these filters" } else { "" }
        ));
        return Ok(());
    }
    let now = crate::datetime::now_unix();
    let text: Vec<String> = matches
        .iter()
        .zip(&health)
        .map(|(m, h)| render(m, h.as_ref(), now))
        .collect();
    ctx.ui.out(&text.join("\n"));
    Ok(())
}

/// The index, or an error saying how to make one.
pub fn open_index(ctx: &Ctx) -> Result<Index> {
    let path = index::path(&ctx.settings.paths.data_dir);
    let why = match Index::open(&path)? {
        Opened::Ready(index) => return Ok(index),
        Opened::Missing => format!(
            "there is no practice directory yet ({} is missing)",
            path.display()
        ),
        Opened::OtherVersion(v) => format!(
            "the practice directory {} was made by another fhirdl (layout {v})",
            path.display()
        ),
    };
    Err(Failure::new(Kind::Usage, why)
        .hint("run `fhirdl directory update` to download the vendors' published directories")
        .into())
}

fn warn_if_stale(ctx: &Ctx, index: &Index) -> Result<()> {
    let oldest = index.sources()?.iter().map(|s| s.fetched_at).min();
    let now = crate::datetime::now_unix();
    if let Some(at) = oldest.filter(|at| now - at > STALE_DAYS * 86_400) {
        ctx.ui.warn(&format!(
            "the practice directory was downloaded {} ago; endpoints move: run `fhirdl directory update`",
            crate::datetime::human_duration(now - at)
        ));
    }
    Ok(())
}

fn render(m: &Match, health: Option<&Health>, now: i64) -> String {
    let l = &m.listing;
    let mut text = format!("{}  (id {})\n", clean(&l.name), m.id);
    if let Some(a) = &l.address {
        text.push_str(&format!("  address:  {}\n", clean(a)));
    }
    if let Some(b) = &l.brand {
        text.push_str(&format!("  part of:  {}\n", clean(b)));
    }
    if let Some(p) = &l.portal {
        text.push_str(&format!("  portal:   {}\n", clean(p)));
    }
    let about: Vec<String> = [l.fhir_version.as_deref(), m.vendor.as_deref()]
        .into_iter()
        .flatten()
        .map(clean)
        .collect();
    text.push_str(&format!(
        "  FHIR:     {}{}\n",
        clean(&l.fhir_base),
        if about.is_empty() {
            String::new()
        } else {
            format!(" ({})", about.join(", "))
        }
    ));
    text.push_str(&format!(
        "  listed:   {}, downloaded {} ago\n",
        clean(&m.source),
        crate::datetime::human_duration(now - m.fetched_at)
    ));
    if let Some(h) = health {
        text.push_str(&format!("  check:    {}\n", h.describe()));
    }
    text.push_str(&format!(
        "  sign in:  fhirdl login --practice {} --profile <name>\n",
        m.id
    ));
    text
}

/// A match as `--json` shows it (with `--check`, also what the check found).
fn to_json(m: &Match, health: Option<&Health>) -> serde_json::Value {
    let l = &m.listing;
    let mut doc = serde_json::json!({
        "id": m.id,
        "name": l.name,
        "address": l.address,
        "portal": l.portal,
        "fhir_base": l.fhir_base,
        "fhir_version": l.fhir_version,
        "vendor": m.vendor,
        "source": m.source,
    });
    if let Some(h) = health {
        doc["check"] = serde_json::to_value(h).unwrap_or_default();
    }
    doc
}
