//! `fhirdl doctor`: ordered checks from this computer to the signed-in FHIR read, each `ok`,
//! `warn`, `fail` or `skipped (because …)`, with measured figures and a hint.
//!
//! This file owns the check model ([`Check`], [`Checks`]), the order and dependencies of the
//! checks ([`CATALOG`], [`Checks::blocker`]), the runner and the rendering (table and JSON). The
//! checks themselves live in `local` (this computer), `network` (DNS, TCP, TLS), `server`
//! (metadata, SMART discovery), `endpoints` (OAuth endpoints, clock skew, id_token keys),
//! `session` (a signed-in profile), `probes` (its resource type searches) and `lifetime` (how
//! long that sign-in lasts). Nothing here prints; `commands::doctor` does.

mod answer;
pub mod endpoints;
mod lifetime;
pub mod local;
pub mod network;
mod probes;
pub mod server;
pub mod session;

use crate::config::Paths;
use crate::config::Profile;
use crate::http::Http;
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

/// Every check, in the order they run and are shown: (id, step, title).
pub const CATALOG: &[(&str, u8, &str)] = &[
    ("version", 1, "fhirdl and OS"),
    ("config_dir", 1, "config folder"),
    ("data_dir", 1, "data folder"),
    ("credential_store", 1, "credential store"),
    ("clock", 1, "system clock"),
    ("proxy", 1, "proxy variables"),
    ("dns", 2, "DNS resolution"),
    ("tcp", 2, "TCP connect"),
    ("tls", 2, "TLS"),
    ("metadata", 3, "FHIR metadata"),
    ("smart_discovery", 4, "SMART discovery"),
    ("endpoints_secure", 4, "OAuth endpoints secure"),
    ("pkce", 4, "PKCE S256"),
    ("scopes_supported", 4, "scopes offered"),
    ("revocation", 4, "revocation endpoint"),
    ("id_token_keys", 4, "id_token signing keys"),
    ("authorize_endpoint", 5, "authorize endpoint"),
    ("token_endpoint", 5, "token endpoint"),
    ("clock_skew", 5, "server clock skew"),
    ("signed_in", 6, "signed in"),
    ("access_token", 6, "access token"),
    ("introspection", 6, "token introspection"),
    ("refresh_token", 6, "refresh token"),
    ("last_sync", 6, "last sync"),
    ("scopes_granted", 6, "granted scopes"),
    ("type_probes", 6, "resource types"),
    ("redirect_uri", 7, "redirect URI"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skipped,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
        }
    }
}

/// One check's outcome. `detail` is one line with the measured figures (for a skipped check:
/// "because …"); `figures` holds the same numbers for scripts.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub step: u8,
    pub title: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub figures: Map<String, Value>,
    /// Skipped because something it needs failed (so its dependents are skipped too), as
    /// opposed to "does not apply" (TLS on a plain-http loopback base).
    #[serde(skip)]
    blocked: bool,
}

impl Check {
    fn new(id: &'static str, status: Status, detail: impl Into<String>) -> Check {
        let (step, title) = CATALOG
            .iter()
            .find(|(i, _, _)| *i == id)
            .map(|(_, s, t)| (*s, *t))
            .unwrap_or((0, "other"));
        Check {
            id,
            step,
            title,
            status,
            detail: detail.into(),
            hint: None,
            figures: Map::new(),
            blocked: false,
        }
    }

    pub fn ok(id: &'static str, detail: impl Into<String>) -> Check {
        Check::new(id, Status::Ok, detail)
    }

    pub fn warn(id: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check::new(id, Status::Warn, detail).hint(hint)
    }

    pub fn fail(id: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check::new(id, Status::Fail, detail).hint(hint)
    }

    /// Does not apply here; dependents still run.
    pub fn not_applicable(id: &'static str, because: impl Into<String>) -> Check {
        Check::new(id, Status::Skipped, because)
    }

    /// Cannot run because something it needs failed or was not done; dependents skip too.
    pub fn blocked(id: &'static str, because: impl Into<String>) -> Check {
        let mut c = Check::new(id, Status::Skipped, because);
        c.blocked = true;
        c
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Check {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a figure for `--json` and the report.
    pub fn figure(mut self, key: &str, value: impl Serialize) -> Check {
        self.figures.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Whether dependents may rely on this check.
    pub fn usable(&self) -> bool {
        !(self.status == Status::Fail || self.blocked)
    }
}

/// The checks of one run, in the order they were made.
#[derive(Debug, Default, Serialize)]
#[serde(transparent)]
pub struct Checks {
    list: Vec<Check>,
}

impl Checks {
    pub fn push(&mut self, check: Check) {
        self.list.retain(|c| c.id != check.id);
        self.list.push(check);
    }

    pub fn get(&self, id: &str) -> Option<&Check> {
        self.list.iter().find(|c| c.id == id)
    }

    pub fn list(&self) -> &[Check] {
        &self.list
    }

    /// Why a check that needs `deps` cannot run: "because TCP connect failed", or `None`.
    pub fn blocker(&self, deps: &[&str]) -> Option<String> {
        deps.iter().find_map(|id| {
            let c = self.get(id)?;
            match (c.status, c.blocked) {
                (Status::Fail, _) => Some(format!("because {} failed", c.title)),
                (Status::Skipped, true) => Some(format!("because {} was skipped", c.title)),
                _ => None,
            }
        })
    }

    /// Pushes `check()` unless a dependency failed, in which case a skipped check is pushed.
    pub fn push_unless_blocked(&mut self, id: &'static str, deps: &[&str], check: Check) {
        match self.blocker(deps) {
            Some(because) => self.push(Check::blocked(id, because)),
            None => self.push(check),
        }
    }

    pub fn count(&self, status: Status) -> usize {
        self.list.iter().filter(|c| c.status == status).count()
    }

    pub fn failed(&self) -> Vec<&Check> {
        self.list
            .iter()
            .filter(|c| c.status == Status::Fail)
            .collect()
    }

    /// Puts the checks in catalog order; any check a code path forgot becomes skipped, so every
    /// check always appears.
    pub fn finish(&mut self) {
        for (id, _, _) in CATALOG {
            if self.get(id).is_none() {
                self.list.push(Check::blocked(
                    id,
                    "because an earlier check did not complete",
                ));
            }
        }
        let pos = |id: &str| CATALOG.iter().position(|(i, _, _)| *i == id);
        self.list.sort_by_key(|c| pos(c.id).unwrap_or(usize::MAX));
    }
}

/// What doctor looks at: a FHIR base, and the saved profile when there is one.
#[derive(Debug, Clone)]
pub struct Target {
    pub base: Url,
    pub profile: Option<(String, Profile)>,
    pub offline_only: bool,
}

/// Runs every check in order.
pub async fn run(http: &Http, paths: &Paths, target: &Target) -> Checks {
    let mut checks = Checks::default();
    local::run(&mut checks, paths, target, &local::proxy_env()).await;
    if target.offline_only {
        for (id, step, _) in CATALOG {
            if (2..=6).contains(step) {
                checks.push(Check::blocked(
                    id,
                    "because --offline-checks-only was given",
                ));
            }
        }
    } else {
        network::run(&mut checks, &target.base, http.extra_roots()).await;
        let facts = server::run(&mut checks, http, target).await;
        session::run(&mut checks, http, paths, target, &facts).await;
    }
    checks.push(redirect_check(target));
    checks.finish();
    checks
}

fn redirect_check(target: &Target) -> Check {
    match &target.profile {
        Some((_, profile)) => {
            let uri = profile.redirect.display();
            Check::ok(
                "redirect_uri",
                format!(
                    "{uri} (must match the app registration of client id {})",
                    profile.client_id
                ),
            )
            .figure("redirect_uri", &uri)
            .figure("client_id", &profile.client_id)
        }
        None => {
            let default = crate::auth::loopback::RedirectSettings::default().display();
            Check::not_applicable(
                "redirect_uri",
                format!("because no profile is selected (a new profile uses {default})"),
            )
            .figure("redirect_uri", default)
        }
    }
}

/// The one JSON document of `--json` (and the heart of `--report`).
pub fn to_json(checks: &Checks, target: &Target) -> Value {
    let result = if checks.count(Status::Fail) > 0 {
        "fail"
    } else if checks.count(Status::Warn) > 0 {
        "warn"
    } else {
        "ok"
    };
    serde_json::json!({
        "fhirdl": env!("CARGO_PKG_VERSION"),
        "profile": target.profile.as_ref().map(|(n, _)| n),
        "fhir_base": crate::http::redact_url(&target.base),
        "result": result,
        "counts": {
            "ok": checks.count(Status::Ok),
            "warn": checks.count(Status::Warn),
            "fail": checks.count(Status::Fail),
            "skipped": checks.count(Status::Skipped),
        },
        "checks": checks,
    })
}

/// The human table: one line per check, hints under the checks that are not ok.
pub fn render(checks: &Checks, target: &Target, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let who = match &target.profile {
        Some((name, _)) => format!("profile {name}, "),
        None => String::new(),
    };
    let mut out = format!(
        "fhirdl doctor: {who}{}\n\n",
        crate::http::redact_url(&target.base)
    );
    let width = checks
        .list()
        .iter()
        .map(|c| c.title.chars().count())
        .max()
        .unwrap_or(10);
    for c in checks.list() {
        let label = format!("{:<7}", c.status.label());
        let label = match c.status {
            Status::Ok => paint("32", &label),
            Status::Warn => paint("33", &label),
            Status::Fail => paint("31", &label),
            Status::Skipped => paint("2", &label),
        };
        out.push_str(&format!(
            "{} {:<width$}  {label} {}\n",
            c.step, c.title, c.detail
        ));
        if let Some(h) = &c.hint {
            if c.status != Status::Ok {
                out.push_str(&format!(
                    "  {:<width$}          {} {h}\n",
                    "",
                    paint("36", "hint:")
                ));
            }
        }
    }
    out.push_str(&format!(
        "\n{} ok, {} warning(s), {} failed, {} skipped",
        checks.count(Status::Ok),
        checks.count(Status::Warn),
        checks.count(Status::Fail),
        checks.count(Status::Skipped)
    ));
    out
}

/// "12 ms", "1.4 s".
pub fn ms_text(ms: u128) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// "512 B", "12.3 KiB", "4.0 MiB".
pub fn size_text(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_dependents_but_not_applicable_does_not() {
        let mut c = Checks::default();
        c.push(Check::fail("dns", "no such host", "check the URL"));
        c.push_unless_blocked("tcp", &["dns"], Check::ok("tcp", "connected"));
        assert_eq!(c.get("tcp").unwrap().status, Status::Skipped);
        assert_eq!(
            c.get("tcp").unwrap().detail,
            "because DNS resolution failed"
        );
        c.push_unless_blocked("tls", &["tcp"], Check::ok("tls", "fine"));
        assert_eq!(
            c.get("tls").unwrap().detail,
            "because TCP connect was skipped"
        );

        let mut c = Checks::default();
        c.push(Check::not_applicable(
            "tls",
            "because the base is plain http",
        ));
        c.push_unless_blocked("metadata", &["tls"], Check::ok("metadata", "HTTP 200"));
        assert_eq!(c.get("metadata").unwrap().status, Status::Ok);
    }

    #[test]
    fn finish_orders_and_completes() {
        let mut c = Checks::default();
        c.push(Check::ok("redirect_uri", "x"));
        c.push(Check::ok("version", "y"));
        c.finish();
        assert_eq!(c.list().len(), CATALOG.len());
        assert_eq!(c.list()[0].id, "version");
        assert_eq!(c.list().last().unwrap().id, "redirect_uri");
        assert_eq!(c.count(Status::Skipped), CATALOG.len() - 2);
    }

    #[test]
    fn rendering_shows_hints_for_problems_only() {
        let mut c = Checks::default();
        c.push(Check::ok("version", "fhirdl 1").hint("never shown"));
        c.push(Check::warn("proxy", "odd", "fix the proxy"));
        let target = Target {
            base: Url::parse("https://a.example/fhir").unwrap(),
            profile: None,
            offline_only: false,
        };
        let text = render(&c, &target, false);
        assert!(
            text.contains("fix the proxy") && !text.contains("never shown"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
        assert_eq!(to_json(&c, &target)["result"], "warn");
    }

    #[test]
    fn units() {
        assert_eq!(ms_text(12), "12 ms");
        assert_eq!(ms_text(1400), "1.4 s");
        assert_eq!(size_text(100), "100 B");
        assert_eq!(size_text(2048), "2.0 KiB");
    }
}
