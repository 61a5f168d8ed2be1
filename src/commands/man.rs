//! `fhirdl man --out DIR` (hidden): the man pages, rendered by `clap_mangen` from the clap
//! definitions `--help` prints, as `fhirdl completions` renders them for the shells.
//!
//! `fhirdl.1` ends with the reference sections of [`crate::manual`] (exit status, environment,
//! files); each visible command gets a page of its own (`fhirdl-sync.1`, `fhirdl-profile-list.1`)
//! that ends with its examples. The committed pages live in `man/`; a test regenerates them
//! and fails when they are stale.

use super::Ctx;
use crate::cli::Cli;
use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;
use std::path::Path;

/// Every page as (file name, roff text): the top-level page first, then each visible command.
pub fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect(&cmd, true, &mut pages)?;
    Ok(pages)
}

fn collect(cmd: &clap::Command, top: bool, pages: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    pages.push(page(cmd, top)?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, false, pages)?;
    }
    Ok(())
}

/// One page: clap_mangen's sections, then the text `--help` prints after the options.
fn page(cmd: &clap::Command, top: bool) -> Result<(String, Vec<u8>)> {
    // Every page names the program and its version, not the command (`sync 0.1.0`).
    let source = format!("fhirdl {}", env!("CARGO_PKG_VERSION"));
    let man = Man::new(cmd.clone()).source(source);
    let mut w = Vec::new();
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut w)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut w)?;
    }
    let mut roff = Roff::new();
    if top {
        for section in crate::manual::SECTIONS {
            roff.control("SH", [section.man_title]);
            for (term, meaning) in section.entries {
                roff.control("TP", []);
                roff.text([bold(*term)]);
                roff.text([roman(*meaning)]);
            }
        }
    } else if let Some(after) = cmd.get_after_help() {
        examples(&mut roff, &after.to_string());
    }
    roff.to_writer(&mut w)?;
    man.render_version_section(&mut w)?;
    Ok((man.get_filename(), w))
}

/// A command's `after_help` ("Examples:" and command lines, then notes) kept as laid out.
fn examples(roff: &mut Roff, text: &str) {
    let body = text.strip_prefix("Examples:\n").unwrap_or(text);
    roff.control("SH", ["EXAMPLES"]);
    roff.control("nf", []);
    for line in body.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
}

/// Writes every page into `out`, replacing pages of the same name.
pub fn write_all(out: &Path) -> Result<usize> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let pages = pages()?;
    for (name, text) in &pages {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(pages.len())
}

pub fn run(ctx: &Ctx, out: &Path) -> Result<()> {
    let n = write_all(out)?;
    ctx.ui
        .success(&format!("wrote {n} man pages into {}", out.display()));
    Ok(())
}
