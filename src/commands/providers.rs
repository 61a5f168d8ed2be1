//! `fhirdl providers`: the built-in presets and their endpoints; with `--quirks`, the known
//! server quirks (see [`crate::quirks`]).

use super::Ctx;
use crate::providers::PRESETS;
use crate::quirks::{self, RuleKind};
use anyhow::Result;

pub fn run(ctx: &Ctx, quirks: bool) -> Result<()> {
    if quirks {
        return list_quirks(ctx);
    }
    if ctx.ui.json {
        ctx.ui
            .json_out(&serde_json::json!({ "providers": PRESETS }));
        return Ok(());
    }
    for p in PRESETS {
        let mut text = match p.fhir_base {
            Some(base) => format!(
                "{}\n  {}\n  FHIR base:  {base} ({})\n",
                p.name, p.title, p.fhir_release
            ),
            None => format!(
                "{}\n  {}\n  FHIR base:  one per organization ({}), like {}\n  find it:    {}\n",
                p.name,
                p.title,
                p.fhir_release,
                p.base_pattern.unwrap_or("?"),
                p.find_base.unwrap_or("ask the organization")
            ),
        };
        match (p.authorize, p.token) {
            (Some(a), Some(t)) => text.push_str(&format!("  authorize:  {a}\n  token:      {t}\n")),
            _ => text.push_str(
                "  endpoints:  discovered at login from the server's SMART configuration\n",
            ),
        }
        if let Some(r) = p.revoke {
            text.push_str(&format!("  revoke:     {r}\n"));
        }
        text.push_str(&format!(
            "  client:     {}\n",
            if p.confidential {
                "confidential (client id + secret from your app registration)"
            } else {
                "public (client id only)"
            }
        ));
        if let Some(secs) = p.access_token_secs {
            text.push_str(&format!("  token:      lasts {secs} s\n"));
        }
        text.push_str(&format!("  refresh:    {}\n", p.refresh));
        if let Some(hours) = p.refresh_token_max_age_hours {
            text.push_str(&format!(
                "              an unused refresh token expires after {hours} h\n"
            ));
        }
        if let Some(n) = p.max_requests_per_minute {
            text.push_str(&format!("  rate limit: {n} requests per minute\n"));
        }
        text.push_str(&format!("  notes:      {}\n", p.notes));
        for page in p.evidence {
            text.push_str(&format!("  source:     {page}\n"));
        }
        ctx.ui.out(&text);
    }
    Ok(())
}

/// `providers --quirks`: each vendor, how it is recognised, and its rules with their evidence.
fn list_quirks(ctx: &Ctx) -> Result<()> {
    let file = quirks::file().map_err(|e| anyhow::anyhow!("{e}"))?;
    if ctx.ui.json {
        ctx.ui.json_out(&serde_json::to_value(file)?);
        return Ok(());
    }
    let mut text = format!(
        "Known server quirks (list checked {}); each shapes the searches (or the sign-in upkeep) of a server it matches.\n",
        file.checked
    );
    for vendor in &file.vendors {
        let m = &vendor.matches;
        let recognised: Vec<String> = m
            .software
            .iter()
            .map(|s| format!("software \"{s}\""))
            .chain(m.hosts.iter().map(|h| format!("host {h}")))
            .collect();
        text.push_str(&format!(
            "\n{}\n  recognised by: {}\n",
            vendor.name,
            recognised.join(", ")
        ));
        for rule in &vendor.rules {
            text.push_str(&format!(
                "  - {}\n    {}\n    evidence: {} (checked {})\n",
                describe(&rule.kind),
                rule.why,
                rule.evidence,
                rule.checked
            ));
        }
    }
    ctx.ui.out(&text);
    Ok(())
}

/// A rule in a line.
fn describe(kind: &RuleKind) -> String {
    match kind {
        RuleKind::CategoryRequired { types } => {
            format!("searched by category only: {}", types.join(", "))
        }
        RuleKind::RefusedSearches {
            resource_type,
            searches,
        } => {
            let asked: Vec<String> = searches
                .iter()
                .map(|s| format!("{resource_type}?{s}"))
                .collect();
            format!("never asked: {}", asked.join(", "))
        }
        RuleKind::RefusedIncremental { parameter, types } if types.is_empty() => {
            format!("incremental searches never by {parameter}")
        }
        RuleKind::RefusedIncremental { parameter, types } => format!(
            "incremental searches of {} never by {parameter}",
            types.join(", ")
        ),
        RuleKind::RequiredSearchParameter { name, example } => {
            format!("every search carries {name} (login --search-param {name}={example})")
        }
        RuleKind::RateLimit { per_minute } => {
            format!("at most {per_minute} requests a minute")
        }
        RuleKind::Refresh {
            refresh_token_idle_hours,
            min_interval_secs,
            rotates,
        } => describe_refresh(*refresh_token_idle_hours, *min_interval_secs, *rotates),
    }
}

/// A `refresh` rule in a line: "refresh tokens: die after 48 h unused (a sync refreshes after
/// 24 h); refreshes at least 60 s apart; not rotated".
fn describe_refresh(
    idle_hours: Option<u32>,
    min_secs: Option<u32>,
    rotates: Option<bool>,
) -> String {
    let mut parts = Vec::new();
    if let Some(h) = idle_hours {
        parts.push(format!(
            "die after {h} h unused (a sync refreshes once {} h have passed)",
            h / 2
        ));
    }
    if let Some(s) = min_secs {
        parts.push(format!("refreshes at least {s} s apart"));
    }
    match rotates {
        Some(true) => parts.push("each refresh returns a new one".to_string()),
        Some(false) => parts.push("a refresh returns no new one".to_string()),
        None => {}
    }
    format!("refresh tokens: {}", parts.join("; "))
}
