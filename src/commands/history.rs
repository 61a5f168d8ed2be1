//! `fhirdl history Type/id [--version N]`: the versions of one resource the export holds, the
//! superseded ones from `.fhirdl/history/` and the current one, oldest first.

use super::Ctx;
use crate::cli::HistoryArgs;
use crate::error::{Failure, Kind};
use crate::sync::history::{self, Event};
use anyhow::Result;
use serde::Serialize;
use serde_json::value::RawValue;
use std::io::Write;

/// One version as listed.
#[derive(Serialize)]
struct Listed<'a> {
    version: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated: Option<&'a str>,
    /// `current`, `replaced` or `removed`.
    state: &'static str,
    /// When a sync recorded it as superseded (none for the current version).
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_at: Option<&'a str>,
    /// The file it is in, relative to the export folder.
    file: String,
    /// The resource as stored (only with `--version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a RawValue>,
}

pub fn run(ctx: &Ctx, args: &HistoryArgs) -> Result<()> {
    let (ty, id) = parse(&args.resource)?;
    let dir = ctx.export_dir(args.out.as_deref())?;
    let mut held: Vec<(history::Version, &'static str, String)> = history::versions(&dir, ty, id)?
        .into_iter()
        .map(|v| {
            let state = match v.event {
                Event::Replaced => "replaced",
                Event::Removed => "removed",
            };
            (v, state, crate::export_layout::history_name(ty))
        })
        .collect();
    if let Some(line) = history::current(&dir, ty, id)? {
        let r = crate::sync::resource::Resource::from_text(&line);
        let current = history::Version {
            recorded_at: String::new(),
            event: Event::Replaced,
            id: id.to_string(),
            version_id: r.version_id,
            last_updated: r.last_updated,
            line,
        };
        held.push((current, "current", crate::export_layout::ndjson_name(ty)));
    }
    if held.is_empty() {
        return Err(Failure::new(
            Kind::Usage,
            format!(
                "{ty}/{id} is not in {} (neither current nor in its history)",
                dir.display()
            ),
        )
        .into());
    }
    let raws: Vec<Box<RawValue>> = held
        .iter()
        .map(|(v, _, _)| RawValue::from_string(v.line.clone()))
        .collect::<Result<_, _>>()?;
    let listed: Vec<Listed<'_>> = held
        .iter()
        .zip(&raws)
        .enumerate()
        .map(|(i, ((v, state, file), raw))| Listed {
            version: i + 1,
            version_id: v.version_id.as_deref(),
            last_updated: v.last_updated.as_deref(),
            state,
            recorded_at: (*state != "current").then_some(v.recorded_at.as_str()),
            file: file.clone(),
            resource: args.version.is_some().then_some(raw.as_ref()),
        })
        .collect();
    match args.version {
        Some(n) => print_one(ctx, ty, id, listed, n),
        None => {
            print_list(ctx, ty, id, &listed);
            Ok(())
        }
    }
}

/// `Type/id`, both checked (the id as FHIR defines it, so it never names a path).
fn parse(resource: &str) -> Result<(&str, &str)> {
    let usage = || {
        Failure::new(
            Kind::Usage,
            format!(
                "'{}' is not a resource: give it as Type/id, e.g. Observation/lab-123",
                crate::sanitize::clean(resource)
            ),
        )
    };
    let (ty, id) = resource.split_once('/').ok_or_else(usage)?;
    if !crate::sync::bundle::is_type_name(ty) || !crate::sync::bundle::valid_id(id) {
        return Err(usage().into());
    }
    Ok((ty, id))
}

fn print_list(ctx: &Ctx, ty: &str, id: &str, listed: &[Listed<'_>]) {
    if ctx.ui.json {
        write_json(&serde_json::json!({
            "resource": format!("{ty}/{id}"),
            "versions": listed,
        }));
        return;
    }
    let mut text = format!(
        "{ty}/{id}: {} version{} held, oldest first\n{:>3}  {:<10} {:<30} {:<9} where\n",
        listed.len(),
        if listed.len() == 1 { "" } else { "s" },
        "#",
        "versionId",
        "lastUpdated",
        "state"
    );
    for v in listed {
        let place = match v.recorded_at {
            Some(at) => format!("{} (recorded {at})", v.file),
            None => v.file.clone(),
        };
        text.push_str(&format!(
            "{:>3}  {:<10} {:<30} {:<9} {place}\n",
            v.version,
            v.version_id.unwrap_or("-"),
            v.last_updated.unwrap_or("-"),
            v.state
        ));
    }
    text.push_str(&format!(
        "\nPrint one with: fhirdl history {ty}/{id} --version N"
    ));
    ctx.ui.out(&text);
}

fn print_one(ctx: &Ctx, ty: &str, id: &str, listed: Vec<Listed<'_>>, n: usize) -> Result<()> {
    let count = listed.len();
    let Some(one) = listed.into_iter().find(|v| v.version == n) else {
        return Err(Failure::new(
            Kind::Usage,
            format!("{ty}/{id} has versions 1 to {count}; there is no version {n}"),
        )
        .into());
    };
    if ctx.ui.json {
        write_json(&one);
    } else if let Some(raw) = one.resource {
        // Indented, numbers and key order as stored.
        ctx.ui.out(&crate::json_text::pretty(raw.get()));
    }
    Ok(())
}

/// One JSON document on stdout; the resource inside keeps its stored text (a `Value` would
/// reprint its numbers).
fn write_json(value: &impl Serialize) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}
