//! A full disk and an unwritable folder. After a good export the server changes, and the next
//! sync runs where it cannot write: under `RLIMIT_FSIZE` (every write past the limit fails with
//! EFBIG, as on a full disk; this works for root too) and in a folder made read-only (0500); root
//! writes there regardless, so as root that run is made as the user `nobody` in a folder tree
//! handed to it. Each must fail with a clear message and a documented exit code, leave every
//! file of the previous export byte-equal, and not advance the sync state; a later run with room
//! to write completes the export.

use crate::common::{code, skipped, snapshot, text, TestContext};
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
    full_disk: bool,
) {
    let now = files(out_dir);
    // The state names the types that failed (tried again by the next run); nothing else in it
    // moves.
    let state = ".fhirdl/state.json".to_string();
    let without_outstanding = |bytes: Option<&Vec<u8>>| {
        let mut v: serde_json::Value = serde_json::from_slice(bytes.unwrap()).unwrap();
        let outstanding = v.as_object_mut().unwrap().remove("outstanding");
        (v, outstanding)
    };
    let (state_now, outstanding) = without_outstanding(now.get(&state));
    assert_eq!(state_now, without_outstanding(before.get(&state)).0);
    let mut failed_types: Vec<&str> = outstanding
        .as_ref()
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter(|o| o["kind"] == "type")
        .filter_map(|o| o["resource_type"].as_str())
        .collect();
    failed_types.sort_unstable();
    // A disk too full for any file cannot take the state either; the kept marks still bring
    // the types back in the next run.
    if outstanding.is_some() || !full_disk {
        assert_eq!(
            failed_types,
            ["Condition", "Observation"],
            "{outstanding:?}"
        );
    }
    let changed: Vec<&String> = before
        .keys()
        .filter(|k| **k != state && now.get(*k) != before.get(*k))
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
            .starts_with(fhirdl::atomic::TEMP_PREFIX)),
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
        .all(|k| !k.contains(fhirdl::atomic::TEMP_PREFIX)));
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
    assert_untouched_and_recoverable(&ctx, &out_dir, &before, &out, true);
}

#[test]
fn a_read_only_folder_fails_clearly_and_keeps_the_previous_export() {
    use std::os::unix::fs::PermissionsExt;
    let (ctx, out_dir, before) = exported_then_changed();
    let mut c = ctx.command();
    c.args(["sync", "--out", out_dir.to_str().unwrap()]);
    if unsafe { libc::geteuid() } == 0 {
        // Root writes into a 0500 folder regardless: run as `nobody`, who owns the tree.
        let Some(nobody) = nobody() else {
            skipped("disk::a_read_only_folder_…: running as root, and there is no user `nobody` to run fhirdl as");
            return;
        };
        chown_tree(ctx.root(), nobody);
        c = as_user(c, nobody, &ctx.root().join("bin"));
    }
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let out = ctx.run(c);
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The binary's link or copy, if any: not something to scan for leaks.
    let _ = std::fs::remove_dir_all(ctx.root().join("bin"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 10, "{}", text(&out));
    assert!(
        err.contains("Permission denied")
            && err.contains("Condition, Observation")
            && err.contains("make the folder writable"),
        "{err}"
    );
    assert_untouched_and_recoverable(&ctx, &out_dir, &before, &out, false);
}

/// The uid and gid of the user `nobody`.
fn nobody() -> Option<(u32, u32)> {
    let pw = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
    // SAFETY: checked for null; the fields are read at once.
    (!pw.is_null()).then(|| unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// `c` run as another user, from a link to (or copy of) the binary in `bin_dir`: the user may
/// not be allowed into the folder the binary was built in.
fn as_user(
    c: std::process::Command,
    (uid, gid): (u32, u32),
    bin_dir: &Path,
) -> std::process::Command {
    std::fs::create_dir(bin_dir).unwrap();
    let program = bin_dir.join("fhirdl");
    if std::fs::hard_link(c.get_program(), &program).is_err() {
        std::fs::copy(c.get_program(), &program).unwrap();
    }
    let mut user = std::process::Command::new(program);
    user.args(c.get_args()).stdin(std::process::Stdio::null());
    for (name, value) in c.get_envs() {
        match value {
            Some(value) => user.env(name, value),
            None => user.env_remove(name),
        };
    }
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        user.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    user
}

/// Hands every folder and file under `root` (and `root`) to `owner`.
fn chown_tree(root: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::chown(root, Some(uid), Some(gid)).unwrap();
    for entry in std::fs::read_dir(root).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            chown_tree(&path, (uid, gid));
        } else {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        }
    }
}
