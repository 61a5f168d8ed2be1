//! `fhirdl bundle` (the export as one FHIR Bundle) and `fhirdl unbundle` (a Bundle back into
//! NDJSON files).

use super::Ctx;
use crate::atomic::AtomicFile;
use crate::bundle::{self, split, BundleType};
use crate::cli::{BundleArgs, UnbundleArgs};
use crate::error::{Failure, Kind};
use crate::folder::{self, Folder};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

pub async fn run(ctx: &Ctx, args: &BundleArgs) -> Result<()> {
    let merged = !args.profiles.is_empty() || args.all_profiles;
    let (sources, default_dir) = if merged {
        let sources = chosen_sources(ctx, args)?;
        (sources, ctx.settings.paths.data_dir.clone())
    } else {
        let dir = ctx.export_dir(args.out.as_deref())?;
        let folder = Folder::open(&dir)?;
        folder::readme::write(&dir)?;
        let source = bundle::sources::Source {
            profile: None,
            folder,
        };
        (vec![source], dir)
    };
    if merged && args.r#type == BundleType::Transaction {
        return Err(Failure::new(
            Kind::Usage,
            "a transaction PUTs each resource at Type/id, where two servers' ids collide",
        )
        .hint("bundle several profiles as a collection (the default), or one profile with --type transaction")
        .into());
    }
    let opts = bundle::Options {
        bundle_type: args.r#type,
        attachments: !args.no_attachments,
        timestamp: crate::datetime::now_rfc3339(),
        dedupe: args.dedupe,
    };
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    if to_stdout && ctx.ui.json {
        return Err(
            Failure::new(Kind::Usage, "--output - and --json both want stdout")
                .hint("write the Bundle to a file with --output FILE")
                .into(),
        );
    }
    let write = |out: &mut dyn Write| write(&sources, merged, &opts, args.gzip, out);
    let (path, summary) = if to_stdout {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
        (None, write(&mut out)?)
    } else {
        let name = if args.gzip {
            crate::export_layout::BUNDLE_GZ
        } else {
            crate::export_layout::BUNDLE
        };
        let path = match &args.output {
            Some(p) => folder::absolute(p)?,
            None => default_dir.join(name),
        };
        if merged {
            crate::atomic::create_private_dir(&default_dir)?;
        }
        let mut file = Atomic(AtomicFile::create(&path)?);
        let summary = write(&mut file)?;
        file.0.commit()?;
        (Some(path), summary)
    };
    for w in summary.warnings.iter().take(20) {
        ctx.ui.warn(w);
    }
    if summary.warnings.len() > 20 {
        ctx.ui.warn(&format!(
            "… and {} more warnings like these",
            summary.warnings.len() - 20
        ));
    }
    let kind = match args.r#type {
        BundleType::Collection => "collection",
        BundleType::Transaction => "transaction",
    };
    let shown = path
        .as_ref()
        .map_or("stdout".to_owned(), |p| p.display().to_string());
    ctx.ui.success(&format!(
        "Wrote a {kind} Bundle of {} entries ({} documents) to {shown}",
        summary.entries, summary.attachments
    ));
    say_sources(ctx, &summary, args.dedupe);
    if let Some(p) = &path {
        ctx.ui.out(&p.display().to_string());
    }
    let mut doc = serde_json::to_value(&summary)?;
    doc["path"] = serde_json::json!(path);
    doc["type"] = serde_json::json!(kind);
    doc["gzip"] = serde_json::json!(args.gzip);
    ctx.ui.json_out(&doc);
    Ok(())
}

fn write(
    sources: &[bundle::sources::Source],
    merged: bool,
    opts: &bundle::Options,
    gzip: bool,
    out: &mut dyn Write,
) -> Result<bundle::Summary> {
    let body = |out: &mut dyn Write| match (merged, sources) {
        (false, [one]) => bundle::write(&one.folder, opts, out),
        _ => bundle::sources::write_sources(sources, opts, out),
    };
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        let summary = body(&mut gz)?;
        gz.finish()
            .context("cannot finish the gzip stream")?
            .flush()?;
        Ok(summary)
    } else {
        let summary = body(out)?;
        out.flush()?;
        Ok(summary)
    }
}

/// The exports `--profiles A,B` or `--all-profiles` name, in the order given (by name for
/// `--all-profiles`, which takes every profile whose folder holds an export).
fn chosen_sources(ctx: &Ctx, args: &BundleArgs) -> Result<Vec<bundle::sources::Source>> {
    let cfg = crate::config::load(&ctx.settings.paths)?;
    let names: Vec<String> = if args.all_profiles {
        cfg.names()
    } else {
        args.profiles.clone()
    };
    let mut sources = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(profile) = cfg.profiles.get(&name) else {
            return Err(
                Failure::new(Kind::Usage, format!("no profile named {name}"))
                    .hint("`fhirdl profile list` shows the profiles")
                    .into(),
            );
        };
        let dir = profile.export_dir(&name, &ctx.settings.paths);
        let folder = match Folder::open(&dir) {
            Ok(f) => f,
            // Every profile with an export: one never synced is not one.
            Err(_) if args.all_profiles => continue,
            Err(e) => {
                return Err(Failure::new(
                    Kind::Usage,
                    format!("profile {name} has no export in {}: {e:#}", dir.display()),
                )
                .hint(format!("run `fhirdl sync --profile {name}` first"))
                .into())
            }
        };
        folder::readme::write(&dir)?;
        sources.push(bundle::sources::Source {
            profile: Some(name),
            folder,
        });
    }
    if sources.is_empty() {
        return Err(
            Failure::new(Kind::Usage, "no profile has an export to bundle")
                .hint("sign in and download a record first: fhirdl login, then fhirdl sync")
                .into(),
        );
    }
    Ok(sources)
}

/// What each source added, and what `--dedupe` left out.
fn say_sources(ctx: &Ctx, summary: &bundle::Summary, dedupe: bool) {
    for s in &summary.sources {
        ctx.ui.info(&format!(
            "  {:<16} {:>8} entries from {}",
            s.profile.as_deref().unwrap_or("-"),
            s.entries,
            s.fhir_base.as_deref().unwrap_or("?")
        ));
    }
    if dedupe {
        ctx.ui.info(&format!(
            "--dedupe left out {} resources whose text was already in the Bundle",
            summary.same_text
        ));
    }
}

/// An [`AtomicFile`] as a [`Write`] (for the gzip encoder); its errors name the file.
struct Atomic(AtomicFile);

impl Write for Atomic {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .write_all(buf)
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub async fn unbundle(ctx: &Ctx, args: &UnbundleArgs) -> Result<()> {
    let out = folder::absolute(&args.out)?;
    let input: Box<dyn std::io::Read> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.file)
                .with_context(|| format!("cannot read {}", args.file.display()))?,
        )
    };
    let s = split::split(input, &out)?;
    for w in s.warnings.iter().take(20) {
        ctx.ui.warn(w);
    }
    let total: usize = s.resources.values().sum();
    ctx.ui.success(&format!(
        "Wrote {total} resources of {} types to {}",
        s.resources.len(),
        out.display()
    ));
    let mut text = String::new();
    for (ty, n) in &s.resources {
        text.push_str(&format!("{ty:<28} {n:>8}\n"));
    }
    for src in &s.sources {
        ctx.ui.info(&format!(
            "  {} resources from {} in {}",
            src.resources,
            src.fhir_base.as_deref().unwrap_or("an unnamed server"),
            src.folder.display()
        ));
    }
    ctx.ui.out(text.trim_end());
    let mut doc = serde_json::to_value(&s)?;
    doc["out"] = serde_json::json!(out);
    ctx.ui.json_out(&doc);
    Ok(())
}
