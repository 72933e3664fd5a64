//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>]`, each
//! `h1` an HMAC-SHA256 of `<ts>:<body>` keyed with the notification
//! destination's secret key, within 5 seconds.
//!
//! Configure: `{"kind": "paddle"}`, optionally `tolerance_seconds` (default
//! 5, as Paddle's SDKs). The secret is the destination's secret key
//! (`pdl_ntfset_…`; Paddle → Developer tools → Notifications → the
//! destination). The id is `event_id` (Paddle promises it), the type
//! `event_type` (`transaction.completed`), the time `occurred_at`; the
//! object is `data.id`.

use std::time::{Duration, SystemTime};

use super::calendly::timed_signatures;
use super::composed::check_timestamp;
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::mac::{Algorithm, MacEncoding, any_matches};
use crate::verify::{VerifyError, single_header};

pub const SIGNATURE_HEADER: &str = "paddle-signature";

/// A Paddle source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paddle {
    tolerance: Duration,
}

impl Provider for Paddle {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            tolerance: options.tolerance(Duration::from_secs(5))?,
        })
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let value = single_header(request.headers, SIGNATURE_HEADER)?;
        let (timestamp, signatures) = timed_signatures(value, ';', "ts", "h1")
            .ok_or_else(|| VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;
        if signatures.is_empty() {
            return Err(VerifyError::NoExpectedScheme);
        }
        let decoded: Vec<Vec<u8>> = signatures
            .iter()
            .filter_map(|text| MacEncoding::Hex.decode(text, 32))
            .collect();
        let message = [timestamp.as_bytes(), b":", request.body];
        match any_matches(
            Algorithm::Sha256,
            secrets,
            &message,
            decoded.iter().map(Vec::as_slice),
        ) {
            Err(VerifyError::NoExpectedScheme) => Err(VerifyError::NoMatch),
            other => other,
        }?;
        check_timestamp(SIGNATURE_HEADER, timestamp, now, self.tolerance)
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.promised_id("event_id", document.at("/event_id"))?;
        described.event_type("event_type", document.at("/event_type"));
        described.occurred_at("occurred_at", document.at("/occurred_at"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/data/id")
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let timestamp = outgoing.timestamp.to_string();
        let mac = Algorithm::Sha256.mac(
            secret.as_bytes(),
            &[timestamp.as_bytes(), b":", outgoing.body],
        );
        Ok(Signed::default().header(
            "Paddle-Signature",
            format!("ts={timestamp};h1={}", hex::encode(mac)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{envelope, event, refused, run, source};
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const SECRET: &str = "pdl_ntfset_01h_secret";
    const BODY: &str = r#"{"event_id":"evt_01h","event_type":"transaction.completed","occurred_at":"2023-11-14T22:13:19.512345Z","notification_id":"ntf_01h","data":{"id":"txn_01h"}}"#;

    fn header(secret: &str) -> String {
        let outgoing = Outgoing {
            id: "",
            event_type: None,
            timestamp: NOW as i64,
            url: "",
            body: BODY.as_bytes(),
        };
        source(r#"{"kind":"paddle"}"#)
            .provider()
            .sign(secret, &outgoing)
            .unwrap()
            .headers[0]
            .1
            .clone()
    }

    #[test]
    fn a_signed_event_is_read_and_any_h1_may_match() {
        let paddle = source(r#"{"kind":"paddle"}"#);
        let rotated = format!("{};h1={}", header(SECRET), "00".repeat(32));
        let prepared = event(run(
            &paddle,
            &[(SIGNATURE_HEADER, &rotated)],
            BODY.as_bytes(),
            SECRET,
            NOW + 5,
        ));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("evt_01h", "transaction.completed")
        );
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some("2023-11-14T22:13:19.512Z")
        );
    }

    #[test]
    fn stale_forged_and_malformed_are_refused() {
        let paddle = source(r#"{"kind":"paddle"}"#);
        let sent = header(SECRET);
        assert_eq!(
            refused(run(
                &paddle,
                &[(SIGNATURE_HEADER, &sent)],
                BODY.as_bytes(),
                SECRET,
                NOW + 6
            )),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            refused(run(
                &paddle,
                &[(SIGNATURE_HEADER, &header("other"))],
                BODY.as_bytes(),
                SECRET,
                NOW
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(
                &paddle,
                &[(SIGNATURE_HEADER, "h1=00")],
                BODY.as_bytes(),
                SECRET,
                NOW
            )),
            "signature_malformed"
        );
    }
}
