//! A minimal HTTP/1.1 client over std TCP: the tests of
//! `hookbridge dev` must control every byte on the wire (truncated bodies,
//! invalid header bytes, stalled clients), which no full client allows.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use hookbridge_testkit::http_target::wire::{self, Head, Unframed, invalid_data};
use serde_json::Value;

/// How long one request may take before the client gives up.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        wire::find_header(&self.headers, name)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When the body is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "HTTP {} body is not JSON ({error}): {}",
                self.status,
                self.body_text()
            )
        })
    }

    /// The `code` of the contract's error body
    /// `{"error":{"code":"snake_case","message":"..."}}`.
    ///
    /// # Panics
    /// When the body does not have that shape.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let code = body["error"]["code"].as_str().unwrap_or_default();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !code.is_empty()
                && code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "HTTP {}: error code is not snake_case text: {body}",
            self.status
        );
        assert!(
            !message.is_empty(),
            "HTTP {}: error body has no message: {body}",
            self.status
        );
        code.to_owned()
    }
}

/// Sends one request on a fresh connection (`connection: close`, with a
/// `content-length`) and reads the response.
pub fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> io::Result<Response> {
    send_raw(
        address,
        &encode_request(address, method, path, headers, body),
    )
}

/// The bytes of a well-formed request, as [`send`] writes them.
pub fn encode_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Opens a connection with the client's timeouts set.
pub fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&address, CLIENT_TIMEOUT)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes `bytes` as they are on a fresh connection and reads the response.
pub fn send_raw(address: SocketAddr, bytes: &[u8]) -> io::Result<Response> {
    let mut stream = connect(address)?;
    stream.write_all(bytes)?;
    read_response(&mut BufReader::new(stream))
}

/// Reads one response (head, then a body framed by `content-length`,
/// chunked, or the end of the connection).
pub fn read_response(reader: &mut impl BufRead) -> io::Result<Response> {
    let Head {
        start_line,
        headers,
    } = wire::read_head(reader)?
        .ok_or_else(|| invalid_data("the connection closed before a response"))?;
    let status = start_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| start_line.starts_with("HTTP/1."))
        .ok_or_else(|| invalid_data(format!("not an HTTP status line: {start_line:?}")))?;
    let body = wire::read_body(reader, &headers, Unframed::UntilClose)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Writes `pieces` one after the other from a second thread while reading
/// the response, for a server that may answer (and close) before it has read
/// the whole request. Writing stops at the first error or once the response
/// is in.
pub fn send_while_writing(
    address: SocketAddr,
    pieces: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> io::Result<Response> {
    let stream = connect(address)?;
    let mut writer = stream.try_clone()?;
    let writing = std::thread::spawn(move || {
        for piece in pieces {
            if writer.write_all(&piece).is_err() {
                return;
            }
        }
    });
    let response = read_response(&mut BufReader::new(stream.try_clone()?));
    // Unblocks the writer if the server stopped reading.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = writing.join();
    response
}
