//! What the commands print on stdout.

use std::fmt::Display;
use std::io::{self, Write};

/// Writes `text` and a newline to stdout.
pub fn line(text: impl Display) {
    write(&format!("{text}\n"));
}

/// Writes `text` to stdout as it is. A reader that stopped reading
/// (`hookbridge policy | head`) ends the process quietly and successfully,
/// as SIGPIPE ends a Unix tool: what it wanted was written. Any other failure
/// to write is reported, and the process fails.
pub fn write(text: &str) {
    let mut stdout = io::stdout().lock();
    if let Err(error) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if error.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("hookbridge: cannot write the output: {error}");
        std::process::exit(1);
    }
}
