//! The committed completion scripts under `completions/` must match what the binary generates.
//! Regenerate them with `FHIRDL_UPDATE_COMPLETIONS=1 cargo test --test it completions`.

use std::path::Path;

const FILES: &[(&str, &str)] = &[
    ("bash", "fhirdl.bash"),
    ("zsh", "_fhirdl"),
    ("fish", "fhirdl.fish"),
    ("powershell", "_fhirdl.ps1"),
    ("elvish", "fhirdl.elv"),
];

#[test]
fn committed_completions_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("FHIRDL_UPDATE_COMPLETIONS").is_some();
    let mut stale = Vec::new();
    for (shell, file) in FILES {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fhirdl"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "completions {shell} failed");
        assert!(!out.stdout.is_empty());
        let path = dir.join(file);
        if update {
            std::fs::write(&path, &out.stdout).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(out.stdout.as_slice()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale completion scripts: {stale:?}\nregenerate: FHIRDL_UPDATE_COMPLETIONS=1 cargo test --test it completions"
    );
}
