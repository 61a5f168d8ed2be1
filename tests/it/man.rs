//! The committed man pages under `man/` must match what `fhirdl man` renders from the clap
//! definitions. Regenerate them with `FHIRDL_UPDATE_MAN=1 cargo test --test it man::`.

use std::collections::BTreeSet;
use std::path::Path;

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".1"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn committed_man_pages_are_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let fresh = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fhirdl"))
        .arg("man")
        .arg("--out")
        .arg(fresh.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = names(fresh.path());
    assert!(rendered.contains("fhirdl.1") && rendered.contains("fhirdl-sync.1"));

    if std::env::var_os("FHIRDL_UPDATE_MAN").is_some() {
        std::fs::create_dir_all(&committed).unwrap();
        for gone in names(&committed).difference(&rendered) {
            std::fs::remove_file(committed.join(gone)).unwrap();
        }
        for name in &rendered {
            std::fs::copy(fresh.path().join(name), committed.join(name)).unwrap();
        }
        return;
    }
    let mut stale: Vec<String> = names(&committed)
        .symmetric_difference(&rendered)
        .cloned()
        .collect();
    for name in names(&committed).intersection(&rendered) {
        if std::fs::read(committed.join(name)).ok() != std::fs::read(fresh.path().join(name)).ok() {
            stale.push(name.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages in man/: {stale:?}\nregenerate: FHIRDL_UPDATE_MAN=1 cargo test --test it man::"
    );
}

/// The top-level page ends with the same reference sections as `fhirdl --help`.
#[test]
fn the_top_page_and_the_help_share_their_reference_sections() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_fhirdl"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let page = fhirdl::commands::man::pages().unwrap();
    let (name, top) = &page[0];
    assert_eq!(name, "fhirdl.1");
    let top = String::from_utf8_lossy(top);
    for section in fhirdl::manual::SECTIONS {
        assert!(
            help.contains(&format!("{}:", section.title)),
            "{}",
            section.title
        );
        assert!(
            top.contains(&format!(".SH \"{}\"", section.man_title))
                || top.contains(&format!(".SH {}", section.man_title)),
            "{}",
            section.man_title
        );
        for (term, _) in section.entries {
            assert!(help.contains(term), "--help lacks {term}");
        }
    }
    for var in ["FHIRDL_CA_FILE", "FHIRDL_CLIENT_SECRET", "NO_COLOR"] {
        assert!(top.contains(var), "fhirdl.1 lacks {var}");
    }
}
