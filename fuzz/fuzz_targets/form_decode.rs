//! Form bodies (`application/x-www-form-urlencoded`): a body decodes exactly
//! when a reference decoder decodes it, to the same fields; the fields
//! re-encoded decode back to themselves; any fields encoded decode back to
//! themselves; the payload JSON holds every value under its name, in order.
//!
//! Input: the body (also read as fields to encode).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use hookbridge_core::ingest::form;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Decodes by bytes: pairs split at `&` (empty ones skipped), name and value
/// at the first `=`, `+` a space, `%` two hex digits; all of it UTF-8.
fn reference_decode(body: &[u8]) -> Option<Vec<(String, String)>> {
    fn unescape(part: &[u8]) -> Option<String> {
        let mut out = Vec::new();
        let mut bytes = part.iter();
        while let Some(&byte) = bytes.next() {
            out.push(match byte {
                b'+' => b' ',
                b'%' => {
                    let high = (*bytes.next()? as char).to_digit(16)?;
                    let low = (*bytes.next()? as char).to_digit(16)?;
                    u8::try_from(high * 16 + low).ok()?
                }
                other => other,
            });
        }
        String::from_utf8(out).ok()
    }
    std::str::from_utf8(body).ok()?;
    body.split(|&byte| byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            Some((unescape(name)?, unescape(value)?))
        })
        .collect()
}

/// Percent-encodes all but the unreserved characters, a space as `+`.
fn encode(fields: &[(String, String)]) -> String {
    fn escape(text: &str, out: &mut String) {
        for byte in text.bytes() {
            match byte {
                b' ' => out.push('+'),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(byte))
                }
                other => out.push_str(&format!("%{other:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (index, (name, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        escape(name, &mut out);
        out.push('=');
        escape(value, &mut out);
    }
    out
}

fn check_json(fields: &[(String, String)]) {
    let Value::Object(json) = serde_json::from_str(&form::to_json(fields)).expect("JSON") else {
        panic!("the payload of a form is not an object");
    };
    let names: std::collections::BTreeSet<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(json.len(), names.len(), "every name once");
    for (name, value) in json {
        let expected: Vec<&str> = fields
            .iter()
            .filter(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
            .collect();
        let got: Vec<&str> = match &value {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().map(|v| v.as_str().expect("a string")).collect(),
            other => panic!("`{name}` became {other}"),
        };
        assert_eq!(got, expected, "`{name}`");
        assert!(expected.len() > 1 || matches!(value, Value::String(_)));
        assert_eq!(form::first(fields, &name), expected.first().copied());
    }
}

fuzz_target!(|data: &[u8]| {
    let decoded = form::decode(data).ok();
    assert_eq!(
        decoded,
        reference_decode(data),
        "{:?}",
        String::from_utf8_lossy(data)
    );
    if let Some(fields) = decoded {
        let encoded = encode(&fields);
        assert_eq!(
            form::decode(encoded.as_bytes()).ok().as_ref(),
            Some(&fields),
            "{encoded}"
        );
        check_json(&fields);
    }
    if let Ok(fields) = Vec::<(String, String)>::arbitrary(&mut Unstructured::new(data)) {
        let encoded = encode(&fields);
        assert_eq!(
            form::decode(encoded.as_bytes()).ok().as_ref(),
            Some(&fields),
            "{encoded}"
        );
    }
});
