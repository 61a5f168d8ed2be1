//! fhirdl's integration tests, built as one binary (`cargo test --test it`): each module runs
//! the real `fhirdl` binary or the embedded sandbox through the one harness in `common`
//! ([`common::TestContext`]). `cargo test --all-targets` runs them with the unit tests.
//!
//! Nothing here sleeps to wait or asserts how long something took: a test waits on a file, a
//! channel or a sandbox hold ([`fhirdl_sandbox::Hold`]), always with a deadline.

mod common;

mod bundle_merge;
mod client_key;
mod completions;
mod directory;
mod disk;
mod doctor;
mod ehr_matrix;
mod ehr_matrix_others;
mod everything;
mod faults;
mod fidelity;
mod first_hour;
mod history;
mod hostile;
mod house;
mod keep_alive;
mod keyring;
mod kills;
mod known_servers;
mod login;
mod man;
mod notes;
mod outstanding;
mod powerloss;
mod progress;
mod properties;
mod registration;
mod retry;
mod sandbox_ehr;
mod sandbox_quirks;
mod sandbox_server;
mod secrets;
mod session;
mod signin;
mod sync;
mod sync_nextgen;
mod tls;
mod verify;
mod versions;
mod view_bundle;
mod view_merge;
