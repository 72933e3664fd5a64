//! Captures everything a test process logs, for `scripts/check-logs`.
//!
//! hookbridge promises that no log line ever carries a secret or a full
//! signature. Unit tests cannot see what a subscriber would print, so the
//! shared fixtures of the function and integration tests call [`capture`]:
//! when `HOOKBRIDGE_TEST_LOG_DIR` is set (`scripts/test` sets it), the first
//! call in a process installs a global subscriber that writes every event of
//! every crate, down to TRACE, with its spans' fields, as JSON lines to
//! `$HOOKBRIDGE_TEST_LOG_DIR/<test binary>-<pid>.jsonl`. After the test run,
//! `scripts/check-logs` greps those files for every secret the tests use.
//! Without the variable it does nothing, so `cargo test` stays quiet.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// The directory the log files go to; unset means no capture.
pub const LOG_DIR_VARIABLE: &str = "HOOKBRIDGE_TEST_LOG_DIR";

/// Installs the capturing subscriber once per process; later calls, and all
/// calls without [`LOG_DIR_VARIABLE`], do nothing.
///
/// # Panics
/// When the variable is set but the log file cannot be created: a check
/// that silently sees nothing would prove nothing. A process that already
/// installed its own global subscriber keeps it (and says so on stderr).
pub fn capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let Some(dir) = std::env::var_os(LOG_DIR_VARIABLE).filter(|dir| !dir.is_empty()) else {
            return;
        };
        let path = log_file(Path::new(&dir));
        let file = open(&path);
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_current_span(true)
            .with_span_list(true)
            .with_thread_names(true)
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .finish();
        if let Err(error) = tracing::subscriber::set_global_default(subscriber) {
            eprintln!(
                "hookbridge-testlog: not capturing into {}: {error}",
                path.display()
            );
        }
    });
}

/// `<dir>/<test binary>-<pid>.jsonl`: nextest runs each test in its own
/// process, so names never collide.
fn log_file(dir: &Path) -> PathBuf {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "test".to_owned());
    dir.join(format!("{binary}-{}.jsonl", std::process::id()))
}

fn open(path: &Path) -> File {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_files_are_named_after_the_binary_and_the_process() {
        let path = log_file(Path::new("/logs"));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("hookbridge_testlog-"), "{name}");
        assert!(
            name.ends_with(&format!("-{}.jsonl", std::process::id())),
            "{name}"
        );
    }
}
