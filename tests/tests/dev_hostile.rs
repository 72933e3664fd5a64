//! Hostile input at the edge of `hookbridge dev`: oversized and endless
//! bodies, deep nesting, invalid UTF-8, duplicate JSON keys, header
//! injection, floods of headers and clients that never finish. Each attack
//! gets a clear answer (or a closed connection where HTTP allows nothing
//! better); afterwards the process still serves, accepts a valid webhook,
//! and its peak resident memory stays bounded.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hookbridge_core::ingest::MAX_NESTING;
use hookbridge_core::payload_ref::MAX_BODY_SIZE;
use hookbridge_testkit::http_target::{HttpTarget, Script};
use hookbridge_tests::dev_process::http::{self, Response};
use hookbridge_tests::dev_process::webhooks::{Kind, MONEYBUTTON_SECRET, Webhook, unique_id};
use hookbridge_tests::dev_process::{DevOptions, DevServer, Scratch, assert_delivered_as};

const MIB: usize = 1024 * 1024;
/// Generous: `hookbridge dev` idles at a few tens of MiB.
const MAX_PEAK_RSS: u64 = 200 * 1024 * 1024;
const WAIT: Duration = Duration::from_secs(15);

/// After an attack: the process serves, accepts a valid webhook, and its
/// peak memory is bounded.
fn assert_unharmed(dev: &DevServer, attack: &str) {
    dev.assert_serving();
    dev.post_accepted(&Webhook::new(Kind::Github, &unique_id("after")));
    let peak = dev.peak_rss_bytes();
    eprintln!("after {attack}: peak RSS {} MiB", peak / (1024 * 1024));
    assert!(
        peak < MAX_PEAK_RSS,
        "after {attack}: peak RSS {peak} bytes exceeds {MAX_PEAK_RSS}"
    );
}

fn github_secret() -> &'static str {
    Kind::Github.dev_secret()
}

/// A signed GitHub webhook whose body is a JSON object of about `size`
/// bytes, padded with a string.
fn github_of_size(size: usize) -> Webhook {
    let skeleton = r#"{"action":"opened","padding":""}"#;
    let padding = "x".repeat(size.saturating_sub(skeleton.len()));
    let body = format!(r#"{{"action":"opened","padding":"{padding}"}}"#);
    Webhook::github_with_body(&unique_id("big"), body.into_bytes(), github_secret())
}

/// Posts `webhook`, writing its body from a second thread: the server may
/// answer before it has read it all.
fn post_streaming(dev: &DevServer, webhook: &Webhook) -> io::Result<Response> {
    let request = http::encode_request(
        dev.address(),
        "POST",
        &webhook.path(),
        &webhook.headers,
        &webhook.body,
    );
    let pieces: Vec<Vec<u8>> = request.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
    http::send_while_writing(dev.address(), pieces.into_iter())
}

/// A valid GitHub webhook's head announcing 64 MiB of body (or a chunked
/// body of no stated length), then `sent` bytes of body.
fn endless_body(address: SocketAddr, chunked: bool, sent: usize) -> io::Result<Response> {
    let webhook = Webhook::new(Kind::Github, &unique_id("endless"));
    let mut head = format!("POST /webhooks/github HTTP/1.1\r\nhost: {address}\r\n");
    for (name, value) in &webhook.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(if chunked {
        "transfer-encoding: chunked\r\n\r\n"
    } else {
        "content-length: 67108864\r\n\r\n"
    });
    let chunk = vec![b' '; 64 * 1024];
    let body = (0..sent / chunk.len()).map(move |_| {
        if chunked {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            framed
        } else {
            chunk.clone()
        }
    });
    http::send_while_writing(address, std::iter::once(head.into_bytes()).chain(body))
}

/// Checks a 413 with the contract's error body.
fn assert_too_large(result: io::Result<Response>, what: &str) -> Response {
    let response = result.unwrap_or_else(|error| panic!("{what}: no answer ({error})"));
    assert_eq!(response.status, 413, "{what}: {}", response.body_text());
    response.error_code();
    response
}

/// Checks that a request HTTP itself cannot carry was refused: 400 or 431
/// (hyper's own answers), or a closed connection.
fn assert_refused_by_http(result: io::Result<Response>, allowed: &[u16], what: &str) {
    match result {
        Ok(response) => assert!(
            allowed.contains(&response.status),
            "{what}: answered {} {}",
            response.status,
            response.body_text()
        ),
        Err(error) => assert!(
            matches!(
                error.kind(),
                ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof | ErrorKind::InvalidData
            ),
            "{what}: neither an answer nor a closed connection: {error}"
        ),
    }
}

#[test]
fn bodies_up_to_5_mib_are_delivered_byte_for_byte_and_larger_ones_refused_413() {
    let target = HttpTarget::start(Script::always(200));
    let scratch = Scratch::new("hostile-sizes");
    let dev = DevServer::start(&scratch, 1, &DevOptions::delivering_to(target.url()));

    // Inline below SNS's limit; by reference (a file under the data
    // directory) above it, up to just under the 5 MiB limit.
    let accepted: Vec<Webhook> = [100 * 1024, 300 * 1024, MIB, 4 * MIB + 9 * MIB / 10]
        .into_iter()
        .map(github_of_size)
        .collect();
    for webhook in &accepted {
        dev.post_accepted(webhook);
    }
    dev.post_accepted(&accepted[2]);
    for size in [MAX_BODY_SIZE + 1, 6 * MIB] {
        let webhook = github_of_size(size);
        let result = post_streaming(&dev, &webhook);
        let response = assert_too_large(result, &format!("a {size}-byte body"));
        assert!(
            response.body_text().contains("5242880 bytes"),
            "the 413 names the limit: {}",
            response.body_text()
        );
        assert!(response.header("x-correlation-id").is_some());
        assert_unharmed(&dev, &format!("a {size}-byte body"));
    }

    for webhook in &accepted {
        let received = target.wait_until(WAIT, "every accepted body delivered", |received| {
            received
                .iter()
                .any(|r| r.event_id() == Some(webhook.event_id.as_str()))
        });
        let delivered = received
            .iter()
            .find(|r| r.event_id() == Some(webhook.event_id.as_str()))
            .expect("waited for");
        assert_delivered_as(delivered, webhook, "pull_request.opened");
        assert_eq!(
            delivered.request.body,
            webhook.delivered_body,
            "{} bytes arrive byte for byte",
            webhook.body.len()
        );
    }
    let stored = std::fs::read_dir(scratch.data_dir().join("payloads/github"))
        .expect("large payloads are files under the data directory")
        .count();
    assert_eq!(
        stored, 3,
        "one file per payload too large for SNS, the repeated one once"
    );
}

#[test]
fn endless_bodies_are_refused_413_without_being_read() {
    const OVER_THE_LIMIT: usize = 6 * 1024 * 1024;
    let scratch = Scratch::new("hostile-endless");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());

    // 64 MiB announced, 2 MiB sent: the answer cannot wait for the rest. A
    // chunked body announces nothing: it is refused once past the 5 MiB limit.
    assert_too_large(
        endless_body(dev.address(), false, 2 * 1024 * 1024),
        "a 64 MiB content-length",
    );
    assert_unharmed(&dev, "a 64 MiB content-length");
    assert_too_large(
        endless_body(dev.address(), true, OVER_THE_LIMIT),
        "an endless chunked body",
    );
    assert_unharmed(&dev, "an endless chunked body");

    // Many at once.
    let address = dev.address();
    let attackers: Vec<_> = (0..32)
        .map(|n| {
            let chunked = n % 2 == 0;
            let sent = if chunked { OVER_THE_LIMIT } else { 1024 * 1024 };
            std::thread::spawn(move || endless_body(address, chunked, sent))
        })
        .collect();
    for attacker in attackers {
        assert_too_large(
            attacker.join().expect("attacker thread"),
            "one of 32 concurrent endless bodies",
        );
    }
    assert_unharmed(&dev, "32 concurrent endless bodies");
}

#[test]
fn deeply_nested_json_is_refused_400() {
    let scratch = Scratch::new("hostile-nesting");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());
    let nested = |depth: usize| {
        // The top-level object is the first level.
        let inner = depth - 1;
        format!(
            r#"{{"action":"opened","deep":{}1{}}}"#,
            "[".repeat(inner),
            "]".repeat(inner)
        )
    };

    let deepest_allowed = Webhook::github_with_body(
        &unique_id("deep_ok"),
        nested(MAX_NESTING).into_bytes(),
        github_secret(),
    );
    dev.post_accepted(&deepest_allowed);

    for (what, body) in [
        ("one level too deep", nested(MAX_NESTING + 1)),
        ("100,000 levels", nested(100_000)),
        (
            "200,000 unclosed arrays",
            format!(r#"{{"a":{}"#, "[".repeat(200_000)),
        ),
        (
            "40,000 nested objects",
            format!(
                r#"{{"action":"opened","o":{}1{}}}"#,
                r#"{"a":"#.repeat(40_000),
                "}".repeat(40_000)
            ),
        ),
    ] {
        let webhook =
            Webhook::github_with_body(&unique_id("deep"), body.into_bytes(), github_secret());
        let response = dev.post(&webhook);
        assert_eq!(response.status, 400, "{what}: {}", response.body_text());
        assert_eq!(response.error_code(), "invalid_json", "{what}");
        assert_unharmed(&dev, what);
    }
}

#[test]
fn invalid_utf8_bodies_are_refused_400_and_unreadable_ids_fall_back() {
    let scratch = Scratch::new("hostile-utf8");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());

    let bad_body = Webhook::github_with_body(
        &unique_id("utf8"),
        b"{\"action\":\"opened\",\"title\":\"caf\xe9 \xff\xfe\"}".to_vec(),
        github_secret(),
    );
    let response = dev.post(&bad_body);
    assert_eq!(response.status, 400, "{}", response.body_text());
    assert_eq!(response.error_code(), "invalid_json");
    assert_unharmed(&dev, "an invalid UTF-8 body");

    // A lone surrogate is JSON's way of spelling invalid UTF-8.
    let surrogate = Webhook::stripe_with_body(
        "evt_surrogate",
        br#"{"id":"evt_\ud800","object":"event","type":"charge.succeeded"}"#.to_vec(),
        Kind::Stripe.dev_secret(),
    );
    let response = dev.post(&surrogate);
    assert_eq!(response.status, 400, "{}", response.body_text());
    response.error_code();
    assert_unharmed(&dev, "a lone surrogate in the event id");

    // Bytes 0x80-0xFF are legal in HTTP header values, but not text.
    let body = br#"{"action":"opened"}"#;
    let mut request =
        b"POST /webhooks/github HTTP/1.1\r\nhost: hookbridge\r\nconnection: close\r\n".to_vec();
    request
        .extend_from_slice(b"x-github-event: pull_request\r\nx-github-delivery: \xc3\x28\xff\r\n");
    request.extend_from_slice(
        format!(
            "x-hub-signature-256: {}\r\ncontent-length: {}\r\n\r\n",
            hookbridge_core::providers::github::sign(github_secret(), body),
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(body);
    let response = http::send_raw(dev.address(), &request).expect("an answer");
    let fallen_back = refused_or_fallen_back(&response, "an invalid UTF-8 event id header");
    assert_unharmed(&dev, "an invalid UTF-8 event id header");

    let response = dev.request("POST", "/webhooks/%FF%FE", &[], b"{}");
    assert!(
        matches!(response.status, 400 | 404),
        "an invalid UTF-8 source name: {} {}",
        response.status,
        response.body_text()
    );
    response.error_code();
    let raw_path = b"POST /webhooks/\xff\xfe HTTP/1.1\r\nhost: hookbridge\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}";
    assert_refused_by_http(
        http::send_raw(dev.address(), raw_path),
        &[400, 404],
        "raw bytes in the path",
    );
    assert_unharmed(&dev, "invalid UTF-8 in the path");
    assert_eq!(
        dev.events().len(),
        4 + usize::from(fallen_back),
        "only the four checks and a fallback are stored"
    );
}

/// A verified webhook whose metadata hookbridge cannot read is the
/// provider's word (DESIGN.md, "Providers"): refused (400, or 401 when the
/// signature itself is ambiguous) only when no usable id the provider
/// promises is left, else accepted with the fallback id or type. Either way
/// nothing unreadable becomes the event's id. True when it was accepted.
fn refused_or_fallen_back(response: &Response, what: &str) -> bool {
    match response.status {
        400 => {
            assert_eq!(response.error_code(), "invalid_field", "{what}");
            false
        }
        401 => {
            assert_eq!(response.error_code(), "signature_malformed", "{what}");
            false
        }
        202 => {
            let id = response.json()["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                !id.is_empty() && !id.chars().any(char::is_control) && !id.contains("injected"),
                "{what}: accepted as `{id:?}`"
            );
            true
        }
        other => panic!("{what}: {other} {}", response.body_text()),
    }
}

#[test]
fn duplicate_json_keys_in_fields_hookbridge_reads_are_refused_or_fall_back() {
    let scratch = Scratch::new("hostile-duplicate-keys");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());
    let stripe = |body: &str| {
        Webhook::stripe_with_body(
            "evt_dupkey",
            body.as_bytes().to_vec(),
            Kind::Stripe.dev_secret(),
        )
    };
    let quoted_secret = serde_json::to_string(MONEYBUTTON_SECRET).expect("serialises");
    let moneybutton = |body: String| Webhook {
        body: body.into_bytes(),
        ..Webhook::new(Kind::MoneyButton, "unused")
    };

    let ambiguous = [
        (
            "two ids",
            stripe(r#"{"id":"evt_a","id":"evt_b","object":"event","type":"charge.succeeded"}"#),
        ),
        (
            "two types",
            stripe(r#"{"id":"evt_a","type":"charge.succeeded","type":"charge.refunded"}"#),
        ),
        (
            "a wrong secret shadowed by the right one",
            moneybutton(format!(
                r#"{{"secret":"wrong","secret":{quoted_secret},"payment":{{"id":"1","status":"COMPLETED"}}}}"#
            )),
        ),
        (
            "the right secret shadowed by a wrong one",
            moneybutton(format!(
                r#"{{"secret":{quoted_secret},"secret":"wrong","payment":{{"id":"1","status":"COMPLETED"}}}}"#
            )),
        ),
        (
            "two payments",
            moneybutton(format!(
                r#"{{"secret":{quoted_secret},"payment":{{"id":"1","status":"COMPLETED"}},"payment":{{"id":"2","status":"COMPLETED"}}}}"#
            )),
        ),
        (
            "two actions",
            Webhook::github_with_body(
                &unique_id("dupkey"),
                br#"{"action":"opened","action":"closed"}"#.to_vec(),
                github_secret(),
            ),
        ),
    ];
    let mut accepted = 0;
    for (what, webhook) in &ambiguous {
        let response = dev.post(webhook);
        if what.contains("secret") {
            // Which secret signed is never a guess.
            assert_eq!(response.status, 401, "{what}: {}", response.body_text());
        }
        accepted += usize::from(refused_or_fallen_back(&response, what));
    }
    assert_unharmed(&dev, "duplicate keys");

    // Keys hookbridge does not read pass through untouched.
    let passthrough = Webhook::github_with_body(
        &unique_id("dupkey_ok"),
        br#"{"action":"opened","x":1,"x":2}"#.to_vec(),
        github_secret(),
    );
    dev.post_accepted(&passthrough);

    // Two signature headers, one of them right: ambiguous, refused.
    let mut two_signatures = Webhook::new(Kind::Github, &unique_id("twosig"));
    two_signatures.headers.push((
        "x-hub-signature-256".into(),
        format!("sha256={}", "0".repeat(64)),
    ));
    let response = dev.post(&two_signatures);
    assert_eq!(response.status, 401, "{}", response.body_text());
    assert_eq!(response.error_code(), "signature_malformed");

    let events = dev.events();
    assert_eq!(
        events.len(),
        2 + accepted,
        "the check, the passthrough and the fallbacks: {events:#?}"
    );
}

#[test]
fn header_injection_attempts_are_refused_and_reach_no_target() {
    let target = HttpTarget::start(Script::always(200));
    let scratch = Scratch::new("hostile-injection");
    let dev = DevServer::start(&scratch, 1, &DevOptions::delivering_to(target.url()));
    let stripe_secret = Kind::Stripe.dev_secret();

    // Control characters in what becomes an outbound header (id, type).
    let escaped = [
        Webhook::stripe_with_body(
            "evt_crlf",
            br#"{"id":"evt_x\r\nx-injected: yes","object":"event","type":"charge.succeeded"}"#
                .to_vec(),
            stripe_secret,
        ),
        Webhook::stripe_with_body(
            "evt_nul",
            br#"{"id":"evt_nul","object":"event","type":"charge.succeeded\u0000x-injected: yes"}"#
                .to_vec(),
            stripe_secret,
        ),
        Webhook::standard_with_body(
            &unique_id("msg_lf"),
            br#"{"type":"invoice.paid\nx-injected: yes"}"#.to_vec(),
            Kind::Standard.dev_secret(),
        ),
        Webhook::stripe_with_body(
            "evt_del",
            br#"{"id":"evt_del\u007f","object":"event","type":"charge.succeeded"}"#.to_vec(),
            stripe_secret,
        ),
    ];
    let mut fallen_back = Vec::new();
    for webhook in &escaped {
        let response = dev.post(webhook);
        if refused_or_fallen_back(&response, "a control character in the id or type") {
            fallen_back.push(
                response.json()["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }

    // Raw bytes HTTP forbids in a header: bare CR, NUL, DEL, obs-fold.
    let body = br#"{"action":"opened"}"#;
    let signature = hookbridge_core::providers::github::sign(github_secret(), body);
    for (what, delivery_header) in [
        (
            "a bare CR",
            &b"x-github-delivery: abc\rx-injected: yes\r\n"[..],
        ),
        ("a NUL byte", b"x-github-delivery: abc\0x-injected: yes\r\n"),
        ("a DEL byte", b"x-github-delivery: abc\x7fdef\r\n"),
        (
            "an obs-fold",
            b"x-github-delivery: abc\r\n x-injected: yes\r\n",
        ),
        ("a space before the colon", b"x-github-delivery : abc\r\n"),
    ] {
        let mut request =
            b"POST /webhooks/github HTTP/1.1\r\nhost: hookbridge\r\nconnection: close\r\nx-github-event: pull_request\r\n"
                .to_vec();
        request.extend_from_slice(delivery_header);
        request.extend_from_slice(
            format!(
                "x-hub-signature-256: {signature}\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(body);
        assert_refused_by_http(http::send_raw(dev.address(), &request), &[400], what);
        assert_unharmed(&dev, what);
    }

    // An encoded CRLF in the path stays inside the path.
    let response = dev.request(
        "POST",
        "/webhooks/stripe%0D%0Ax-injected:%20yes",
        &[],
        b"{}",
    );
    assert_eq!(response.status, 404, "{}", response.body_text());
    assert_eq!(response.error_code(), "unknown_source");
    assert!(response.header("x-injected").is_none(), "{response:?}");

    // Header-like text that is legal in a header value is just an id.
    let odd_id = "abc: x-injected yes";
    let odd = Webhook::github_with_body(odd_id, body.to_vec(), github_secret());
    dev.post_accepted(&odd);
    let received = target.wait_until(WAIT, "the odd id delivered", |received| {
        received.iter().any(|r| r.event_id() == Some(odd_id))
    });

    assert!(
        received
            .iter()
            .all(|r| r.request.header("x-injected").is_none()),
        "no delivery carries an injected header: {received:#?}"
    );
    let delivered_ids: Vec<&str> = received.iter().filter_map(|r| r.event_id()).collect();
    assert!(
        delivered_ids.iter().all(|id| *id == odd_id
            || id.starts_with("after_")
            || fallen_back.iter().any(|accepted| accepted == id)),
        "only accepted events reach the target: {delivered_ids:?}"
    );
}

#[test]
fn floods_of_headers_are_refused_without_harm() {
    let scratch = Scratch::new("hostile-headers");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());

    // `send` adds host, connection and content-length to the webhook's four.
    let with_headers = |total: usize| {
        let mut webhook = Webhook::new(Kind::Github, &unique_id("headers"));
        let own = webhook.headers.len() + 3;
        for n in 0..total.saturating_sub(own) {
            webhook.headers.push((format!("x-pad-{n}"), "v".into()));
        }
        webhook
    };

    dev.post_accepted(&with_headers(100));
    assert_refused_by_http(
        post_streaming(&dev, &with_headers(101)),
        &[431],
        "101 headers",
    );
    assert_unharmed(&dev, "101 headers");
    assert_refused_by_http(
        post_streaming(&dev, &with_headers(20_000)),
        &[431],
        "20,000 headers",
    );
    assert_unharmed(&dev, "20,000 headers");

    let mut huge = Webhook::new(Kind::Github, &unique_id("huge_header"));
    huge.headers
        .push(("x-huge".into(), "h".repeat(4 * 1024 * 1024)));
    assert_refused_by_http(post_streaming(&dev, &huge), &[431], "a 4 MiB header");
    assert_unharmed(&dev, "a 4 MiB header");

    let address = dev.address();
    let attackers: Vec<_> = (0..16)
        .map(|_| {
            let mut huge = Webhook::new(Kind::Github, &unique_id("huge_header"));
            huge.headers
                .push(("x-huge".into(), "h".repeat(1024 * 1024)));
            std::thread::spawn(move || {
                let request =
                    http::encode_request(address, "POST", &huge.path(), &huge.headers, &huge.body);
                let pieces: Vec<Vec<u8>> = request.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
                http::send_while_writing(address, pieces.into_iter())
            })
        })
        .collect();
    for attacker in attackers {
        assert_refused_by_http(
            attacker.join().expect("attacker thread"),
            &[431],
            "one of 16 concurrent 1 MiB headers",
        );
    }
    assert_unharmed(&dev, "16 concurrent 1 MiB headers");
}

/// Whether the server has closed `stream` (or answered on it, e.g. 408).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut byte = [0; 1];
    match stream.read(&mut byte) {
        // End of stream (closed) or the first byte of an answer such as 408.
        Ok(0 | 1) => true,
        Ok(_) => unreachable!("read into a one-byte buffer"),
        Err(error) => !matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn slow_clients_are_cut_off_while_others_are_served() {
    let scratch = Scratch::new("hostile-slow");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());
    let started = Instant::now();
    let open = |head: &[u8]| {
        let mut stream = TcpStream::connect(dev.address()).expect("connect");
        stream.write_all(head).expect("send the start of a request");
        stream
            .set_read_timeout(Some(Duration::from_millis(1)))
            .expect("read timeout");
        stream
    };

    // Headers that never end, one more line every 500 ms.
    let mut loris: Vec<TcpStream> = (0..64)
        .map(|_| open(b"POST /webhooks/github HTTP/1.1\r\nhost: hookbridge\r\n"))
        .collect();
    // Complete headers, then 10 of 1,000 promised bytes.
    let partial_bodies: Vec<TcpStream> = (0..16)
        .map(|_| open(b"POST /webhooks/github HTTP/1.1\r\nhost: hookbridge\r\ncontent-length: 1000\r\n\r\n{\"action\""))
        .collect();

    // Others are served meanwhile, promptly.
    let webhook = Webhook::new(Kind::Github, &unique_id("while_slow"));
    let mut stream = http::connect(dev.address()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    stream
        .write_all(&http::encode_request(
            dev.address(),
            "POST",
            &webhook.path(),
            &webhook.headers,
            &webhook.body,
        ))
        .expect("send");
    let response = http::read_response(&mut io::BufReader::new(stream))
        .expect("an answer within 5 s while slow clients hang");
    hookbridge_tests::dev_process::assert_accepted(&response, &webhook);

    // Headers are due within 10 s: every slow client is cut off by then.
    let deadline = started + Duration::from_secs(15);
    let mut line = 0;
    while !loris.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} clients still sending headers after {:?}",
            loris.len(),
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(500));
        line += 1;
        loris.retain_mut(|stream| {
            let still_open = stream
                .write_all(format!("x-slow-{line}: a\r\n").as_bytes())
                .is_ok();
            still_open && !closed_by_server(stream)
        });
    }
    eprintln!("slow clients cut off after {:?}", started.elapsed());
    assert_unharmed(&dev, "80 slow clients");
    drop(partial_bodies);
    assert_unharmed(&dev, "abandoned partial bodies");
}
