//! How fhirdl talks to people and scripts: messages on stderr, one JSON document on stdout,
//! colours only on a terminal and never with NO_COLOR, and error printing with hints.

use crate::exit::hint_of;
use crate::settings::Settings;
use std::io::Write;

mod progress;
pub use progress::SyncProgress;

#[derive(Debug, Clone, Default)]
pub struct Ui {
    pub verbosity: u8,
    pub quiet: bool,
    pub json: bool,
    pub color: bool,
}

impl Ui {
    pub fn from_settings(s: &Settings) -> Ui {
        Ui {
            verbosity: s.verbosity,
            quiet: s.quiet,
            json: s.json,
            color: s.color,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A progress or informational line for people (stderr; hidden by -q).
    pub fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// A line that states success (stderr; hidden by -q).
    pub fn success(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{} {msg}", self.paint("32", "✓"));
        }
    }

    /// A warning (stderr, shown even with -q).
    pub fn warn(&self, msg: &str) {
        eprintln!("{} {msg}", self.paint("33", "warning:"));
    }

    /// A trace line (-v).
    pub fn trace(&self, msg: &str) {
        eprintln!("{} {msg}", self.paint("2", "http:"));
    }

    /// Human-readable result text: stdout, unless --json (then the JSON document is the output).
    pub fn out(&self, text: &str) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }

    /// The one machine-readable document of a command (stdout, only with --json).
    pub fn json_out(&self, value: &serde_json::Value) {
        if self.json {
            let mut out = std::io::stdout().lock();
            let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
            let _ = writeln!(out, "{text}");
        }
    }

    /// Prints an error with its chain of causes and its hint.
    pub fn error(&self, err: &anyhow::Error) {
        let mut text = format!("{} {err}", self.paint("31", "error:"));
        for cause in err.chain().skip(1) {
            let c = cause.to_string();
            if !text.contains(&c) {
                text.push_str(&format!("\n  caused by: {c}"));
            }
        }
        if let Some(h) = hint_of(err) {
            text.push_str(&format!("\n{} {h}", self.paint("36", "hint:")));
        }
        eprintln!("{text}");
    }
}

impl crate::console::Console for Ui {
    fn verbosity(&self) -> u8 {
        self.verbosity
    }
    fn info(&self, msg: &str) {
        Ui::info(self, msg);
    }
    fn warn(&self, msg: &str) {
        Ui::warn(self, msg);
    }
    fn trace(&self, msg: &str) {
        Ui::trace(self, msg);
    }
}
