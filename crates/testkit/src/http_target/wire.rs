//! HTTP/1.1 messages read and written over std IO, byte by byte: what the
//! loopback target needs and what the raw clients of the tests reuse, since
//! no full HTTP library lets a test see or send malformed bytes.

use std::io::{self, BufRead, Write};

/// The longest message head either side reads.
const MAX_HEAD: usize = 1024 * 1024;

/// A message's start line and its headers (values decoded lossily).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub start_line: String,
    pub headers: Vec<(String, String)>,
}

/// What an unframed body (neither `content-length` nor chunked) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unframed {
    /// Empty, as in a request.
    Empty,
    /// Everything up to the end of the connection, as in a response.
    UntilClose,
}

/// The first header named `name` (case-insensitive).
pub fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Reads the start line and the headers; `None` on a clean end of stream
/// before the first byte.
pub fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start_line = None;
    let mut headers = Vec::new();
    let mut total = 0;
    loop {
        let mut line = Vec::new();
        let read = reader.read_until(b'\n', &mut line)?;
        total += read;
        if read == 0 {
            return if start_line.is_none() {
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
        match start_line {
            None => start_line = Some(line.to_owned()),
            Some(_) if line.is_empty() => break,
            Some(_) => {
                let (name, value) = line
                    .split_once(':')
                    .ok_or_else(|| invalid_data(format!("not a header line: {line:?}")))?;
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
    Ok(start_line.map(|start_line| Head {
        start_line,
        headers,
    }))
}

/// Reads the body that follows a head with `headers`: framed by
/// `content-length`, chunked, or as `unframed` says.
pub fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    unframed: Unframed,
) -> io::Result<Vec<u8>> {
    if find_header(headers, "transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"))
    {
        return read_chunked(reader);
    }
    match (find_header(headers, "content-length"), unframed) {
        (Some(value), _) => {
            let length = value
                .trim()
                .parse()
                .map_err(|_| invalid_data(format!("bad content-length {value:?}")))?;
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            Ok(body)
        }
        (None, Unframed::Empty) => Ok(Vec::new()),
        (None, Unframed::UntilClose) => {
            let mut body = Vec::new();
            reader.read_to_end(&mut body)?;
            Ok(body)
        }
    }
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

/// Writes a response with a `content-length`, keeping the connection open
/// unless `close`.
pub fn write_response(
    stream: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    let mut head = format!(
        "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\nconnection: {connection}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// An [`io::ErrorKind::InvalidData`] error: bytes that are not the HTTP
/// message they should be.
pub fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}
