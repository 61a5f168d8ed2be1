//! Shared test harness: an embedded sandbox on its own runtime, isolated folders, and the real
//! `fhirdl` binary with the sandbox's scripted browser as `$BROWSER`.
#![allow(dead_code)]

use fhirdl::sandbox::{Sandbox, SandboxConfig};
use std::path::{Path, PathBuf};
use std::process::Output;

pub struct Env {
    pub rt: tokio::runtime::Runtime,
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    /// Every stdout and stderr the tests captured, for the leak scan.
    pub transcript: std::cell::RefCell<String>,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fhirdl"))
}

impl Env {
    pub fn new(config: SandboxConfig) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = rt.block_on(Sandbox::start(config)).unwrap();
        Env {
            rt,
            sandbox,
            dir: tempfile::tempdir().unwrap(),
            transcript: Default::default(),
        }
    }

    pub fn base(&self) -> String {
        self.sandbox.fhir_base().to_string()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn credential_file(&self, profile: &str) -> PathBuf {
        self.data_dir()
            .join("credentials")
            .join(format!("{profile}.json"))
    }

    /// A command with isolated folders and the scripted browser.
    pub fn cmd(&self) -> std::process::Command {
        self.cmd_with_browser(&format!("{} sandbox-browser", bin().display()))
    }

    pub fn cmd_with_browser(&self, browser: &str) -> std::process::Command {
        let mut c = std::process::Command::new(bin());
        c.env("FHIRDL_CONFIG_DIR", self.config_dir())
            .env("FHIRDL_DATA_DIR", self.data_dir())
            .env("BROWSER", browser)
            .env("NO_COLOR", "1")
            .env_remove("FHIRDL_PROFILE")
            .env_remove("FHIRDL_CLIENT_ID")
            .env_remove("FHIRDL_CLIENT_SECRET")
            .stdin(std::process::Stdio::null());
        c
    }

    /// Runs a command and records its output.
    pub fn run(&self, mut cmd: std::process::Command) -> Output {
        let out = cmd.output().unwrap();
        let mut t = self.transcript.borrow_mut();
        t.push_str(&String::from_utf8_lossy(&out.stdout));
        t.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    }

    /// `fhirdl login` for profile `p` against the sandbox with the file store.
    pub fn login(&self, profile: &str, extra: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args([
            "login",
            "--profile",
            profile,
            "--fhir-base",
            &self.base(),
            "--client-id",
            "fhirdl-sandbox",
        ])
        .args(["--credential-store", "file", "--timeout", "20s"])
        .args(extra);
        self.run(c)
    }

    /// Runs `fhirdl <args>` with the usual environment.
    pub fn fhirdl(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        self.run(c)
    }

    /// Fails the test if any secret the sandbox issued shows up in the transcript or in a file
    /// outside the credential store.
    pub fn assert_no_leaks(&self) {
        let secrets = self.sandbox.issued_secrets();
        assert!(
            !secrets.is_empty(),
            "the sandbox issued nothing: the scan would prove nothing"
        );
        let transcript = self.transcript.borrow();
        let mut haystacks = vec![("transcript".to_string(), transcript.clone())];
        for file in walk(self.dir.path()) {
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
}

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

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(out)))
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
