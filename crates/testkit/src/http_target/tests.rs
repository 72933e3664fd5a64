use std::io::{BufReader, Read, Write};

use super::*;

/// Sends one request on a fresh connection and reads the answer's status
/// and body.
fn post(target: &HttpTarget, event_id: &str, body: &str) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(target.address())?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "POST /hooks?x=1 HTTP/1.1\r\nhost: test\r\nwebhook-id: {event_id}\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(stream);
    let head = wire::read_head(&mut reader)?
        .ok_or_else(|| invalid_data("the connection closed unanswered"))?;
    let status = head.start_line.split(' ').nth(1).unwrap().parse().unwrap();
    let body = wire::read_body(&mut reader, &head.headers, Unframed::UntilClose)?;
    Ok((status, body))
}

#[test]
fn answers_in_order_then_the_default_and_records_every_request() {
    let target = HttpTarget::start(Script::in_order([
        Answer::from(500),
        Reply::json(503, r#"{"ok":false}"#).into(),
    ]));

    assert_eq!(post(&target, "a", "one").unwrap(), (500, Vec::new()));
    assert_eq!(
        post(&target, "b", "two").unwrap(),
        (503, br#"{"ok":false}"#.to_vec())
    );
    assert_eq!(post(&target, "c", "three").unwrap().0, 200);

    let received = target.received();
    let statuses: Vec<Option<u16>> = received.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    let request = &received[1].request;
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks?x=1");
    assert_eq!(request.headers["webhook-id"], "b");
    assert_eq!(request.header("host"), Some("test"));
    assert_eq!(request.body, "two");
    assert_eq!(target.requests().len(), 3);
}

#[test]
fn a_per_event_script_counts_each_event_on_its_own() {
    let target = HttpTarget::start(Script::per_event([500, 500]).then(204));

    let statuses: Vec<u16> = ["a", "a", "b", "a", "b", "b"]
        .iter()
        .map(|id| post(&target, id, "{}").unwrap().0)
        .collect();

    assert_eq!(statuses, [500, 500, 500, 204, 500, 204]);
    assert_eq!(target.received_for("a").len(), 3);
    assert_eq!(
        target.successes_by_id(),
        HashMap::from([("a".to_owned(), 1), ("b".to_owned(), 1)])
    );
    target.set_script(Script::always(410));
    assert_eq!(post(&target, "a", "{}").unwrap().0, 410);
}

#[test]
fn a_stalled_request_is_recorded_and_never_answered() {
    let target = HttpTarget::start(Script::always(Answer::Stall));
    let mut stream = TcpStream::connect(target.address()).unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n")
        .unwrap();
    let received = target.wait_until(Duration::from_secs(5), "the request", |received| {
        received.len() == 1
    });
    assert_eq!(received[0].status, None);
    assert!(!received[0].succeeded());

    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let error = stream
        .read(&mut [0])
        .expect_err("no answer, and still open");
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{error}"
    );
}

#[test]
fn going_away_closes_the_connection_and_refuses_later_ones() {
    let target = HttpTarget::start(Script::in_order([200]).then(Answer::GoAway));
    assert_eq!(post(&target, "a", "{}").unwrap().0, 200);
    assert!(post(&target, "b", "{}").is_err(), "closed unanswered");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(target.address()).is_ok() {
        assert!(Instant::now() < deadline, "still listening");
        std::thread::yield_now();
    }
    assert_eq!(target.requests().len(), 2);
}

#[test]
fn waits_are_bounded() {
    let target = HttpTarget::start(Script::always(200));
    let started = Instant::now();
    assert!(
        target
            .wait_for_requests(1, Duration::from_millis(50))
            .is_empty()
    );
    assert!(started.elapsed() >= Duration::from_millis(50));

    let poster = {
        let address = target.address();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nconnection: close\r\n\r\n")
                .unwrap();
        })
    };
    let received = target.wait_until(Duration::from_secs(5), "one request", |received| {
        received.len() == 1
    });
    assert_eq!(received[0].request.method, "GET");
    poster.join().unwrap();
}

#[test]
#[should_panic(expected = "the target did not see a request within")]
fn an_unmet_wait_panics_with_what_was_received() {
    let target = HttpTarget::start(Script::always(200));
    target.wait_until(Duration::from_millis(10), "a request", |received| {
        !received.is_empty()
    });
}

#[test]
fn nothing_listens_on_a_closed_loopback_url() {
    let url = closed_loopback_url();
    let address = url.strip_prefix("http://").unwrap();
    assert!(TcpStream::connect(address).is_err());
}
