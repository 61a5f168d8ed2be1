//! One module per command. Each gets a [`Ctx`] and returns `Result<()>`; `lib::run` maps the
//! error to an exit code.

pub mod bundle;
pub mod completions;
pub mod demo;
pub mod directory;
pub mod doctor;
pub mod find;
pub mod history;
pub mod key;
pub mod login;
pub mod logout;
pub mod man;
pub mod practice;
pub mod profile;
pub mod providers;
pub mod sandbox;
pub mod status;
pub mod sync;
pub mod verify;
pub mod view;
pub mod view_merged;

use crate::http::Http;
use crate::output::Ui;
use crate::settings::Settings;
use std::sync::Arc;

/// What every command needs: the resolved settings, the UI, and the one HTTP client.
#[derive(Clone)]
pub struct Ctx {
    pub settings: Settings,
    pub ui: Arc<Ui>,
    pub http: Http,
}

impl Ctx {
    pub fn new(settings: Settings) -> anyhow::Result<Ctx> {
        let ui = Arc::new(Ui::from_settings(&settings));
        let mut http = Http::new(ui.clone(), &settings.extra_roots)?;
        if let Some(path) = &settings.trace_file {
            let sink = crate::trace::TraceSink::to_file(path, settings.trace_bodies)?;
            if settings.trace_bodies {
                ui.warn(&format!(
                    "--trace-bodies: {} will contain health data (your records as the server sent them); keep it private and delete it when done",
                    path.display()
                ));
            }
            http = http.with_trace_sink(Arc::new(sink));
        }
        Ok(Ctx { settings, ui, http })
    }

    /// The export folder a command means: `--out`, else the selected profile's folder (as
    /// `sync` would use it).
    pub fn export_dir(&self, out: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
        if let Some(dir) = out {
            return crate::folder::absolute(dir);
        }
        let cfg = crate::config::load(&self.settings.paths)?;
        // Offline commands need a folder, not a sign-in: a missing profile is a usage error.
        let (name, profile) = match (cfg.profiles.is_empty(), self.settings.profile.as_deref()) {
            (true, None) => {
                return Err(crate::error::Failure::new(
                    crate::error::Kind::Usage,
                    "no export folder given, and no profile to take one from",
                )
                .hint("pass the folder `fhirdl sync` wrote with --out DIR")
                .into())
            }
            (_, explicit) => cfg.select(explicit).map_err(|e| {
                let why = format!("{e:#}");
                crate::error::Failure::new(
                    crate::error::Kind::Usage,
                    format!("no export folder given: {why}"),
                )
                .hint("pass the folder `fhirdl sync` wrote with --out DIR, or the profile whose folder it is with --profile NAME")
            })?,
        };
        Ok(profile.export_dir(&name, &self.settings.paths))
    }

    /// The same context with other folders (the demo's isolated ones).
    pub fn with_paths(&self, paths: crate::config::Paths) -> Ctx {
        let mut settings = self.settings.clone();
        settings.paths = paths;
        Ctx {
            settings,
            ui: self.ui.clone(),
            http: self.http.clone(),
        }
    }
}
