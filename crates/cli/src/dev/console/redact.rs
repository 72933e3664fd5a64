//! What the console may keep of a request: its headers with every
//! signature and secret masked, and a short excerpt of its body with every
//! secret-bearing field masked.

use http::HeaderMap;
use serde_json::Value;

/// Longest body excerpt kept, in characters.
pub const EXCERPT_CHARS: usize = 256;

/// Words naming a header or field that may carry a secret, a token or a
/// signature (matched within the lower-cased name, so `x-hub-signature-256`,
/// `x-gitlab-token`, `authorization` and `x-sig` all match).
const SECRET_WORDS: &[&str] = &[
    "sig",
    "secret",
    "token",
    "auth",
    "hmac",
    "cookie",
    "key",
    "password",
    "credential",
];

/// Whether `name` contains one of [`SECRET_WORDS`] in any case. Runs for
/// every header of every webhook, so it compares in place, allocating
/// nothing.
fn is_secret_name(name: &str) -> bool {
    SECRET_WORDS.iter().any(|word| {
        name.as_bytes()
            .windows(word.len())
            .any(|window| window.eq_ignore_ascii_case(word.as_bytes()))
    })
}

/// What a masked value reads as: its length only.
fn masked(value: &str) -> String {
    format!("[masked: {} chars]", value.chars().count())
}

/// The headers in order, secret-bearing values masked, non-text values
/// described. `signature_headers` (lower case) are the headers configured
/// sources sign in whatever their name, such as an `hmac` source's
/// `X-Payload-Digest`.
pub fn masked_headers(headers: &HeaderMap, signature_headers: &[String]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes());
            let signed_in = signature_headers
                .iter()
                .any(|header| header == name.as_str());
            let shown = if signed_in || is_secret_name(name.as_str()) {
                masked(&text)
            } else {
                text.into_owned()
            };
            (name.as_str().to_owned(), shown)
        })
        .collect()
}

/// At most [`EXCERPT_CHARS`] of the body: JSON with secret-bearing fields
/// masked, a form with secret-bearing fields masked, or plain UTF-8 text
/// that names no secret word at all; anything else yields none.
pub fn body_excerpt(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let shown = if let Ok(mut json) = serde_json::from_str::<Value>(text) {
        mask_json(&mut json);
        json.to_string()
    } else if looks_like_form(text) {
        mask_form(text)
    } else if is_secret_name(text) {
        // Free text mentioning a secret word may quote the secret itself.
        return None;
    } else {
        text.to_owned()
    };
    Some(truncated(&shown))
}

fn mask_json(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if is_secret_name(name) && !matches!(field, Value::Object(_) | Value::Array(_)) {
                    *field = Value::String(masked(&field_text(field)));
                } else {
                    mask_json(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

fn field_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn looks_like_form(text: &str) -> bool {
    !text.contains(char::is_whitespace) && text.contains('=')
}

fn mask_form(text: &str) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if is_secret_name(name) => format!("{name}={}", masked(value)),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn truncated(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_tokens_are_masked_and_other_headers_kept() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("content-type", "application/json"),
            ("stripe-signature", "t=1,v1=abcdef0123456789"),
            ("x-hub-signature-256", "sha256=00ff"),
            ("x-gitlab-token", "glpat-secret"),
            ("authorization", "Bearer abc"),
            ("webhook-id", "msg_1"),
            ("x-payload-digest", "0a1b2c3d"),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        let shown = masked_headers(&headers, &["x-payload-digest".to_owned()]);
        let value = |name: &str| {
            shown
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(value("content-type"), "application/json");
        assert_eq!(value("webhook-id"), "msg_1");
        assert_eq!(value("stripe-signature"), "[masked: 23 chars]");
        let signatures = [
            "x-hub-signature-256",
            "x-gitlab-token",
            "authorization",
            "x-payload-digest",
        ];
        for name in signatures {
            assert!(value(name).starts_with("[masked: "), "{name}");
        }
    }

    #[test]
    fn a_body_secret_is_masked_at_any_depth() {
        let body = br#"{"secret":"mb-shared","payment":{"id":"p1","api_key":"k1"},"signature":{"token":"t"}}"#;
        let excerpt = body_excerpt(body).unwrap();
        assert!(
            !excerpt.contains("mb-shared") && !excerpt.contains("k1"),
            "{excerpt}"
        );
        assert!(!excerpt.contains(r#""t""#), "{excerpt}");
        assert!(excerpt.contains(r#""id":"p1""#), "{excerpt}");
    }

    #[test]
    fn a_secret_word_is_found_in_any_case_and_anywhere_in_the_name() {
        for name in [
            "apiKey",
            "AccessToken",
            "X-Signature",
            "HMAC",
            "clientSECRET",
            "sig",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["", "si", "content-type", "webhook-id", "user_agent"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn a_form_secret_is_masked_and_free_text_naming_one_is_dropped() {
        assert_eq!(
            body_excerpt(b"event=delivered&signature=abc&token=xyz").unwrap(),
            "event=delivered&signature=[masked: 3 chars]&token=[masked: 3 chars]"
        );
        assert_eq!(body_excerpt(b"not json at all").unwrap(), "not json at all");
        assert_eq!(body_excerpt(b"my secret is hunter2"), None);
        assert_eq!(body_excerpt(&[0xff, 0xfe]), None, "not UTF-8");
        assert_eq!(body_excerpt(b""), None);
    }

    #[test]
    fn a_long_body_is_cut_to_the_excerpt() {
        let body = "x".repeat(EXCERPT_CHARS * 2);
        let excerpt = body_excerpt(body.as_bytes()).unwrap();
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
        assert!(excerpt.ends_with('…'));
    }
}
