//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of
//! `v0:<X-Slack-Request-Timestamp>:<body>`, within 5 minutes. Event
//! callbacks are JSON; slash commands and interactivity are forms.
//!
//! Configure: `{"kind": "slack"}`, optionally `tolerance_seconds` (default
//! 300). The secret is the app's Signing Secret (api.slack.com/apps → the
//! app → Basic Information → App Credentials). The `url_verification`
//! handshake is answered with its `challenge`. The id is `event_id` (else
//! the body digest), the type the event's `type` (`message`,
//! `app_mention`), else the payload's `type`, else the slash `command`;
//! the time is `event_time`.

use std::time::SystemTime;

use super::composed::ComposedMac;
use super::{Described, Handshake, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

/// A Slack source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slack {
    scheme: ComposedMac,
}

impl Provider for Slack {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            scheme: ComposedMac::timed(
                Algorithm::Sha256,
                "v0:{timestamp}:{body}",
                "x-slack-signature",
                "v0=",
                MacEncoding::Hex,
                "x-slack-request-timestamp",
                options.tolerance(DEFAULT_TOLERANCE)?,
            ),
        })
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.scheme.verify(request, secrets, now)
    }

    fn handshake(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        _: &SecretSet,
    ) -> Option<Handshake> {
        if document.at("/type").ok()?? != "url_verification" {
            return None;
        }
        let challenge = document.at("/challenge").ok()??;
        Some(Handshake::json(
            "slack url_verification",
            serde_json::json!({ "challenge": challenge.as_str()? }),
        ))
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.id("event_id", document.at("/event_id"));
        described.id("trigger_id", document.at("/trigger_id"));
        described.event_type("event.type", document.at("/event/type"));
        described.event_type("type", document.at("/type"));
        described.event_type("command", document.at("/command"));
        described.occurred_at("event_time", document.at("/event_time"));
        Ok(())
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        Ok(Signed {
            headers: self.scheme.headers(secret, outgoing)?,
            rewritten_body: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{event, refused, run, source};
    use super::*;

    /// The example of Slack's "Verifying requests from Slack".
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: u64 = 1_531_420_618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers<'a>(signature: &'a str, timestamp: &'a str) -> [(&'a str, &'a str); 3] {
        [
            ("x-slack-signature", signature),
            ("x-slack-request-timestamp", timestamp),
            ("content-type", "application/x-www-form-urlencoded"),
        ]
    }

    #[test]
    fn the_documented_slash_command_verifies() {
        let slack = source(r#"{"kind":"slack"}"#);
        let prepared = event(run(
            &slack,
            &headers(SIGNATURE, "1531420618"),
            BODY.as_bytes(),
            SECRET,
            TIMESTAMP,
        ));
        assert_eq!(prepared.event_type, "/webhook-collect");
        assert_eq!(
            prepared.event_id,
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
        );
        let envelope = super::super::testing::envelope(&prepared);
        assert_eq!(envelope.raw_body.as_deref(), Some(BODY));
        assert_eq!(
            envelope.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        let payload: serde_json::Value =
            serde_json::from_str(envelope.inline_payload().unwrap()).unwrap();
        assert_eq!(
            payload["response_url"],
            "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
        );
    }

    #[test]
    fn tampered_stale_wrong_secret_and_malformed_are_refused() {
        let slack = source(r#"{"kind":"slack"}"#);
        let ts = "1531420618";
        let tampered = BODY.replace("foobar", "foobaz");
        assert_eq!(
            refused(run(
                &slack,
                &headers(SIGNATURE, ts),
                tampered.as_bytes(),
                SECRET,
                TIMESTAMP
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(
                &slack,
                &headers(SIGNATURE, ts),
                BODY.as_bytes(),
                SECRET,
                TIMESTAMP + 301
            )),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            refused(run(
                &slack,
                &headers(SIGNATURE, ts),
                BODY.as_bytes(),
                "other",
                TIMESTAMP
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(
                &slack,
                &headers(&SIGNATURE[3..], ts),
                BODY.as_bytes(),
                SECRET,
                TIMESTAMP
            )),
            "signature_malformed"
        );
        // The timestamp is signed: another one is another message.
        assert_eq!(
            refused(run(
                &slack,
                &headers(SIGNATURE, "noon"),
                BODY.as_bytes(),
                SECRET,
                TIMESTAMP
            )),
            "signature_mismatch"
        );
    }

    #[test]
    fn url_verification_is_answered_with_the_challenge() {
        let slack = source(r#"{"kind":"slack"}"#);
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        let outgoing = Outgoing {
            id: "",
            event_type: None,
            timestamp: 1_700_000_000,
            url: "",
            body,
        };
        let signed = slack.provider().sign("s3cret", &outgoing).unwrap();
        let headers: Vec<(&str, &str)> = signed
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        match run(&slack, &headers, body, "s3cret", 1_700_000_000) {
            Ok(crate::ingest::Ingested::Handshake(handshake)) => {
                assert_eq!(handshake.status, 200);
                assert_eq!(
                    handshake.body,
                    r#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            refused(run(&slack, &headers, body, "other", 1_700_000_000)),
            "signature_mismatch"
        );
    }

    #[test]
    fn an_event_callback_reads_its_id_type_and_time() {
        let slack = source(r#"{"kind":"slack"}"#);
        let body = br#"{"type":"event_callback","event_id":"Ev08MFMKH6","event_time":1700000000,"event":{"type":"app_mention","text":"hi"}}"#;
        let outgoing = Outgoing {
            id: "",
            event_type: None,
            timestamp: 1_700_000_005,
            url: "",
            body,
        };
        let signed = slack.provider().sign("s3cret", &outgoing).unwrap();
        let headers: Vec<(&str, &str)> = signed
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let prepared = event(run(&slack, &headers, body, "s3cret", 1_700_000_005));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("Ev08MFMKH6", "app_mention")
        );
        let envelope = super::super::testing::envelope(&prepared);
        assert_eq!(
            envelope.occurred_at.as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(envelope.raw_body, None);
    }
}
