//! Linear: `Linear-Signature`, hex HMAC-SHA256 of the body; the body's
//! `webhookTimestamp` (milliseconds) must be within a minute.
//!
//! Configure: `{"kind": "linear"}`, optionally `tolerance_seconds` (default
//! 60, as Linear's SDK). The secret is the webhook's signing secret (Linear
//! → Settings → API → Webhooks → the webhook). The id is `Linear-Delivery`,
//! the type `Linear-Event` with the payload's `action` (`Issue.create`), the
//! time `createdAt`; the object is `data.id`.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::composed::{ComposedMac, check_timestamp};
use super::describe::header;
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

const TIMESTAMP_FIELD: &str = "webhookTimestamp";

/// A Linear source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    scheme: ComposedMac,
    tolerance: Duration,
}

impl Provider for Linear {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            scheme: ComposedMac::of_body(
                Algorithm::Sha256,
                "linear-signature",
                "",
                MacEncoding::Hex,
            ),
            tolerance: options.tolerance(Duration::from_secs(60))?,
        })
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.scheme.verify(request, secrets, now)?;
        #[derive(Deserialize)]
        struct Timed {
            #[serde(rename = "webhookTimestamp")]
            timestamp: Option<serde_json::Value>,
        }
        let signed: Timed = serde_json::from_slice(request.body)
            .map_err(|_| VerifyError::MalformedSignedField(TIMESTAMP_FIELD))?;
        let timestamp = signed
            .timestamp
            .ok_or(VerifyError::MissingSignedField(TIMESTAMP_FIELD))?;
        let text = match timestamp {
            serde_json::Value::Number(number) => number.to_string(),
            _ => return Err(VerifyError::MalformedSignedField(TIMESTAMP_FIELD)),
        };
        check_timestamp(TIMESTAMP_FIELD, &text, now, self.tolerance)
    }

    fn describe(
        &self,
        request: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.id(
            "Linear-Delivery",
            header(request.headers, "linear-delivery"),
        );
        let event = header(request.headers, "linear-event")
            .ok()
            .flatten()
            .or_else(|| document.at("/type").ok().flatten());
        let action = document.at("/action").ok().flatten();
        if let (Some(serde_json::Value::String(event)), Some(serde_json::Value::String(action))) =
            (&event, &action)
        {
            described.event_type("Linear-Event", Ok(Some(format!("{event}.{action}").into())));
        }
        described.event_type("Linear-Event", Ok(event));
        described.occurred_at("createdAt", document.at("/createdAt"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/data/id")
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let mut signed = Signed::default()
            .header("Linear-Signature", self.scheme.signature(secret, outgoing)?)
            .header("Linear-Delivery", outgoing.id);
        if let Some(event_type) = outgoing.event_type {
            signed = signed.header("Linear-Event", event_type);
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{envelope, event, refused, run, source};
    use super::*;

    const SECRET: &str = "lin_wh_secret";
    const NOW: u64 = 1_700_000_000;
    const BODY: &str = r#"{"action":"create","type":"Issue","createdAt":"2023-11-14T22:13:19.000Z","data":{"id":"9f1c"},"webhookTimestamp":1700000000000}"#;

    fn signature(body: &str, secret: &str) -> String {
        hex::encode(Algorithm::Sha256.mac(secret.as_bytes(), &[body.as_bytes()]))
    }

    #[test]
    fn a_signed_recent_webhook_is_accepted() {
        let linear = source(r#"{"kind":"linear"}"#);
        let sent = signature(BODY, SECRET);
        let headers = [
            ("linear-signature", sent.as_str()),
            ("linear-delivery", "d-1"),
            ("linear-event", "Issue"),
        ];
        let prepared = event(run(&linear, &headers, BODY.as_bytes(), SECRET, NOW));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("d-1", "Issue.create")
        );
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some("2023-11-14T22:13:19Z")
        );
    }

    #[test]
    fn stale_unsigned_time_tampered_and_wrong_secret_are_refused() {
        let linear = source(r#"{"kind":"linear"}"#);
        let sent = signature(BODY, SECRET);
        let headers = [("linear-signature", sent.as_str())];
        assert_eq!(
            refused(run(&linear, &headers, BODY.as_bytes(), SECRET, NOW + 61)),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            refused(run(&linear, &headers, BODY.as_bytes(), "other", NOW)),
            "signature_mismatch"
        );
        let untimed = r#"{"action":"create"}"#;
        let untimed_sig = signature(untimed, SECRET);
        assert_eq!(
            refused(run(
                &linear,
                &[("linear-signature", &untimed_sig)],
                untimed.as_bytes(),
                SECRET,
                NOW
            )),
            "signature_missing"
        );
    }
}
