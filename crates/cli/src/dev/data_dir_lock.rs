//! One `hookbridge dev` per data directory: two on the same store would
//! both deliver every event. The lock is an OS advisory lock on a file of
//! its own, so `hookbridge replay` still opens the database while dev runs,
//! and the OS drops it when the process dies, even by SIGKILL: a lock file
//! left behind never blocks a restart. The file names the holder (its pid,
//! then its address) for the error a second process prints.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The lock file inside the data directory.
pub const LOCK_FILE: &str = "hookbridge.lock";

#[derive(Debug, thiserror::Error)]
pub enum DataDirLockError {
    #[error(
        "the data directory {data_dir} is in use by another hookbridge dev ({holder}): stop it or pass another --data-dir"
    )]
    InUse { data_dir: PathBuf, holder: Holder },
    #[error("cannot lock the data directory with {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The process holding a data directory, as its lock file names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub address: Option<String>,
}

impl Holder {
    /// Reads what [`DataDirLock`] writes; a line it does not know is skipped.
    fn parse(text: &str) -> Self {
        let mut holder = Self::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", pid)) => holder.pid = pid.trim().parse().ok(),
                Some(("address", address)) => holder.address = Some(address.trim().to_owned()),
                _ => {}
            }
        }
        holder
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            None => f.write_str("pid unknown")?,
        }
        if let Some(address) = &self.address {
            write!(f, ", listening on http://{address}")?;
        }
        Ok(())
    }
}

/// The held lock; released when dropped or when the process ends.
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Locks `data_dir` (creating it if needed) for this process, or names
    /// the process that holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self, DataDirLockError> {
        let path = data_dir.join(LOCK_FILE);
        let io_error = |source| DataDirLockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io_error)?;
        // Not truncated on open: until the lock is ours, the holder's
        // details stay readable.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .map(|text| Holder::parse(&text))
                    .unwrap_or_default();
                return Err(DataDirLockError::InUse {
                    data_dir: data_dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io_error(source)),
        }
        let mut lock = Self { file, path };
        lock.write_holder(None)?;
        Ok(lock)
    }

    /// Adds the address the server listens on to what the lock file says.
    pub fn record_address(&mut self, address: SocketAddr) -> Result<(), DataDirLockError> {
        self.write_holder(Some(address))
    }

    fn write_holder(&mut self, address: Option<SocketAddr>) -> Result<(), DataDirLockError> {
        let mut text = format!("pid={}\n", std::process::id());
        if let Some(address) = address {
            text.push_str(&format!("address={address}\n"));
        }
        let written = self
            .file
            .set_len(0)
            .and_then(|()| self.file.rewind())
            .and_then(|()| self.file.write_all(text.as_bytes()));
        written.map_err(|source| DataDirLockError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::store::test_support::data_dir;

    #[test]
    fn a_second_lock_is_refused_and_names_the_holder() {
        let dir = data_dir("lock-second");
        let mut first = DataDirLock::acquire(&dir).unwrap();
        let address: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        first.record_address(address).unwrap();
        let refused = DataDirLock::acquire(&dir).unwrap_err();
        let DataDirLockError::InUse { holder, .. } = &refused else {
            panic!("{refused:?}");
        };
        assert_eq!(
            *holder,
            Holder {
                pid: Some(std::process::id()),
                address: Some(address.to_string()),
            }
        );
        let message = refused.to_string();
        assert!(
            message.contains(&format!(
                "pid {}, listening on http://127.0.0.1:4321",
                std::process::id()
            )),
            "{message}"
        );
        drop(first);
        let again = DataDirLock::acquire(&dir).unwrap();
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lock_file_left_by_a_dead_process_does_not_block() {
        let dir = data_dir("lock-stale");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(LOCK_FILE), "pid=999999\naddress=127.0.0.1:1\n").unwrap();
        let _lock = DataDirLock::acquire(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap(),
            format!("pid={}\n", std::process::id()),
            "the new holder replaces the old one's details"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_holder_without_details_is_still_named() {
        assert_eq!(Holder::parse("").to_string(), "pid unknown");
        assert_eq!(Holder::parse("pid=12\nnoise\n").to_string(), "pid 12");
    }
}
