//! `fhirdl view`, `fhirdl bundle` and `fhirdl unbundle`, end to end with the real binary.
//!
//! The pages are checked in headless Chromium (`--dump-dom`, with and without JavaScript): each
//! section's rows against the NDJSON files, each chart's points against the values in them, every
//! document link against the files on disk, and that the browser made no network request. The
//! last is checked twice over: Chromium's only way out is a proxy on a loopback port this test
//! owns, and its NetLog lists every URL request with who started it (the page, or Chromium
//! itself: `initiator` "not an origin"). A control page that does load an image proves that both
//! would catch a request. Without Chromium these tests fail under CI (`CI` set) and otherwise say
//! loudly that they were skipped; they never pass silently.
//!
//! `FHIRDL_UPDATE_SCREENSHOT=1 cargo test --test view_bundle demo` also writes `docs/record.png`.

use crate::common::{code, json, text, TestContext};
use fhirdl_sandbox::{FhirFlavor, SandboxConfig};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Headless Chromium

/// The Chromium binary, or `None` (after saying so loudly) when it is missing outside CI.
pub(crate) fn chromium() -> Option<PathBuf> {
    let candidates = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let explicit = std::env::var_os("FHIRDL_CHROMIUM").map(PathBuf::from);
    let found = explicit.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .find_map(|dir| candidates.iter().map(|c| dir.join(c)).find(|p| p.is_file()))
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(!ci, "headless Chromium is required in CI: install Debian's `chromium` package (.ci/run does)");
        eprintln!(
            "\n*** SKIPPED: headless Chromium was not found (apt-get install chromium, or set FHIRDL_CHROMIUM); \
             the page was NOT checked in a browser ***\n"
        );
    }
    found
}

/// A loopback listener posing as Chromium's only proxy: it records the first line of every
/// request (`GET http://host/…`, `CONNECT host:443`) and refuses it.
struct Catcher {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Catcher {
    fn start() -> Catcher {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                if head == "STOP fhirdl-test" {
                    return;
                }
                log.lock().unwrap().push(head);
                let _ = s.write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Catcher { addr, seen, thread }
    }

    /// Every request line seen.
    fn stop(self) -> Vec<String> {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.write_all(b"STOP fhirdl-test\r\n").unwrap();
        drop(s);
        self.thread.join().unwrap();
        let seen = self.seen.lock().unwrap().clone();
        seen
    }
}

/// What Chromium showed and what it tried to fetch.
pub(crate) struct Dump {
    pub(crate) dom: String,
    /// URLs the page asked for (NetLog URL requests whose initiator is not Chromium itself).
    pub(crate) page_requests: Vec<String>,
    /// Hosts that reached the proxy but that Chromium did not fetch for itself.
    proxied_for_page: Vec<String>,
}

/// Loads `page` in headless Chromium and returns the DOM after load, scripts run.
pub(crate) fn load(browser: &Path, page: &Path, screenshot: Option<&Path>) -> Dump {
    let work = tempfile::tempdir().unwrap();
    let netlog = work.path().join("netlog.json");
    let catcher = Catcher::start();
    let mut cmd = std::process::Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!(
        "--user-data-dir={}",
        work.path().join("profile").display()
    ))
    .arg(format!("--proxy-server=http://{}", catcher.addr))
    // Loopback too goes through the proxy (Chromium bypasses it by default).
    .arg("--proxy-bypass-list=<-loopback>")
    .arg(format!("--log-net-log={}", netlog.display()));
    match screenshot {
        Some(png) => {
            cmd.args(["--window-size=1100,1500", "--force-device-scale-factor=1"]);
            cmd.arg(format!("--screenshot={}", png.display()));
        }
        None => {
            cmd.arg("--dump-dom");
        }
    }
    cmd.arg(url::Url::from_file_path(page).unwrap().as_str());
    cmd.stdin(std::process::Stdio::null());
    // A deadline for the browser, waited for on a channel (not by sleeping).
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!(
                "Chromium did not finish loading {} within 2 minutes",
                page.display()
            );
        }
    };
    let seen = catcher.stop();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Value = serde_json::from_slice(&std::fs::read(&netlog).unwrap()).unwrap();
    let (page_requests, internal_hosts) = netlog_requests(&log);
    let proxied_for_page = seen
        .iter()
        .filter_map(|line| requested_host(line))
        .filter(|h| !internal_hosts.contains(h))
        .collect();
    Dump {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        page_requests,
        proxied_for_page,
    }
}

/// From a NetLog: the URLs requested by a page, and the hosts Chromium requested for itself.
fn netlog_requests(log: &Value) -> (Vec<String>, BTreeSet<String>) {
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_i64()
        .unwrap();
    let mut page = Vec::new();
    let mut internal = BTreeSet::new();
    for e in log["events"].as_array().unwrap() {
        if e["type"].as_i64() != Some(start_job) {
            continue;
        }
        let url = e["params"]["url"].as_str().unwrap_or("");
        let by_browser = e["params"]["initiator"].as_str() == Some("not an origin");
        let network = ["http:", "https:", "ws:", "wss:", "ftp:"]
            .iter()
            .any(|s| url.starts_with(s));
        if by_browser {
            if let Ok(u) = url::Url::parse(url) {
                internal.extend(u.host_str().map(str::to_owned));
            }
        } else if network {
            page.push(url.to_owned());
        }
    }
    (page, internal)
}

/// The host of a proxied request line.
fn requested_host(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let method = words.next()?;
    let target = words.next()?;
    if method == "CONNECT" {
        return target.rsplit_once(':').map(|(h, _)| h.to_owned());
    }
    url::Url::parse(target).ok()?.host_str().map(str::to_owned)
}

#[test]
fn the_network_check_catches_a_page_that_loads_something() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("leaky.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><p>leak</p><img src=\"http://leak.example.test/pixel.png\"><link rel=\"stylesheet\" href=\"https://fonts.example.test/css\">",
    )
    .unwrap();
    let dump = load(&browser, &page, None);
    assert!(
        dump.page_requests
            .iter()
            .any(|u| u.contains("leak.example.test")),
        "{:?}",
        dump.page_requests
    );
    assert!(
        dump.proxied_for_page
            .iter()
            .any(|h| h == "leak.example.test"),
        "{:?}",
        dump.proxied_for_page
    );
    assert!(
        dump.proxied_for_page
            .iter()
            .any(|h| h == "fonts.example.test"),
        "{:?}",
        dump.proxied_for_page
    );
}

// ---------------------------------------------------------------------------------------------
// What a page must show, computed from the NDJSON files

fn lines(dir: &Path, ty: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(format!("{ty}.ndjson")))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn types(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".ndjson")
                .map(str::to_owned)
        })
        .collect();
    out.sort();
    out
}

/// Section key → (type → resources), as the issue's sections group them.
fn expected_sections(dir: &Path) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for ty in types(dir) {
        for line in lines(dir, &ty) {
            let v: Value = serde_json::from_str(&line).unwrap();
            let section = match ty.as_str() {
                "Patient" => "about".to_owned(),
                "Condition" => "problems".into(),
                "AllergyIntolerance" => "allergies".into(),
                "MedicationRequest" | "MedicationOrder" | "MedicationStatement" => {
                    "medications".into()
                }
                "Immunization" => "immunizations".into(),
                "DiagnosticReport" => "reports".into(),
                "Procedure" => "procedures".into(),
                "Encounter" => "encounters".into(),
                "CarePlan" | "Goal" => "plans".into(),
                "DocumentReference" => "documents".into(),
                "Observation" => {
                    let cats = v["category"].to_string();
                    if cats.contains("\"vital-signs\"") {
                        "vitals".into()
                    } else if cats.contains("\"laboratory\"") {
                        "labs".into()
                    } else if cats.contains("\"social-history\"") {
                        "social".into()
                    } else {
                        "observations".into()
                    }
                }
                _ => "other".into(),
            };
            *out.entry(section)
                .or_default()
                .entry(ty.clone())
                .or_default() += 1;
        }
    }
    out
}

/// Chart key → points: every numeric value of a vital sign or lab with a date, by code and
/// unit; blood pressure systolic and diastolic components together. Codes measured once
/// get no chart.
fn expected_charts(dir: &Path) -> BTreeMap<String, usize> {
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    for line in lines(dir, "Observation") {
        let v: Value = serde_json::from_str(&line).unwrap();
        let cats = v["category"].to_string();
        if !(cats.contains("\"vital-signs\"") || cats.contains("\"laboratory\""))
            || v["effectiveDateTime"].is_null()
        {
            continue;
        }
        let code = |c: &Value| c["coding"][0]["code"].as_str().unwrap_or("").to_owned();
        let mut bp = 0;
        for comp in v["component"].as_array().into_iter().flatten() {
            if ["8480-6", "8462-4"].contains(&code(&comp["code"]).as_str())
                && comp["valueQuantity"]["value"].is_number()
            {
                bp += 1;
                *out.entry(format!(
                    "bp|{}",
                    fhirdl::view::units::shown(comp["valueQuantity"]["unit"].as_str().unwrap())
                ))
                .or_default() += 1;
            }
        }
        if bp == 0 && v["valueQuantity"]["value"].is_number() {
            // The page shows units as people write them (°C, not Cel).
            let unit =
                fhirdl::view::units::shown(v["valueQuantity"]["unit"].as_str().unwrap_or(""));
            *out.entry(format!("{}|{unit}", code(&v["code"])))
                .or_default() += 1;
        }
    }
    out.retain(|_, n| *n >= 2);
    out
}

/// Section key → (data-count, type → rows) of a DOM.
fn dom_sections(dom: &str) -> BTreeMap<String, (usize, BTreeMap<String, usize>)> {
    let mut out = BTreeMap::new();
    for part in dom.split("<section ").skip(1) {
        let body = part.split("</section>").next().unwrap();
        let key = attr(body, "data-section").unwrap();
        let count: usize = attr(body, "data-count").unwrap().parse().unwrap();
        let mut rows: BTreeMap<String, usize> = BTreeMap::new();
        for tag in ["<tr data-row=\"", "<li data-row=\""] {
            for piece in body.split(tag).skip(1) {
                *rows
                    .entry(piece.split('"').next().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        out.insert(key, (count, rows));
    }
    out
}

/// The value of the first `name="…"` in `s`.
fn attr(s: &str, name: &str) -> Option<String> {
    let start = s.find(&format!("{name}=\""))? + name.len() + 2;
    Some(s[start..].split('"').next()?.to_owned())
}

/// Everything a page must satisfy; returns the number of document links checked.
fn check_page(dom: &str, page: &Path, export: &Path, script: bool) -> usize {
    // Sections: rows per type equal the NDJSON files, and each section says how many it has.
    let sections = dom_sections(dom);
    let expected = expected_sections(export);
    for (key, want) in &expected {
        let (count, rows) = sections
            .get(key)
            .unwrap_or_else(|| panic!("no section {key}"));
        assert_eq!(rows, want, "rows of section {key}");
        assert_eq!(
            *count,
            want.values().sum::<usize>(),
            "data-count of section {key}"
        );
    }
    let shown: usize = sections
        .values()
        .map(|(_, r)| r.values().sum::<usize>())
        .sum();
    let total: usize = types(export).iter().map(|t| lines(export, t).len()).sum();
    assert_eq!(shown, total, "every resource is one row");
    // Charts: one per repeated code, with one point per value.
    let mut charts = BTreeMap::new();
    for fig in dom.split("<figure class=\"chart\"").skip(1) {
        let fig = fig.split("</figure>").next().unwrap();
        let key = attr(fig, "data-key").unwrap().replace("&amp;", "&");
        let points: usize = attr(fig, "data-points").unwrap().parse().unwrap();
        assert_eq!(
            fig.matches("<circle").count(),
            points,
            "points of chart {key}"
        );
        assert!(
            fig.contains("<text class=\"xlabel\"") && fig.contains("<text class=\"ytick\""),
            "axes of {key}"
        );
        charts.insert(key, points);
    }
    assert_eq!(charts, expected_charts(export));
    assert!(
        charts.keys().any(|k| k.starts_with("bp|")),
        "blood pressure is charted"
    );
    // Document links resolve to the files, relative to the page; nothing else is linked.
    let base = page.parent().unwrap();
    let mut links = 0;
    for piece in dom.split("<a class=\"file\" href=\"").skip(1) {
        let href = piece.split('"').next().unwrap();
        assert!(
            !href.contains(':') && !href.starts_with('/'),
            "relative: {href}"
        );
        let decoded = percent_decode(href);
        let file = base.join(&decoded);
        assert!(file.is_file(), "{href} does not resolve to a file");
        assert!(file
            .canonicalize()
            .unwrap()
            .starts_with(export.canonicalize().unwrap().join("attachments")));
        links += 1;
    }
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(export.join("attachments/manifest.json")).unwrap_or(b"{}".to_vec()),
    )
    .unwrap();
    assert_eq!(
        links,
        manifest.as_object().unwrap().len(),
        "every saved document is linked"
    );
    for forbidden in [
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
        "<iframe",
        "<img",
        "<link",
    ] {
        assert!(!dom.contains(forbidden), "the page contains {forbidden}");
    }
    assert_eq!(
        dom.matches("<script").count(),
        usize::from(script),
        "only the page's own script"
    );
    links
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Checks a page in Chromium with and without JavaScript.
fn check_in_browser(browser: &Path, page: &Path, export: &Path) {
    // Headless Chromium runs page scripts whatever its switches say (and `--dump-dom` needs
    // them), so the page "without JavaScript" is a copy without its script, beside it.
    let html = std::fs::read_to_string(page).unwrap();
    let start = html.find("<script>").unwrap();
    let end = html.find("</script>").unwrap() + "</script>".len();
    let bare = page.with_file_name(".no-script-copy.html");
    std::fs::write(&bare, format!("{}{}", &html[..start], &html[end..])).unwrap();
    for js in [true, false] {
        let dump = load(browser, if js { page } else { &bare }, None);
        assert!(
            dump.dom.contains("</html>"),
            "no DOM from Chromium (js={js}): {} bytes, ends {:?}",
            dump.dom.len(),
            &dump.dom[dump.dom.len().saturating_sub(200)..]
        );
        assert!(
            dump.page_requests.is_empty(),
            "the page requested {:?}",
            dump.page_requests
        );
        assert!(
            dump.proxied_for_page.is_empty(),
            "the proxy saw {:?}",
            dump.proxied_for_page
        );
        let links = check_page(&dump.dom, page, export, js);
        assert!(links > 0, "the record has documents");
        // The script enhances only: the filter appears with it and stays hidden without it.
        let bar = dump
            .dom
            .split("id=\"filter-bar\"")
            .nth(1)
            .unwrap()
            .split('>')
            .next()
            .unwrap();
        assert_eq!(
            bar.contains("hidden"),
            !js,
            "filter bar with js={js}: {bar}"
        );
    }
    std::fs::remove_file(&bare).unwrap();
}

fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
        0o600,
        "{}",
        path.display()
    );
}

// ---------------------------------------------------------------------------------------------
// view

#[test]
fn demo_builds_the_page_and_it_shows_every_resource_offline() {
    let env = TestContext::new(SandboxConfig::default());
    let demo = env.root().join("demo");
    let out = env.fhirdl(&["demo", "--dir", demo.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    let page = PathBuf::from(report["record_html"].as_str().unwrap());
    let export = demo.join("export");
    assert_eq!(page, export.join("record.html"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(page.to_str().unwrap()),
        "the path is printed"
    );
    private(&page);
    private(&export.join("README.txt"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html
        .contains("http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;;"));
    check_page(&html, &page, &export, true);
    let Some(browser) = chromium() else { return };
    check_in_browser(&browser, &page, &export);
    if std::env::var_os("FHIRDL_UPDATE_SCREENSHOT").is_some() {
        let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/record.png");
        std::fs::create_dir_all(png.parent().unwrap()).unwrap();
        // As a reader who collapsed the first sections: the trend charts come into view.
        let mut html = std::fs::read_to_string(&page).unwrap();
        for key in ["problems", "allergies", "medications", "immunizations"] {
            let open = format!("data-section=\"{key}\" data-count=");
            let at = html.find(&open).unwrap();
            let details = at + html[at..].find("<details open>").unwrap();
            html.replace_range(details..details + "<details open>".len(), "<details>");
        }
        let shown = page.with_file_name(".screenshot.html");
        std::fs::write(&shown, html).unwrap();
        load(&browser, &shown, Some(&png));
        std::fs::remove_file(&shown).unwrap();
        eprintln!("wrote {}", png.display());
    }
}

/// A signed-in environment with an export of `resources` per patient in `<tmp>/export`.
fn synced(config: SandboxConfig, extra: &[&str]) -> (TestContext, PathBuf) {
    let env = TestContext::new(config);
    let login = env.login("p", extra);
    assert_eq!(code(&login), 0, "{}", text(&login));
    let export = env.root().join("export");
    let out = env.fhirdl(&["sync", "--out", export.to_str().unwrap(), "--view", "-q"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    (env, export)
}

#[test]
fn a_large_record_renders_with_links_relative_to_a_page_elsewhere() {
    let (env, export) = synced(
        SandboxConfig {
            resources_per_patient: 5_000,
            ..SandboxConfig::default()
        },
        &[],
    );
    assert!(
        export.join("record.html").is_file(),
        "sync --view wrote the page"
    );
    let page = env.root().join("elsewhere/my record.html");
    let out = env.fhirdl(&[
        "view",
        "--out",
        export.to_str().unwrap(),
        "--page",
        page.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let summary = json(&out);
    // `--output`, the option's earlier name, still works and writes the same page.
    let alias = env.root().join("elsewhere/alias.html");
    let again = env.fhirdl(&[
        "view",
        "--out",
        export.to_str().unwrap(),
        "--output",
        alias.to_str().unwrap(),
    ]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(alias.is_file(), "--output wrote no page");
    assert_eq!(
        summary["resources"].as_u64().unwrap() as usize,
        types(&export)
            .iter()
            .map(|t| lines(&export, t).len())
            .sum::<usize>()
    );
    assert!(
        summary["chart_points"].as_u64().unwrap() > 1_000,
        "{summary}"
    );
    private(&page);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("href=\"../export/attachments/"),
        "relative links from another folder"
    );
    check_page(&html, &page, &export, true);
    let Some(browser) = chromium() else { return };
    check_in_browser(&browser, &page, &export);
}

#[test]
fn dstu2_exports_map_medication_orders_and_list_the_rest() {
    let (env, export) = synced(
        SandboxConfig {
            flavor: FhirFlavor::Dstu2,
            ..SandboxConfig::default()
        },
        &[],
    );
    let page = export.join("record.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!lines(&export, "MedicationOrder").is_empty());
    let sections = dom_sections(&html);
    assert_eq!(
        sections["medications"].1["MedicationOrder"],
        lines(&export, "MedicationOrder").len()
    );
    assert_eq!(
        sections["other"].1["Practitioner"],
        lines(&export, "Practitioner").len()
    );
    check_page(&html, &page, &export, true);
    drop(env);
}

/// An export written by hand, with hostile text everywhere the page shows text.
fn hostile_export(dir: &Path) {
    let evil =
        "</td></tr></table><script>alert(1)</script><img src=x onerror=alert(2)>\"'&amp;\u{202e}";
    let put = |ty: &str, resources: Vec<Value>| {
        let mut text = String::new();
        for r in resources {
            text.push_str(&r.to_string());
            text.push('\n');
        }
        std::fs::write(dir.join(format!("{ty}.ndjson")), text).unwrap();
    };
    std::fs::create_dir_all(dir.join("attachments")).unwrap();
    put(
        "Patient",
        vec![
            json!({"resourceType": "Patient", "id": "p", "name": [{"text": evil}], "birthDate": "1980-01-02"}),
        ],
    );
    put(
        "Condition",
        vec![
            json!({"resourceType": "Condition", "id": "c", "code": {"text": evil}, "clinicalStatus": evil}),
        ],
    );
    let obs = |id: &str, value: &str, date: &str| {
        format!(
            r#"{{"resourceType":"Observation","id":"{id}","status":"final","category":[{{"coding":[{{"code":"laboratory"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"2823-3","display":"Potassium <b>"}}]}},"effectiveDateTime":"{date}","valueQuantity":{{"value":{value},"unit":"mmol/L"}},"referenceRange":[{{"low":{{"value":3.50}},"high":{{"value":5.10}}}}]}}"#
        )
    };
    std::fs::write(
        dir.join("Observation.ndjson"),
        format!(
            "{}\n{}\n",
            obs("o1", "1.50", "2020-01-01"),
            obs("o2", "4.20", "2021-06-01")
        ),
    )
    .unwrap();
    put(
        "DocumentReference",
        vec![
            json!({"resourceType": "DocumentReference", "id": "d", "description": evil, "content": [
                {"attachment": {"contentType": "text/plain", "data": "SGVsbG8gPHNjcmlwdD4=", "title": evil}},
                {"attachment": {"contentType": "application/pdf", "url": "javascript:alert(3)"}},
                {"attachment": {"contentType": "application/pdf", "url": "https://elsewhere.example/x.pdf"}}
            ]}),
        ],
    );
    std::fs::write(
        dir.join("attachments/DocumentReference-d-1.txt"),
        "Hello <script>",
    )
    .unwrap();
    std::fs::write(
        dir.join("attachments/manifest.json"),
        json!({
            "DocumentReference-d-1.txt": {"resource": "DocumentReference/d", "content_type": "text/plain", "bytes": 14, "sha256": ""},
            "../../escape.pdf": {"resource": "DocumentReference/d", "url": "javascript:alert(3)", "bytes": 1, "sha256": ""}
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        json!({"fhir_base": evil, "patient": "p"}).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join(".fhirdl")).unwrap();
    std::fs::write(dir.join(".fhirdl/last_run.json"), json!({"finished_at": "2025-01-01T00:00:00Z", "failed": ["Condition"], "types": [{"resource_type": "Observation", "status": "recovered"}]}).to_string()).unwrap();
}

#[test]
fn hostile_text_stays_text_and_values_are_shown_as_stored() {
    let env = TestContext::new(SandboxConfig::default());
    let export = env.root().join("hand");
    hostile_export(&export);
    // --open hands the page's file URL to $BROWSER.
    let opened = env.root().join("opened.txt");
    let script = env.root().join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut cmd = env.command_with_browser(script.to_str().unwrap());
    cmd.args(["view", "--out", export.to_str().unwrap(), "--open"]);
    let out = env.run(cmd);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let page = export.join("record.html");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        page.to_str().unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&opened).unwrap().trim(),
        url::Url::from_file_path(&page).unwrap().as_str()
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains("<img") && !html.contains('\u{202e}'));
    assert!(html.contains("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;"));
    assert!(
        !html.contains("escape.pdf") && !html.contains("href=\"javascript"),
        "no link outside the folder"
    );
    assert!(html.contains("not downloaded: https://elsewhere.example/x.pdf"));
    assert!(
        html.contains("<td>1.50</td>") && html.contains("3.50–5.10"),
        "values as stored"
    );
    assert!(html.contains("class=\"flag lo\">L<"), "1.50 is below 3.50");
    assert!(
        html.contains("Hello &lt;script&gt;"),
        "the text note is shown as text"
    );
    assert!(
        html.contains(">recovered<") && html.contains(">failed<"),
        "per-type statuses"
    );
    let Some(browser) = chromium() else { return };
    let dump = load(&browser, &page, None);
    assert!(dump.page_requests.is_empty() && dump.proxied_for_page.is_empty());
    assert_eq!(dump.dom.matches("<script").count(), 1);
    assert!(!dump.dom.contains("<img"));
    assert_eq!(dom_sections(&dump.dom)["labs"].0, 2);
}

// ---------------------------------------------------------------------------------------------
// bundle and unbundle

#[derive(Deserialize)]
struct RawBundle<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    entry: Vec<RawEntry<'a>>,
}

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(rename = "fullUrl")]
    full_url: Option<String>,
    #[serde(borrow)]
    resource: &'a RawValue,
    request: Option<Value>,
}

#[test]
fn bundles_hold_every_line_byte_for_byte_once_and_come_back_as_the_same_files() {
    let (env, export) = synced(SandboxConfig::default(), &[]);
    let ex = export.to_str().unwrap();
    let out = env.fhirdl(&["bundle", "--out", ex, "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let summary = json(&out);
    let path = PathBuf::from(summary["path"].as_str().unwrap());
    assert_eq!(path, export.join("record.bundle.json"));
    private(&path);
    let bytes = std::fs::read(&path).unwrap();
    let bundle: RawBundle<'_> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bundle.kind, "collection");
    // Every NDJSON line is one entry's resource, byte for byte; no (type, id) twice.
    let base = env.base();
    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    for ty in types(&export) {
        for line in lines(&export, &ty) {
            wanted.insert((ty.clone(), line));
        }
    }
    let attachments = serde_json::from_slice::<Value>(
        &std::fs::read(export.join("attachments/manifest.json")).unwrap(),
    )
    .unwrap();
    let documents = attachments.as_object().unwrap().len();
    assert!(documents > 0);
    assert_eq!(bundle.entry.len(), wanted.len() + documents, "{summary}");
    assert_eq!(
        summary["entries"].as_u64().unwrap() as usize,
        bundle.entry.len()
    );
    let mut keys = BTreeSet::new();
    let mut binaries = 0;
    for e in &bundle.entry {
        let v: Value = serde_json::from_str(e.resource.get()).unwrap();
        let (ty, id) = (
            v["resourceType"].as_str().unwrap().to_owned(),
            v["id"].as_str().unwrap().to_owned(),
        );
        assert!(keys.insert((ty.clone(), id.clone())), "{ty}/{id} twice");
        assert_eq!(
            e.full_url.as_deref(),
            Some(format!("{base}/{ty}/{id}").as_str()),
            "fullUrl"
        );
        if wanted.remove(&(ty.clone(), e.resource.get().to_owned())) {
            continue;
        }
        // A saved document, at the URL its DocumentReference points to.
        assert_eq!(ty, "Binary", "{} is not an NDJSON line", e.resource.get());
        let file = attachments
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, a)| a["url"] == e.full_url.as_deref().unwrap())
            .unwrap()
            .0;
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            data,
            std::fs::read(export.join("attachments").join(file)).unwrap()
        );
        binaries += 1;
    }
    assert!(
        wanted.is_empty(),
        "lines missing from the Bundle: {}",
        wanted.len()
    );
    assert_eq!(binaries, documents);

    // gzip, and back: the same NDJSON files, byte for byte, plus the documents as Binaries.
    let gz = env.root().join("record.json.gz");
    let out = env.fhirdl(&[
        "bundle",
        "--out",
        ex,
        "--gzip",
        "--output",
        gz.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_end(&mut unzipped)
        .unwrap();
    let strip_time = |b: &[u8]| {
        let s = String::from_utf8(b.to_vec()).unwrap();
        let i = s.find(",\"entry\"").unwrap();
        s[i..].to_owned()
    };
    assert_eq!(
        strip_time(&unzipped),
        strip_time(&bytes),
        "the gzip Bundle holds the same entries"
    );
    let back = env.root().join("back");
    let out = env.fhirdl(&[
        "unbundle",
        gz.to_str().unwrap(),
        "--out",
        back.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    for ty in types(&export) {
        assert_eq!(
            std::fs::read(back.join(format!("{ty}.ndjson"))).unwrap(),
            std::fs::read(export.join(format!("{ty}.ndjson"))).unwrap(),
            "{ty}.ndjson after the round trip"
        );
    }
    assert_eq!(lines(&back, "Binary").len(), documents);
    assert_eq!(types(&back).len(), types(&export).len() + 1);
    // The unbundled folder is a record fhirdl can show.
    let out = env.fhirdl(&["view", "--out", back.to_str().unwrap(), "-q"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    // Unbundling into a folder that holds a record is refused.
    let out = env.fhirdl(&["unbundle", gz.to_str().unwrap(), "--out", ex]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    // stdout, and --json cannot share it.
    let out = env.fhirdl(&["bundle", "--out", ex, "--output", "-", "--no-attachments"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let streamed: RawBundle<'_> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(streamed.entry.len(), bundle.entry.len() - documents);
    let out = env.fhirdl(&["bundle", "--out", ex, "--output", "-", "--json"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    // Each export folder says what it holds.
    let readme = std::fs::read_to_string(export.join("README.txt")).unwrap();
    assert!(readme.contains(env!("CARGO_PKG_VERSION")) && readme.contains("record.html"));
    env.assert_no_leaks();
}

/// POSTs `body` to the sandbox's FHIR base with `token`: (status, JSON answer).
fn post(env: &TestContext, token: &str, body: Vec<u8>) -> (u16, Value) {
    let url = env.base();
    env.block_on(async {
        let resp = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/fhir+json")
            .body(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    })
}

fn token(env: &TestContext) -> String {
    let creds: Value =
        serde_json::from_slice(&std::fs::read(env.credential_file("p")).unwrap()).unwrap();
    creds["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn a_transaction_bundle_is_accepted_whole_by_the_sandbox_or_not_at_all() {
    let scope = [
        "--scope",
        "launch/patient openid fhirUser offline_access patient/*.cruds",
    ];
    let (env, export) = synced(SandboxConfig::default(), &scope);
    let ex = export.to_str().unwrap();
    let out = env.fhirdl(&[
        "bundle",
        "--out",
        ex,
        "--type",
        "transaction",
        "--output",
        "-",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let bundle = out.stdout.clone();
    let parsed: RawBundle<'_> = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(parsed.kind, "transaction");
    assert!(parsed
        .entry
        .iter()
        .all(|e| e.request.as_ref().unwrap()["method"] == "PUT"));
    let patient = env.sandbox.users()[0].patient_id.clone();
    let condition: Value = serde_json::from_str(&lines(&export, "Condition")[0]).unwrap();
    let condition_id = condition["id"].as_str().unwrap().to_owned();

    // All or nothing: one entry of another patient spoils the whole transaction.
    assert!(env.sandbox.delete_resource("Condition", &condition_id));
    let other = json!({"resourceType": "Observation", "id": "not-mine", "status": "final",
        "code": {"text": "x"}, "subject": {"reference": format!("Patient/{}", env.sandbox.users()[1].patient_id)}});
    let mut spoiled: Value = serde_json::from_slice(&bundle).unwrap();
    spoiled["entry"].as_array_mut().unwrap().push(
        json!({"resource": other, "request": {"method": "PUT", "url": "Observation/not-mine"}}),
    );
    let (status, answer) = post(&env, &token(&env), serde_json::to_vec(&spoiled).unwrap());
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("another patient"),
        "{answer}"
    );
    let read = |env: &TestContext| {
        let out = env.fhirdl(&[
            "sync",
            "--out",
            env.root().join("check").to_str().unwrap(),
            "--types",
            "Condition",
            "--full",
            "-q",
        ]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        lines(&env.root().join("check"), "Condition")
            .iter()
            .any(|l| l.contains(&format!("\"id\":\"{condition_id}\"")))
    };
    assert!(
        !read(&env),
        "nothing of the refused transaction was applied"
    );

    // The exported transaction goes in whole: the deleted Condition comes back, the rest updates.
    let (status, answer) = post(&env, &token(&env), bundle.clone());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "transaction-response");
    let responses = answer["entry"].as_array().unwrap();
    assert_eq!(responses.len(), parsed.entry.len());
    let created: Vec<&Value> = responses
        .iter()
        .filter(|r| r["response"]["status"] == "201 Created")
        .collect();
    assert_eq!(created.len(), 1, "{answer}");
    assert!(created[0]["response"]["location"]
        .as_str()
        .unwrap()
        .starts_with(&format!("Condition/{condition_id}/_history/")));
    assert!(read(&env), "the Condition is back");
    assert!(
        answer
            .to_string()
            .contains(&format!("Patient/{patient}/_history/2")),
        "the patient was updated"
    );

    // A token that may only read is refused.
    let env_ro = TestContext::new(SandboxConfig::default());
    assert_eq!(code(&env_ro.login("p", &[])), 0);
    let (status, answer) = post(&env_ro, &token(&env_ro), bundle);
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("write"),
        "{answer}"
    );
    env.assert_no_leaks();
}
