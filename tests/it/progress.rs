//! What a person sees on a terminal while `fhirdl sync` runs: the real binary with
//! its stderr on a pseudo-terminal ([`crate::common::pty`]), the sandbox holding chosen requests
//! so that the screen is read while the run provably stands at a known point — no sleeps, no
//! timing.

use crate::common::pty::{has_colour, plain, Terminal};
use crate::common::{code, TestContext};
use fhirdl_sandbox::{Quirks, SandboxConfig};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(90);

/// What a bar or the overall line leaves on a terminal.
const DRAWN: [&str; 5] = ["█", "░", " types · ", "\x1b[2K", "\x1b[1A"];

/// 2,000 resources: 1,000 Observations (five pages of 200), the other types one page each.
fn context() -> TestContext {
    context_with(Quirks::default())
}

fn context_with(quirks: Quirks) -> TestContext {
    let ctx = TestContext::new(SandboxConfig {
        resources_per_patient: 2000,
        quirks,
        ..SandboxConfig::default()
    });
    let login = ctx.login("p", &[]);
    assert_eq!(code(&login), 0, "{}", crate::common::text(&login));
    ctx
}

/// A line of the screen naming `name` and containing every one of `parts`.
fn has_line(text: &str, name: &str, parts: &[&str]) -> bool {
    text.lines()
        .any(|l| l.contains(name) && parts.iter().all(|p| l.contains(p)))
}

#[test]
fn a_terminal_shows_counts_of_announced_totals_phases_and_the_whole_run() {
    let ctx = context();
    let later_pages = ctx.sandbox.hold("_offset=");
    let documents = ctx.sandbox.hold("Binary/");
    let references = ctx.sandbox.hold("_id=");
    let out = ctx.root().join("export");
    let mut cmd = ctx.command();
    cmd.args(["sync", "--profile", "p", "--out"]).arg(&out);
    let term = Terminal::spawn(cmd);

    // Observation's first page is in, the others held: 200 of the 1,000 the server announced.
    term.wait_for("Observation at 200 of 1000", DEADLINE, |t| {
        has_line(t, "Observation", &["200/1000", "20%", "/s"])
    });
    term.wait_for("the overall line", DEADLINE, |t| {
        has_line(t, "types", &["resources", "requests", "B"])
    });
    // The documents start as soon as the types that carry them are stored, while later pages
    // are still held: both go on together.
    term.wait_for("the documents phase", DEADLINE, |t| {
        has_line(t, "documents", &[" 0  "])
    });
    later_pages.release();
    documents.release();
    // The references phase shows once every search is done (reads of what no search brings
    // went out earlier and are held here too).
    term.wait_for("the references phase", DEADLINE, |t| {
        has_line(t, "references", &["/"])
    });
    references.release();
    let (output, raw) = term.finish(DEADLINE);
    assert_eq!(code(&output), 0, "{}", plain(&raw));
    let text = plain(&raw);
    // A bar is never full before its type is done (the line goes when it is).
    assert!(!text.contains("100%"), "a full bar was shown:\n{text}");
    assert!(
        !text.contains(&"█".repeat(24)),
        "a full bar was shown:\n{text}"
    );
    // NO_COLOR (set by the harness) holds on a terminal too.
    assert!(!has_colour(&raw), "colours despite NO_COLOR:\n{raw:?}");
    // The report still goes to stdout.
    assert!(String::from_utf8_lossy(&output.stdout).contains("resources in"));
}

#[test]
fn bars_are_coloured_on_a_terminal_without_no_color() {
    let ctx = context();
    let later_pages = ctx.sandbox.hold("_offset=");
    let mut cmd = ctx.command();
    cmd.env_remove("NO_COLOR")
        .args(["sync", "--profile", "p", "--out"])
        .arg(ctx.root().join("export"));
    let term = Terminal::spawn(cmd);
    term.wait_for("Observation at 200 of 1000", DEADLINE, |t| {
        has_line(t, "Observation", &["200/1000"])
    });
    later_pages.release();
    let (output, raw) = term.finish(DEADLINE);
    assert_eq!(code(&output), 0, "{}", plain(&raw));
    assert!(
        has_colour(&raw),
        "no colour on a terminal:\n{}",
        plain(&raw)
    );
}

#[test]
fn quiet_json_and_verbose_runs_draw_no_bars_on_a_terminal() {
    let ctx = context();
    for (i, flag) in ["-q", "--json", "-v"].into_iter().enumerate() {
        let later_pages = ctx.sandbox.hold("_offset=");
        let mut cmd = ctx.command();
        cmd.env_remove("NO_COLOR")
            .args(["sync", "--profile", "p", flag, "--out"])
            .arg(ctx.root().join(format!("export-{i}")));
        let term = Terminal::spawn(cmd);
        // The run stands in the middle of the searches, where bars would be drawn.
        assert!(later_pages.wait_held(1, DEADLINE), "{flag}: no second page");
        later_pages.release();
        let (output, raw) = term.finish(DEADLINE);
        assert_eq!(code(&output), 0, "{flag}: {}", plain(&raw));
        let text = plain(&raw);
        for drawn in DRAWN {
            let seen = text.contains(drawn) || String::from_utf8_lossy(&raw).contains(drawn);
            assert!(!seen, "{flag}: {drawn:?} on the terminal:\n{text}");
        }
        if flag == "-v" {
            // -v says what happened line by line instead.
            assert!(has_line(&text, "Observation", &["1000 fetched"]), "{text}");
        }
    }
}

#[test]
fn a_stderr_that_is_no_terminal_gets_no_bars() {
    let ctx = context();
    let mut cmd = ctx.command();
    cmd.env_remove("NO_COLOR")
        .args(["sync", "--profile", "p", "--out"])
        .arg(ctx.root().join("export"));
    let out = ctx.run(cmd);
    assert_eq!(code(&out), 0, "{}", crate::common::text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for drawn in DRAWN {
        assert!(!stderr.contains(drawn), "{drawn:?} on a pipe:\n{stderr}");
    }
}

#[test]
fn a_search_without_a_total_shows_a_spinner_with_its_count() {
    let ctx = context_with(Quirks {
        no_total: true,
        ..Quirks::default()
    });
    let later_pages = ctx.sandbox.hold("_offset=");
    let mut cmd = ctx.command();
    cmd.args(["sync", "--profile", "p", "--out"])
        .arg(ctx.root().join("export"));
    let term = Terminal::spawn(cmd);
    term.wait_for("Observation counting without a total", DEADLINE, |t| {
        t.lines().any(|l| {
            l.contains("Observation")
                && l.contains("200")
                && l.contains("/s")
                && !l.contains('░')
                && l.contains(['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'])
        })
    });
    later_pages.release();
    let (output, raw) = term.finish(DEADLINE);
    assert_eq!(code(&output), 0, "{}", plain(&raw));
    assert!(!plain(&raw).contains("100%"), "{}", plain(&raw));
}

/// NextGen's Observations come category by category, with no count of the whole type: the
/// line adds up what each category's first page announced (a bar, not a spinner), and is never
/// full before the type is done.
#[test]
fn a_type_searched_by_category_shows_the_sum_of_their_totals() {
    let ctx = context_with(Quirks::nextgen());
    let later_pages = ctx.sandbox.hold("page=2");
    let mut cmd = ctx.command();
    cmd.args(["sync", "--profile", "p", "--out"])
        .arg(ctx.root().join("export"));
    let term = Terminal::spawn(cmd);
    term.wait_for(
        "Observation with a total of its categories",
        DEADLINE,
        |t| {
            t.lines().any(|l| {
                l.contains("Observation")
                    && l.contains('░')
                    && l.split_whitespace().any(|w| {
                        w.split_once('/').is_some_and(|(a, b)| {
                            a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok_and(|b| b > 25)
                        })
                    })
            })
        },
    );
    later_pages.release();
    let (output, raw) = term.finish(DEADLINE);
    assert_eq!(code(&output), 0, "{}", plain(&raw));
    assert!(!plain(&raw).contains("100%"), "{}", plain(&raw));
}
