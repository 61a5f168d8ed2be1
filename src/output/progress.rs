//! The terminal's view of a running sync, on stderr, only on a terminal and never with `-q`,
//! `--json` or `-v` (whose lines would interleave):
//!
//! ```text
//!   Observation              ████░░░░░░░░░░░░░░░░░░░░ 1000/3877  25%  512/s  2.0s
//!   Condition                ⠙ 340  170/s  2.0s
//!   documents                ██████████░░░░░░░░░░░░░░ 34/80  42%  17/s  2.0s
//!   6/10 types · 2340 resources · 57 requests · 1.2 MiB · 2.1s
//! ```
//!
//! One line per type in flight: count of the total the server announced (`Bundle.total`), with
//! percentage and rate; a spinner with a count where it announced none (or fewer than arrived).
//! A bar is never full while its type runs: the line goes when the type is done. The phases
//! after the searches (references, documents) get lines of their own; the last line is the
//! whole run. With `-v`, each finished type and phase gets one line instead. Colour only where
//! [`Ui::color`] allows it (a terminal, no `NO_COLOR`).

use super::Ui;
use crate::fhir::client::Counters;
use crate::sync::progress::Phase;
use crate::sync::{Observer, TypeReport, TypeStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Cells of a bar.
const BAR_WIDTH: u64 = 24;
/// How often lines are drawn again (elapsed time, spinners), whatever arrives.
const TICK: Duration = Duration::from_millis(100);
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Watches a sync for the terminal.
pub struct SyncProgress {
    ui: Arc<Ui>,
    screen: Option<Screen>,
}

/// The lines on the terminal while the run animates.
struct Screen {
    multi: MultiProgress,
    /// The whole run; always the last line.
    overall: ProgressBar,
    tally: Arc<Tally>,
    /// Lines of the types and phases in flight, by name.
    lines: Mutex<HashMap<String, ProgressBar>>,
}

/// What the overall line counts.
#[derive(Default)]
struct Tally {
    types_all: AtomicU64,
    types_done: AtomicU64,
    /// Resources of finished types.
    resources_done: AtomicU64,
    /// Resources in hand of the types in flight, by type.
    in_flight: Mutex<HashMap<String, u64>>,
    referenced: AtomicU64,
    documents: AtomicU64,
}

impl Tally {
    fn resources(&self) -> u64 {
        let in_flight: u64 = lock(&self.in_flight).values().sum();
        self.resources_done.load(Ordering::Relaxed) + in_flight
    }
}

impl SyncProgress {
    /// `traffic` counts the requests and bytes of the run's FHIR client.
    pub fn new(ui: &Arc<Ui>, traffic: Arc<Counters>) -> Arc<SyncProgress> {
        let animate = !ui.quiet && !ui.json && ui.verbosity == 0 && std::io::stderr().is_terminal();
        Arc::new(SyncProgress {
            ui: ui.clone(),
            screen: animate.then(|| Screen::new(traffic)),
        })
    }

    fn clear(&self) {
        if let Some(s) = &self.screen {
            for (_, line) in lock(&s.lines).drain() {
                line.finish_and_clear();
            }
            s.overall.finish_and_clear();
            let _ = s.multi.clear();
        }
    }
}

impl Screen {
    fn new(traffic: Arc<Counters>) -> Screen {
        let multi = MultiProgress::new();
        let tally = Arc::new(Tally::default());
        let style = {
            let tally = tally.clone();
            ProgressStyle::with_template("{overall}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .with_key(
                    "overall",
                    move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&overall_line(&tally, &traffic, s.elapsed()));
                    },
                )
        };
        let overall = multi.add(ProgressBar::new_spinner().with_style(style));
        overall.enable_steady_tick(TICK);
        Screen {
            multi,
            overall,
            tally,
            lines: Mutex::new(HashMap::new()),
        }
    }

    /// A new line for a type or phase, above the overall line.
    fn start_line(&self, name: &str, color: bool) {
        let style = {
            let name = name.to_string();
            ProgressStyle::with_template("{work}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .with_key(
                    "work",
                    move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let line = work_line(&name, s.pos(), s.len(), s.elapsed(), color);
                        let _ = w.write_str(&line);
                    },
                )
        };
        let bar = self
            .multi
            .insert_before(&self.overall, ProgressBar::new_spinner().with_style(style));
        bar.enable_steady_tick(TICK);
        if let Some(old) = lock(&self.lines).insert(name.to_string(), bar) {
            old.finish_and_clear();
        }
    }

    fn update_line(&self, name: &str, done: u64, total: Option<u64>) {
        let lines = lock(&self.lines);
        let Some(bar) = lines.get(name) else {
            return;
        };
        // Count and total change together: never a count drawn against the old total.
        match total {
            Some(total) => bar.update(|state| {
                state.set_pos(done);
                state.set_len(total);
            }),
            None => {
                bar.unset_length();
                bar.set_position(done);
            }
        }
    }

    fn end_line(&self, name: &str) {
        if let Some(bar) = lock(&self.lines).remove(name) {
            bar.finish_and_clear();
        }
    }
}

impl Observer for SyncProgress {
    fn message(&self, line: &str) {
        match &self.screen {
            Some(s) => {
                let _ = s.multi.println(line);
            }
            None => self.ui.info(line),
        }
    }

    fn planned(&self, types: usize) {
        if let Some(s) = &self.screen {
            s.tally.types_all.store(types as u64, Ordering::Relaxed);
        }
    }

    fn type_started(&self, resource_type: &str) {
        if let Some(s) = &self.screen {
            s.start_line(resource_type, self.ui.color);
        }
    }

    fn type_progress(&self, resource_type: &str, kept: u64, total: Option<u64>) {
        if let Some(s) = &self.screen {
            lock(&s.tally.in_flight).insert(resource_type.to_string(), kept);
            s.update_line(resource_type, kept, total);
        }
    }

    fn type_finished(&self, report: &TypeReport) {
        if let Some(s) = &self.screen {
            s.end_line(&report.resource_type);
            let t = &s.tally;
            lock(&t.in_flight).remove(&report.resource_type);
            t.resources_done
                .fetch_add(report.counts.fetched as u64, Ordering::Relaxed);
            t.types_done.fetch_add(1, Ordering::Relaxed);
        }
        if self.ui.verbosity >= 1 && !self.ui.quiet {
            self.ui.info(&finished_line(report));
        }
    }

    fn phase_started(&self, phase: Phase) {
        if let Some(s) = &self.screen {
            s.start_line(phase.name(), self.ui.color);
        }
    }

    fn phase_progress(&self, phase: Phase, done: u64, total: Option<u64>) {
        if let Some(s) = &self.screen {
            s.update_line(phase.name(), done, total);
        }
    }

    fn phase_finished(&self, phase: Phase, done: u64) {
        if let Some(s) = &self.screen {
            s.end_line(phase.name());
            let count = match phase {
                Phase::References => &s.tally.referenced,
                Phase::Documents => &s.tally.documents,
            };
            count.store(done, Ordering::Relaxed);
        }
        if self.ui.verbosity >= 1 && !self.ui.quiet {
            self.ui.info(&format!("  {:<24} {done} done", phase.name()));
        }
    }

    fn finished(&self) {
        self.clear();
    }

    fn stopped(&self) {
        self.clear();
    }
}

impl Drop for SyncProgress {
    /// A run that ended in an error leaves no line behind either.
    fn drop(&mut self) {
        self.clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The line of a type or phase in flight: a bar with `done/total`, percentage, rate and time
/// when a total is known and not yet passed, else a spinner with the count. Never full: the
/// work is not done while its line is shown.
fn work_line(name: &str, done: u64, total: Option<u64>, elapsed: Duration, color: bool) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs >= 0.1 {
        format!("{}/s", (done as f64 / secs).round() as u64)
    } else {
        "-/s".to_string()
    };
    let time = format_elapsed(elapsed);
    match total.filter(|t| *t >= done && *t > 0) {
        Some(total) => {
            let filled = (done * BAR_WIDTH / total).min(BAR_WIDTH - 1);
            let percent = (done * 100 / total).min(99);
            let bar = format!(
                "{}{}",
                "█".repeat(filled as usize),
                "░".repeat((BAR_WIDTH - filled) as usize)
            );
            let bar = if color {
                format!("\x1b[36m{bar}\x1b[0m")
            } else {
                bar
            };
            format!("  {name:<24} {bar} {done}/{total} {percent:>3}%  {rate}  {time}")
        }
        None => {
            let frame = SPINNER[(elapsed.as_millis() / TICK.as_millis()) as usize % SPINNER.len()];
            format!("  {name:<24} {frame} {done}  {rate}  {time}")
        }
    }
}

/// The last line: types done of all, resources in hand, requests, bytes and time.
fn overall_line(tally: &Tally, traffic: &Counters, elapsed: Duration) -> String {
    let all = tally.types_all.load(Ordering::Relaxed);
    let mut line = match all {
        0 => "  planning".to_string(),
        all => format!("  {}/{all} types", tally.types_done.load(Ordering::Relaxed)),
    };
    let _ = write!(
        line,
        " · {} resources · {} requests · {} · {}",
        tally.resources(),
        traffic.requests.load(Ordering::Relaxed),
        format_bytes(traffic.bytes.load(Ordering::Relaxed)),
        format_elapsed(elapsed)
    );
    for (count, what) in [
        (&tally.referenced, "referenced"),
        (&tally.documents, "documents"),
    ] {
        match count.load(Ordering::Relaxed) {
            0 => {}
            n => {
                let _ = write!(line, " · {n} {what}");
            }
        }
    }
    line
}

fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn format_elapsed(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = elapsed.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
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

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_S: Duration = Duration::from_secs(2);

    #[test]
    fn a_type_with_a_total_shows_count_percentage_and_rate() {
        let line = work_line("Observation", 1000, Some(3877), TWO_S, false);
        assert_eq!(
            line,
            "  Observation              ██████░░░░░░░░░░░░░░░░░░ 1000/3877  25%  500/s  2.0s"
        );
    }

    #[test]
    fn a_bar_is_never_full_while_its_type_runs() {
        let line = work_line("Observation", 3877, Some(3877), TWO_S, false);
        assert!(line.contains("3877/3877  99%"), "{line}");
        assert!(line.contains(&format!("{}░", "█".repeat(23))), "{line}");
    }

    #[test]
    fn no_total_or_a_total_passed_shows_a_spinner_with_the_count() {
        let line = work_line("Condition", 340, None, TWO_S, false);
        assert!(line.starts_with("  Condition                "), "{line}");
        assert!(line.ends_with(" 340  170/s  2.0s"), "{line}");
        assert!(!line.contains('█') && !line.contains('░'), "{line}");
        // A server that announced 100 and sent 150: counting, not a bar past its end.
        let line = work_line("Condition", 150, Some(100), TWO_S, false);
        assert!(
            line.contains(" 150  ") && !line.contains("150/100"),
            "{line}"
        );
        // Nothing announced yet and nothing in hand: no rate, no division by zero.
        let line = work_line("Encounter", 0, Some(0), Duration::ZERO, false);
        assert!(line.contains(" 0  -/s  0.0s"), "{line}");
    }

    #[test]
    fn colour_only_when_allowed() {
        assert!(!work_line("Observation", 1, Some(2), TWO_S, false).contains('\x1b'));
        assert!(work_line("Observation", 1, Some(2), TWO_S, true).contains("\x1b[36m"));
    }

    #[test]
    fn the_overall_line_counts_types_resources_requests_bytes_and_phases() {
        let tally = Tally::default();
        let traffic = Counters::default();
        assert_eq!(
            overall_line(&tally, &traffic, Duration::ZERO),
            "  planning · 0 resources · 0 requests · 0 B · 0.0s"
        );
        tally.types_all.store(10, Ordering::Relaxed);
        tally.types_done.store(6, Ordering::Relaxed);
        tally.resources_done.store(1000, Ordering::Relaxed);
        lock(&tally.in_flight).insert("Observation".into(), 340);
        tally.referenced.store(7, Ordering::Relaxed);
        traffic.requests.store(57, Ordering::Relaxed);
        traffic.bytes.store(1_258_291, Ordering::Relaxed);
        assert_eq!(
            overall_line(&tally, &traffic, Duration::from_secs(75)),
            "  6/10 types · 1340 resources · 57 requests · 1.2 MiB · 1m15s · 7 referenced"
        );
    }
}
