//! A loopback HTTP server that answers with a fixed script, to drive the
//! adapters through answers the emulator never gives (throttled entries,
//! 500s) and through an endpoint that goes away.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

/// One canned answer, sent with the AWS JSON protocol's content type.
#[derive(Debug, Clone)]
pub struct ScriptedResponse {
    pub status: u16,
    pub body: String,
}

impl ScriptedResponse {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }
}

/// Answers one request per connection with the next scripted response, then
/// stops listening once the script is spent: later connections are refused,
/// as from a service that went away.
#[derive(Debug)]
pub struct ScriptedServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl ScriptedServer {
    pub fn start(script: Vec<ScriptedResponse>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for response in script {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                answer(stream, &response, &seen);
            }
        });
        Self { url, requests }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bodies of the requests answered so far, in order.
    pub fn request_bodies(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn answer(stream: TcpStream, response: &ScriptedResponse, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut content_length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; content_length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(String::from_utf8_lossy(&body).into_owned());
    let head = format!(
        "HTTP/1.1 {} Scripted\r\ncontent-type: application/x-amz-json-1.1\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        response.status,
        response.body.len()
    );
    let mut stream = reader.into_inner();
    // The client may have given up already (a timeout under test): nothing to do then.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(response.body.as_bytes()));
}

/// A loopback URL on which nothing listens: connections are refused at once.
pub fn closed_loopback_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{address}")
}
