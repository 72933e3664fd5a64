//! A loopback TCP proxy that injects network and service faults between a
//! real client (the AWS SDK, reqwest) and a real upstream (moto's server, a
//! loopback HTTP target).
//!
//! The test switches the proxy's [`Mode`] at runtime, or queues modes for
//! the next few connections (a blip); each connection is handled by the
//! mode in force when it was accepted. Every request is forwarded with
//! `connection: close` and every answer closes the connection, so a client
//! never reuses a connection across a mode switch: one connection, one
//! request, one mode. The proxy records the mode each
//! connection got ([`FaultProxy::handled`]), so a test can show that the
//! fault it meant actually fired.
//!
//! A proxy can also start [`FaultProxy::refusing`]: its port is reserved
//! but nothing listens, so connections are refused by the kernel, until it
//! listens at the same address.
//!
//! Requests must carry their body with `content-length` (the AWS SDKs and
//! reqwest do for the bodies the tests send); the upstream's answer is read
//! until it closes the connection.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does with a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Forwards the request and relays the upstream's answer.
    Pass,
    /// Accepts the connection and closes it at once, request unread: the
    /// client sees its connection dropped before any answer.
    Refuse,
    /// Reads the request, then resets the connection (RST, `SO_LINGER` 0)
    /// without forwarding it.
    Reset,
    /// Forwards the request, waits for the upstream's whole answer, then
    /// closes the connection without relaying a byte of it: the upstream did
    /// the work, the client saw an error. The ambiguous case.
    CutAfterForward,
    /// Forwards the request, then holds the upstream's answer this long
    /// before relaying it: a slow service, which a client timeout may
    /// abandon after the work was done.
    DelayResponse(Duration),
    /// Answers without forwarding.
    Respond(InjectedResponse),
}

impl Mode {
    /// An error in the shape of the AWS JSON protocols (1.0 and 1.1), e.g.
    /// `aws_error(400, "ThrottlingException")` as a throttled call gets it.
    pub fn aws_error(status: u16, code: &str) -> Self {
        Self::Respond(InjectedResponse {
            status,
            content_type: "application/x-amz-json-1.1",
            body: format!(r#"{{"__type":"{code}","message":"injected by the fault proxy"}}"#),
        })
    }
}

/// A canned HTTP answer of [`Mode::Respond`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl InjectedResponse {
    fn to_http(&self) -> String {
        format!(
            "HTTP/1.1 {} Injected\r\ncontent-type: {}\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{}",
            self.status,
            self.content_type,
            self.body.len(),
            self.body
        )
    }
}

/// One HTTP/1.1 request as read off a connection.
#[derive(Debug, Clone)]
struct HttpRequest {
    /// Request line and header lines, without the blank line that ends them.
    head: Vec<String>,
    body: Vec<u8>,
}

impl HttpRequest {
    /// The first value of header `name` (case-insensitive).
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// The request with its `connection` header replaced by `close`.
    fn closing(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.body.len() + 512);
        for line in self.head.iter().filter(|line| {
            !line
                .split_once(':')
                .is_some_and(|(key, _)| key.trim().eq_ignore_ascii_case("connection"))
        }) {
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"connection: close\r\n\r\n");
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Reads one request (head, then a `content-length` body); `None` when the
/// peer closed the connection before sending a complete head.
async fn read_request<R>(reader: &mut BufReader<R>) -> io::Result<Option<HttpRequest>>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        head.push(line.to_owned());
    }
    let mut request = HttpRequest {
        head,
        body: Vec::new(),
    };
    let length = request
        .header("content-length")
        .map_or(Ok(0), str::parse)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).await?;
    Ok(Some(request))
}

#[derive(Debug)]
struct State {
    upstream: SocketAddr,
    mode: Mutex<Mode>,
    queued: Mutex<VecDeque<Mode>>,
    handled: Mutex<Vec<Mode>>,
    forwarded: AtomicUsize,
}

/// The proxy; it stops accepting when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    state: Arc<State>,
    /// The port, bound but not listening: the kernel refuses connections
    /// (RST to the SYN) until [`Self::listen`] takes it.
    reserved: Mutex<Option<TcpSocket>>,
    accept_loop: Mutex<Option<JoinHandle<()>>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`, passing.
    ///
    /// # Panics
    /// When `upstream` is not a loopback address.
    pub fn start(upstream: SocketAddr) -> Self {
        let proxy = Self::refusing(upstream);
        proxy.listen();
        proxy
    }

    /// A proxy whose port refuses connections outright (nothing listens
    /// on it) until [`Self::listen`]: a service that is down, then comes up
    /// at the same address.
    ///
    /// # Panics
    /// When `upstream` is not a loopback address.
    pub fn refusing(upstream: SocketAddr) -> Self {
        assert!(
            upstream.ip().is_loopback(),
            "the fault proxy only fronts loopback services, not {upstream}"
        );
        let socket = TcpSocket::new_v4().expect("create a socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind a loopback port");
        Self {
            address: socket.local_addr().expect("local address"),
            state: Arc::new(State {
                upstream,
                mode: Mutex::new(Mode::Pass),
                queued: Mutex::new(VecDeque::new()),
                handled: Mutex::new(Vec::new()),
                forwarded: AtomicUsize::new(0),
            }),
            reserved: Mutex::new(Some(socket)),
            accept_loop: Mutex::new(None),
        }
    }

    /// Starts accepting connections, if not already.
    pub fn listen(&self) {
        let Some(socket) = lock(&self.reserved).take() else {
            return;
        };
        let listener = socket.listen(128).expect("listen on the reserved port");
        let state = Arc::clone(&self.state);
        *lock(&self.accept_loop) = Some(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let queued = lock(&state.queued).pop_front();
                let mode = queued.unwrap_or_else(|| lock(&state.mode).clone());
                lock(&state.handled).push(mode.clone());
                tokio::spawn(handle(client, mode, Arc::clone(&state)));
            }
        }));
    }

    /// A proxy in front of the emulator named by `AWS_ENDPOINT_URL`.
    ///
    /// # Panics
    /// As [`crate::aws_config`], when that endpoint is unset or not loopback.
    pub async fn in_front_of_emulator() -> Self {
        crate::aws_config().await;
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("checked by aws_config");
        let authority = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        let upstream = tokio::net::lookup_host(authority)
            .await
            .unwrap_or_else(|error| panic!("resolve {authority}: {error}"))
            .next()
            .unwrap_or_else(|| panic!("{authority} resolves to no address"));
        Self::start(upstream)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// An EventBridge client of the test environment that goes through this
    /// proxy. Clients are pointed at the proxy one service at a time: an
    /// endpoint set on the shared `SdkConfig` loses to `AWS_ENDPOINT_URL`,
    /// which every service's configuration re-reads from the environment.
    pub async fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::config::Builder::from(&crate::aws_config().await)
            .endpoint_url(self.url())
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }

    /// An SSM client through this proxy (see [`Self::eventbridge`]).
    pub async fn ssm(&self) -> aws_sdk_ssm::Client {
        let config = aws_sdk_ssm::config::Builder::from(&crate::aws_config().await)
            .endpoint_url(self.url())
            .build();
        aws_sdk_ssm::Client::from_conf(config)
    }

    /// A DynamoDB client through this proxy (see [`Self::eventbridge`]).
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&crate::aws_config().await)
            .endpoint_url(self.url())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// Applies to every connection accepted from now on (after any queued).
    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.state.mode) = mode;
    }

    /// The next connections get `modes`, one each in order; then the mode
    /// set with [`Self::set_mode`] applies again.
    pub fn queue(&self, modes: impl IntoIterator<Item = Mode>) {
        lock(&self.state.queued).extend(modes);
    }

    /// The mode each connection got, in the order they were accepted.
    pub fn handled(&self) -> Vec<Mode> {
        lock(&self.state.handled).clone()
    }

    /// How many connections got `mode`.
    pub fn handled_as(&self, mode: &Mode) -> usize {
        lock(&self.state.handled)
            .iter()
            .filter(|handled| *handled == mode)
            .count()
    }

    /// How many requests the upstream answered (whether or not the client
    /// heard the answer).
    pub fn forwarded(&self) -> usize {
        self.state.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(accept_loop) = lock(&self.accept_loop).take() {
            accept_loop.abort();
        }
    }
}

/// Every critical section is one read or one push: a panic elsewhere
/// cannot leave the value half-updated.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Applies `mode` to one connection. I/O errors end the connection: the
/// client seeing a broken connection is what every fault is about, and a
/// client that gave up (a timeout under test) needs no answer.
async fn handle(client: TcpStream, mode: Mode, state: Arc<State>) {
    match mode {
        Mode::Refuse => drop(client),
        Mode::Reset => {
            if let Some((_, client)) = receive(client).await {
                // Closing a socket that lingers 0 s sends RST, not FIN.
                client
                    .set_zero_linger()
                    .expect("SO_LINGER 0 on a connected socket");
                drop(client);
            }
        }
        Mode::Respond(response) => {
            if let Some((_, mut client)) = receive(client).await {
                let _ = client.write_all(response.to_http().as_bytes()).await;
            }
        }
        Mode::Pass | Mode::CutAfterForward | Mode::DelayResponse(_) => {
            let Some((request, mut client)) = receive(client).await else {
                return;
            };
            let Ok(answer) = forward(&request, &state).await else {
                return;
            };
            match mode {
                Mode::CutAfterForward => return,
                Mode::DelayResponse(delay) => tokio::time::sleep(delay).await,
                _ => {}
            }
            let _ = client.write_all(&answer).await;
        }
    }
}

/// Reads the connection's request; `None` if the client went away first.
async fn receive(client: TcpStream) -> Option<(HttpRequest, TcpStream)> {
    let mut reader = BufReader::new(client);
    let request = read_request(&mut reader).await.ok()??;
    Some((request, reader.into_inner()))
}

/// Sends `request` upstream on a fresh connection and reads the whole answer.
async fn forward(request: &HttpRequest, state: &State) -> io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(state.upstream).await?;
    upstream.write_all(&request.closing()).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    state.forwarded.fetch_add(1, Ordering::SeqCst);
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::net::TcpListener;

    /// An upstream answering every request `200 {"ok":true}`, counting them.
    async fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&served);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let mut reader = BufReader::new(stream);
                let Ok(Some(request)) = read_request(&mut reader).await else {
                    continue;
                };
                assert_eq!(request.header("connection"), Some("close"));
                count.fetch_add(1, Ordering::SeqCst);
                let mut stream = reader.into_inner();
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}")
                    .await;
            }
        });
        (address, served)
    }

    const REQUEST: &[u8] = b"POST /x HTTP/1.1\r\nhost: test\r\nconnection: keep-alive\r\n\
        content-length: 4\r\n\r\nping";

    /// Sends [`REQUEST`] through `proxy` and reads until the proxy closes.
    async fn exchange(proxy: &FaultProxy) -> io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect(proxy.address).await?;
        stream.write_all(REQUEST).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn passing_relays_the_upstream_answer_and_closes() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::start(address);

        let answer = exchange(&proxy).await.expect("relayed");

        assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "{answer:?}");
        assert!(answer.ends_with(b"{\"ok\":true}"));
        assert_eq!(served.load(Ordering::SeqCst), 1);
        assert_eq!(proxy.forwarded(), 1);
        assert_eq!(proxy.handled(), [Mode::Pass]);
    }

    #[tokio::test]
    async fn refusing_closes_without_forwarding() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::start(address);
        proxy.set_mode(Mode::Refuse);

        // Closed with the request unread: an end of stream or a reset.
        let answer = exchange(&proxy).await.unwrap_or_default();

        assert!(answer.is_empty(), "{answer:?}");
        assert_eq!(served.load(Ordering::SeqCst), 0);
        assert_eq!(proxy.handled_as(&Mode::Refuse), 1);
    }

    #[tokio::test]
    async fn resetting_sends_a_reset_without_forwarding() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::start(address);
        proxy.set_mode(Mode::Reset);

        let error = exchange(&proxy).await.expect_err("reset");

        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(served.load(Ordering::SeqCst), 0);
        assert_eq!(proxy.handled_as(&Mode::Reset), 1);
    }

    #[tokio::test]
    async fn cutting_after_forwarding_lets_the_upstream_work_and_the_client_see_nothing() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::start(address);
        proxy.set_mode(Mode::CutAfterForward);

        let answer = exchange(&proxy).await.unwrap_or_default();

        assert!(answer.is_empty(), "{answer:?}");
        assert_eq!(
            served.load(Ordering::SeqCst),
            1,
            "the upstream did the work"
        );
        assert_eq!(proxy.forwarded(), 1);
    }

    #[tokio::test]
    async fn delaying_relays_the_answer_no_sooner_than_the_delay() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::start(address);
        let delay = Duration::from_millis(200);
        proxy.set_mode(Mode::DelayResponse(delay));
        let started = Instant::now();

        let answer = exchange(&proxy).await.expect("relayed");

        assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
        assert_eq!(served.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn responding_answers_the_injected_error_without_forwarding() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::start(address);
        let throttled = Mode::aws_error(400, "ThrottlingException");
        proxy.set_mode(throttled.clone());

        let answer = String::from_utf8(exchange(&proxy).await.expect("answered")).unwrap();

        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert!(answer.contains("content-type: application/x-amz-json-1.1\r\n"));
        assert!(answer.ends_with(
            r#"{"__type":"ThrottlingException","message":"injected by the fault proxy"}"#
        ));
        assert_eq!(served.load(Ordering::SeqCst), 0);
        assert_eq!(proxy.handled_as(&throttled), 1);
    }

    #[tokio::test]
    async fn a_mode_switch_applies_to_the_next_connection() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::start(address);
        proxy.set_mode(Mode::Reset);
        exchange(&proxy).await.expect_err("reset");
        proxy.set_mode(Mode::Pass);

        exchange(&proxy).await.expect("relayed");

        assert_eq!(proxy.handled(), [Mode::Reset, Mode::Pass]);
        assert_eq!(served.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refusing_proxy_refuses_connections_until_it_listens() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::refusing(address);

        let refused = TcpStream::connect(proxy.address)
            .await
            .expect_err("refused");
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);

        proxy.listen();
        let answer = exchange(&proxy).await.expect("relayed");
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
        assert_eq!(
            proxy.handled(),
            [Mode::Pass],
            "the refusal was the kernel's"
        );
        assert_eq!(served.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn queued_modes_apply_once_each_before_the_standing_mode() {
        let (address, served) = upstream().await;
        let proxy = FaultProxy::start(address);
        proxy.queue([Mode::Reset, Mode::Refuse]);

        exchange(&proxy).await.expect_err("reset");
        let refused = exchange(&proxy).await.unwrap_or_default();
        let relayed = exchange(&proxy).await.expect("relayed");

        assert!(refused.is_empty(), "{refused:?}");
        assert!(relayed.starts_with(b"HTTP/1.1 200 OK"));
        assert_eq!(proxy.handled(), [Mode::Reset, Mode::Refuse, Mode::Pass]);
        assert_eq!(served.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_forwarded_request_asks_the_upstream_to_close() {
        let request = HttpRequest {
            head: vec![
                "POST / HTTP/1.1".to_owned(),
                "Connection: keep-alive".to_owned(),
                "content-length: 2".to_owned(),
            ],
            body: b"{}".to_vec(),
        };
        assert_eq!(
            String::from_utf8(request.closing()).unwrap(),
            "POST / HTTP/1.1\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
        );
        assert_eq!(request.header("CONTENT-LENGTH"), Some("2"));
    }
}
