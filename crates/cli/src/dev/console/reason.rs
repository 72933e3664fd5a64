//! Why a webhook was refused, in words a person can act on, from ingest's
//! typed errors. No reason carries a secret or a signature: the errors hold
//! neither.

use hookbridge_core::ingest::{IngestError, PayloadError};
use hookbridge_core::verify::VerifyError;

/// The reason shown for a refusal of `source` (whose configured sources
/// are `configured`).
pub fn refusal_reason(error: &IngestError, source: &str, configured: &[String]) -> String {
    match error {
        IngestError::UnknownSource(name) => format!(
            "no source named `{name}` is configured (configured: {}); POST to /webhooks/<one of them>",
            configured.join(", ")
        ),
        IngestError::MethodNotAllowed => {
            "webhooks are POSTed; this request used another method".to_owned()
        }
        IngestError::TooLarge { .. } => error.to_string(),
        IngestError::Unverified(refused) => verify_reason(refused, source),
        IngestError::InvalidPayload(refused) => payload_reason(refused),
        IngestError::SecretsUnavailable
        | IngestError::BusUnavailable
        | IngestError::PayloadStoreUnavailable => {
            format!("{error} (the sender got a 503 and retries)")
        }
    }
}

fn verify_reason(error: &VerifyError, source: &str) -> String {
    match error {
        VerifyError::OutsideTolerance {
            tolerance_seconds,
            age_seconds,
        } if *age_seconds >= 0 => format!(
            "timestamp {age_seconds} s older than the {tolerance_seconds} s tolerance: a replayed \
             or held-back delivery, or the sender's clock is behind"
        ),
        VerifyError::OutsideTolerance {
            tolerance_seconds,
            age_seconds,
        } => format!(
            "timestamp {} s in the future, beyond the {tolerance_seconds} s tolerance: the sender's \
             clock is ahead",
            age_seconds.unsigned_abs()
        ),
        VerifyError::NoMatch => format!(
            "no configured secret matches: compare the secrets of source `{source}` with the \
             signing secret the provider shows"
        ),
        VerifyError::NoExpectedScheme => {
            "the signature header holds no signature of the scheme this kind expects (e.g. `v1`)"
                .to_owned()
        }
        VerifyError::MissingHeader(header) => {
            format!("header `{header}` missing: is source `{source}` of the sender's kind?")
        }
        VerifyError::MalformedHeader(header) => {
            format!(
                "header `{header}` is malformed (repeated, not text, or not in the scheme's format)"
            )
        }
        VerifyError::MissingBodySecret => "the body carries no shared `secret` field".to_owned(),
        VerifyError::NoSecrets => {
            format!("no secret is configured for source `{source}`: add one to its `secrets`")
        }
        VerifyError::InvalidSecret => format!(
            "a configured secret of source `{source}` is not in the format its kind needs (the \
             server log says which, by position)"
        ),
        VerifyError::HandshakeRefused => {
            "the handshake's token matches no configured secret".to_owned()
        }
        VerifyError::MissingSignedField(field) => {
            format!("field `{field}` the signature covers is missing")
        }
        VerifyError::MalformedSignedField(field) => {
            format!("field `{field}` the signature covers is malformed")
        }
    }
}

fn payload_reason(error: &PayloadError) -> String {
    match error {
        PayloadError::NotJson(detail) => format!("body is not JSON ({detail})"),
        PayloadError::NotAnObject => "body is JSON but not an object".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_timestamp_says_its_age_against_the_tolerance() {
        let stale = IngestError::Unverified(VerifyError::OutsideTolerance {
            tolerance_seconds: 300,
            age_seconds: 412,
        });
        assert!(
            refusal_reason(&stale, "stripe", &[])
                .starts_with("timestamp 412 s older than the 300 s tolerance")
        );
        let ahead = IngestError::Unverified(VerifyError::OutsideTolerance {
            tolerance_seconds: 300,
            age_seconds: -900,
        });
        assert!(refusal_reason(&ahead, "stripe", &[]).starts_with("timestamp 900 s in the future"));
    }

    #[test]
    fn reasons_name_the_header_the_secret_problem_and_the_known_sources() {
        let missing =
            IngestError::Unverified(VerifyError::MissingHeader("Stripe-Signature".into()));
        assert!(
            refusal_reason(&missing, "stripe", &[])
                .starts_with("header `Stripe-Signature` missing")
        );
        let mismatch = IngestError::Unverified(VerifyError::NoMatch);
        assert!(
            refusal_reason(&mismatch, "stripe", &[]).starts_with("no configured secret matches")
        );
        let unknown = IngestError::UnknownSource("strpe".into());
        assert_eq!(
            refusal_reason(&unknown, "strpe", &["github".into(), "stripe".into()]),
            "no source named `strpe` is configured (configured: github, stripe); POST to \
             /webhooks/<one of them>"
        );
        let not_json = IngestError::InvalidPayload(PayloadError::NotJson("expected value".into()));
        assert_eq!(
            refusal_reason(&not_json, "stripe", &[]),
            "body is not JSON (expected value)"
        );
    }
}
