//! One scriptable HTTP target on a loopback port, for every test that needs
//! an endpoint: a webhook destination that fails and recovers, an AWS
//! service answering what an emulator never does, an endpoint that hangs or
//! goes away. It answers from a [`Script`], records every request, and
//! stops when dropped. Plain threads, so it serves any test, async or not.

pub mod script;
pub mod wire;

use std::collections::HashMap;
use std::io::{self, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use self::script::Counting;
pub use self::script::{Answer, EVENT_ID_HEADER, Reply, Script};
use self::wire::{Unframed, invalid_data};

/// One request as the target read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    /// The first value of header `name`, if it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

/// One request and how the target answered it.
#[derive(Debug, Clone)]
pub struct Received {
    pub request: Request,
    /// `None` when the target stalled or went away instead.
    pub status: Option<u16>,
    /// When the request had been read in full.
    pub at: Instant,
}

impl Received {
    /// The event the request delivers ([`EVENT_ID_HEADER`]), if any.
    pub fn event_id(&self) -> Option<&str> {
        self.request.header(EVENT_ID_HEADER)
    }

    pub fn succeeded(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

#[derive(Debug)]
struct State {
    script: Script,
    received: Vec<Received>,
    /// A clone of every open connection, so that going away can close them;
    /// a stalled one stays here, open, until then.
    connections: HashMap<u64, TcpStream>,
    next_connection: u64,
    gone: bool,
}

#[derive(Debug)]
struct Shared {
    address: SocketAddr,
    state: Mutex<State>,
    /// Signalled on every request received.
    arrived: Condvar,
}

/// The scripted, recording HTTP target on 127.0.0.1.
#[derive(Debug)]
pub struct HttpTarget {
    shared: Arc<Shared>,
}

impl HttpTarget {
    /// Starts answering by `script` on a free loopback port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let shared = Arc::new(Shared {
            address: listener.local_addr().expect("local address"),
            state: Mutex::new(State {
                script,
                received: Vec::new(),
                connections: HashMap::new(),
                next_connection: 0,
                gone: false,
            }),
            arrived: Condvar::new(),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || accept(&listener, &accepting));
        Self { shared }
    }

    pub fn address(&self) -> SocketAddr {
        self.shared.address
    }

    /// `http://127.0.0.1:<port>`, without a path.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.address)
    }

    /// Answers from now on by `script`, counting the requests already seen.
    pub fn set_script(&self, script: Script) {
        self.shared.lock().script = script;
    }

    /// Every request received so far with its answer, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        requests_of(&self.shared.lock().received)
    }

    /// The requests received for event `id`, in order.
    pub fn received_for(&self, id: &str) -> Vec<Received> {
        self.shared
            .lock()
            .received
            .iter()
            .filter(|received| received.event_id() == Some(id))
            .cloned()
            .collect()
    }

    /// How many requests for each event id were answered with a 2xx.
    pub fn successes_by_id(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for received in &self.shared.lock().received {
            if let (true, Some(id)) = (received.succeeded(), received.event_id()) {
                *counts.entry(id.to_owned()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Waits until `count` requests have arrived, or `timeout` has passed,
    /// and returns the requests received by then.
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> Vec<Request> {
        let (_, received) = self.wait(timeout, |received| received.len() >= count);
        requests_of(&received)
    }

    /// Waits until `done` holds for the requests received so far and
    /// returns them.
    ///
    /// # Panics
    /// When `timeout` passes first, listing what the target received.
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let (done, received) = self.wait(timeout, done);
        assert!(
            done,
            "the target did not see {what} within {timeout:?}; it received {} requests: {:#?}",
            received.len(),
            received
                .iter()
                .map(|r| (r.event_id().unwrap_or("<no webhook-id>"), r.status))
                .collect::<Vec<_>>()
        );
        received
    }

    /// Whether `done` held before `timeout`, and what was received by then.
    fn wait(&self, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> (bool, Vec<Received>) {
        let state = self.shared.lock();
        let (state, _) = self
            .shared
            .arrived
            .wait_timeout_while(state, timeout, |state| !done(&state.received))
            .unwrap_or_else(PoisonError::into_inner);
        (done(&state.received), state.received.clone())
    }
}

impl Drop for HttpTarget {
    fn drop(&mut self) {
        self.shared.go_away();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `request` and picks its answer.
    fn record(&self, request: Request) -> Answer {
        let mut state = self.lock();
        let earlier = match state.script.counting() {
            Counting::All => state.received.len(),
            Counting::SameEvent => match request.header(EVENT_ID_HEADER) {
                Some(id) => state
                    .received
                    .iter()
                    .filter(|received| received.event_id() == Some(id))
                    .count(),
                None => 0,
            },
        };
        let answer = state.script.answer(earlier).clone();
        let status = match &answer {
            Answer::Reply(reply) => Some(reply.status),
            Answer::Stall | Answer::GoAway => None,
        };
        state.received.push(Received {
            request,
            status,
            at: Instant::now(),
        });
        self.arrived.notify_all();
        answer
    }

    /// Closes every connection and stops listening.
    fn go_away(&self) {
        {
            let mut state = self.lock();
            state.gone = true;
            for (_, connection) in state.connections.drain() {
                let _ = connection.shutdown(Shutdown::Both);
            }
        }
        // Wakes the accept loop, which then sees `gone` and drops the listener.
        let _ = TcpStream::connect(self.address);
    }
}

fn requests_of(received: &[Received]) -> Vec<Request> {
    received
        .iter()
        .map(|received| received.request.clone())
        .collect()
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let id = {
            let mut state = shared.lock();
            if state.gone {
                return;
            }
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let id = state.next_connection;
            state.next_connection += 1;
            state.connections.insert(id, clone);
            id
        };
        let shared = Arc::clone(shared);
        std::thread::spawn(move || {
            if !serve(stream, &shared) {
                shared.lock().connections.remove(&id);
            }
        });
    }
}

/// Answers requests on one connection until the client closes it; `true`
/// when it stalled, leaving the connection open.
fn serve(stream: TcpStream, shared: &Shared) -> bool {
    let Ok(mut writer) = stream.try_clone() else {
        return false;
    };
    let mut reader = BufReader::new(stream);
    while let Ok(Some(request)) = read_request(&mut reader) {
        let close = request.wants_close();
        match shared.record(request) {
            Answer::Reply(reply) => {
                let written = wire::write_response(
                    &mut writer,
                    reply.status,
                    &reply.headers,
                    &reply.body,
                    close,
                );
                if written.is_err() || close {
                    return false;
                }
            }
            Answer::Stall => return true,
            Answer::GoAway => {
                shared.go_away();
                return false;
            }
        }
    }
    false
}

/// Reads one request; `None` when the connection closed cleanly before it.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let Some(head) = wire::read_head(reader)? else {
        return Ok(None);
    };
    let mut parts = head.start_line.split(' ');
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid_data(format!(
            "not a request line: {:?}",
            head.start_line
        )));
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &head.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(invalid_data_from)?;
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(invalid_data_from)?;
        headers.append(name, value);
    }
    let body = wire::read_body(reader, &head.headers, Unframed::Empty)?;
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body: Bytes::from(body),
    }))
}

fn invalid_data_from(error: impl std::fmt::Display) -> io::Error {
    invalid_data(error.to_string())
}

/// A loopback URL on which nothing listens: connections are refused at once.
///
/// # Panics
/// When no loopback port can be bound.
pub fn closed_loopback_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{address}")
}

#[cfg(test)]
mod tests;
