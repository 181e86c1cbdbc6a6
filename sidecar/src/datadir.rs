//! The data dir and the database file, checked before the sidecar says `ready` (issue 13).
//!
//! The database holds voucher and door codes, guest names and MACs, so it is as private as
//! the key files: the data dir is 0700 and every database file 0600, created that way and
//! tightened at every start when something (a restored backup, an older version, a package
//! script) left them looser. Database files must be regular files: a symlink in their place
//! is refused rather than followed (and its target chmodded).
//!
//! A database that cannot be written (read-only file or directory, full disk) or that fails
//! `PRAGMA quick_check` stops the start with a message naming the file and what to do,
//! instead of a process that logs `ready` and then fails every guest.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::store::{rows, Store, StoreError};

/// Files SQLite keeps beside the database (WAL mode), by suffix.
pub const DB_SIDE_FILES: &[&str] = &["-wal", "-shm", "-journal"];

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("data dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is a symbolic link; refusing to follow it for a private file (replace it with the file itself)")]
    Symlink { path: PathBuf },
    #[error("{path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("data dir {path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("database {path} cannot be written ({detail}); check that the data dir and the file belong to the user the sidecar runs as and that the disk is not full or mounted read-only")]
    ReadOnly { path: PathBuf, detail: String },
    #[error("database {path} failed its integrity check ({detail}); stop the sidecar, restore a backup or move the file away to start afresh")]
    Corrupt { path: PathBuf, detail: String },
    #[error(transparent)]
    Store(StoreError),
}

/// [`Store::open`], with the failures a host can act on named as such.
pub fn open(db: &Path) -> Result<Store, DataDirError> {
    Store::open(db).map_err(|e| {
        let code = match &e {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => Some(f.code),
            _ => None,
        };
        use rusqlite::ErrorCode as C;
        match code {
            Some(C::DatabaseCorrupt | C::NotADatabase) => DataDirError::Corrupt {
                path: db.to_owned(),
                detail: e.to_string(),
            },
            Some(
                C::ReadOnly
                | C::CannotOpen
                | C::PermissionDenied
                | C::DiskFull
                | C::SystemIoFailure
                | C::DatabaseBusy
                | C::DatabaseLocked,
            ) => DataDirError::ReadOnly {
                path: db.to_owned(),
                detail: e.to_string(),
            },
            _ => DataDirError::Store(e),
        }
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Create the data dir 0700 (parents as needed) or tighten an existing one to 0700.
pub fn ensure_private_dir(dir: &Path) -> Result<(), DataDirError> {
    match std::fs::metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(DataDirError::NotADirectory {
                    path: dir.to_owned(),
                });
            }
            if meta.mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(io(dir))?;
                tracing::info!(data_dir = %dir.display(), "data dir was readable by others: now 0700");
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir)),
        Err(e) => Err(io(dir)(e)),
    }
}

/// Make `path` a private regular file if it exists: refuse a symlink, tighten to 0600.
/// `Ok(false)` when it does not exist.
pub fn tighten_file(path: &Path) -> Result<bool, DataDirError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(path)(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(DataDirError::Symlink {
            path: path.to_owned(),
        });
    }
    if !meta.is_file() {
        return Err(DataDirError::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    Ok(true)
}

/// Before the database is opened: the dir is private, the database file exists as a private
/// regular file (created empty 0600 if new: SQLite starts a database in an empty file, and its
/// WAL and shm files take the database file's mode), and any side files are private too.
pub fn prepare(dir: &Path, db_file: &str) -> Result<PathBuf, DataDirError> {
    ensure_private_dir(dir)?;
    let db = dir.join(db_file);
    if !tighten_file(&db)? {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&db)
        {
            Ok(_) => {}
            // Another process made it in between: check what it made.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                tighten_file(&db)?;
            }
            Err(e) => return Err(io(&db)(e)),
        }
    }
    for suffix in DB_SIDE_FILES {
        tighten_file(&side_file(&db, suffix))?;
    }
    Ok(db)
}

fn side_file(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// After the database is open: it passes `PRAGMA quick_check` and takes a write. Then the
/// side files SQLite created are checked like the database.
pub async fn verify(store: &Store, db: &Path) -> Result<(), DataDirError> {
    let checked = store
        .read(|c| {
            let mut stmt = c.prepare("PRAGMA quick_check(5)")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await;
    match checked {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => {}
        Ok(lines) => {
            return Err(DataDirError::Corrupt {
                path: db.to_owned(),
                detail: lines.join("; "),
            })
        }
        Err(e) => {
            return Err(DataDirError::Corrupt {
                path: db.to_owned(),
                detail: e.to_string(),
            })
        }
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    store
        .write(move |tx| {
            rows::meta_set(tx, "last_start_write_check", &stamp)?;
            Ok::<_, StoreError>(())
        })
        .await
        .map_err(|e| DataDirError::ReadOnly {
            path: db.to_owned(),
            detail: e.to_string(),
        })?;
    for suffix in DB_SIDE_FILES {
        tighten_file(&side_file(db, suffix))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn a_new_dir_and_database_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let db = prepare(&dir, "x.sqlite3").unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
    }

    #[test]
    fn loose_modes_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = dir.join("x.sqlite3");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wal = dir.join("x.sqlite3-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o664)).unwrap();
        prepare(&dir, "x.sqlite3").unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o600);
    }

    #[test]
    fn a_symlinked_database_is_refused_and_its_target_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        let target = tmp.path().join("elsewhere.sqlite3");
        std::fs::write(&target, b"").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&target, dir.join("x.sqlite3")).unwrap();
        let err = prepare(&dir, "x.sqlite3").unwrap_err();
        assert!(matches!(err, DataDirError::Symlink { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"));
        assert_eq!(mode(&target), 0o644, "the target was not chmodded");
    }

    #[test]
    fn a_file_in_place_of_the_dir_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::write(&dir, b"").unwrap();
        let err = prepare(&dir, "x.sqlite3").unwrap_err();
        assert!(matches!(err, DataDirError::NotADirectory { .. }), "{err}");
    }
}
