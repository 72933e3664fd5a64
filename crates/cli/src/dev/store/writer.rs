//! Group commit: the one writer of a `hookbridge dev` store. A thread owns
//! the write connection and takes its requests from a bounded queue; it
//! runs everything queued (up to [`MAX_BATCH`]) in one transaction, each
//! request in its own savepoint, commits once (one fsync, `synchronous =
//! FULL`) and only then answers every request of the batch. So a caller's
//! answer (ingest's 202, say) still comes only once its write is durable,
//! while concurrent callers share the fsync. No wait is added for more
//! requests: what arrived during the previous commit is the next batch.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Requests committed together at most.
pub const MAX_BATCH: usize = 512;
/// Requests waiting at most; beyond it callers wait for room.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;
/// How long a caller waits for room in the queue before giving up (ingest
/// then answers 503 and the provider retries).
const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// A write request as the writer sees it.
trait Request: Send {
    /// Runs the work inside the request's savepoint; whether it succeeded.
    fn run(&mut self, connection: &Connection) -> bool;
    /// Answers the caller once its batch's commit succeeded or failed.
    fn answer(self: Box<Self>, commit: Result<(), &StoreError>);
}

struct Pending<F, R> {
    work: Option<F>,
    result: Option<Result<R, StoreError>>,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<F, R> Request for Pending<F, R>
where
    F: FnOnce(&Connection) -> Result<R, StoreError> + Send,
    R: Send,
{
    fn run(&mut self, connection: &Connection) -> bool {
        let result = self.work.take().map(|work| work(connection));
        let succeeded = matches!(result, Some(Ok(_)));
        self.result = result;
        succeeded
    }

    fn answer(self: Box<Self>, commit: Result<(), &StoreError>) {
        let result = match (commit, self.result) {
            (Ok(()), Some(result)) => result,
            (Err(error), _) => Err(StoreError::Batch(error.to_string())),
            (Ok(()), None) => Err(StoreError::Batch("the request did not run".to_owned())),
        };
        // The caller may have stopped waiting; its write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// What the writer thread is sent.
enum Message {
    Write(Box<dyn Request>),
    /// Refuse new requests, answer the queued ones, then say so.
    Close(oneshot::Sender<()>),
}

/// Where write requests are sent; cheap to clone. The writer thread stops
/// once closed (or every handle is dropped), after answering every request
/// queued before.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Message>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the writer thread on `connection`, which it locks for each
    /// batch (another handle on it only ever reads, or is a test's).
    pub fn start(connection: Arc<Mutex<Connection>>) -> Result<Self, StoreError> {
        let (queue, requests) = mpsc::channel(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("hookbridge-store-writer".to_owned())
            .spawn(move || write_batches(&connection, requests))
            .map_err(StoreError::Thread)?;
        Ok(Self { queue })
    }

    /// Runs `work` in the next batch and returns its result once the batch
    /// is committed. A failing `work` rolls back only its own writes; a
    /// failed commit fails every request of the batch. Waits (at most
    /// [`QUEUE_WAIT`]) while the queue is full.
    pub async fn write<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let request = Message::Write(Box::new(Pending {
            work: Some(work),
            result: None,
            reply,
        }));
        match self.queue.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Closed(_)) => return Err(StoreError::WriterStopped),
            // Only a full queue needs the timer.
            Err(TrySendError::Full(request)) => {
                match tokio::time::timeout(QUEUE_WAIT, self.queue.send(request)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(StoreError::WriterStopped),
                    Err(_) => return Err(StoreError::QueueFull(QUEUE_WAIT)),
                }
            }
        }
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Stops the writer: requests sent from now on are refused
    /// ([`StoreError::WriterStopped`]); returns once every request queued
    /// before is committed and answered.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            // An error means the thread is already gone: nothing is queued.
            let _ = closed.await;
        }
    }
}

fn write_batches(connection: &Mutex<Connection>, mut queue: mpsc::Receiver<Message>) {
    let mut messages = Vec::with_capacity(MAX_BATCH);
    let mut batch: Vec<Box<dyn Request>> = Vec::with_capacity(MAX_BATCH);
    let mut closers = Vec::new();
    while queue.blocking_recv_many(&mut messages, MAX_BATCH) > 0 {
        for message in messages.drain(..) {
            match message {
                Message::Write(request) => batch.push(request),
                Message::Close(done) => {
                    queue.close();
                    closers.push(done);
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        // SQLite rolls back a transaction left open by a panic, so a
        // poisoned lock still guards a consistent database.
        let connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
        let commit = run_batch(&connection, &mut batch);
        drop(connection);
        for request in batch.drain(..) {
            request.answer(commit.as_ref().map(|_| ()));
        }
    }
    for done in closers {
        let _ = done.send(());
    }
}

/// Runs every request of `batch` in one transaction, each in a savepoint,
/// and commits it. An error of the transaction itself (begin, a savepoint,
/// the commit) rolls everything back.
fn run_batch(connection: &Connection, batch: &mut [Box<dyn Request>]) -> Result<(), StoreError> {
    let outcome = (|| {
        connection.execute_batch("BEGIN IMMEDIATE")?;
        // Cached: prepared once, not parsed again for every request.
        let statement = |sql| connection.prepare_cached(sql)?.execute([]);
        for request in batch.iter_mut() {
            statement("SAVEPOINT request")?;
            if !request.run(connection) {
                statement("ROLLBACK TO request")?;
            }
            statement("RELEASE request")?;
        }
        connection.execute_batch("COMMIT")?;
        Ok(())
    })();
    if outcome.is_err() && !connection.is_autocommit() {
        // The batch's error is what its requests are told.
        let _ = connection.execute_batch("ROLLBACK");
    }
    outcome
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::super::test_support::data_dir;
    use super::*;

    fn writer_on_table() -> (Writer, Arc<Mutex<Connection>>) {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);",
            )
            .unwrap();
        let connection = Arc::new(Mutex::new(connection));
        (Writer::start(Arc::clone(&connection)).unwrap(), connection)
    }

    fn insert(name: &'static str) -> impl Fn(&Connection) -> Result<(), StoreError> {
        move |connection| {
            connection.execute("INSERT INTO items (name) VALUES (?1)", params![name])?;
            Ok(())
        }
    }

    fn names(connection: &Mutex<Connection>) -> Vec<String> {
        let connection = connection.lock().unwrap();
        let mut statement = connection
            .prepare("SELECT name FROM items ORDER BY id")
            .unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Holds the writer inside a batch of one request until the returned
    /// sender is dropped: everything sent meanwhile queues for the next batch.
    async fn hold_writer(
        writer: &Writer,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), StoreError>>,
    ) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = writer.clone();
        let holder = tokio::spawn(async move {
            writer
                .write(move |_| {
                    let _ = released.recv();
                    Ok(())
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        (release, holder)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_queued_together_commit_in_one_transaction_and_answer_after_it() {
        let dir = data_dir("group-commit");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("items.db");
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);",
            )
            .unwrap();
        let connection = Arc::new(Mutex::new(connection));
        let writer = Writer::start(Arc::clone(&connection)).unwrap();
        // Another connection sees only what is committed.
        let observer = Arc::new(Mutex::new(Connection::open(&path).unwrap()));
        let count = |connection: &Connection| -> i64 {
            connection
                .query_row("SELECT count(*) FROM items", [], |row| row.get(0))
                .unwrap()
        };
        let (held, holder) = hold_writer(&writer).await;
        let rest: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let (writer, observer) = (writer.clone(), Arc::clone(&observer));
                tokio::spawn(async move {
                    writer
                        .write(move |connection| {
                            insert(name)(connection)?;
                            // Rows this transaction wrote, this one included.
                            Ok(count(connection) - count(&observer.lock().unwrap()))
                        })
                        .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            rest.iter().all(|task| !task.is_finished()),
            "no answer before the commit"
        );
        drop(held);
        holder.await.unwrap().unwrap();
        let mut uncommitted = Vec::new();
        for task in rest {
            uncommitted.push(task.await.unwrap().unwrap());
        }
        uncommitted.sort_unstable();
        assert_eq!(uncommitted, [1, 2, 3], "the three shared one transaction");
        assert_eq!(count(&observer.lock().unwrap()), 3, "and it was committed");
        drop(observer);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_fails_alone_and_its_neighbours_are_committed() {
        let (writer, connection) = writer_on_table();
        writer.write(insert("taken")).await.unwrap();
        let (held, holder) = hold_writer(&writer).await;
        let batch: Vec<_> = [("before", false), ("taken", true), ("after", false)]
            .into_iter()
            .map(|(name, conflicts)| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    let result = writer
                        .write(move |connection| {
                            // Writes something first, so the rollback must undo it.
                            connection.execute(
                                "INSERT INTO items (name) VALUES (?1)",
                                params![format!("{name}-partial")],
                            )?;
                            if conflicts {
                                connection.execute(
                                    "INSERT INTO items (name) VALUES (?1)",
                                    params![name],
                                )?;
                                return Ok(());
                            }
                            connection.execute(
                                "DELETE FROM items WHERE name = ?1",
                                params![format!("{name}-partial")],
                            )?;
                            connection
                                .execute("INSERT INTO items (name) VALUES (?1)", params![name])?;
                            Ok(())
                        })
                        .await;
                    (conflicts, result)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        holder.await.unwrap().unwrap();
        for task in batch {
            let (conflicts, result) = task.await.unwrap();
            assert_eq!(result.is_err(), conflicts);
        }
        let mut written = names(&connection);
        written.sort();
        assert_eq!(written, ["after", "before", "taken"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_makes_callers_wait_and_drops_none() {
        let (writer, connection) = writer_on_table();
        let (held, holder) = hold_writer(&writer).await;
        let count = QUEUE_CAPACITY + 2 * MAX_BATCH;
        let tasks: Vec<_> = (0..count)
            .map(|n| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .write(move |connection| {
                            connection.execute(
                                "INSERT INTO items (name) VALUES (?1)",
                                params![n.to_string()],
                            )?;
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            writer.queue.capacity(),
            0,
            "the queue is full and the rest wait for room"
        );
        drop(held);
        holder.await.unwrap().unwrap();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(names(&connection).len(), count);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_commits_and_answers_every_queued_request_and_refuses_later_ones() {
        let (writer, connection) = writer_on_table();
        let (held, holder) = hold_writer(&writer).await;
        let queued: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(insert(name)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let closing = tokio::spawn({
            let writer = writer.clone();
            async move { writer.close().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!closing.is_finished(), "the queue is not drained yet");
        drop(held);
        holder.await.unwrap().unwrap();
        closing.await.unwrap();
        for task in queued {
            task.await.unwrap().unwrap();
        }
        let mut written = names(&connection);
        written.sort();
        assert_eq!(written, ["a", "b", "c"]);
        assert!(matches!(
            writer.write(insert("late")).await,
            Err(StoreError::WriterStopped)
        ));
    }
}
