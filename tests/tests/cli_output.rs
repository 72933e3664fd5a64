//! The commands' stdout as a shell pipeline sees it.

use std::process::{Command, Stdio};

use hookbridge_tests::dev_process::hookbridge_binary;

/// `hookbridge policy | head -n 1`: the reader is gone before the command
/// writes (the pipe's read end is closed before it starts), which must end
/// it quietly and successfully, not with a panic about a broken pipe.
#[test]
fn a_reader_that_went_away_ends_the_command_quietly() {
    for args in [&["policy"][..], &["policy", "--json"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let output = Command::new(hookbridge_binary())
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("hookbridge runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{args:?}: {:?}: {stderr}",
            output.status
        );
        assert_eq!(stderr, "", "{args:?}");
    }
}
