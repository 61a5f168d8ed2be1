//! The repository's own text speaks of the product as it is: no notes about how the work was
//! organised (work items and review rounds by number, commit hashes as history, "helper"), in
//! the Markdown files and in the sources, tests, benchmarks and CI script. README.md stays
//! within 400 lines, lists the exit codes `fhirdl --help` lists, and no relative link in the
//! Markdown files points to a missing file.
//!
//! This file is the one exception to the scan: its matcher tests spell out what they catch.

use std::path::{Path, PathBuf};

const README_MAX_LINES: usize = 400;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every text file the scan covers: top-level Markdown and TOML, `docs/`, `src/`, `crates/`,
/// `tests/`, `benches/`, `.ci/`.
fn scanned_files() -> Vec<PathBuf> {
    let root = root();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str());
        if path.is_file() && matches!(ext, Some("md" | "toml")) {
            files.push(path);
        }
    }
    for dir in ["docs", "src", "crates", "tests", "benches", ".ci"] {
        walk(&root.join(dir), &mut files);
    }
    let me = root.join("tests").join("it").join("house.rs");
    files.retain(|f| *f != me);
    files.sort();
    files
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn markdown_files() -> Vec<PathBuf> {
    scanned_files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Byte offsets where `word` starts in `line` as a whole word beginning (not inside another).
fn word_starts<'a>(line: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    line.match_indices(word)
        .map(|(i, _)| i)
        .filter(move |&i| !line[..i].chars().next_back().is_some_and(is_word))
}

/// `rest` starts with a number that ends at a word boundary ("14", "22's"), after an optional `#`.
fn starts_with_number(rest: &str) -> bool {
    let rest = rest.strip_prefix('#').unwrap_or(rest);
    let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && !rest[digits..].chars().next().is_some_and(is_word)
}

/// A commit hash: 7 to 40 hex digits with at least one digit and one letter (so that neither a
/// number nor an English word such as "defaced" counts).
fn is_commit_hash(token: &str) -> bool {
    (7..=40).contains(&token.len())
        && token.chars().all(|c| c.is_ascii_hexdigit())
        && token.chars().any(|c| c.is_ascii_digit())
        && token.chars().any(|c| c.is_ascii_alphabetic())
}

/// What in `line` speaks of how the work was organised, if anything.
fn mention(line: &str) -> Option<&'static str> {
    let lower = line.to_ascii_lowercase();
    let l = lower.as_str();
    // "stop 22", "stop-21" — but not "Ctrl-C stops", "stops at 99 %".
    for i in word_starts(l, "stop") {
        let rest = &l[i + 4..];
        if let Some(rest) = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('-')) {
            if starts_with_number(rest) {
                return Some("a numbered stop");
            }
        }
    }
    // "issue 14", "issues 12, 16", "issue #7".
    for i in word_starts(l, "issue") {
        let rest = &l[i + 5..];
        let rest = rest.strip_prefix('s').unwrap_or(rest);
        if let Some(rest) = rest.strip_prefix(' ') {
            if starts_with_number(rest) {
                return Some("a numbered issue");
            }
        }
    }
    // "review D1", "review: D2", "(review D1-D3)".
    for i in word_starts(l, "review") {
        let rest = l[i + 6..].trim_start_matches([':', ' ']);
        if let Some(rest) = rest.strip_prefix('d') {
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                return Some("a review round");
            }
        }
    }
    for i in word_starts(l, "helper") {
        let rest = &l[i + 6..];
        let rest = rest.strip_prefix('s').unwrap_or(rest);
        if !rest.starts_with(is_word) {
            return Some("\"helper\"");
        }
    }
    // A commit hash presented as history: "at be07f85", "commit abc1234", "(17b4060)".
    let tokens: Vec<(usize, &str)> = l
        .split(|c: char| !is_word(c))
        .scan(0, |pos, t| {
            let start = *pos;
            *pos += t.len() + 1;
            Some((start, t))
        })
        .filter(|(_, t)| !t.is_empty())
        .collect();
    for (n, &(start, token)) in tokens.iter().enumerate() {
        if !is_commit_hash(token) {
            continue;
        }
        let before = n.checked_sub(1).map(|p| tokens[p].1);
        let history_word = matches!(
            before,
            Some("commit" | "commits" | "at" | "since" | "before" | "after" | "from" | "of")
        );
        let bracketed = l[..start].trim_end().ends_with('(')
            && l[start + token.len()..].trim_start().starts_with(')');
        if history_word || bracketed {
            return Some("a commit hash as history");
        }
    }
    None
}

#[test]
fn no_text_speaks_of_how_the_work_was_organised() {
    let root = root();
    let mut found = Vec::new();
    for file in scanned_files() {
        // Binary files (the screenshot, keys) are not text to read.
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if let Some(what) = mention(line) {
                let rel = file.strip_prefix(&root).unwrap_or(&file);
                found.push(format!(
                    "{}:{}: {what}: {}",
                    rel.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "say what the code does or the product fact instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_matcher_catches_work_notes_and_nothing_else() {
    for caught in [
        "README: stop 22's tables",
        "the stop-21 claim",
        "Regression for issue 17: DSTU2 Binaries",
        "(issues 12, 16)",
        "see issue #7",
        "(review D1)",
        "tests share a lookup (review D1-D3)",
        "review: D8",
        "one proxy_login helper in the tests",
        "small helpers.",
        "Before: commit 74eb2b5, the first benchmark",
        "at be07f85 the figures were",
        "huge: 1.13 (17b4060) – 2.33",
    ] {
        assert!(mention(caught).is_some(), "not caught: {caught}");
    }
    for fine in [
        "Ctrl-C stops cleanly: the types already finished are saved",
        "it stops at 99 %; the line goes when the type is stored",
        "stop after 10,000 pages",
        "a known issue with some servers",
        "issued or received",
        "the reviewer's notes",
        "help text; helpful hints",
        "sha256 of the file: 9f2b92e0c4",
        "a seed of 1234567",
        "the server was defaced at 1234567",
        "Exit code 11 names each damaged file",
        "fhirdl verify --out ~/health --json",
    ] {
        assert_eq!(mention(fine), None, "caught by mistake: {fine}");
    }
}

#[test]
fn readme_fits_in_four_hundred_lines() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines (at most {README_MAX_LINES}): move detail to docs/"
    );
}

/// The targets of the Markdown links in `text`, outside fenced code blocks: inline
/// `[text](target)` and `![alt](target)`, and reference definitions `[label]: target`.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut targets = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            targets.push((n + 1, rest[..end].to_string()));
            rest = &rest[end..];
        }
        let trimmed = line.trim_start();
        if let Some(after) = trimmed.strip_prefix('[').and_then(|t| t.split_once("]: ")) {
            targets.push((n + 1, after.1.to_string()));
        }
    }
    targets
}

#[test]
fn relative_links_in_the_markdown_point_to_files_that_exist() {
    let root = root();
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let dir = file.parent().unwrap();
        for (line, target) in link_targets(&text) {
            let target = target.split_whitespace().next().unwrap_or("");
            if target.is_empty()
                || target.starts_with('#')
                || target.contains("://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let path = target.split('#').next().unwrap_or(target);
            if !dir.join(path).exists() {
                let rel = file.strip_prefix(&root).unwrap_or(&file);
                broken.push(format!("{}:{line}: {target}", rel.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to missing files:\n{}",
        broken.join("\n")
    );
}

#[test]
fn readme_lists_the_exit_codes_the_help_lists() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Exit codes\n")
        .nth(1)
        .expect("README.md has an \"## Exit codes\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let in_readme: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .filter(|c| c.chars().all(|ch| ch.is_ascii_digit()))
        .collect();
    let documented: Vec<&str> = fhirdl::manual::EXIT_CODES
        .entries
        .iter()
        .map(|(code, _)| *code)
        .collect();
    assert_eq!(in_readme, documented);
}

/// docs/vendors.md names every `--ehr` personality and cites every page its behaviours come
/// from (`Ehr::evidence`), so the table cannot fall behind the sandbox.
#[test]
fn the_vendor_table_cites_every_personality_and_its_evidence() {
    let doc = std::fs::read_to_string(root().join("docs/vendors.md")).unwrap();
    for ehr in fhirdl_sandbox::Ehr::ALL {
        assert!(
            doc.contains(&format!("| `{}` |", ehr.name())),
            "docs/vendors.md has no row for --ehr {}",
            ehr.name()
        );
        for (what, url) in ehr.evidence() {
            assert!(
                doc.contains(&format!("({url})")),
                "docs/vendors.md does not cite {url} ({}: {what})",
                ehr.name()
            );
        }
    }
}
