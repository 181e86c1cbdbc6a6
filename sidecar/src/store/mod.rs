//! SQLite persistence.
//!
//! One file in the data dir, WAL mode, foreign keys on, `busy_timeout` set. SQLite is
//! synchronous, so every call runs on tokio's blocking pool (`spawn_blocking`), never on the
//! async worker threads. Writes go through one connection behind a mutex (SQLite allows one
//! writer anyway; serialising here avoids `SQLITE_BUSY` storms), reads use a small pool of
//! read-only connections that WAL lets run beside the writer; a read waits (asynchronously)
//! for a free reader rather than going through the writer.
//!
//! Checkpoints are kept off the request path: the writer has `wal_autocheckpoint=0`, and
//! [`Store::run_checkpointer`] runs `PRAGMA wal_checkpoint(PASSIVE)` every
//! [`CHECKPOINT_EVERY`] on a connection of its own (with a `TRUNCATE` checkpoint as a safety
//! valve when the WAL has grown past [`WAL_VALVE_FRAMES`]). Durability is unchanged:
//! `synchronous=NORMAL` in WAL mode, as before.
//!
//! Migrations are an append-only list keyed on `PRAGMA user_version`; a database written by
//! a newer binary is refused rather than guessed at.

pub mod bookings;
pub mod grants;
mod migrations;
pub mod rows;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{watch, Semaphore};

pub use migrations::SCHEMA_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database was written by a newer version (schema {found}, this binary knows {supported}); refusing to start")]
    TooNew { found: i64, supported: i64 },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// True for a UNIQUE/PRIMARY KEY violation.
    pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
        matches!(err, rusqlite::Error::SqliteFailure(e, _)
            if e.code == rusqlite::ErrorCode::ConstraintViolation
            && (e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY))
    }
}

const READERS: usize = 4;

/// How often the background checkpoint runs.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// WAL frames (pages) left after a passive checkpoint beyond which a `TRUNCATE` checkpoint
/// runs (it waits for readers and briefly holds writers off). 16 384 frames of 4 KiB ≈ 64 MiB.
pub const WAL_VALVE_FRAMES: i64 = 16_384;

/// Cheap to clone handle to the database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per idle reader: acquired (asynchronously) before taking one.
    reader_permits: Arc<Semaphore>,
    /// The background checkpoint's own read-write connection.
    checkpointer: Mutex<Connection>,
}

/// The outcome of one `PRAGMA wal_checkpoint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The checkpoint could not complete (a reader or writer was in the way).
    pub busy: bool,
    /// Frames in the WAL.
    pub wal_frames: i64,
    /// Frames copied back into the database.
    pub checkpointed: i64,
}

fn checkpoint_on(conn: &Connection, mode: &str) -> rusqlite::Result<Checkpoint> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(Checkpoint {
            busy: r.get::<_, i64>(0)? != 0,
            wal_frames: r.get(1)?,
            checkpointed: r.get(2)?,
        })
    })
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -1024)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl Store {
    /// Open (creating if needed) and migrate. Blocking: call before serving or from a blocking task.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut writer = Connection::open(path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        configure(&writer)?;
        // Commits never checkpoint; the background checkpointer does (see the module docs).
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        // When the WAL is reset after a complete checkpoint, shrink a file that grew.
        writer.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        migrations::migrate(&mut writer)?;
        let checkpointer = Connection::open(path)?;
        checkpointer.busy_timeout(std::time::Duration::from_secs(5))?;
        checkpointer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&r)?;
            readers.push(r);
        }
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(readers),
                reader_permits: Arc::new(Semaphore::new(READERS)),
                checkpointer: Mutex::new(checkpointer),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` in a write transaction on the blocking pool; commits when `f` returns Ok.
    /// The closure's error type is the caller's, so domain rules checked inside the
    /// transaction return domain errors directly; any error rolls the transaction back.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            let out = f(&tx)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(out)
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// Run `f` on a read connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        // Wait for an idle reader here (asynchronously) rather than queueing behind writes
        // on the writer connection. The semaphore is never closed.
        let permit = inner
            .reader_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = inner
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop();
            match conn {
                Some(conn) => {
                    let out = f(&conn);
                    inner
                        .readers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(conn);
                    out
                }
                // Only after a panic inside `f` lost a reader: use the writer.
                None => {
                    let conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
                    f(&conn)
                }
            }
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Run one `PRAGMA wal_checkpoint(mode)` (`PASSIVE`, `FULL`, `RESTART`, `TRUNCATE`) on the
    /// checkpointer connection, on the blocking pool.
    pub async fn checkpoint(&self, mode: &'static str) -> Result<Checkpoint, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.checkpointer.lock().unwrap_or_else(|p| p.into_inner());
            Ok(checkpoint_on(&conn, mode)?)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Background task: a passive checkpoint every [`CHECKPOINT_EVERY`] (it never waits for
    /// or blocks readers and writers), a `TRUNCATE` one when the WAL is still larger than
    /// [`WAL_VALVE_FRAMES`] afterwards (readers kept it from being reset). Returns at `stop`.
    pub async fn run_checkpointer(self, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.wait_for(|v| *v) => return,
                _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            }
            match self.checkpoint("PASSIVE").await {
                Ok(c) if c.wal_frames > WAL_VALVE_FRAMES => {
                    tracing::info!(
                        wal_frames = c.wal_frames,
                        "WAL is large: truncating checkpoint"
                    );
                    if let Err(e) = self.checkpoint("TRUNCATE").await {
                        tracing::warn!(error = %e, "truncating checkpoint failed");
                    }
                }
                Ok(c) => tracing::trace!(?c, "checkpoint"),
                Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
            }
        }
    }

    /// `PRAGMA integrity_check` result (`"ok"` when healthy).
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        self.read(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))?))
            .await
    }
}

/// Milliseconds since the Unix epoch, the storage form of every timestamp.
pub fn to_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_ms(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits leave the WAL alone (no auto-checkpoint); the checkpointer copies it back, and
    /// more concurrent reads than readers all complete (they wait, never use the writer).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_run_off_the_writer_and_reads_wait_for_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        for i in 0..50 {
            store
                .write(move |tx| {
                    rows::meta_set(tx, &format!("k{i}"), &"x".repeat(2000))?;
                    Ok::<_, StoreError>(())
                })
                .await
                .unwrap();
        }
        let c = store.checkpoint("PASSIVE").await.unwrap();
        assert!(
            c.wal_frames >= 50,
            "{c:?}: commits must not have checkpointed"
        );
        assert_eq!(c.checkpointed, c.wal_frames, "{c:?}");
        let reads = (0..4 * READERS).map(|i| {
            let s = store.clone();
            tokio::spawn(async move {
                s.read(move |c| {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    rows::meta_get(c, &format!("k{i}"))
                })
                .await
            })
        });
        for r in reads {
            assert!(r.await.unwrap().unwrap().is_some());
        }
        let c = store.checkpoint("TRUNCATE").await.unwrap();
        assert_eq!((c.busy, c.wal_frames), (false, 0), "{c:?}");
    }
}
