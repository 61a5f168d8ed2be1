//! `fhirdl completions SHELL`: a completion script on stdout.

use crate::cli::Cli;
use clap::CommandFactory;

/// Writes the completion script for `shell` into `out`.
pub fn generate(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "fhirdl", out);
}

pub fn run(shell: clap_complete::Shell) {
    generate(shell, &mut std::io::stdout().lock());
}
