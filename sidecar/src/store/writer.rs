//! The writer thread: every write transaction of the process, committed in groups.
//!
//! Why a thread of its own: SQLite has one writer anyway. Before, each write took a
//! blocking-pool thread that then waited on the writer mutex, and committed alone — under
//! concurrency (64 guests redeeming at once) dozens of threads queued on that mutex and every
//! commit wrote its own WAL frames for the same few pages (table and index leaves, the audit
//! tail). Here callers queue a job and await its answer without holding any thread; the
//! thread takes everything queued (up to [`MAX_BATCH`]) and runs it in one transaction.
//!
//! Invariants:
//! - **An answer means durable**, as before: a job whose closure succeeded is answered only
//!   after the COMMIT of its batch returned; if the commit fails, every such job hears so.
//! - **Jobs are isolated**: in a batch of more than one, each runs inside its own
//!   `SAVEPOINT`; one that returns an error (a domain rule, a constraint) or panics is rolled
//!   back alone and answered at once. Should SQLite abort the whole transaction meanwhile
//!   (I/O error, disk full), the jobs already run in it are answered with the error, and the
//!   rest continue in a new transaction.
//! - **FIFO**: jobs run in the order they were queued, each seeing the ones before it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// The most jobs one transaction takes.
pub const MAX_BATCH: usize = 128;

/// What a job left behind after running in the transaction.
pub(super) struct Done {
    /// The closure succeeded: keep its changes, answer after the commit.
    pub keep: bool,
    /// Answers the caller: `Ok(())` when its changes are committed (or, for a job that did
    /// not keep them, at once), `Err(reason)` when the commit failed.
    pub answer: Box<dyn FnOnce(Result<(), String>) + Send>,
}

/// One queued write: runs on the writer thread inside the batch's transaction.
pub(super) type Job = Box<dyn FnOnce(&Transaction<'_>) -> Done + Send>;

type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The thread's loop; returns when every sender is gone (the store was dropped). `wrote` is
/// told after every batch (the checkpointer sleeps while nothing is written).
pub(super) fn run(
    conn: Arc<Mutex<Connection>>,
    jobs: mpsc::Receiver<Job>,
    wrote: Arc<tokio::sync::Notify>,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Held for the batch: the checkpointer takes this mutex to hold writes off.
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        run_batch(&conn, batch);
        drop(conn);
        wrote.notify_one();
    }
}

fn step(tx: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(drop)
}

/// Answer every deferred job with `outcome`.
fn answer_all(pending: &mut Vec<Answer>, outcome: &Result<(), String>) {
    for answer in pending.drain(..) {
        answer(outcome.clone());
    }
}

const ROLLED_BACK: &str = "the transaction was rolled back by SQLite";

pub(super) fn run_batch(conn: &Connection, batch: Vec<Job>) {
    let isolate = batch.len() > 1;
    let mut pending: Vec<Answer> = Vec::with_capacity(batch.len());
    let mut tx: Option<Transaction<'_>> = None;
    for job in batch {
        let t = match tx.take() {
            Some(t) => t,
            None => match Transaction::new_unchecked(conn, TransactionBehavior::Immediate) {
                Ok(t) => t,
                Err(e) => {
                    // Busy beyond the timeout, or I/O: this job is dropped unrun (its caller
                    // hears "did not complete"); the next one tries to begin again.
                    tracing::warn!(error = %e, "write transaction could not begin");
                    continue;
                }
            },
        };
        if isolate {
            if let Err(e) = step(&t, "SAVEPOINT job") {
                tracing::warn!(error = %e, "savepoint failed");
                tx = Some(t);
                continue;
            }
        }
        // `None`: the closure panicked, and its answer channel is gone with it.
        let done = catch_unwind(AssertUnwindSafe(|| job(&t))).ok();
        let keep = done.as_ref().is_some_and(|d| d.keep);
        // SQLite may have rolled the whole transaction back (I/O error, disk full, …);
        // otherwise settle this job's savepoint: keep it, or undo it alone.
        let settled = if t.is_autocommit() {
            Err(ROLLED_BACK.to_owned())
        } else if !isolate {
            Ok(())
        } else if keep {
            step(&t, "RELEASE job").map_err(|e| format!("release: {e}"))
        } else {
            step(&t, "ROLLBACK TO job")
                .and_then(|()| step(&t, "RELEASE job"))
                .map_err(|e| format!("rollback to savepoint: {e}"))
        };
        if let Err(reason) = settled {
            // Nothing in this transaction can be trusted to commit: abandon it, and tell
            // everyone whose changes were in it.
            tracing::warn!(error = %reason, "write transaction abandoned");
            drop(t);
            let failed = Err(reason);
            answer_all(&mut pending, &failed);
            if let Some(d) = done {
                (d.answer)(if d.keep { failed } else { Ok(()) });
            }
            continue;
        }
        match done {
            Some(d) if d.keep => pending.push(d.answer),
            // A failed closure: its changes are undone; it answers with its own error.
            Some(d) => (d.answer)(Ok(())),
            None => {}
        }
        if keep || isolate {
            tx = Some(t);
        } else {
            drop(t); // a batch of one whose closure failed: roll back
        }
    }
    if let Some(t) = tx {
        let outcome = t.commit().map_err(|e| format!("commit: {e}"));
        answer_all(&mut pending, &outcome);
    }
    debug_assert!(pending.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc as std_mpsc;

    type Outcome = Result<Option<i64>, String>;

    /// A job inserting `v` into `t`; `fail` makes the closure insert and then fail, `panic`
    /// makes it insert and then panic. Its answer goes to `out` as (v, outcome).
    fn job(v: i64, fail: bool, panic: bool, out: std_mpsc::Sender<(i64, Outcome)>) -> Job {
        Box::new(move |tx| {
            tx.execute("INSERT INTO t(v) VALUES (?1)", [v]).unwrap();
            if panic {
                panic!("job {v} panics on purpose");
            }
            let keep = !fail;
            Done {
                keep,
                answer: Box::new(move |committed| {
                    let outcome = match (keep, committed) {
                        (true, Ok(())) => Ok(Some(v)),
                        (false, Ok(())) => Ok(None),
                        (_, Err(e)) => Err(e),
                    };
                    out.send((v, outcome)).unwrap();
                }),
            }
        })
    }

    fn rows(conn: &Connection) -> Vec<i64> {
        let mut st = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
        let v = st.query_map([], |r| r.get(0)).unwrap();
        v.map(Result::unwrap).collect()
    }

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t(v INTEGER PRIMARY KEY)")
            .unwrap();
        c
    }

    /// In one batch, a job that fails and one that panics are undone alone; the others
    /// commit, and every caller that can still hear is answered with its own outcome.
    #[test]
    fn a_failing_or_panicking_job_is_undone_alone() {
        let c = conn();
        let (tx, rx) = std_mpsc::channel();
        let batch = vec![
            job(1, false, false, tx.clone()),
            job(2, true, false, tx.clone()),
            job(3, false, true, tx.clone()),
            job(4, false, false, tx.clone()),
        ];
        run_batch(&c, batch);
        drop(tx);
        let mut answers: Vec<_> = rx.iter().collect();
        answers.sort();
        assert_eq!(
            answers,
            vec![(1, Ok(Some(1))), (2, Ok(None)), (4, Ok(Some(4)))],
            "the panicking job (3) has no one left to answer"
        );
        assert_eq!(rows(&c), vec![1, 4]);
        assert!(c.is_autocommit(), "the batch's transaction is closed");
    }

    /// A batch of one runs without savepoints; its failure rolls the transaction back.
    #[test]
    fn a_batch_of_one_commits_or_rolls_back() {
        let c = conn();
        let (tx, rx) = std_mpsc::channel();
        run_batch(&c, vec![job(7, true, false, tx.clone())]);
        run_batch(&c, vec![job(8, false, false, tx.clone())]);
        drop(tx);
        assert_eq!(
            rx.iter().collect::<Vec<_>>(),
            vec![(7, Ok(None)), (8, Ok(Some(8)))]
        );
        assert_eq!(rows(&c), vec![8]);
    }

    /// When the commit fails, every job that kept its changes hears so, and nothing stays.
    #[test]
    fn a_failed_commit_is_reported_to_every_kept_job() {
        let c = conn();
        // A deferred foreign key violated by job 2 makes COMMIT itself fail.
        c.execute_batch(
            "PRAGMA foreign_keys=ON;
             CREATE TABLE p(id INTEGER PRIMARY KEY);
             CREATE TABLE k(p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        let (tx, rx) = std_mpsc::channel();
        let bad: Job = {
            let tx = tx.clone();
            Box::new(move |t| {
                t.execute("INSERT INTO k(p) VALUES (42)", []).unwrap();
                Done {
                    keep: true,
                    answer: Box::new(move |committed| {
                        tx.send((2, committed.map(|()| Some(2)))).unwrap();
                    }),
                }
            })
        };
        run_batch(&c, vec![job(1, false, false, tx.clone()), bad]);
        drop(tx);
        let answers: Vec<_> = rx.iter().collect();
        assert_eq!(answers.len(), 2, "{answers:?}");
        for (v, outcome) in &answers {
            let e = outcome.as_ref().expect_err("the commit failed");
            assert!(e.starts_with("commit:"), "{v}: {e}");
        }
        assert_eq!(rows(&c), Vec::<i64>::new());
        assert!(c.is_autocommit());
    }
}
