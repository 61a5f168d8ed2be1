//! Where the lower layers (HTTP, sign-in, sync) send lines meant for people, without knowing
//! how they are shown: [`crate::output::Ui`] implements [`Console`] for the terminal; [`Silent`]
//! says nothing (library use, tests).

/// A sink for human messages.
pub trait Console: Send + Sync {
    /// How much HTTP detail is wanted: 0 none, 1 a line per exchange (`-v`), 2 headers (`-vv`).
    fn verbosity(&self) -> u8;
    /// A progress or informational line (hidden by `-q`).
    fn info(&self, msg: &str);
    /// A warning (shown even with `-q`).
    fn warn(&self, msg: &str);
    /// An HTTP trace line (`-v`).
    fn trace(&self, msg: &str);
}

/// A console that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Console for Silent {
    fn verbosity(&self) -> u8 {
        0
    }
    fn info(&self, _: &str) {}
    fn warn(&self, _: &str) {}
    fn trace(&self, _: &str) {}
}
