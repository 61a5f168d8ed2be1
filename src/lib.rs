//! fhirdl: take your medical record home from a SMART on FHIR patient portal.
//!
//! `main.rs` only calls [`run`]. The modules, one concern each: [`cli`] (what was typed),
//! [`settings`] and [`config`] (where things live, saved profiles), [`auth`] (discovery, login,
//! tokens, credential store), [`http`] and [`fhir`] (the network), [`commands`] (one module per
//! command), and the ground modules below them. The embedded SMART on FHIR test server of
//! `fhirdl sandbox` and `fhirdl demo` is a crate of its own, `fhirdl_sandbox` (`crates/sandbox`).
//! [`doctor`] diagnoses a connection; [`trace`] records HTTP exchanges for `--trace-file`;
//! [`tls`] says which certificates are trusted (`FHIRDL_CA_FILE`).

pub mod atomic;
pub mod auth;
pub mod bundle;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connect;
pub mod console;
pub mod datetime;
pub mod directory;
pub mod doctor;
pub mod error;
pub mod exit;
pub mod export_layout;
pub mod fhir;
pub mod fhir_url;
pub mod folder;
pub mod http;
pub mod interrupt;
pub mod json_text;
pub mod keep_alive;
pub mod manual;
pub mod note_text;
pub mod output;
pub mod person;
pub mod providers;
pub mod quirks;
pub mod sanitize;
pub mod secret;
pub mod settings;
pub mod sync;
pub mod tls;
pub mod trace;
pub mod verify;
pub mod view;

use clap::Parser;
use cli::{Cli, Command};
use commands::Ctx;

/// Parses the command line, runs the command, prints any error, and returns the exit code.
/// Two glibc settings that keep a large export's memory near what it uses (measured on a
/// million-resource export: 250 MiB with glibc's defaults, 190 MiB with two arenas, 132 MiB
/// with the fixed threshold too, at the same CPU time):
/// - threads that allocate at once get arenas of their own (up to eight per CPU), and memory
///   freed in one arena is not reused by another: two arenas;
/// - blocks of 256 KiB and more (response bodies, merge buffers) come from `mmap` and go back to
///   the system when freed; by default glibc raises that threshold after the first such block
///   is freed, and later ones then stay in the heap, fragmenting it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only sets parameters of the allocator; it is called before the runtime
    // starts any thread, and a refusal (return 0) leaves glibc's default in place.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

pub fn run() -> i32 {
    let cli = Cli::parse();
    let settings = match settings::Settings::from_args(&cli.global, cli.command.trace()) {
        Ok(s) => s,
        Err(e) => {
            output::Ui::default().error(&e);
            return exit::exit_code(&e);
        }
    };
    let ctx = match Ctx::new(settings) {
        Ok(c) => c,
        Err(e) => {
            output::Ui::default().error(&e);
            return exit::exit_code(&e);
        }
    };
    // Few blocking threads: merges and file work queue up instead of each thread growing its
    // own allocator arena (memory, for a very large record, stays within budget).
    tune_malloc();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let e = anyhow::Error::from(e).context("cannot start the async runtime");
            ctx.ui.error(&e);
            return exit::exit_code(&e);
        }
    };
    let result = runtime.block_on(dispatch(&ctx, &cli.command));
    // Do not wait for stray background work (a browser launcher, a pasted-line reader).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => 0,
        Err(e) => {
            ctx.ui.error(&e);
            exit::exit_code(&e)
        }
    }
}

async fn dispatch(ctx: &Ctx, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Login(args) => commands::login::run(ctx, args).await,
        Command::Sync(args) => commands::sync::run(ctx, args).await,
        Command::Status(args) => commands::status::run(ctx, args).await,
        Command::Logout(args) => commands::logout::run(ctx, args).await,
        Command::Profile(cmd) => commands::profile::run(ctx, cmd).await,
        Command::Key(cmd) => commands::key::run(ctx, cmd).await,
        Command::Directory(cmd) => commands::directory::run(ctx, cmd).await,
        Command::Find(args) => commands::find::run(ctx, args).await,
        Command::Providers { quirks } => commands::providers::run(ctx, *quirks),
        Command::Completions { shell } => {
            commands::completions::run(*shell);
            Ok(())
        }
        Command::Man { out } => commands::man::run(ctx, out),
        Command::Sandbox(args) => commands::sandbox::run(ctx, args).await,
        Command::SandboxBrowser(args) => commands::sandbox::browser(ctx, args).await,
        Command::Demo(args) => commands::demo::run(ctx, args).await,
        Command::Doctor(args) => commands::doctor::run(ctx, args).await,
        Command::View(args) if args.all_profiles || !args.profiles.is_empty() => {
            commands::view_merged::run(ctx, args).await
        }
        Command::View(args) => commands::view::run(ctx, args).await,
        Command::Bundle(args) => commands::bundle::run(ctx, args).await,
        Command::Unbundle(args) => commands::bundle::unbundle(ctx, args).await,
        Command::History(args) => commands::history::run(ctx, args),
        Command::Verify(args) => commands::verify::run(ctx, args),
    }
}
