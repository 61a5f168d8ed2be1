//! The first hour of a new user: the demo's closing commands work as printed, commands that
//! need no server never ask to sign in and exit 2 with a whole sentence, and each command's
//! help fits a terminal and offers the options that matter to it.

use crate::common::{bin, code, text, TestContext};
use clap::CommandFactory;

/// Every command the demo prints at its end runs as printed (offline, after the demo's
/// sandbox stopped) and succeeds.
#[test]
fn the_demos_closing_commands_work_as_printed() {
    let ctx = TestContext::with_defaults();
    let out = ctx.fhirdl(&["demo"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let commands: Vec<Vec<String>> = err
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("fhirdl "))
        .map(|l| {
            let l = l.split("    #").next().unwrap();
            l.split_whitespace().map(str::to_string).collect()
        })
        .collect();
    assert!(commands.len() >= 4, "{err}");
    for args in commands {
        // `--open` would start a browser; the page is what it opens.
        let args: Vec<&str> = args
            .iter()
            .map(String::as_str)
            .filter(|a| *a != "--open")
            .collect();
        let run = ctx.fhirdl(&args);
        assert_eq!(code(&run), 0, "fhirdl {}: {}", args.join(" "), text(&run));
    }
    // The demo's profile names its export: its last sync shows.
    let demo = ctx.data_dir().join("demo");
    let status = ctx.fhirdl(&[
        "--config-dir",
        demo.join("config").to_str().unwrap(),
        "--data-dir",
        demo.join("data").to_str().unwrap(),
        "--profile",
        "demo",
        "status",
        "--offline",
    ]);
    assert!(text(&status).contains("resources in"), "{}", text(&status));
}

/// Without any profile: `status` says how to begin (exit 0, like `profile list`); `view`,
/// `verify`, `bundle` and `history` ask for the folder (exit 2), never for a sign-in.
#[test]
fn offline_commands_without_a_profile_ask_for_the_folder() {
    let ctx = TestContext::with_defaults();
    let status = ctx.fhirdl(&["status"]);
    assert_eq!(code(&status), 0, "{}", text(&status));
    assert!(text(&status).contains("fhirdl login"), "{}", text(&status));
    for args in [
        &["view"][..],
        &["verify"],
        &["bundle"],
        &["history", "Observation/x"],
        &["--profile", "nowhere", "verify"],
    ] {
        let out = ctx.fhirdl(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains("--out DIR"), "{args:?}: {err}");
        assert!(!err.contains("sign in"), "{args:?}: {err}");
    }
}

/// Help texts: no line of a command's examples or notes is wider than 78 columns (clap would
/// wrap it in the middle of a command at 80); the HTTP trace options appear only where the
/// network is used; `view` names the folder it reads and the page it writes apart.
#[test]
fn each_commands_help_fits_and_offers_what_matters_to_it() {
    let cli = fhirdl::cli::Cli::command();
    for sub in cli.get_subcommands() {
        for text in [sub.get_after_help(), sub.get_after_long_help()]
            .into_iter()
            .flatten()
        {
            for line in text.to_string().lines() {
                assert!(
                    line.chars().count() <= 78,
                    "`fhirdl {} --help` wraps: {line}",
                    sub.get_name()
                );
            }
        }
        let traced = sub.get_arguments().any(|a| a.get_id() == "trace_file");
        let network = [
            "login", "sync", "status", "logout", "doctor", "demo", "find",
        ];
        assert_eq!(
            traced,
            network.contains(&sub.get_name()),
            "--trace-file on `{}`",
            sub.get_name()
        );
    }
    for width in ["80", "100"] {
        let out = std::process::Command::new(bin())
            .args(["view", "--help"])
            .env("COLUMNS", width)
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(!help.contains("trace"), "{help}");
        assert!(
            help.contains("--out <DIR>") && help.contains("--page <FILE>"),
            "{help}"
        );
    }
}
