//! Ctrl-C for the whole command. Once tokio listens for SIGINT, the signal no longer ends the
//! process, and a listener hears only the signals sent after it was made: a Ctrl-C that came
//! while no listener existed — between two profiles of `sync --all-profiles`, or while a
//! profile's sign-in was refreshed — would be lost and the command would go on. So one listener
//! lives from the first [`Interrupt::listen`] to the end of the process, and what it heard
//! stays heard: every [`Interrupt`] made later sees a Ctrl-C sent before it.

use anyhow::{Context, Result};
use std::sync::Mutex;
use tokio::sync::watch;

/// Whether Ctrl-C was pressed since the command began listening.
#[derive(Clone)]
pub struct Interrupt(watch::Receiver<bool>);

/// The process's listener (its receiving side), once started.
static LISTENER: Mutex<Option<watch::Receiver<bool>>> = Mutex::new(None);

impl Interrupt {
    /// The command's Ctrl-C flag, listening from now on if nothing listened before (call it
    /// inside the tokio runtime).
    pub fn listen() -> Result<Interrupt> {
        let mut listener = LISTENER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A listener whose runtime has ended (tests run several) is made again.
        if let Some(rx) = listener.as_ref().filter(|rx| rx.has_changed().is_ok()) {
            return Ok(Interrupt(rx.clone()));
        }
        #[cfg(unix)]
        let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .context("cannot listen for Ctrl-C")?;
        #[cfg(windows)]
        let mut signal = tokio::signal::windows::ctrl_c().context("cannot listen for Ctrl-C")?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            while signal.recv().await.is_some() {
                if tx.send(true).is_err() {
                    break;
                }
            }
        });
        *listener = Some(rx.clone());
        Ok(Interrupt(rx))
    }

    /// Whether Ctrl-C was pressed.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once Ctrl-C was pressed (at once if it already was); never, if the listener
    /// is gone.
    pub async fn recv(&mut self) {
        if self.0.wait_for(|pressed| *pressed).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
