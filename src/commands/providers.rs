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
        let mut text = format!(
            "{}\n  {}\n  FHIR base:  {} ({})\n",
            p.name, p.title, p.fhir_base, p.fhir_release
        );
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
            "  client:     {}\n  notes:      {}\n",
            if p.confidential {
                "confidential (client id + secret from your app registration)"
            } else {
                "public (client id only)"
            },
            p.notes
        ));
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
        "Known server quirks (list checked {}); each shapes the searches of a server it matches.\n",
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
    }
}
