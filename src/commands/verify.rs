//! `fhirdl verify`: read an export folder back and check it (see [`crate::verify`]); also run by
//! `fhirdl sync --verify`.

use super::Ctx;
use crate::cli::VerifyArgs;
use crate::sanitize::clean;
use crate::verify::{self, FileStatus, Report};
use anyhow::{Context, Result};
use std::path::Path;

/// Damage lines shown on a terminal; `--json` lists every one.
const SHOWN: usize = 50;

pub fn run(ctx: &Ctx, args: &VerifyArgs) -> Result<()> {
    let dir = ctx.export_dir(args.out.as_deref())?;
    let report = verify::verify(&dir)?;
    show(ctx, &report);
    ctx.ui.json_out(&serde_json::to_value(&report)?);
    report.result()
}

/// `sync --verify`: verifies the folder the sync wrote, prints like `fhirdl verify`, adds the
/// report to the sync's JSON document as `"verify"`, and ends with the sync's own outcome,
/// unless the export is damaged: then that is the error (the sync's is printed first).
pub fn after_sync(
    ctx: &Ctx,
    dir: &Path,
    doc: &mut serde_json::Value,
    synced: Result<()>,
) -> Result<()> {
    let report = match verify::verify(dir) {
        Ok(r) => r,
        Err(e) => {
            if let Err(s) = synced {
                ctx.ui.error(&s);
            }
            return Err(e.context(format!("cannot verify {}", dir.display())));
        }
    };
    show(ctx, &report);
    if let Some(map) = doc.as_object_mut() {
        let value = serde_json::to_value(&report).context("cannot print the verify report")?;
        map.insert("verify".into(), value);
    }
    match (synced, report.result()) {
        (synced, Ok(())) => synced,
        (Err(s), Err(damaged)) => {
            ctx.ui.error(&s);
            Err(damaged)
        }
        (Ok(()), Err(damaged)) => Err(damaged),
    }
}

/// The table of files, the damage (stdout) and the warnings (stderr).
fn show(ctx: &Ctx, r: &Report) {
    let mut text = format!("{:<32} {:>9}  status\n", "file", "resources");
    for t in &r.types {
        let status = match t.status {
            FileStatus::Ok => "ok",
            FileStatus::Announced => "ok (new version; a sync stopped)",
            FileStatus::Previous => "ok (previous version; a sync stopped)",
            FileStatus::Damaged => "DAMAGED",
        };
        text.push_str(&format!("{:<32} {:>9}  {status}\n", t.file, t.count));
    }
    for d in r.damaged.iter().take(SHOWN) {
        text.push_str(&format!("damaged: {}\n", clean(&d.to_string())));
    }
    if r.damaged.len() > SHOWN {
        text.push_str(&format!(
            "… and {} more problems (`fhirdl verify --json` lists them all)\n",
            r.damaged.len() - SHOWN
        ));
    }
    let c = &r.checked;
    text.push_str(&format!(
        "\nread {} NDJSON files ({} resources, {:.1} MiB), {} documents and {} pretty files in {}: {}",
        c.ndjson_files,
        c.resources,
        c.bytes as f64 / (1024.0 * 1024.0),
        c.attachments,
        c.pretty_files,
        r.dir.display(),
        match (r.intact, r.interrupted) {
            (false, _) => "DAMAGED",
            (true, true) => "intact, but a sync stopped before finishing",
            (true, false) => "intact",
        }
    ));
    ctx.ui.out(&text);
    for w in &r.warnings {
        ctx.ui.warn(&clean(w));
    }
}
