//! Message templates of the generic `hmac` kind: a template is accepted
//! exactly when a reference parser accepts it, and the message it signs is
//! the reference rendering (placeholders replaced by the request's values,
//! `{form}` by the sorted fields); what it signs, it verifies.
//!
//! Input: template \0 id \0 timestamp \0 url \0 body
#![no_main]

use std::time::Duration;

use hookbridge_core::ingest::form;
use hookbridge_core::providers::Outgoing;
use hookbridge_core::providers::Request;
use hookbridge_core::providers::composed::{ComposedMac, Template, Timestamp};
use hookbridge_core::verify::mac::{Algorithm, MacEncoding};
use hookbridge_fuzz::{at, fields, header_map, is_header_text, one_secret, text, unix_seconds};
use libfuzzer_sys::fuzz_target;

/// A template piece, as the reference parser reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

const PLACEHOLDERS: [&str; 6] = ["timestamp", "id", "method", "url", "form", "body"];

/// Reads the template character by character: `{name}` with a known name is
/// a placeholder, any other brace is an error, as is an empty template.
fn reference_parse(template: &str) -> Option<Vec<Piece<'_>>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut open = None;
    for (index, character) in template.char_indices() {
        match (character, open) {
            ('{', None) => {
                if index > start {
                    pieces.push(Piece::Text(&template[start..index]));
                }
                open = Some(index);
            }
            ('}', Some(from)) => {
                let name = &template[from + 1..index];
                if !PLACEHOLDERS.contains(&name) {
                    return None;
                }
                pieces.push(Piece::Placeholder(name));
                open = None;
                start = index + 1;
            }
            ('}', None) => return None,
            _ => {}
        }
    }
    if open.is_some() {
        return None;
    }
    if start < template.len() {
        pieces.push(Piece::Text(&template[start..]));
    }
    (!pieces.is_empty()).then_some(pieces)
}

fuzz_target!(|data: &[u8]| {
    let [template, id, timestamp, url, body] = fields(data);
    let (template, id, url) = (text(template), text(id), text(url));
    let parsed = Template::parse(&template);
    let Some(pieces) = reference_parse(&template) else {
        assert!(parsed.is_err(), "{template:?} was accepted");
        return;
    };
    let parsed = parsed.unwrap_or_else(|e| panic!("{template:?} was refused: {e}"));
    let uses = |name| pieces.contains(&Piece::Placeholder(name));
    assert_eq!(parsed.uses_body(), uses("body"));
    assert_eq!(parsed.uses_form(), uses("form"));
    assert_eq!(parsed.uses_url(), uses("url"));
    assert_eq!(parsed.uses_id(), uses("id"));
    assert_eq!(parsed.uses_timestamp(), uses("timestamp"));

    // Below the milliseconds threshold, so the verifier reads seconds.
    let timestamp = unix_seconds(timestamp) % 100_000_000_000;
    let fields = form::decode(body).ok();
    let scheme = ComposedMac {
        algorithm: Algorithm::Sha256,
        message: parsed,
        header: "x-signature".into(),
        prefix: String::new(),
        encoding: MacEncoding::Hex,
        timestamp: Some(Timestamp {
            header: "x-timestamp".into(),
            tolerance: Duration::from_secs(300),
        }),
        id_header: Some("x-id".into()),
    };
    let outgoing = Outgoing {
        id: &id,
        event_type: None,
        timestamp,
        url: &url,
        body,
    };
    let signature = scheme.signature("key", &outgoing);
    if uses("form") && fields.is_none() {
        assert!(signature.is_err(), "a {{form}} of a body that is no form");
        return;
    }
    let signature = signature.expect("every other request signs");
    let form = fields
        .as_deref()
        .map(form::sorted_concatenation)
        .unwrap_or_default();
    let timestamp_text = timestamp.to_string();
    let mut message = Vec::new();
    for piece in &pieces {
        message.extend_from_slice(match piece {
            Piece::Text(literal) => literal.as_bytes(),
            Piece::Placeholder("timestamp") => timestamp_text.as_bytes(),
            Piece::Placeholder("id") => id.as_bytes(),
            Piece::Placeholder("method") => b"POST",
            Piece::Placeholder("url") => url.as_bytes(),
            Piece::Placeholder("form") => form.as_bytes(),
            Piece::Placeholder(_) => body,
        });
    }
    assert_eq!(
        signature,
        hex::encode(Algorithm::Sha256.mac(b"key", &[&message])),
        "the signed message is not the reference rendering of {template:?}"
    );

    // The verifier renders the same message from the request it receives
    // (an id it reads back trimmed, so only ids that survive as headers).
    if !is_header_text(&id) || id.trim() != id || id.is_empty() {
        return;
    }
    let Some(headers) = header_map(&[
        ("x-signature", signature.as_bytes()),
        ("x-timestamp", timestamp_text.as_bytes()),
        ("x-id", id.as_bytes()),
    ]) else {
        return;
    };
    let request = Request {
        method: &http::Method::POST,
        url: &url,
        headers: &headers,
        body,
        form: fields.as_deref(),
    };
    assert_eq!(
        scheme.verify(&request, &one_secret("key"), at(timestamp)),
        Ok(()),
        "{template:?} does not verify what it signed"
    );
});
