//! `fhirdl providers`: the built-in presets and their endpoints.

use super::Ctx;
use crate::providers::PRESETS;
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<()> {
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
