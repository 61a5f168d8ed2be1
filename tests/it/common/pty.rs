//! A pseudo-terminal for tests of what a person sees: [`Terminal::spawn`] runs a command with
//! its stderr on the terminal side of a pty (120 × 40), so `fhirdl` draws as it would for a
//! person, while a thread collects everything written to it. Tests wait on that text with a
//! deadline ([`Terminal::wait_for`]) and read it without escape sequences ([`plain`]).

use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};

/// A command running with its stderr on a pseudo-terminal.
pub struct Terminal {
    child: Option<Child>,
    /// The controller side, for typing (only with [`Terminal::spawn_interactive`]).
    keyboard: Option<std::fs::File>,
    /// Every byte the command wrote to the terminal so far; the condvar says more arrived.
    screen: Arc<(Mutex<Vec<u8>>, Condvar)>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    /// Starts `cmd` with stderr on a new pty (stdout piped, stdin as `cmd` set it).
    pub fn spawn(cmd: Command) -> Terminal {
        Terminal::start(cmd, false)
    }

    /// [`Terminal::spawn`] with stdin on the pty too: a person at the keyboard
    /// ([`Terminal::type_line`]).
    pub fn spawn_interactive(cmd: Command) -> Terminal {
        Terminal::start(cmd, true)
    }

    /// Types `line` and Enter.
    pub fn type_line(&self, line: &str) {
        use std::io::Write as _;
        let mut keyboard = self.keyboard.as_ref().expect("an interactive terminal");
        keyboard
            .write_all(format!("{line}\n").as_bytes())
            .expect("typing on the terminal");
    }

    fn start(mut cmd: Command, interactive: bool) -> Terminal {
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
        let controller = openpt(flags).expect("a pseudo-terminal");
        grantpt(&controller).expect("grantpt");
        unlockpt(&controller).expect("unlockpt");
        let name = ptsname(&controller, Vec::new()).expect("the terminal's name");
        let size = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&controller, size).expect("the terminal's size");
        let user: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().expect("a UTF-8 pty name"))
            .expect("the terminal side of the pty")
            .into();
        if interactive {
            cmd.stdin(Stdio::from(
                user.try_clone().expect("the terminal side, again"),
            ));
        }
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::from(user))
            .spawn()
            .expect("the command starts");
        // `cmd` still holds the terminal side; without dropping it the reader would never see
        // the end (EIO once the last writer is gone).
        drop(cmd);
        let screen = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let keyboard;
        let reader = {
            let screen = screen.clone();
            let mut controller = std::fs::File::from(controller);
            keyboard = interactive.then(|| controller.try_clone().expect("the controller, again"));
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                // Ends with EIO (Linux) or 0 when the command and its children closed the pty.
                while let Ok(n @ 1..) = controller.read(&mut buf) {
                    lock(&screen.0).extend_from_slice(&buf[..n]);
                    screen.1.notify_all();
                }
            })
        };
        Terminal {
            child: Some(child),
            keyboard,
            screen,
            reader: Some(reader),
        }
    }

    /// Everything written to the terminal so far, as bytes.
    pub fn raw(&self) -> Vec<u8> {
        lock(&self.screen.0).clone()
    }

    /// Waits until `seen` holds for the terminal's text without escape sequences; fails the
    /// test naming `what` (and showing the text) after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, seen: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        let (bytes, more) = &*self.screen;
        let mut raw = lock(bytes);
        loop {
            let text = plain(&raw);
            if seen(&text) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                drop(raw);
                self.kill();
                panic!("{what}: not on the terminal within {timeout:?}; it shows:\n{text}");
            }
            // Woken by the reader when more arrives (its lines redraw every 100 ms).
            raw = more
                .wait_timeout(raw, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits for the command to end (killing it after `timeout`) and for the last bytes on the
    /// terminal; returns its output (stderr empty: it went to the terminal) and those bytes.
    pub fn finish(mut self, timeout: Duration) -> (Output, Vec<u8>) {
        let child = self.child.take().expect("a running command");
        let out = super::wait_output(child, timeout);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (out, self.raw())
    }

    fn kill(&self) {
        if let Some(child) = &self.child {
            super::signal(child.id(), "KILL");
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn lock(screen: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    screen.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Terminal output as text: escape sequences (`ESC [ … final`) removed, carriage returns as
/// line ends.
pub fn plain(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

/// Whether the bytes hold a colour or style sequence (SGR: `ESC [ … m`).
pub fn has_colour(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("\x1b[").any(|(i, _)| {
        text[i + 2..]
            .chars()
            .find(|c| !(c.is_ascii_digit() || *c == ';'))
            == Some('m')
    })
}
