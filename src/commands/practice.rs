//! `login --practice <id|words>`: the practice a login is for, from the endpoint directory.
//! An id (`fhirdl find` prints it) or words that match one practice pick it; several matches
//! are offered to choose from on a terminal, and listed with exit code 2 without one.

use super::Ctx;
use crate::config::Practice;
use crate::directory::index::{Filters, Match};
use crate::directory::search;
use crate::error::{Failure, Kind};
use crate::sanitize::clean;
use anyhow::{Context, Result};
use std::io::{BufRead, Write};

/// At most this many matches are offered.
const OFFERED: usize = 9;

/// The practice `text` names.
pub fn choose(ctx: &Ctx, text: &str) -> Result<Match> {
    let index = super::find::open_index(ctx)?;
    if let Some(m) = index.by_id(text.trim())? {
        return Ok(m);
    }
    let mut matches = search::find(&index, text, &Filters::default(), OFFERED)?;
    match matches.len() {
        0 => Err(Failure::new(Kind::Usage, format!("no practice in the directory matches \"{}\"", clean(text)))
            .hint("try other words with `fhirdl find <words>`, or update the directory with `fhirdl directory update`")
            .into()),
        1 => Ok(matches.remove(0)),
        _ if ctx.settings.interactive => ask(ctx, matches),
        _ => Err(Failure::new(Kind::Usage, format!("\"{}\" matches {} practices:\n{}", clean(text), matches.len(), listing(&matches)))
            .hint(format!("pick one by its id: `fhirdl login --practice {} ...`", matches[0].id))
            .into()),
    }
}

/// What the profile remembers of the chosen practice.
pub fn remembered(m: &Match) -> Practice {
    Practice {
        id: m.id.clone(),
        name: m.listing.name.clone(),
        address: m.listing.address.clone(),
        vendor: m.vendor.clone(),
    }
}

/// One numbered line per match: name, address, id.
fn listing(matches: &[Match]) -> String {
    let lines: Vec<String> = matches
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let place = m
                .listing
                .address
                .as_deref()
                .map(|a| format!(", {}", clean(a)))
                .unwrap_or_default();
            format!(
                "  {}. {}{place} (id {})",
                i + 1,
                clean(&m.listing.name),
                m.id
            )
        })
        .collect();
    lines.join("\n")
}

/// Asks on the terminal which match is meant.
fn ask(ctx: &Ctx, mut matches: Vec<Match>) -> Result<Match> {
    let n = matches.len();
    let mut err = std::io::stderr().lock();
    writeln!(err, "Several practices match:\n{}", listing(&matches))?;
    for _ in 0..3 {
        write!(err, "Which one? [1-{n}] ")?;
        err.flush()?;
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the answer")?;
        if read == 0 {
            break;
        }
        if let Some(i) = line
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|i| (1..=n).contains(i))
        {
            return Ok(matches.swap_remove(i - 1));
        }
        ctx.ui.warn(&format!("answer with a number from 1 to {n}"));
    }
    Err(Failure::new(Kind::Usage, "no practice was chosen")
        .hint("pick one by its id: `fhirdl find <words>` prints it, then `fhirdl login --practice <id>`")
        .into())
}
