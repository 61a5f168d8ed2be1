//! Step 1 of `fhirdl doctor`: this computer. Version and OS, the config and data folders, the
//! credential store, the clock, and the proxy variables in effect (host only: a proxy URL may
//! hold a password).

use super::{Check, Checks, Target};
use crate::auth::store::StoreKind;
use crate::config::Paths;
use crate::exit::hint_of;
use std::path::Path;
use std::time::Duration;
use url::Url;

/// Proxy variables reqwest honours, upper and lower case.
pub const PROXY_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The proxy variables that are set. Read here rather than in `Settings` because the diagnosis
/// is of the environment itself; the HTTP client reads them on its own.
pub fn proxy_env() -> Vec<(String, String)> {
    PROXY_VARS
        .iter()
        .filter_map(|k| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), v))
        })
        .collect()
}

pub async fn run(checks: &mut Checks, paths: &Paths, target: &Target, env: &[(String, String)]) {
    checks.push(
        Check::ok(
            "version",
            format!(
                "fhirdl {} on {} ({})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
        )
        .figure("fhirdl", env!("CARGO_PKG_VERSION"))
        .figure("os", std::env::consts::OS)
        .figure("arch", std::env::consts::ARCH),
    );
    checks.push(folder_check(
        "config_dir",
        &paths.config_dir,
        "--config-dir or FHIRDL_CONFIG_DIR",
    ));
    checks.push(folder_check(
        "data_dir",
        &paths.data_dir,
        "--data-dir or FHIRDL_DATA_DIR",
    ));
    checks.push(store_check(paths, target).await);
    checks.push(clock_check(crate::datetime::now_unix()));
    checks.push(proxy_check(env, &target.base));
}

/// Writable folder: a temporary file can be made in it, or (when it does not exist yet) in the
/// nearest existing parent, where fhirdl will create it.
fn folder_check(id: &'static str, dir: &Path, moved_with: &str) -> Check {
    let existing = dir.ancestors().find(|p| p.is_dir());
    let Some(existing) = existing else {
        return Check::fail(
            id,
            format!("{}: no part of this path exists", dir.display()),
            format!("create it, or choose another folder with {moved_with}"),
        );
    };
    let probe = tempfile::Builder::new()
        .prefix(".fhirdl-doctor-")
        .tempfile_in(existing);
    match probe {
        Ok(_) if existing == dir => Check::ok(id, format!("{} (writable)", dir.display()))
            .figure("path", dir.display().to_string())
            .figure("exists", true),
        Ok(_) => Check::ok(
            id,
            format!(
                "{} (not created yet; {} is writable)",
                dir.display(),
                existing.display()
            ),
        )
        .figure("path", dir.display().to_string())
        .figure("exists", false),
        Err(e) => Check::fail(
            id,
            format!("cannot write in {}: {e}", existing.display()),
            format!("check the folder's owner and permissions, or move it with {moved_with}"),
        )
        .figure("path", dir.display().to_string()),
    }
}

async fn store_check(paths: &Paths, target: &Target) -> Check {
    let (kind, whose) = match &target.profile {
        Some((name, p)) => (p.credential_store, format!("profile {name}")),
        None => (
            StoreKind::Keyring,
            "the default for new profiles".to_string(),
        ),
    };
    let store = paths.credential_store(kind);
    let described = store.describe();
    let outcome = tokio::time::timeout(Duration::from_secs(15), store.probe()).await;
    let base = Check::ok("credential_store", format!("{described} ({whose}) works"))
        .figure("store", store.kind_name())
        .figure("where", &described);
    let problem = match outcome {
        Ok(Ok(())) => return base,
        Ok(Err(e)) => (format!("{e:#} ({whose})"), hint_of(&e)),
        Err(_) => (
            format!("{described} ({whose}) did not answer within 15 s"),
            None,
        ),
    };
    let hint = problem.1.unwrap_or_else(|| {
        "on a headless machine sign in with --credential-store file".to_string()
    });
    let mut check = if target.profile.is_some() {
        Check::fail("credential_store", problem.0, hint)
    } else {
        // No profile depends on it yet: a new one can choose the file store.
        Check::warn("credential_store", problem.0, hint)
    };
    check.figures = base.figures;
    check
}

/// Sane means: after this code was written and before 2100. Tokens and certificates are checked
/// against this clock, so a dead CMOS battery shows up as "certificate not yet valid".
fn clock_check(now: i64) -> Check {
    const EARLIEST: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z
    const LATEST: i64 = 4_102_444_800; // 2100-01-01T00:00:00Z
    let shown = crate::datetime::unix_to_rfc3339(now);
    if (EARLIEST..LATEST).contains(&now) {
        Check::ok("clock", format!("{shown} (UTC)")).figure("now", &shown)
    } else {
        Check::fail(
            "clock",
            format!("the system clock says {shown}, which cannot be right"),
            "set this computer's date and time (or enable NTP): tokens and certificates are checked against it",
        )
        .figure("now", &shown)
    }
}

fn proxy_check(env: &[(String, String)], base: &Url) -> Check {
    if env.is_empty() {
        return Check::ok("proxy", "none set: connections go direct");
    }
    let mut shown = Vec::new();
    let mut figures = serde_json::Map::new();
    let mut unparsable = Vec::new();
    for (k, v) in env {
        let text = if k.eq_ignore_ascii_case("NO_PROXY") {
            v.clone()
        } else {
            match proxy_host(v) {
                Some(h) => h,
                None => {
                    unparsable.push(k.clone());
                    "(not a valid URL)".to_string()
                }
            }
        };
        figures.insert(k.clone(), serde_json::Value::String(text.clone()));
        shown.push(format!("{k}={text}"));
    }
    let used = proxy_for(env, base);
    let mut detail = shown.join(", ");
    match &used {
        Some(var) => detail.push_str(&format!(
            "; the FHIR host goes through {var} (the DNS/TCP/TLS checks below connect directly)"
        )),
        None => detail.push_str("; not used for the FHIR host"),
    }
    let mut check = if unparsable.is_empty() {
        Check::ok("proxy", detail)
    } else {
        Check::warn(
            "proxy",
            detail,
            format!(
                "{} is not a proxy URL like http://proxy.example:3128",
                unparsable.join(", ")
            ),
        )
    };
    check.figures = figures;
    check.figure("used_for_fhir_host", used)
}

/// `scheme://host:port` of a proxy URL, without user name or password.
fn proxy_host(value: &str) -> Option<String> {
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let url = Url::parse(&with_scheme).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// Which variable's proxy a request to `base` would use (reqwest's rules, simplified).
fn proxy_for(env: &[(String, String)], base: &Url) -> Option<String> {
    let get = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .or_else(|| env.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(k, v)| (k.clone(), v.clone()))
    };
    let host = base
        .host_str()?
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    if let Some((_, no)) = get("no_proxy") {
        let excluded = no.split(',').map(str::trim).any(|e| {
            let e = e.trim_start_matches('.').to_ascii_lowercase();
            e == "*" || (!e.is_empty() && (host == e || host.ends_with(&format!(".{e}"))))
        });
        if excluded {
            return None;
        }
    }
    let scheme_var = if base.scheme() == "https" {
        "https_proxy"
    } else {
        "http_proxy"
    };
    get(scheme_var).or_else(|| get("all_proxy")).map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn proxy_credentials_are_never_shown() {
        let base = Url::parse("https://fhir.example.org/r4").unwrap();
        let c = proxy_check(
            &env(&[("HTTPS_PROXY", "http://user:s3cret@proxy.corp:3128")]),
            &base,
        );
        let text = format!(
            "{} {}",
            c.detail,
            serde_json::to_string(&c.figures).unwrap()
        );
        assert!(!text.contains("s3cret") && !text.contains("user"), "{text}");
        assert!(text.contains("http://proxy.corp:3128"), "{text}");
        assert!(
            c.detail.contains("goes through HTTPS_PROXY"),
            "{}",
            c.detail
        );
        assert_eq!(c.status, Status::Ok);
    }

    #[test]
    fn no_proxy_and_schemes() {
        let base = Url::parse("https://fhir.example.org/r4").unwrap();
        let e = env(&[("https_proxy", "proxy:8080"), ("NO_PROXY", ".example.org")]);
        assert_eq!(proxy_for(&e, &base), None);
        let e = env(&[("HTTP_PROXY", "proxy:8080")]);
        assert_eq!(proxy_for(&e, &base), None, "http proxy is not for https");
        let e = env(&[("ALL_PROXY", "socks5://proxy:1080")]);
        assert_eq!(proxy_for(&e, &base).as_deref(), Some("ALL_PROXY"));
        assert_eq!(proxy_check(&[], &base).status, Status::Ok);
    }

    #[test]
    fn clock_sanity() {
        assert_eq!(clock_check(1_800_000_000).status, Status::Ok);
        assert_eq!(clock_check(0).status, Status::Fail);
    }

    #[test]
    fn folders() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            folder_check("config_dir", dir.path(), "x").status,
            Status::Ok
        );
        let later = folder_check("config_dir", &dir.path().join("a/b"), "x");
        assert_eq!(later.status, Status::Ok);
        assert!(later.detail.contains("not created yet"), "{}", later.detail);
    }
}
