//! `application/x-www-form-urlencoded` bodies (and query strings): decoded
//! into their fields, which become the envelope's JSON payload, while the
//! signature is still checked over the raw bytes.

use serde_json::{Map, Value};

use super::PayloadError;

pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The request's content type when it says the body is a form.
pub fn form_content_type(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let media_type = value.split(';').next().unwrap_or_default().trim();
    media_type
        .eq_ignore_ascii_case(FORM_CONTENT_TYPE)
        .then_some(value)
}

/// The form's fields in order, percent-decoded (`+` is a space).
pub fn decode(text: &[u8]) -> Result<Vec<(String, String)>, PayloadError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| PayloadError::NotForm("the body is not UTF-8".into()))?;
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((unescape(key)?, unescape(value)?))
        })
        .collect()
}

fn unescape(text: &str) -> Result<String, PayloadError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits exactly: `from_str_radix` alone would take `+f`.
                let byte = bytes
                    .get(i + 1..i + 3)
                    .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| PayloadError::NotForm("a `%` escape is malformed".into()))?;
                out.push(byte);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| PayloadError::NotForm("a decoded field is not UTF-8".into()))
}

/// The fields as one JSON object: a field given once is a string, a field
/// given several times an array of its values in order.
pub fn to_json(fields: &[(String, String)]) -> String {
    let mut object = Map::new();
    for (key, value) in fields {
        match object.get_mut(key) {
            None => {
                object.insert(key.clone(), Value::String(value.clone()));
            }
            Some(Value::Array(values)) => values.push(Value::String(value.clone())),
            Some(first) => {
                let first = first.take();
                object.insert(
                    key.clone(),
                    Value::Array(vec![first, Value::String(value.clone())]),
                );
            }
        }
    }
    Value::Object(object).to_string()
}

/// The value of the first field named `name`.
pub fn first<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The fields sorted by name (then value), each name followed by its value:
/// the `{form}` of a message template, as Twilio signs it.
pub fn sorted_concatenation(fields: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = fields.iter().collect();
    sorted.sort();
    sorted
        .into_iter()
        .flat_map(|(key, value)| [key.as_str(), value.as_str()])
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fields_are_percent_decoded_in_order() {
        let fields = decode(b"b=1+2&a=%2Fcmd%C3%A9&flag&a=&=x").unwrap();
        let expected = [
            ("b", "1 2"),
            ("a", "/cmdé"),
            ("flag", ""),
            ("a", ""),
            ("", "x"),
        ];
        let got: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn malformed_forms_are_refused() {
        for body in [
            &b"a=%zz"[..],
            b"a=%4",
            b"a=%ff",
            b"\xff=1",
            b"a=%+f",
            b"a=%-1",
        ] {
            assert!(
                matches!(decode(body), Err(PayloadError::NotForm(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn repeated_fields_become_arrays() {
        let fields = decode(b"To=a&Body=hi&To=b&To=c").unwrap();
        let json: Value = serde_json::from_str(&to_json(&fields)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"To": ["a", "b", "c"], "Body": "hi"})
        );
    }

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "content-type",
            "Application/X-WWW-Form-Urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        assert!(form_content_type(&headers).is_some());
        headers.insert("content-type", "application/json".parse().unwrap());
        assert!(form_content_type(&headers).is_none());
    }

    #[test]
    fn concatenation_sorts_by_name() {
        let fields = decode(b"To=%2B1&CallSid=CA1&Digits=1234").unwrap();
        assert_eq!(sorted_concatenation(&fields), "CallSidCA1Digits1234To+1");
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_refused(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(fields) = decode(&body) {
                let json: Value = serde_json::from_str(&to_json(&fields)).unwrap();
                prop_assert!(json.is_object());
            }
        }
    }
}
