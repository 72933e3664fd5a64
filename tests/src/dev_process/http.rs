//! A minimal HTTP/1.1 client and request reader over std TCP: the tests of
//! `hookbridge dev` must control every byte on the wire (truncated bodies,
//! invalid header bytes, stalled clients), which no full client allows.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// The longest request or response head either side reads.
const MAX_HEAD: usize = 1024 * 1024;
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
        find_header(&self.headers, name)
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

/// An HTTP request as read off the wire (header values decoded lossily).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the client asked to close the connection after this request.
    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
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
    let (start, headers) = read_head(reader)?
        .ok_or_else(|| invalid_data("the connection closed before a response"))?;
    let status = start
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| start.starts_with("HTTP/1."))
        .ok_or_else(|| invalid_data(format!("not an HTTP status line: {start:?}")))?;
    let body = match body_framing(&headers)? {
        Framing::Length(length) => read_exact_body(reader, length)?,
        Framing::Chunked => read_chunked(reader)?,
        Framing::None => {
            let mut body = Vec::new();
            reader.read_to_end(&mut body)?;
            body
        }
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Reads one request; `None` when the connection closed cleanly before it.
pub fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(reader)? else {
        return Ok(None);
    };
    let mut parts = start.split(' ');
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid_data(format!("not a request line: {start:?}")));
    };
    let body = match body_framing(&headers)? {
        Framing::Length(length) => read_exact_body(reader, length)?,
        Framing::Chunked => read_chunked(reader)?,
        Framing::None => Vec::new(),
    };
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body,
    }))
}

enum Framing {
    Length(usize),
    Chunked,
    None,
}

fn body_framing(headers: &[(String, String)]) -> io::Result<Framing> {
    if find_header(headers, "transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"))
    {
        return Ok(Framing::Chunked);
    }
    match find_header(headers, "content-length") {
        Some(value) => value
            .trim()
            .parse()
            .map(Framing::Length)
            .map_err(|_| invalid_data(format!("bad content-length {value:?}"))),
        None => Ok(Framing::None),
    }
}

/// A message's start line and headers.
type Head = (String, Vec<(String, String)>);

/// The start line and the headers; `None` on a clean end of stream.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start = None;
    let mut headers = Vec::new();
    let mut total = 0;
    loop {
        let mut line = Vec::new();
        let read = reader.read_until(b'\n', &mut line)?;
        total += read;
        if read == 0 {
            return if start.is_none() && headers.is_empty() {
                Ok(None)
            } else {
                Err(invalid_data("the connection closed inside a message head"))
            };
        }
        if total > MAX_HEAD {
            return Err(invalid_data("message head too large"));
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        match start {
            None => start = Some(line.to_owned()),
            Some(_) if line.is_empty() => break,
            Some(_) => {
                let (name, value) = line
                    .split_once(':')
                    .ok_or_else(|| invalid_data(format!("not a header line: {line:?}")))?;
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
    Ok(start.map(|start| (start, headers)))
}

fn read_exact_body(reader: &mut impl BufRead, length: usize) -> io::Result<Vec<u8>> {
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_text = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid_data(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Writes a response with an empty body, keeping the connection open unless
/// `close`.
pub fn write_empty_response(stream: &mut impl Write, status: u16, close: bool) -> io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    write!(
        stream,
        "HTTP/1.1 {status} Scripted\r\ncontent-length: 0\r\nconnection: {connection}\r\n\r\n"
    )?;
    stream.flush()
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
