//! The dev server's [`PayloadStore`]: payloads too large to travel inline,
//! as files under the data directory at their key (`payloads/<source>/<sha256>`),
//! so the events name them by the same reference as in AWS. A key is the
//! digest of its bytes, so each payload is written once; a file appears
//! whole or not at all (written aside, then renamed).

use std::io::{ErrorKind, Read};
use std::path::{Component, Path, PathBuf};

use hookbridge_core::ports::{PayloadStore, PayloadStoreError};

/// The bucket name the dev server's references carry.
pub const LOCAL_BUCKET: &str = "local";

#[derive(Debug, Clone)]
pub struct PayloadFiles {
    data_dir: PathBuf,
}

impl PayloadFiles {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
        }
    }

    /// The file of `key`; only plain relative keys under `payloads/` have one.
    fn path(&self, key: &str) -> Result<PathBuf, PayloadStoreError> {
        let relative = Path::new(key);
        let plain = relative.starts_with("payloads")
            && relative
                .components()
                .all(|component| matches!(component, Component::Normal(_)));
        if plain {
            Ok(self.data_dir.join(relative))
        } else {
            Err(PayloadStoreError::NotFound(key.to_owned()))
        }
    }
}

impl PayloadFiles {
    /// Removes the payload of `key` unless it was stored or stored again
    /// (see `put`) since `cutoff`: a payload an event arriving now refers
    /// to is kept. Whether it removed one.
    pub async fn remove_if_older(
        &self,
        key: &str,
        cutoff: std::time::SystemTime,
    ) -> Result<bool, PayloadStoreError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || {
            let modified = match std::fs::metadata(&path).and_then(|metadata| metadata.modified()) {
                Ok(modified) => modified,
                Err(error) if error.kind() == ErrorKind::NotFound => return Ok(false),
                Err(error) => return Err(unavailable(error)),
            };
            if modified >= cutoff {
                return Ok(false);
            }
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(true),
                Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
                Err(error) => Err(unavailable(error)),
            }
        })
        .await
        .map_err(|error| PayloadStoreError::Unavailable(error.to_string()))?
    }
}

fn unavailable(error: std::io::Error) -> PayloadStoreError {
    PayloadStoreError::Unavailable(error.to_string())
}

impl PayloadStore for PayloadFiles {
    fn bucket(&self) -> &str {
        LOCAL_BUCKET
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PayloadStoreError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || {
            let stored_whole =
                std::fs::metadata(&path).is_ok_and(|metadata| metadata.len() == bytes.len() as u64);
            if stored_whole {
                // Stored again: the retention sweep counts its age from now.
                return std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|file| file.set_modified(std::time::SystemTime::now()))
                    .map_err(unavailable);
            }
            let directory = path.parent().expect("a key has a directory");
            std::fs::create_dir_all(directory).map_err(unavailable)?;
            let aside = path.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
            std::fs::write(&aside, &bytes).map_err(unavailable)?;
            std::fs::rename(&aside, &path).map_err(unavailable)
        })
        .await
        .map_err(|error| PayloadStoreError::Unavailable(error.to_string()))?
    }

    async fn get(&self, key: &str, max_size: u64) -> Result<Vec<u8>, PayloadStoreError> {
        let path = self.path(key)?;
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path).map_err(|error| match error.kind() {
                ErrorKind::NotFound => PayloadStoreError::NotFound(key.clone()),
                _ => unavailable(error),
            })?;
            let mut bytes = Vec::new();
            // One byte past the limit tells a larger file from an exact one.
            file.take(max_size + 1)
                .read_to_end(&mut bytes)
                .map_err(unavailable)?;
            if bytes.len() as u64 > max_size {
                return Err(PayloadStoreError::TooLarge {
                    key,
                    limit: max_size,
                });
            }
            Ok(bytes)
        })
        .await
        .map_err(|error| PayloadStoreError::Unavailable(error.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookbridge_core::envelope::PayloadRef;

    fn scratch() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hookbridge-payloads-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn a_payload_is_stored_once_at_its_key_and_read_back_bounded() {
        let dir = scratch();
        let files = PayloadFiles::new(&dir);
        let reference = PayloadRef::of(LOCAL_BUCKET, "github", b"{\"a\":1}");
        files
            .put(&reference.key, b"{\"a\":1}".to_vec())
            .await
            .unwrap();
        files
            .put(&reference.key, b"{\"a\":1}".to_vec())
            .await
            .unwrap();
        let directory = dir.join("payloads/github");
        assert_eq!(std::fs::read_dir(&directory).unwrap().count(), 1);
        assert_eq!(files.get(&reference.key, 7).await.unwrap(), b"{\"a\":1}");
        assert!(matches!(
            files.get(&reference.key, 6).await,
            Err(PayloadStoreError::TooLarge { limit: 6, .. })
        ));
        assert!(matches!(
            files.get("payloads/github/absent", 7).await,
            Err(PayloadStoreError::NotFound(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn keys_outside_payloads_name_no_file() {
        let dir = scratch();
        let files = PayloadFiles::new(&dir);
        for key in [
            "../escape",
            "payloads/../../etc/passwd",
            "/etc/passwd",
            "other/x",
        ] {
            assert!(
                matches!(
                    files.get(key, 10).await,
                    Err(PayloadStoreError::NotFound(_))
                ),
                "{key}"
            );
            assert!(files.put(key, vec![1]).await.is_err(), "{key}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
