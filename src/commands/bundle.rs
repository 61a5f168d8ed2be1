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
    let dir = ctx.export_dir(args.out.as_deref())?;
    let folder = Folder::open(&dir)?;
    folder::readme::write(&dir)?;
    let opts = bundle::Options {
        bundle_type: args.r#type,
        attachments: !args.no_attachments,
        timestamp: crate::datetime::now_rfc3339(),
    };
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    if to_stdout && ctx.ui.json {
        return Err(
            Failure::new(Kind::Usage, "--output - and --json both want stdout")
                .hint("write the Bundle to a file with --output FILE")
                .into(),
        );
    }
    let (path, summary) = if to_stdout {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
        (None, write(&folder, &opts, args.gzip, &mut out)?)
    } else {
        let name = if args.gzip {
            crate::export_layout::BUNDLE_GZ
        } else {
            crate::export_layout::BUNDLE
        };
        let path = match &args.output {
            Some(p) => folder::absolute(p)?,
            None => dir.join(name),
        };
        let mut file = Atomic(AtomicFile::create(&path)?);
        let summary = write(&folder, &opts, args.gzip, &mut file)?;
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
    folder: &Folder,
    opts: &bundle::Options,
    gzip: bool,
    out: &mut dyn Write,
) -> Result<bundle::Summary> {
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        let summary = bundle::write(folder, opts, &mut gz)?;
        gz.finish()
            .context("cannot finish the gzip stream")?
            .flush()?;
        Ok(summary)
    } else {
        let summary = bundle::write(folder, opts, out)?;
        out.flush()?;
        Ok(summary)
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
    ctx.ui.out(text.trim_end());
    let mut doc = serde_json::to_value(&s)?;
    doc["out"] = serde_json::json!(out);
    ctx.ui.json_out(&doc);
    Ok(())
}
