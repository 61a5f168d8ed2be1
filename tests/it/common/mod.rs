//! The harness of every integration test. [`TestContext`] owns one embedded sandbox on its own
//! runtime and a private root folder (config, data and home folders); it runs the real `fhirdl`
//! binary with a clean environment and the sandbox's scripted browser as `$BROWSER`, speaks the
//! sandbox's HTTP API for tests of the server itself, and starts the small servers a test needs
//! ([`TestContext::serve`], [`TestContext::trap`]) on the same runtime. Below it: reading
//! folders ([`snapshot`]) and outputs, and waiting with a deadline instead of sleeping.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fhirdl_sandbox::browser::{self, Consent};
use fhirdl_sandbox::{Sandbox, SandboxConfig};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

pub mod pty;

/// The scope a test app asks the sandbox for.
pub const SCOPE: &str = "openid fhirUser launch/patient offline_access patient/*.rs";
/// The PKCE verifier of the test app's sign-ins (the sandbox lists it among issued secrets).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-test-verifier";
/// The `state` of the test app's authorize requests.
pub const STATE: &str = "st4te";

/// The `fhirdl` binary cargo built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fhirdl"))
}

/// One test's world: a sandbox, a root folder and the `fhirdl` commands that use them.
///
/// Field order is drop order: the runtime stops first (and with it every server of the test),
/// the folder goes last.
pub struct TestContext {
    rt: tokio::runtime::Runtime,
    pub sandbox: Sandbox,
    http: reqwest::Client,
    /// The test app's redirect URI, served on first use.
    app: OnceLock<Url>,
    /// Every stdout and stderr of [`TestContext::run`], for the leak scan.
    transcript: RefCell<String>,
    root: tempfile::TempDir,
}

impl TestContext {
    /// A sandbox with `config` on a runtime of its own, and an empty root folder.
    pub fn new(config: SandboxConfig) -> TestContext {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let sandbox = rt
            .block_on(Sandbox::start(config))
            .expect("the sandbox starts");
        let root = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(root.path().join("home")).expect("a home folder");
        // The test's own client trusts a TLS sandbox's certificate, as a SMART app would.
        let mut http = reqwest::Client::builder();
        if let Some(pem) = sandbox.ca_pem() {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes()).expect("the sandbox's PEM");
            http = http.add_root_certificate(cert);
        }
        TestContext {
            rt,
            sandbox,
            http: http.build().expect("an HTTP client"),
            app: OnceLock::new(),
            transcript: RefCell::default(),
            root,
        }
    }

    /// The sandbox as it comes.
    pub fn with_defaults() -> TestContext {
        TestContext::new(SandboxConfig::default())
    }

    /// Runs `future` to completion on the context's runtime. Tasks it spawns run on the
    /// runtime's workers, so the future may block its thread (e.g. on [`Hold::wait_held`]).
    ///
    /// [`Hold::wait_held`]: fhirdl_sandbox::Hold::wait_held
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// Stops the sandbox the graceful way ([`Sandbox::shutdown`]).
    pub fn shutdown(self) {
        let TestContext { rt, sandbox, .. } = self;
        rt.block_on(sandbox.shutdown());
    }

    // The folders.

    /// The test's private folder; everything fhirdl writes goes below it.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root().join("data")
    }

    /// `$HOME` of every command.
    pub fn home_dir(&self) -> PathBuf {
        self.root().join("home")
    }

    /// Where the file store keeps a profile's tokens.
    pub fn credential_file(&self, profile: &str) -> PathBuf {
        self.data_dir()
            .join("credentials")
            .join(format!("{profile}.json"))
    }

    /// A TLS sandbox's certificate in a file of the test's folder: what `FHIRDL_CA_FILE` names
    /// to trust the sandbox.
    pub fn ca_file(&self) -> PathBuf {
        let file = self.root().join("sandbox-ca.pem");
        let pem = self.sandbox.ca_pem().expect("a sandbox with tls");
        std::fs::write(&file, pem).expect("the certificate file is written");
        file
    }

    /// The default export folder of a profile.
    pub fn export_dir(&self, profile: &str) -> PathBuf {
        self.data_dir().join("exports").join(profile)
    }

    // The real binary.

    /// The sandbox's FHIR base URL.
    pub fn base(&self) -> String {
        self.sandbox.fhir_base().to_string()
    }

    /// `fhirdl` with the test's folders, `$HOME`, no `FHIRDL_*` variable of the caller, no
    /// colours, no stdin, and the scripted browser signing in as alice.
    pub fn command(&self) -> Command {
        self.command_with_browser(&format!("{} sandbox-browser", bin().display()))
    }

    /// [`TestContext::command`] with another `$BROWSER`.
    pub fn command_with_browser(&self, browser: &str) -> Command {
        let mut c = Command::new(bin());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("FHIRDL_") {
                c.env_remove(name);
            }
        }
        c.env("FHIRDL_CONFIG_DIR", self.config_dir())
            .env("FHIRDL_DATA_DIR", self.data_dir())
            .env("HOME", self.home_dir())
            .env("BROWSER", browser)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }

    /// Runs a command to its end and records its output.
    pub fn run(&self, mut cmd: Command) -> Output {
        let out = cmd.output().expect("fhirdl runs");
        self.record(&out);
        out
    }

    /// Adds an output to the transcript the leak scan reads.
    pub fn record(&self, out: &Output) {
        let mut t = self.transcript.borrow_mut();
        t.push_str(&String::from_utf8_lossy(&out.stdout));
        t.push_str(&String::from_utf8_lossy(&out.stderr));
    }

    /// Every stdout and stderr recorded so far.
    pub fn transcript(&self) -> String {
        self.transcript.borrow().clone()
    }

    /// Runs `fhirdl <args>`.
    pub fn fhirdl(&self, args: &[&str]) -> Output {
        let mut c = self.command();
        c.args(args);
        self.run(c)
    }

    /// `fhirdl login` of `profile` (alice) against the sandbox, with the file store.
    pub fn login(&self, profile: &str, extra: &[&str]) -> Output {
        self.run(self.login_command(profile, extra))
    }

    /// The command [`TestContext::login`] runs, for a test to add to it.
    pub fn login_command(&self, profile: &str, extra: &[&str]) -> Command {
        let mut c = self.command();
        c.args(["login", "--profile", profile, "--fhir-base", &self.base()])
            .args([
                "--client-id",
                "fhirdl-sandbox",
                "--credential-store",
                "file",
            ])
            .args(["--timeout", "20s"])
            .args(extra);
        c
    }

    /// `fhirdl login` of `profile` as another sandbox user (the browser types their password).
    pub fn login_as(&self, user: &str, profile: &str) -> Output {
        let browser = format!(
            "{} sandbox-browser --user {user} --password {user}-sandbox",
            bin().display()
        );
        let mut c = self.command_with_browser(&browser);
        c.args(["login", "--profile", profile, "--fhir-base", &self.base()])
            .args([
                "--client-id",
                "fhirdl-sandbox",
                "--credential-store",
                "file",
            ]);
        self.run(c)
    }

    /// Fails the test if any secret the sandbox issued shows up in the transcript or in a file
    /// outside the credential store.
    pub fn assert_no_leaks(&self) {
        let mut secrets = self.sandbox.issued_secrets();
        secrets.extend(self.client_key_material());
        assert!(
            !secrets.is_empty(),
            "the sandbox issued nothing: the scan would prove nothing"
        );
        let mut haystacks = vec![("transcript".to_string(), self.transcript())];
        for file in walk(self.root()) {
            if file.starts_with(self.data_dir().join("credentials")) {
                continue;
            }
            let text =
                String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
            haystacks.push((file.display().to_string(), text));
        }
        for s in secrets.iter().filter(|s| s.len() >= 8) {
            for (name, text) in &haystacks {
                assert!(
                    !text.contains(s.as_str()),
                    "a secret issued by the sandbox leaked into {name}"
                );
            }
        }
    }

    /// The private keys the file store holds (`private_key_jwt` keys and the keys of this
    /// computer's registrations): each whole, and each 64-column line of it as a PEM file would
    /// show it.
    fn client_key_material(&self) -> Vec<String> {
        let mut found = Vec::new();
        for file in walk(&self.data_dir().join("credentials")) {
            let name = file.to_string_lossy();
            let stored: Value = match () {
                _ if name.ends_with("+client-key.json") => {
                    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap()
                }
                _ if name.ends_with("+registration.json") => {
                    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
                    v["key"].clone()
                }
                _ => continue,
            };
            let der = stored["der"].as_str().expect("a stored key").to_owned();
            found.extend(
                der.as_bytes()
                    .chunks(64)
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
            );
            found.push(der);
        }
        found
    }

    // Servers of the test's own, on the context's runtime.

    /// Runs `future` on the context's runtime until it ends or the context does.
    pub fn spawn<F>(&self, future: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.spawn(future);
    }

    /// Serves the router `app` makes (given the server's origin, `http://127.0.0.1:PORT`) on a
    /// free loopback port until the context ends.
    pub fn serve(&self, app: impl FnOnce(&str) -> axum::Router) -> Server {
        let listener = loopback_listener();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let log = Arc::clone(&arrivals);
        let router = app(&origin).layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                log.lock().unwrap().push(Arrival {
                    at: Instant::now(),
                    path: request.uri().path().to_string(),
                });
                next.run(request)
            },
        ));
        self.rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            axum::serve(listener, router).await
        });
        Server { origin, arrivals }
    }

    /// A listener on another port (another origin) that counts every connection and keeps the
    /// first bytes of each; [`Trap::assert_untouched`] fails the test if anything reached it.
    pub fn trap(&self) -> Trap {
        let listener = loopback_listener();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (count, seen) = (Arc::clone(&connections), Arc::clone(&requests));
        self.rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            while let Ok((mut conn, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let read = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf));
                    let n = match read.await {
                        Ok(Ok(n)) => n,
                        _ => 0,
                    };
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    let _ = conn
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                        .await;
                });
            }
        });
        Trap {
            port,
            connections,
            requests,
        }
    }

    // The sandbox's HTTP API, as a SMART app would use it.

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The test app's redirect URI (`http://127.0.0.1:PORT/callback`, answered with a page).
    pub fn app(&self) -> &Url {
        self.app.get_or_init(|| {
            let router = axum::Router::new().route(
                "/callback",
                axum::routing::get(|| async { "You can close this window." }),
            );
            Url::parse(&self.serve(|_| router).url("/callback")).unwrap()
        })
    }

    /// The patient id of a sandbox user.
    pub fn patient(&self, username: &str) -> String {
        let users = self.sandbox.users();
        let user = users.iter().find(|u| u.username == username).unwrap();
        user.patient_id.clone()
    }

    /// The test app's authorize URL (public client, PKCE S256, [`STATE`]) with `extra` added.
    pub fn authorize_url(&self, scope: &str, extra: &[(&str, &str)]) -> Url {
        let mut url = self.sandbox.origin().join("oauth/authorize").unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.sandbox.config().public_client_id)
            .append_pair("redirect_uri", self.app().as_str())
            .append_pair("scope", scope)
            .append_pair("state", STATE)
            .append_pair("aud", self.sandbox.fhir_base().as_str())
            .append_pair("code_challenge", &challenge(VERIFIER))
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            url.query_pairs_mut().append_pair(k, v);
        }
        url
    }

    /// Signs `username` in through the scripted browser and returns the authorization code
    /// the app received.
    pub async fn authorization_code(&self, username: &str, scope: &str) -> String {
        let url = self.authorize_url(scope, &[]);
        let outcome = browser::sign_in(
            &url,
            username,
            &format!("{username}-sandbox"),
            Consent::Allow,
        )
        .await
        .expect("browser login");
        assert_eq!(outcome.status, 200, "{}", outcome.body);
        assert_eq!(query(&outcome.final_url, "state").as_deref(), Some(STATE));
        query(&outcome.final_url, "code").expect("a code in the callback")
    }

    /// POSTs `form` to the token endpoint; a successful answer must say `no-store`.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.sandbox.origin().join("oauth/token").unwrap())
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status.is_success() {
            let cache = response.headers().get("cache-control").unwrap();
            assert_eq!(cache, "no-store");
        }
        (status, response.json().await.unwrap())
    }

    /// Exchanges an authorization code of the test app.
    pub async fn exchange(&self, code: &str) -> (StatusCode, Value) {
        let client_id = self.sandbox.config().public_client_id.clone();
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.app().as_str()),
            ("code_verifier", VERIFIER),
            ("client_id", &client_id),
        ])
        .await
    }

    /// Signs `username` in and returns the token response.
    pub async fn sign_in(&self, username: &str, scope: &str) -> Value {
        let code = self.authorization_code(username, scope).await;
        let (status, body) = self.exchange(&code).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let client_id = self.sandbox.config().public_client_id.clone();
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client_id),
        ])
        .await
    }

    /// GET `<FHIR base>/<path_and_query>`.
    pub async fn get(&self, path_and_query: &str, token: Option<&str>) -> reqwest::Response {
        let url = format!("{}/{path_and_query}", self.sandbox.fhir_base());
        self.get_url(&url, token).await
    }

    pub async fn get_url(&self, url: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// GET `<FHIR base>/<path_and_query>` with a token; the answer must be FHIR JSON.
    pub async fn get_json(&self, path_and_query: &str, token: &str) -> (StatusCode, Value) {
        let response = self.get(path_and_query, Some(token)).await;
        let status = response.status();
        let content_type = response.headers().get("content-type").unwrap().clone();
        assert_eq!(content_type, "application/fhir+json; charset=utf-8");
        (status, response.json().await.unwrap())
    }

    /// Follows `next` links from the search `first`: every resource, the pages, `Bundle.total`
    /// of the first page (the same on every page) and the next links seen.
    pub async fn all_pages(&self, first: &str, token: &str) -> Pages {
        let (status, mut bundle) = self.get_json(first, token).await;
        assert_eq!(status, 200, "{bundle}");
        let total = bundle["total"].as_u64().unwrap();
        let mut pages = Pages {
            total,
            ..Pages::default()
        };
        loop {
            pages.pages += 1;
            assert!(pages.pages < 1000, "endless paging");
            assert_eq!(bundle["type"], "searchset");
            assert_eq!(bundle["total"].as_u64(), Some(total));
            for entry in bundle["entry"].as_array().into_iter().flatten() {
                pages.resources.push(entry["resource"].clone());
                pages.entries.push(entry.clone());
            }
            let Some(next) = link(&bundle, "next") else {
                break;
            };
            pages.links.push(next.clone());
            let response = self.get_url(&next, Some(token)).await;
            assert_eq!(response.status(), 200);
            bundle = response.json().await.unwrap();
        }
        pages
    }
}

/// What [`TestContext::all_pages`] collected.
#[derive(Debug, Default)]
pub struct Pages {
    pub resources: Vec<Value>,
    /// The entries whole (`fullUrl`, `search`, `resource`).
    pub entries: Vec<Value>,
    pub pages: usize,
    pub total: u64,
    pub links: Vec<String>,
}

/// A server of the test's own ([`TestContext::serve`]), which notes when each request arrived.
pub struct Server {
    pub origin: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

/// One request a [`Server`] received.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub at: Instant,
    pub path: String,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// How many requests arrived.
    pub fn hits(&self) -> usize {
        self.arrivals.lock().unwrap().len()
    }

    /// Every request so far, in the order they arrived.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }
}

/// Another origin that must never be contacted ([`TestContext::trap`]).
pub struct Trap {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Trap {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn assert_untouched(&self) {
        assert_eq!(
            self.connections.load(Ordering::SeqCst),
            0,
            "a request reached another origin: {:?}",
            self.requests.lock().unwrap()
        );
    }
}

/// A listener on a free loopback port, ready for tokio (bound here, so that a server can be
/// started from inside [`TestContext::block_on`] too).
fn loopback_listener() -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    listener
}

// Folders.

/// Every file under `dir` (not the folders), depth first; nothing when `dir` does not exist.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Every file under `dir` by its path relative to `dir` (`/`-separated), with its bytes. Tests
/// compare two snapshots, or leave out the files that may differ with `retain`.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|p| {
            let bytes =
                std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (relative(dir, &p), bytes)
        })
        .collect()
}

/// The inode of every file under `dir`, by relative path: a file rewritten with the same bytes
/// gets a new one (fhirdl replaces files whole).
pub fn inodes(dir: &Path) -> BTreeMap<String, u64> {
    use std::os::unix::fs::MetadataExt;
    walk(dir)
        .into_iter()
        .map(|p| (relative(dir, &p), std::fs::metadata(&p).unwrap().ino()))
        .collect()
}

fn relative(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The lines of an NDJSON file as JSON values (none when the file does not exist).
pub fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// Outputs.

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Asserts that a `sync --json` report stored every resource of `patient`'s compartment on
/// `sandbox` (`what` says which run, when a test makes several).
pub fn assert_whole_compartment(
    sandbox: &fhirdl_sandbox::Sandbox,
    patient: &str,
    report: &Value,
    what: &str,
) {
    assert_eq!(
        stored_in_compartment(report),
        sandbox.resource_count(patient),
        "{what}: {report}"
    );
}

/// Resources a `sync --json` report says are stored, the types shared between patients (read
/// by reference: Practitioner, Organization, Location, Medication) left out: what the sandbox's
/// `resource_count` of the patient counts.
pub fn stored_in_compartment(report: &Value) -> usize {
    report["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            !["Practitioner", "Organization", "Location", "Medication"]
                .contains(&t["resource_type"].as_str().unwrap())
        })
        .map(|t| t["stored"].as_u64().unwrap() as usize)
        .sum()
}

/// The check `id` of a `fhirdl doctor --json` document.
pub fn doctor_check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"))
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(out)))
}

/// The report of one type in a `sync --json` report (`Null` when it is not there).
pub fn type_report(report: &Value, ty: &str) -> Value {
    report["types"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["resource_type"] == ty)
        .cloned()
        .unwrap_or(Value::Null)
}

// Waiting, with a deadline and never a sleep.

/// Waits for a spawned command to end and collects its output; kills it and fails the test
/// if it is still running after `timeout`.
pub fn wait_output(child: Child, timeout: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("waiting for fhirdl"),
        Err(_) => {
            signal(pid, "KILL");
            panic!("fhirdl (pid {pid}) still ran after {timeout:?}");
        }
    }
}

/// Sends a signal (`INT`, `KILL`…) to a process with `kill(1)`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Polls `done` (yielding the processor in between) until it holds; fails the test naming
/// `what` if it does not within `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::yield_now();
    }
}

/// Says on the terminal, past the test harness's capture of `eprintln!`, that a test could not
/// run its case here: a skipped case must never pass silently.
pub fn skipped(why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

// Small things.

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The PKCE S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A query parameter of a URL.
pub fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The URL of a Bundle link (`next`, `self`…).
pub fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
        .map(str::to_owned)
}

/// The resources of a Bundle's entries.
pub fn entries(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .collect()
}

/// The access token of a token response.
pub fn access(token: &Value) -> &str {
    token["access_token"].as_str().unwrap()
}

/// The types a `sync --json` report of `dir` calls `complete` whose file differs from the same
/// type's file in `reference` (an export of the same server that nothing disturbed): a run must
/// never call a copy complete that misses something, even after a run that failed.
pub fn complete_but_short(report: &Value, dir: &Path, reference: &Path) -> Vec<String> {
    report["types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["completeness"]["status"] == "complete" && t["status"] != "failed")
        .filter_map(|t| t["resource_type"].as_str())
        .filter(|ty| {
            let file = format!("{ty}.ndjson");
            std::fs::read(dir.join(&file)).ok() != std::fs::read(reference.join(&file)).ok()
        })
        .map(str::to_string)
        .collect()
}
