//! Opening the sign-in page in the user's browser.
//!
//! `$BROWSER` first (a `:`-separated list of commands; `%s` stands for the address, else it is
//! appended), then the platform opener (`xdg-open`, `open`, `rundll32`). A command that exits
//! with an error within two seconds counts as failed and the next one is tried; when none works
//! the caller prints the address instead.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One way to start a browser: a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    pub program: String,
    pub args: Vec<String>,
}

/// The launchers to try, in order, for `url`.
pub fn launchers(browser_env: Option<&str>, url: &str) -> Vec<Launcher> {
    let mut out = Vec::new();
    if let Some(list) = browser_env {
        for cmd in list.split(':').map(str::trim).filter(|c| !c.is_empty()) {
            let mut words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
            let had_placeholder = words.iter().any(|w| w.contains("%s"));
            for w in &mut words {
                *w = w.replace("%s", url);
            }
            if !had_placeholder {
                words.push(url.to_string());
            }
            let program = words.remove(0);
            out.push(Launcher {
                program,
                args: words,
            });
        }
        return out;
    }
    let platform: &[(&str, &[&str])] = if cfg!(target_os = "macos") {
        &[("open", &[])]
    } else if cfg!(target_os = "windows") {
        &[("rundll32", &["url.dll,FileProtocolHandler"])]
    } else {
        &[
            ("xdg-open", &[]),
            ("gio", &["open"]),
            ("sensible-browser", &[]),
        ]
    };
    for (program, args) in platform {
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(url.to_string());
        out.push(Launcher {
            program: program.to_string(),
            args,
        });
    }
    out
}

/// Tries each launcher; returns the program that started, or `None` when none did.
pub async fn open(url: &str) -> Option<String> {
    let env = std::env::var("BROWSER").ok();
    for launcher in launchers(env.as_deref(), url) {
        if start(&launcher).await {
            return Some(launcher.program);
        }
    }
    None
}

async fn start(l: &Launcher) -> bool {
    let child = Command::new(&l.program)
        .args(&l.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(_) => return false,
        }
    }
    // Still running (a browser that stays in the foreground): it started. Reap it later.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_forms() {
        let l = launchers(Some("firefox --new-window %s:lynx"), "https://a/x?y=1");
        assert_eq!(l[0].program, "firefox");
        assert_eq!(l[0].args, vec!["--new-window", "https://a/x?y=1"]);
        assert_eq!(l[1].program, "lynx");
        assert_eq!(l[1].args, vec!["https://a/x?y=1"]);
        assert!(launchers(Some(" : "), "u").is_empty());
        assert!(!launchers(None, "u").is_empty());
    }

    #[tokio::test]
    async fn failing_command_is_reported() {
        let l = Launcher {
            program: "false".into(),
            args: vec![],
        };
        assert!(!start(&l).await);
        let missing = Launcher {
            program: "/nonexistent/fhirdl-browser".into(),
            args: vec![],
        };
        assert!(!start(&missing).await);
    }
}
