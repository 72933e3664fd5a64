//! The webhook target `hookbridge dev` delivers to: a loopback HTTP server
//! that answers each event (by its `webhook-id`) from a script, such as
//! "500, 500, then 200", and records every request it gets.

use std::collections::HashMap;
use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::http::{self, Request};

/// The statuses the target answers for one event: the n-th request for an
/// event id gets the n-th status, and every later one the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers(Vec<u16>);

impl Answers {
    pub fn always(status: u16) -> Self {
        Self(vec![status])
    }

    /// `failures` times 500, then 200 for good.
    pub fn fail_then_succeed(failures: usize) -> Self {
        let mut statuses = vec![500; failures];
        statuses.push(200);
        Self(statuses)
    }

    fn for_request(&self, earlier_requests: usize) -> u16 {
        let last = self.0.len() - 1;
        self.0[earlier_requests.min(last)]
    }
}

/// One request the target received and how it answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub request: Request,
    pub status: u16,
    /// When the request had been read in full.
    pub at: Instant,
}

impl Received {
    /// The event id the request carries (`webhook-id`), if any.
    pub fn event_id(&self) -> Option<&str> {
        self.request.header("webhook-id")
    }

    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Debug)]
struct State {
    answers: Answers,
    requests: Vec<Received>,
}

/// A scripted, recording webhook target on a loopback port.
#[derive(Debug)]
pub struct RecordingTarget {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stopping: Arc<AtomicBool>,
}

impl RecordingTarget {
    /// Starts answering every event by `answers`.
    pub fn start(answers: Answers) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            answers,
            requests: Vec::new(),
        }));
        let stopping = Arc::new(AtomicBool::new(false));
        let (accept_state, accept_stopping) = (Arc::clone(&state), Arc::clone(&stopping));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&accept_state);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Self {
            address,
            state,
            stopping,
        }
    }

    /// The URL to pass as `--target`.
    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.address)
    }

    /// Answers from now on by `answers` (counting the requests already seen).
    pub fn set_answers(&self, answers: Answers) {
        lock(&self.state).answers = answers;
    }

    /// Every request received so far, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).requests.clone()
    }

    /// The requests received for event `id`, in order.
    pub fn received_for(&self, id: &str) -> Vec<Received> {
        lock(&self.state)
            .requests
            .iter()
            .filter(|received| received.event_id() == Some(id))
            .cloned()
            .collect()
    }

    /// Waits until `done` holds for the requests received so far and
    /// returns them.
    ///
    /// # Panics
    /// When `timeout` passes first.
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the target did not see {what} within {timeout:?}; it received {} requests: {:#?}",
                received.len(),
                received
                    .iter()
                    .map(|r| (r.event_id().unwrap_or("<no webhook-id>"), r.status))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many requests for each event id were answered with a 2xx.
    pub fn successes_by_id(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for received in lock(&self.state).requests.iter() {
            if let (true, Some(id)) = (received.succeeded(), received.event_id()) {
                *counts.entry(id.to_owned()).or_insert(0) += 1;
            }
        }
        counts
    }
}

impl Drop for RecordingTarget {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag and ends.
        let _ = TcpStream::connect(self.address);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: TcpStream, state: &Mutex<State>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Ok(Some(request)) = http::read_request(&mut reader) {
        let close = request.wants_close();
        let status = {
            let mut state = lock(state);
            let id = request.header("webhook-id").map(str::to_owned);
            let earlier = state
                .requests
                .iter()
                .filter(|received| id.is_some() && received.event_id() == id.as_deref())
                .count();
            let status = state.answers.for_request(earlier);
            state.requests.push(Received {
                request,
                status,
                at: Instant::now(),
            });
            status
        };
        if http::write_empty_response(&mut writer, status, close).is_err() || close {
            return;
        }
    }
}
