//! A full disk and an unwritable folder. After a good export the server changes, and the next
//! sync runs where it cannot write: under `RLIMIT_FSIZE` (every write past the limit fails with
//! EFBIG, as on a full disk; this works for root too) and, when not root, in a folder made
//! read-only (0500). Each must fail with a clear message and a documented exit code, leave every
//! file of the previous export byte-equal, and not advance the sync state; a later run with room
//! to write completes the export.

use crate::common::{code, snapshot, text, TestContext};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// The export's files, but the lock and the record of the last run (which names the types that
/// failed): they are not part of the export; `.fhirdl/state.json` is, and must not advance.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = snapshot(dir);
    files.retain(|rel, _| rel != ".fhirdl/lock" && rel != ".fhirdl/last_run.json");
    files
}

/// A good export, then one amended Observation and one new Condition on the server.
fn exported_then_changed() -> (TestContext, std::path::PathBuf, BTreeMap<String, Vec<u8>>) {
    let ctx = TestContext::with_defaults();
    assert_eq!(code(&ctx.login("a", &[])), 0);
    let out = ctx.root().join("export");
    let first = ctx.fhirdl(&["sync", "--out", out.to_str().unwrap()]);
    assert_eq!(code(&first), 0, "{}", text(&first));
    let before = files(&out);
    let obs = String::from_utf8(before["Observation.ndjson"].clone()).unwrap();
    let mut o: serde_json::Value = serde_json::from_str(obs.lines().next().unwrap()).unwrap();
    o["status"] = serde_json::json!("amended");
    ctx.sandbox.set_resource(o).unwrap();
    let cond = String::from_utf8(before["Condition.ndjson"].clone()).unwrap();
    let mut c: serde_json::Value = serde_json::from_str(cond.lines().next().unwrap()).unwrap();
    c["id"] = serde_json::json!("zz-disk-full");
    ctx.sandbox.set_resource(c).unwrap();
    (ctx, out, before)
}

fn assert_untouched_and_recoverable(
    ctx: &TestContext,
    out_dir: &Path,
    before: &BTreeMap<String, Vec<u8>>,
    failed: &std::process::Output,
) {
    let now = files(out_dir);
    let changed: Vec<&String> = before
        .keys()
        .filter(|k| now.get(*k) != before.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "the previous export must stay byte-equal: {changed:?}\n{}",
        text(failed)
    );
    let extra: Vec<&String> = now.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(
        extra.iter().all(|k| k
            .rsplit('/')
            .next()
            .unwrap()
            .starts_with(fhirdl::fsutil::TEMP_PREFIX)),
        "only temporary files may be left: {extra:?}"
    );
    // With room to write again, the next run completes (and removes the temporary files).
    let out = ctx.fhirdl(&["sync", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let done = files(out_dir);
    assert!(String::from_utf8_lossy(&done["Condition.ndjson"]).contains("zz-disk-full"));
    assert!(String::from_utf8_lossy(&done["Observation.ndjson"]).contains("\"amended\""));
    assert!(done
        .keys()
        .all(|k| !k.contains(fhirdl::fsutil::TEMP_PREFIX)));
    ctx.assert_no_leaks();
}

#[test]
fn a_full_disk_fails_clearly_and_keeps_the_previous_export() {
    let (ctx, out_dir, before) = exported_then_changed();
    let mut c = ctx.command();
    c.args(["sync", "--out", out_dir.to_str().unwrap()]);
    // Files may not grow past 100 bytes: every file fhirdl would write is larger, as if the disk
    // were full. SIGXFSZ is ignored so that writes fail with EFBIG instead of killing fhirdl.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 100,
                rlim_max: 100,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = ctx.run(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 10, "{}", text(&out));
    assert!(
        err.contains("File too large") && err.contains("free some space"),
        "the reason and what to do are said: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_untouched_and_recoverable(&ctx, &out_dir, &before, &out);
}

#[test]
fn a_read_only_folder_fails_clearly_and_keeps_the_previous_export() {
    if unsafe { libc::geteuid() } == 0 {
        // Root writes into a 0500 folder regardless; the RLIMIT_FSIZE test covers root.
        eprintln!("skipped: running as root, which ignores folder permissions");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let (ctx, out_dir, before) = exported_then_changed();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let out = ctx.fhirdl(&["sync", "--out", out_dir.to_str().unwrap()]);
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 10, "{}", text(&out));
    assert!(
        err.contains("Permission denied")
            && err.contains("Condition, Observation")
            && err.contains("make the folder writable"),
        "{err}"
    );
    assert_untouched_and_recoverable(&ctx, &out_dir, &before, &out);
}
