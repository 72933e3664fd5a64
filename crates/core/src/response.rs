//! The public answers of every HTTP edge (ingest, deliver, the dev server):
//! a JSON body, and the error body `{"error": {"code", "message"}}`, with
//! the `x-correlation-id` a sender can quote. Each edge converts the
//! `String` body into its own body type.

use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

/// The header echoing the correlation id of a request.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// `body` as JSON with `status`, carrying `correlation_id` when there is one.
pub fn json(
    status: StatusCode,
    body: &impl Serialize,
    correlation_id: Option<&str>,
) -> Response<String> {
    let body = serde_json::to_string(body).expect("response bodies always serialise");
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(value) = correlation_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        builder = builder.header(CORRELATION_HEADER, value);
    }
    builder.body(body).expect("status and headers are valid")
}

/// The error body: a stable snake_case `code` and a human `message`, which
/// must never hold a secret or a full signature.
pub fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    correlation_id: Option<&str>,
) -> Response<String> {
    json(
        status,
        &ErrorBody {
            error: ErrorDetail { code, message },
        },
        correlation_id,
    )
}

/// `response` with `Allow: <allowed>`, for a 405.
pub fn allowing(mut response: Response<String>, allowed: &'static str) -> Response<String> {
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_body_has_a_code_a_message_and_the_correlation_id() {
        let response = error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body exceeds 10 bytes",
            Some("c-1"),
        );
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[CORRELATION_HEADER], "c-1");
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "payload_too_large", "message": "the body exceeds 10 bytes"}})
        );
    }

    #[test]
    fn without_a_correlation_id_there_is_no_header() {
        let response = json(StatusCode::OK, &serde_json::json!({"status": "ok"}), None);
        assert!(!response.headers().contains_key(CORRELATION_HEADER));
        assert_eq!(response.body(), r#"{"status":"ok"}"#);
    }

    #[test]
    fn a_405_names_what_is_allowed() {
        let response = allowing(
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "no",
                None,
            ),
            "POST",
        );
        assert_eq!(response.headers()[header::ALLOW], "POST");
    }
}
