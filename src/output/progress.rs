//! The terminal's view of a running sync: one bar per type in flight (count and the total the
//! server announced; a spinner with a count when it announced none), on stderr, only on a
//! terminal and never with `-q`, `--json` or `-v` (whose lines would interleave). With `-v`,
//! each finished type gets one line instead.

use super::Ui;
use crate::sync::{Observer, TypeReport, TypeStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};

/// Watches a sync for the terminal.
pub struct SyncProgress {
    ui: Arc<Ui>,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl SyncProgress {
    pub fn new(ui: &Arc<Ui>) -> Arc<SyncProgress> {
        let animate = !ui.quiet && !ui.json && ui.verbosity == 0 && std::io::stderr().is_terminal();
        Arc::new(SyncProgress {
            ui: ui.clone(),
            multi: animate.then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        })
    }

    fn bars(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.bars.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn counting_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix:<24} {spinner} {pos} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn total_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix:<24} {bar:30} {pos}/{len} {percent:>3}% {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Observer for SyncProgress {
    fn message(&self, line: &str) {
        self.ui.info(line);
    }

    fn type_started(&self, resource_type: &str) {
        let Some(multi) = &self.multi else {
            return;
        };
        let bar = multi.add(ProgressBar::new_spinner().with_style(counting_style()));
        bar.set_prefix(resource_type.to_string());
        self.bars().insert(resource_type.to_string(), bar);
    }

    fn type_progress(&self, resource_type: &str, kept: u64, total: Option<u64>) {
        let bars = self.bars();
        let Some(bar) = bars.get(resource_type) else {
            return;
        };
        // A bar is never full before its type is done: a total smaller than what arrived
        // (a server that miscounts) switches back to counting.
        match total.filter(|t| *t > kept) {
            Some(total) if bar.length() != Some(total) => {
                bar.set_style(total_style());
                bar.set_length(total);
            }
            Some(_) => {}
            None if bar.length().is_some() => {
                bar.set_style(counting_style());
                bar.unset_length();
            }
            None => {}
        }
        bar.set_position(kept);
    }

    fn type_finished(&self, report: &TypeReport) {
        if let Some(bar) = self.bars().remove(&report.resource_type) {
            bar.finish_and_clear();
        }
        if self.ui.verbosity >= 1 && !self.ui.quiet {
            self.ui.info(&finished_line(report));
        }
    }

    fn stopped(&self) {
        for (_, bar) in self.bars().drain() {
            bar.finish_and_clear();
        }
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

/// The `-v` line of a finished type.
fn finished_line(r: &TypeReport) -> String {
    let reason = r.reason.as_deref().unwrap_or("");
    match r.status {
        TypeStatus::Skipped => format!("  {:<24} skipped: {reason}", r.resource_type),
        TypeStatus::Failed => format!("  {:<24} FAILED: {reason}", r.resource_type),
        TypeStatus::Ok | TypeStatus::Unchanged => format!(
            "  {:<24} {} fetched ({} new, {} updated), {} stored",
            r.resource_type, r.counts.fetched, r.counts.new, r.counts.updated, r.counts.stored
        ),
    }
}
