//! SQLite persistence.
//!
//! One file in the data dir, WAL mode, foreign keys on, `busy_timeout` set. SQLite is
//! synchronous, so no query runs on the async worker threads. Writes are queued to one
//! writer thread that owns the write connection and commits whatever is queued together
//! (group commit, see [`writer`]); a caller awaits its answer, which comes only after the
//! commit. Reads run on tokio's blocking pool on a small pool of read-only connections that
//! WAL lets run beside the writer; a read waits (asynchronously) for a free reader rather
//! than going through the writer.
//!
//! Checkpoints are kept off the request path: the writer has `wal_autocheckpoint=0`, and
//! [`Store::run_checkpointer`] runs a [`Store::checkpoint_round`] on a connection of its own
//! every [`CHECKPOINT_EVERY`] (sooner under heavy writes, see [`next_checkpoint_pause`]):
//! `PASSIVE` checkpoints that block nobody, then, only when steady writes kept the WAL from
//! restarting, a short catch-up with the writer mutex held (it copies only what the others
//! missed; 1 ms typically, 10–25 ms at worst on the benchmark VM's disk). Durability is
//! unchanged: `synchronous=NORMAL` in WAL mode.
//!
//! Migrations are an append-only list keyed on `PRAGMA user_version`; a database written by
//! a newer binary is refused rather than guessed at.

pub mod bookings;
pub mod grants;
pub mod guest_page;
pub mod host_tests;
mod migrations;
pub mod outbox;
pub mod rows;
pub mod wifi_keys;
mod writer;

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

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

/// The longest pause between background checkpoint rounds (a quiet database).
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// WAL frames (pages) beyond which a checkpoint round catches up with the writer held off
/// (see [`Store::checkpoint_round`]): 32 768 frames of 4 KiB = 128 MiB. It is also the WAL
/// size the pause between rounds aims for ([`next_checkpoint_pause`]). Holding is short but
/// not free: its two syncs took 1 ms typically and 10–25 ms at worst on the benchmark VM's
/// disk, so it is done no more often than the WAL's size needs (every ~6 s at a steady
/// 1,000 issues/s). A WAL this large only exists under sustained heavy writes; at a rental's
/// pace every passive checkpoint finds the writer idle and the WAL restarts on its own.
pub const WAL_CATCH_UP_FRAMES: i64 = 32_768;

/// The writer's `journal_size_limit`: a WAL file larger than this is truncated back to it
/// when the WAL restarts, inside the first commit after the restart. Twice
/// [`WAL_CATCH_UP_FRAMES`], so the catch-up at a steady 1,000 issues/s (which finds up to
/// ~45,000 frames) does not also truncate (truncating ~50 MiB took that commit 18–47 ms).
pub const WAL_SIZE_LIMIT_BYTES: i64 = 2 * WAL_CATCH_UP_FRAMES * 4096;

/// The shortest pause between rounds (see [`next_checkpoint_pause`]).
pub const CHECKPOINT_SOON: std::time::Duration = std::time::Duration::from_millis(100);

/// At most this many extra passive passes before the held one.
pub const CLOSE_IN_PASSES: usize = 4;

/// New frames since the previous pass below which the held pass follows (512 KiB).
pub const CLOSE_ENOUGH_FRAMES: i64 = 128;

/// Cheap to clone handle to the database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// The write connection: used by the writer thread, a batch at a time.
    writer: Arc<Mutex<Connection>>,
    /// Queue of the writer thread (see [`writer`]).
    jobs: mpsc::Sender<writer::Job>,
    /// The writer thread, joined when the last handle goes (see `Drop for Inner`).
    writer_thread: Option<std::thread::JoinHandle<()>>,
    /// Idle read connections. They are opened when a read finds none idle, up to
    /// [`READERS`] (the permits): an idle sidecar, or one read by Home Assistant's polls
    /// alone, keeps one — each connection holds its own parsed schema and page cache.
    readers: Mutex<Vec<Connection>>,
    /// One permit per reader, idle or yet to be opened: acquired (asynchronously) first.
    reader_permits: Arc<Semaphore>,
    /// The database file, for readers opened later.
    path: std::path::PathBuf,
    /// The background checkpoint's own read-write connection.
    checkpointer: Mutex<Connection>,
    /// Told by the writer after every batch: the checkpointer sleeps while nothing is written
    /// (an idle sidecar does not wake up for it).
    wrote: Arc<tokio::sync::Notify>,
}

/// The last handle closes the database completely before it is gone: the writer thread
/// finishes what is queued and ends, then every connection closes (the last one checkpoints
/// and removes the WAL). Without the join the writer's connection closed a moment later, on
/// its own thread — after a caller that had dropped the store had already moved on (a test
/// restoring a backup into the same directory saw the late close remove the restored
/// database's WAL and shared-memory files).
impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer's loop once it is empty.
        drop(std::mem::replace(&mut self.jobs, mpsc::channel().0));
        if let Some(t) = self.writer_thread.take() {
            // A job's closure holding the last handle is dropped on the writer thread itself.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// What one [`Store::checkpoint_round`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRound {
    /// The passive passes that blocked nobody, in order (at least one).
    pub passes: Vec<Checkpoint>,
    /// The pass with the writer held off, when the WAL was large enough to need one.
    pub held: Option<Checkpoint>,
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

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let r = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&r)?;
    Ok(r)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -1024)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Query-planner stability: plans never depend on bound values. Without it, SQLite marks
    // the parameters of many queries (any `ORDER BY` with `col = ?`, for one) as "re-plan on
    // rebind", and every cached statement was parsed and planned again on each use — 7.5 %
    // of the sidecar's CPU in the redemption benchmark. We use no `LIKE ?` and no STAT4
    // statistics, the only things those value-dependent plans were for.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
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
        writer.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
        migrations::migrate(&mut writer)?;
        let checkpointer = Connection::open(path)?;
        checkpointer.busy_timeout(std::time::Duration::from_secs(5))?;
        checkpointer.pragma_update(None, "wal_autocheckpoint", 0)?;
        // One reader now (a database the sidecar cannot read fails here, at start-up); the
        // others when concurrent reads need them.
        let readers = vec![open_reader(path)?];
        let writer = Arc::new(Mutex::new(writer));
        let (jobs, queue) = mpsc::channel();
        let wrote = Arc::new(tokio::sync::Notify::new());
        let writer_thread = {
            let writer = writer.clone();
            let wrote = wrote.clone();
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || writer::run(writer, queue, wrote))
                .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?
        };
        Ok(Store {
            inner: Arc::new(Inner {
                writer,
                jobs,
                writer_thread: Some(writer_thread),
                readers: Mutex::new(readers),
                path: path.to_owned(),
                reader_permits: Arc::new(Semaphore::new(READERS)),
                checkpointer: Mutex::new(checkpointer),
                wrote,
            }),
        })
    }

    /// Run `f` in a write transaction on the writer thread; its changes are committed when
    /// `f` returns Ok, and this returns only after that commit. The closure's error type is
    /// the caller's, so domain rules checked inside the transaction return domain errors
    /// directly; an error (or a panic) undoes everything `f` did. Writes queued at the same
    /// time may share one transaction (group commit; see [`writer`]), each isolated in a
    /// savepoint: `f` sees the writes queued before it, never half of one.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: writer::Job = Box::new(move |tx| match f(tx) {
            Ok(value) => writer::Done {
                keep: true,
                answer: Box::new(move |committed: Result<(), String>| {
                    let _ = reply.send(
                        committed
                            .map(|()| value)
                            .map_err(|e| E::from(StoreError::Task(e))),
                    );
                }),
            },
            Err(e) => writer::Done {
                keep: false,
                answer: Box::new(move |_| {
                    let _ = reply.send(Err(e));
                }),
            },
        });
        self.inner
            .jobs
            .send(job)
            .map_err(|_| E::from(StoreError::Task("the writer thread has stopped".into())))?;
        answer.await.map_err(|_| {
            E::from(StoreError::Task(
                "the write did not complete (see the log)".into(),
            ))
        })?
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
            // None idle under a permit: fewer than `READERS` are open (or a panic inside `f`
            // lost one): open another.
            let conn = match conn {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let out = f(&conn);
            inner
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Run one `PRAGMA wal_checkpoint(mode)` (`PASSIVE`, `FULL`, `RESTART`, `TRUNCATE`) on the
    /// checkpointer connection, on the blocking pool. With `hold_writer`, the writer mutex is
    /// held for the duration, so no commit can land meanwhile and writers queue on the mutex
    /// (woken the moment it is released) instead of polling SQLite's busy handler, whose
    /// back-off (1, 2, 5, 10, 15, 20, 25 … ms) would add up to tens of milliseconds.
    pub async fn checkpoint(
        &self,
        mode: &'static str,
        hold_writer: bool,
    ) -> Result<Checkpoint, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _writer =
                hold_writer.then(|| inner.writer.lock().unwrap_or_else(|p| p.into_inner()));
            let conn = inner.checkpointer.lock().unwrap_or_else(|p| p.into_inner());
            Ok(checkpoint_on(&conn, mode)?)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// One round of the background checkpointer.
    ///
    /// First a `PASSIVE` checkpoint that never blocks anyone. On its own it keeps up only while
    /// writes pause now and then: SQLite restarts the WAL from its beginning when a commit
    /// finds every frame already copied back, and under steady writes the frames committed
    /// while the checkpoint was copying are never all copied, so the WAL would grow without
    /// end. So when the WAL has grown past [`WAL_CATCH_UP_FRAMES`], more passive passes close
    /// in (each copies what landed during the one before, so they get shorter; at most
    /// [`CLOSE_IN_PASSES`], until fewer than [`CLOSE_ENOUGH_FRAMES`] are new), and a last one
    /// runs with the writer held off: it has only the last few milliseconds of frames to copy,
    /// and the next commit restarts the WAL. If a reader still on an older snapshot kept that
    /// one from finishing, a `RESTART` checkpoint (still holding the writer) waits for it.
    pub async fn checkpoint_round(&self) -> Result<CheckpointRound, StoreError> {
        self.checkpoint_round_past(WAL_CATCH_UP_FRAMES).await
    }

    /// [`Store::checkpoint_round`] with the catch-up size as a parameter (for tests).
    async fn checkpoint_round_past(&self, catch_up: i64) -> Result<CheckpointRound, StoreError> {
        let first = self.checkpoint("PASSIVE", false).await?;
        let mut round = CheckpointRound {
            passes: vec![first],
            held: None,
        };
        if first.wal_frames <= catch_up {
            return Ok(round);
        }
        for _ in 0..CLOSE_IN_PASSES {
            let before = round.passes[round.passes.len() - 1];
            let pass = self.checkpoint("PASSIVE", false).await?;
            round.passes.push(pass);
            if pass.wal_frames - before.checkpointed <= CLOSE_ENOUGH_FRAMES {
                break;
            }
        }
        let mut held = self.checkpoint("PASSIVE", true).await?;
        if held.busy || held.checkpointed < held.wal_frames {
            held = self.checkpoint("RESTART", true).await?;
        }
        round.held = Some(held);
        Ok(round)
    }

    /// Background task: once something was written, a pause sized by
    /// [`next_checkpoint_pause`] from how fast the WAL grew, then a
    /// [`Store::checkpoint_round`]. While nothing is written it sleeps (DESIGN §10 "Idle
    /// cost"); under steady writes the cadence is the pause alone. Returns at `stop`.
    pub async fn run_checkpointer(self, mut stop: watch::Receiver<bool>) {
        let mut pause = CHECKPOINT_EVERY;
        loop {
            tokio::select! {
                _ = stop.wait_for(|v| *v) => return,
                _ = self.inner.wrote.notified() => {}
            }
            tokio::select! {
                _ = stop.wait_for(|v| *v) => return,
                _ = tokio::time::sleep(pause) => {}
            }
            let started = std::time::Instant::now();
            match self.checkpoint_round().await {
                Ok(round) => {
                    pause = next_checkpoint_pause(round.passes[0].wal_frames, pause);
                    tracing::debug!(
                        ?round,
                        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                        next_ms = pause.as_millis() as u64,
                        "checkpoint"
                    );
                }
                Err(e) => {
                    pause = CHECKPOINT_EVERY;
                    tracing::warn!(error = %e, "checkpoint failed");
                }
            }
        }
    }
}

/// The pause before the next checkpoint round: about [`WAL_CATCH_UP_FRAMES`] new frames at the
/// rate the last round found (`frames` in the WAL after a pause of `after`), within
/// [`CHECKPOINT_SOON`] … [`CHECKPOINT_EVERY`], and at most twice `after`. A quiet database is
/// visited every [`CHECKPOINT_EVERY`]; under heavy writes the rounds come sooner, so the WAL
/// never grows far past `journal_size_limit`: restarting a WAL that did makes one commit
/// truncate the file (250–350 ms measured for ~1 GiB at 13,000 issues/s with a fixed 2 s
/// cadence). The pause only doubles per round because the round right after such a
/// truncation finds little in the WAL: the writer was stuck, not idle.
pub fn next_checkpoint_pause(frames: i64, after: std::time::Duration) -> std::time::Duration {
    let ceiling = (after * 2).clamp(CHECKPOINT_SOON, CHECKPOINT_EVERY);
    if frames <= 0 {
        return ceiling;
    }
    let per_second = frames as f64 / after.as_secs_f64().max(1e-3);
    std::time::Duration::from_secs_f64(WAL_CATCH_UP_FRAMES as f64 / per_second)
        .clamp(CHECKPOINT_SOON, ceiling)
}

/// The position of column `name` in `cols`, a `SELECT` list separated by commas (an
/// expression counts by its `AS` alias), for use in a `const` block:
/// `r.get(const { column(UNIT_COLS, "time_zone") })`. Row mappers read the columns added by
/// later migrations by name so new ones can go anywhere in the list; rusqlite's by-name `get`
/// compares the name with every column's on every row (a hot cost on the write path, seen
/// in the issue benchmark's profile), this finds the position once, when the crate is built —
/// and a name missing from the list fails the build.
pub(crate) const fn column(cols: &str, name: &str) -> usize {
    let (c, n) = (cols.as_bytes(), name.as_bytes());
    let (mut index, mut start, mut i) = (0, 0, 0);
    while i <= c.len() {
        if i == c.len() || c[i] == b',' {
            let mut end = i;
            while end > start && c[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            // The segment's last word: the column itself, or an expression's alias.
            let mut word = end;
            while word > start && !c[word - 1].is_ascii_whitespace() {
                word -= 1;
            }
            if end - word == n.len() {
                let mut k = 0;
                while k < n.len() && c[word + k] == n[k] {
                    k += 1;
                }
                if k == n.len() {
                    return index;
                }
            }
            index += 1;
            start = i + 1;
        }
        i += 1;
    }
    panic!("the column is not in the list");
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

    /// The device rules' counts of a voucher's grants read the index alone (migrations 12
    /// and 13), however many grants the voucher has had; a device's grants on a voucher are
    /// found by the same index's prefix.
    #[test]
    fn grant_counts_by_code_are_answered_from_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let conn = store.inner.writer.lock().unwrap();
        let plan = |q: &str, params: &[&str]| -> Vec<String> {
            conn.prepare(&format!("EXPLAIN QUERY PLAN {q}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let q = "SELECT COUNT(*) FROM grants WHERE code = ?1 AND ended_at IS NULL";
        let p = plan(q, &["x"]);
        assert!(
            p.iter()
                .any(|p| p.contains("COVERING INDEX grants_code_mac_end (code=?)")),
            "{q}: {p:?}"
        );
        for q in [
            // A voucher read counts its active grants (`devices_active`).
            format!(
                "SELECT {} FROM vouchers WHERE code = ?1",
                rows::VOUCHER_COLS
            ),
            "SELECT grant_id FROM grants WHERE code = ?1 AND ended_at IS NULL AND state = 'active'"
                .to_owned(),
        ] {
            let p = plan(&q, &["x"]);
            assert!(
                p.iter()
                    .any(|p| p.contains("INDEX grants_code_mac_end (code=?)")),
                "{q}: {p:?}"
            );
        }
        let q = "SELECT grant_id FROM grants WHERE code = ?1 AND client_mac = ?2 ORDER BY created_at DESC LIMIT 1";
        let p = plan(q, &["x", "y"]);
        assert!(
            p.iter()
                .any(|p| p.contains("INDEX grants_code_mac_end (code=? AND client_mac=?)")),
            "{q}: {p:?}"
        );
        // The open grants of a device, of a unit, and by end are found by the partial
        // indexes on `ended_at IS NULL` (migration 14).
        for (q, n, index) in [
            (
                "SELECT grant_id FROM grants WHERE client_mac = ?1 AND site = ?2 AND ended_at IS NULL AND state = 'active'",
                2,
                "INDEX grants_mac_open (client_mac=? AND site=?)",
            ),
            (
                "SELECT grant_id FROM grants WHERE unit_id = ?1 AND ended_at IS NULL",
                1,
                "INDEX grants_unit_end (unit_id=? AND ended_at=?)",
            ),
            (
                "SELECT grant_id FROM grants WHERE ended_at IS NULL AND state = 'active' AND expires_at <= ?1 ORDER BY expires_at LIMIT 5",
                1,
                "INDEX grants_open (expires_at<?)",
            ),
        ] {
            let p = plan(q, &["x", "y"][..n]);
            assert!(p.iter().any(|p| p.contains(index)), "{q}: {p:?}");
        }
    }

    /// A redemption's pending → active step (`grants::set_active` when the end did not move)
    /// writes the table row and no index entry (migration 14): its program has no index
    /// insert or delete. With `state` in an index, or `ended_at` among the columns written,
    /// it would.
    #[test]
    fn making_a_grant_active_rewrites_no_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let conn = store.inner.writer.lock().unwrap();
        let ops = |q: &str| -> Vec<String> {
            conn.prepare(&format!("EXPLAIN {q}"))
                .unwrap()
                .query_map(rusqlite::params!["g", 1, 2], |r| r.get::<_, String>(1))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let touches_index =
            |ops: &[String]| ops.iter().any(|o| o == "IdxInsert" || o == "IdxDelete");
        let same_end = ops(grants::ACTIVATE_SAME_END);
        assert!(!same_end.is_empty());
        assert!(!touches_index(&same_end), "{same_end:?}");
        // The check can fail: ending a grant does move it between index entries.
        let end = ops(grants::END);
        assert!(touches_index(&end), "{end:?}");
    }

    /// A unit's vouchers are found by an index (one on `vouchers(unit_id, …)` since
    /// migration 3, besides the bookings'): no query of a unit's vouchers reads the table.
    #[test]
    fn a_units_vouchers_are_read_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let conn = store.inner.writer.lock().unwrap();
        for (q, n) in [
            ("SELECT COUNT(*) FROM vouchers WHERE unit_id = ?1".to_owned(), 1),
            (
                format!(
                    "SELECT {} FROM vouchers WHERE unit_id = ?1 ORDER BY created_at DESC, code LIMIT 10",
                    rows::VOUCHER_COLS
                ),
                1,
            ),
            (
                format!(
                    "SELECT {} FROM vouchers WHERE unit_id = ?1 AND revoked_at IS NULL ORDER BY created_at, code",
                    rows::VOUCHER_COLS
                ),
                1,
            ),
            (
                "SELECT code FROM vouchers WHERE unit_id = ?1 AND revoked_at IS NOT NULL".to_owned(),
                1,
            ),
            (
                "SELECT code FROM vouchers WHERE unit_id = ?1 AND booking_ref = ?2".to_owned(),
                2,
            ),
        ] {
            let params: Vec<&str> = ["x", "y"][..n].to_vec();
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {q}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(
                plan.iter()
                    .any(|p| p.starts_with("SEARCH vouchers USING") && p.contains("(unit_id=?")),
                "{q}: {plan:?}"
            );
            assert!(!plan.iter().any(|p| p == "SCAN vouchers"), "{q}: {plan:?}");
        }
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'vouchers' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(indexes, ["vouchers_booking", "vouchers_unit_created"]);
    }

    /// `column` finds what SQLite itself numbers: every name of the two hot lists, asked of
    /// the prepared statement on a migrated database, and an alias after an expression.
    #[test]
    fn column_positions_are_what_sqlite_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let conn = store.inner.writer.lock().unwrap();
        for (cols, table) in [(rows::UNIT_COLS, "units"), (rows::VOUCHER_COLS, "vouchers")] {
            let stmt = conn
                .prepare(&format!("SELECT {cols} FROM {table}"))
                .unwrap();
            let names: Vec<String> = stmt.column_names().map(|n| n.to_string()).collect();
            assert!(names.len() > 10, "{names:?}");
            for (i, name) in names.iter().enumerate() {
                assert_eq!(column(cols, name), i, "{name} in {table}");
            }
        }
        assert_eq!(column("a, (SELECT 1) AS b,c", "b"), 1);
        assert_eq!(column("a, (SELECT 1) AS b,c", "c"), 2);
        assert!(std::panic::catch_unwind(|| column("a, b", "ab")).is_err());
    }

    /// Commits leave the WAL alone (no auto-checkpoint); the checkpointer copies it back, and
    /// more concurrent reads than readers all complete (they wait, never use the writer);
    /// readers are opened as reads overlap, up to `READERS`.
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
        let c = store.checkpoint("PASSIVE", false).await.unwrap();
        assert!(
            c.wal_frames >= 50,
            "{c:?}: commits must not have checkpointed"
        );
        assert_eq!(c.checkpointed, c.wal_frames, "{c:?}");
        let idle = |s: &Store| s.inner.readers.lock().unwrap().len();
        assert_eq!(idle(&store), 1, "one reader until reads overlap");
        // Collected, so all are spawned before the first is awaited (they overlap).
        let reads: Vec<_> = (0..4 * READERS)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move {
                    s.read(move |c| {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        rows::meta_get(c, &format!("k{i}"))
                    })
                    .await
                })
            })
            .collect();
        for r in reads {
            assert!(r.await.unwrap().unwrap().is_some());
        }
        let open = idle(&store);
        assert!(
            (2..=READERS).contains(&open),
            "overlapping reads opened more readers, never more than {READERS}: {open}"
        );
        let c = store.checkpoint("TRUNCATE", false).await.unwrap();
        assert_eq!((c.busy, c.wal_frames), (false, 0), "{c:?}");
    }

    /// Under steady writes a passive checkpoint alone never lets the WAL restart (commits land
    /// while it copies); a round past the catch-up size holds the writer for a second, short
    /// checkpoint, after which the next commit starts the WAL over. A small WAL gets one
    /// passive checkpoint and nothing else.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_restarts_the_wal_under_steady_writes() {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        store
            .write(|tx| {
                rows::meta_set(tx, "small", "x")?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        const CATCH_UP: i64 = 4_096;
        let small = store.checkpoint_round_past(CATCH_UP).await.unwrap();
        assert_eq!((small.passes.len(), small.held), (1, None), "{small:?}");

        // ~5 frames per commit: a 16 KiB value spills into overflow pages, and every page of
        // it differs from the last (SQLite does not rewrite pages an update leaves unchanged).
        let fill = (CATCH_UP / 4) as usize;
        for i in 0..fill {
            let v = format!("{i:08}").repeat(2048);
            store
                .write(move |tx| {
                    rows::meta_set(tx, &format!("fill{}", i % 64), &v)?;
                    Ok::<_, StoreError>(())
                })
                .await
                .unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let during = Arc::new(AtomicU64::new(0));
        let writer = {
            let (store, stop, during) = (store.clone(), stop.clone(), during.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = format!("{i:08}").repeat(2048);
                    store
                        .write(move |tx| {
                            rows::meta_set(tx, &format!("steady{}", i % 64), &v)?;
                            Ok::<_, StoreError>(())
                        })
                        .await
                        .unwrap();
                    i += 1;
                    during.store(i, Ordering::Relaxed);
                }
            })
        };
        while during.load(Ordering::Relaxed) < 10 {
            tokio::task::yield_now().await;
        }
        let round = store.checkpoint_round_past(CATCH_UP).await.unwrap();
        stop.store(true, Ordering::Relaxed);
        writer.await.unwrap();
        assert!(round.passes[0].wal_frames > CATCH_UP, "{round:?}");
        assert!(round.passes.len() >= 2, "{round:?}");
        let held = round.held.expect("a large WAL gets a held pass");
        assert!(!held.busy, "{round:?}");
        assert_eq!(held.checkpointed, held.wal_frames, "{round:?}");
        // The commits after the round started the WAL over: far fewer frames than before.
        let after = store.checkpoint("PASSIVE", false).await.unwrap();
        assert!(
            after.wal_frames < held.wal_frames / 2,
            "WAL not restarted: {round:?} then {after:?}"
        );
    }

    #[test]
    fn the_pause_shrinks_as_the_wal_grows_faster() {
        use std::time::Duration;
        let every = CHECKPOINT_EVERY;
        let target = WAL_CATCH_UP_FRAMES;
        assert_eq!(next_checkpoint_pause(0, every), every);
        assert_eq!(next_checkpoint_pause(100, every), every, "quiet");
        // 1,000 issues/s ≈ 6,000 frames/s: the longest pause.
        assert_eq!(next_checkpoint_pause(12_000, every), every);
        // The target in ~1.4 s (two of them in 2.7 s): a bit under 1.4 s.
        let steady = next_checkpoint_pause(target * 3 / 2, every);
        assert!(
            steady > Duration::from_millis(1_300) && steady < Duration::from_millis(1_400),
            "{steady:?}"
        );
        // Saturated (the target many times over per second): as soon as allowed.
        assert_eq!(next_checkpoint_pause(target * 100, every), CHECKPOINT_SOON);
        // After a short pause, a round that found little only doubles the pause.
        let soon = CHECKPOINT_SOON;
        assert_eq!(next_checkpoint_pause(10, soon), soon * 2);
        assert_eq!(next_checkpoint_pause(0, soon), soon * 2);
        assert_eq!(next_checkpoint_pause(10, soon * 2), soon * 4);
        // The rate is frames over the pause that produced them.
        assert_eq!(
            next_checkpoint_pause(target * 2, Duration::from_millis(100)),
            CHECKPOINT_SOON
        );
        assert_eq!(next_checkpoint_pause(1, Duration::ZERO), CHECKPOINT_SOON);
    }

    /// Cached statements are planned once: rebinding a parameter of an `ORDER BY` query does
    /// not make SQLite parse and plan it again (query-planner stability is on).
    #[tokio::test]
    async fn cached_statements_are_not_reprepared_on_rebind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let sql = "SELECT grant_id FROM grants WHERE code = ?1 AND client_mac = ?2 \
                   ORDER BY created_at DESC LIMIT 1";
        let check = |c: &Connection| -> Result<i32, StoreError> {
            for i in 0..5 {
                let mut st = c.prepare_cached(sql)?;
                let _none: Option<String> = rusqlite::OptionalExtension::optional(
                    st.query_row([format!("c{i}"), format!("m{i}")], |r| r.get(0)),
                )?;
            }
            Ok(c.prepare_cached(sql)?
                .get_status(rusqlite::StatementStatus::RePrepare))
        };
        let on_writer = store.write(move |tx| check(tx)).await.unwrap();
        let on_reader = store.read(move |c| check(c)).await.unwrap();
        assert_eq!((on_writer, on_reader), (0, 0));
    }
}
