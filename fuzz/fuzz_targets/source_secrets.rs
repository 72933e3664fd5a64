//! Secrets as read from configuration: the stored list parses to trimmed,
//! non-empty secrets that read back the same; for the kinds whose secrets
//! have a form (Ed25519 and ECDSA P-256 public keys, `whsec_` keys) the
//! check at start agrees with verification, which never meets a secret the
//! check let through as unusable (and always does for one it refused);
//! a refusal names the secret's position and never contains the secret.
//!
//! Input: kind (discord, sendgrid, standard, svix, anything else github)
//!        \0 the stored secrets (comma-separated)
#![no_main]

use hookbridge_core::config::Sources;
use hookbridge_core::providers::{Outgoing, Request};
use hookbridge_core::secret::{Secret, SecretSet};
use hookbridge_core::verify::VerifyError;
use hookbridge_fuzz::{NOW, at, fields, header_map, text};
use libfuzzer_sys::fuzz_target;

const BODY: &[u8] = br#"{"id":"1","type":2}"#;

/// Well-formed signature headers that no key signed: verification gets as
/// far as reading the keys.
fn unsigned_headers(kind: &str) -> Vec<(String, String)> {
    let now = NOW.to_string();
    let (signature, value, timestamp) = match kind {
        "discord" => (
            "x-signature-ed25519",
            "00".repeat(64),
            "x-signature-timestamp",
        ),
        "sendgrid" => (
            "x-twilio-email-event-webhook-signature",
            "MAYCAQECAQE=".to_owned(),
            "x-twilio-email-event-webhook-timestamp",
        ),
        _ => {
            let prefix = if kind == "svix" { "svix" } else { "webhook" };
            return vec![
                (format!("{prefix}-id"), "msg_1".into()),
                (format!("{prefix}-timestamp"), now),
                (
                    format!("{prefix}-signature"),
                    format!("v1,{}=", "A".repeat(43)),
                ),
            ];
        }
    };
    vec![(signature.into(), value), (timestamp.into(), now)]
}

fuzz_target!(|data: &[u8]| {
    let [kind, stored] = fields(data);
    let kind = match text(kind).as_ref() {
        "discord" => "discord",
        "sendgrid" => "sendgrid",
        "standard" => "standard",
        "svix" => "svix",
        _ => "github",
    };
    let stored = text(stored);
    let secrets = SecretSet::parse(&stored);
    let values: Vec<&str> = secrets.iter().map(Secret::expose).collect();
    for value in &values {
        assert!(!value.is_empty() && value.trim() == *value && !value.contains(','));
    }
    assert_eq!(
        SecretSet::parse(&values.join(",")),
        secrets,
        "the secrets read back differently"
    );

    let sources = Sources::from_json(&format!(r#"{{"s":{{"kind":"{kind}"}}}}"#)).expect("a kind");
    let config = sources.get("s").expect("configured");
    let checked = config.check_secrets(&secrets);
    if let Err(reason) = &checked {
        let position = reason
            .strip_prefix("secrets[")
            .and_then(|rest| rest.split_once("]: "))
            .and_then(|(index, _)| index.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("{reason:?} names no position"));
        let refused = &secrets.iter().collect::<Vec<_>>()[position];
        let alone: SecretSet = [(*refused).clone()].into_iter().collect();
        assert!(
            config.check_secrets(&alone).is_err(),
            "secrets[{position}] passes alone"
        );
        for secret in secrets.iter().take(position) {
            let alone: SecretSet = [secret.clone()].into_iter().collect();
            assert_eq!(
                config.check_secrets(&alone),
                Ok(()),
                "a secret before the refused one"
            );
        }
        // Error texts hold none of these characters, so one in the text
        // could only come from the secret.
        for value in &values {
            if value.contains(['+', '/', '=']) || !value.is_ascii() {
                assert!(!reason.contains(value), "the refusal shows a secret");
            }
        }
    }
    if secrets.is_empty() || kind == "github" {
        assert_eq!(checked, Ok(()), "a {kind} secret is any text");
        return;
    }

    let now = at(NOW);
    let headers = unsigned_headers(kind);
    let pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let headers = header_map(&pairs).expect("valid headers");
    let request = Request {
        method: &http::Method::POST,
        url: "https://hooks.example.com/webhooks/s",
        headers: &headers,
        body: BODY,
        form: None,
    };
    let verdict = config.provider().verify(&request, None, &secrets, now);
    assert_eq!(
        verdict == Err(VerifyError::InvalidSecret),
        checked.is_err(),
        "the check at start ({checked:?}) and verification ({verdict:?}) disagree"
    );

    // A `whsec_` key the check accepts signs what it verifies.
    if matches!(kind, "standard" | "svix") {
        let outgoing = Outgoing {
            id: "msg_1",
            event_type: None,
            timestamp: NOW,
            url: "",
            body: BODY,
        };
        for secret in secrets.iter() {
            let alone: SecretSet = [secret.clone()].into_iter().collect();
            let signed = config.provider().sign(secret.expose(), &outgoing);
            match (config.check_secrets(&alone), signed) {
                (Ok(()), Ok(signed)) => {
                    let pairs: Vec<(&str, &[u8])> = signed
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_bytes()))
                        .collect();
                    let headers = header_map(&pairs).expect("signed headers are headers");
                    let request = Request {
                        headers: &headers,
                        ..request
                    };
                    assert_eq!(
                        config.provider().verify(&request, None, &alone, now),
                        Ok(())
                    );
                }
                (Err(_), Err(_)) => {}
                (checked, signed) => panic!("check {checked:?}, sign {signed:?}"),
            }
        }
    }
});
