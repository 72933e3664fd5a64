use hookbridge_core::envelope::Envelope;
use serde_json::value::RawValue;

/// Builds the envelopes tests feed to consumers and stores, starting from
/// fixed values (source `src`, type `t`, received at
/// 2026-11-24T00:00:00.000Z, no provider time, correlation id `c`) that
/// each test overrides where it matters.
#[derive(Debug, Clone)]
pub struct EnvelopeBuilder {
    envelope: Envelope,
}

impl EnvelopeBuilder {
    /// An envelope of event `id` carrying `payload` (JSON text, kept as is).
    ///
    /// # Panics
    /// When `payload` is not JSON.
    pub fn new(id: &str, payload: &str) -> Self {
        Self {
            envelope: Envelope {
                id: id.to_owned(),
                source: "src".to_owned(),
                event_type: "t".to_owned(),
                received_at: "2026-11-24T00:00:00.000Z".to_owned(),
                occurred_at: None,
                correlation_id: "c".to_owned(),
                payload: Some(RawValue::from_string(payload.to_owned()).expect("payload is JSON")),
                payload_ref: None,
                content_type: None,
                raw_body: None,
            },
        }
    }

    /// A Money Button payment `pay_1` in `status` at `at` (its `updatedAt`,
    /// the envelope's `occurred_at`), typed as ingest types it.
    pub fn moneybutton_payment(id: &str, status: &str, at: &str) -> Self {
        Self::new(
            id,
            &format!(r#"{{"payment":{{"id":"pay_1","status":"{status}"}}}}"#),
        )
        .event_type(&format!("payment.{}", status.to_ascii_lowercase()))
        .occurred_at(Some(at))
    }

    pub fn source(mut self, source: &str) -> Self {
        source.clone_into(&mut self.envelope.source);
        self
    }

    pub fn event_type(mut self, event_type: &str) -> Self {
        event_type.clone_into(&mut self.envelope.event_type);
        self
    }

    pub fn received_at(mut self, received_at: &str) -> Self {
        received_at.clone_into(&mut self.envelope.received_at);
        self
    }

    pub fn occurred_at(mut self, occurred_at: Option<&str>) -> Self {
        self.envelope.occurred_at = occurred_at.map(str::to_owned);
        self
    }

    pub fn correlation_id(mut self, correlation_id: &str) -> Self {
        correlation_id.clone_into(&mut self.envelope.correlation_id);
        self
    }

    pub fn build(self) -> Envelope {
        self.envelope
    }
}
