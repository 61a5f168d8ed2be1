//! `fhirdl view`: write `record.html` from an export folder (no network), and open it.

use super::Ctx;
use crate::cli::ViewArgs;
use crate::folder::{self, Folder};
use crate::view::{self, Summary};
use anyhow::Result;
use std::path::{Path, PathBuf};

pub async fn run(ctx: &Ctx, args: &ViewArgs) -> Result<()> {
    let dir = ctx.export_dir(args.out.as_deref())?;
    let summary = build(ctx, &dir, args.output.as_deref())?;
    ctx.ui.out(&summary.path.display().to_string());
    ctx.ui.json_out(&serde_json::to_value(&summary)?);
    if args.open {
        open(ctx, &summary.path).await;
    }
    Ok(())
}

/// Writes the page of the export in `dir` to `output` (default `<dir>/record.html`) and says
/// so on stderr; also used by `sync --view` and `demo`.
pub fn build(ctx: &Ctx, dir: &Path, output: Option<&Path>) -> Result<Summary> {
    let folder = Folder::open(dir)?;
    folder::readme::write(dir)?;
    let output: PathBuf = match output {
        Some(p) => folder::absolute(p)?,
        None => dir.join(view::FILE),
    };
    let summary = view::render(&folder, &output, &crate::datetime::now_rfc3339())?;
    let unreadable: usize = summary.unreadable.values().sum();
    if unreadable > 0 {
        ctx.ui.warn(&format!(
            "{unreadable} lines of the export are not JSON and are not shown ({})",
            summary
                .unreadable
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    ctx.ui.success(&format!(
        "Wrote {} ({} resources, {} charts, {} document links); open it in any browser, it works offline",
        summary.path.display(),
        summary.resources,
        summary.charts,
        summary.attachment_links
    ));
    Ok(summary)
}

/// `--open`: the page in the user's browser (`$BROWSER`, else the platform's opener).
pub(super) async fn open(ctx: &Ctx, path: &Path) {
    let Ok(url) = url::Url::from_file_path(path) else {
        ctx.ui.warn(&format!(
            "cannot make a file URL of {}; open it by hand",
            path.display()
        ));
        return;
    };
    if crate::auth::browser::open(url.as_str()).await.is_none() {
        ctx.ui.warn(&format!(
            "no browser could be started; open {} by hand",
            path.display()
        ));
    }
}
