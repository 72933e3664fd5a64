//! consume: every event on the bus recorded exactly once, with one projection
//! per provider object that only moves forward.
//!
//! EventBridge invokes the function asynchronously with an event whose
//! `detail` is the envelope. The handler is generic over the core's
//! [`EventStore`], so it is tested in memory and against DynamoDB alike.
//! Every failure is an `Err`: Lambda retries it, then sends it to the
//! dead-letter queue. Nothing is dropped silently.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hookbridge_aws::settings::SettingsError;
use hookbridge_core::envelope::{BUS_SOURCE_PREFIX, Body, Envelope, PayloadRef};
use hookbridge_core::metrics::{ConsumeOutcome, Measurement, UNKNOWN_SOURCE};
use hookbridge_core::ports::{
    EventStore, EventStoreError, MetricsRecorder, PayloadStore, PayloadStoreError,
};
use hookbridge_core::projection::{
    EventRecord, ProjectionChange, ProjectionError, ProjectionRule, RecordOutcome,
};
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::Instrument;

#[cfg(feature = "aws")]
mod lambda;
mod settings;

#[cfg(feature = "aws")]
pub use lambda::{AwsConsumer, ConsumeFunction};
pub use settings::{DEFAULT_RETENTION_DAYS, RETENTION_VARIABLE, Settings, TABLE_NAME_VARIABLE};

/// The EventBridge event as Lambda receives it (the bus's event around the
/// envelope). Only what identifies it and its detail are read.
#[derive(Debug, Deserialize)]
struct InvokedEvent<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow)]
    detail: &'a RawValue,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("the function is not configured: {0}")]
    Unconfigured(SettingsError),
    #[error("invocation is not an EventBridge event: {0}")]
    NotABusEvent(serde_json::Error),
    #[error("bus event {bus_event_id} carries no valid envelope: {reason}")]
    InvalidEnvelope {
        bus_event_id: String,
        reason: String,
    },
    #[error(
        "bus event {bus_event_id} has source {bus_source} but its envelope names source {envelope_source}"
    )]
    SourceMismatch {
        bus_event_id: String,
        bus_source: String,
        envelope_source: String,
    },
    #[error("event {event_id}: the payload at `{key}` cannot be read: {source}")]
    PayloadUnavailable {
        event_id: String,
        key: String,
        source: PayloadStoreError,
    },
    #[error("event {event_id}: the payload at `{key}` is not the one referenced: {reason}")]
    PayloadMismatch {
        event_id: String,
        key: String,
        reason: String,
    },
    #[error("event {event_id}: {source}")]
    InvalidTime {
        event_id: String,
        source: ProjectionError,
    },
    #[error("event {event_id} not recorded: {source}")]
    Store {
        event_id: String,
        source: EventStoreError,
    },
}

impl ConsumeError {
    /// A stable name for logs and the Lambda error type.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unconfigured(_) => "configuration_missing",
            Self::NotABusEvent(_) => "not_a_bus_event",
            Self::InvalidEnvelope { .. } => "invalid_envelope",
            Self::SourceMismatch { .. } => "source_mismatch",
            Self::PayloadUnavailable {
                source: PayloadStoreError::NotFound(_),
                ..
            } => "payload_missing",
            Self::PayloadUnavailable { .. } => "payload_unavailable",
            Self::PayloadMismatch { .. } => "payload_mismatch",
            Self::InvalidTime { .. } => "invalid_time",
            Self::Store {
                source: EventStoreError::Rejected(_),
                ..
            } => "store_rejected",
            Self::Store {
                source: EventStoreError::Unavailable(_),
                ..
            } => "store_unavailable",
        }
    }
}

impl From<ConsumeError> for Diagnostic {
    fn from(error: ConsumeError) -> Self {
        Diagnostic {
            error_type: error.code().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// What happened to one bus event; the function's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consumed {
    pub event_id: String,
    pub source: String,
    pub outcome: Outcome,
    /// The provider object the event is about, if it names one.
    pub object_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Recorded; the object's projection now holds this event.
    ProjectionUpdated,
    /// Recorded; the object's projection already held a newer event.
    ProjectionSuperseded,
    /// Recorded; the event names no object.
    NotProjected,
    /// Already recorded: nothing changed.
    Duplicate,
}

impl From<RecordOutcome> for Outcome {
    fn from(outcome: RecordOutcome) -> Self {
        match outcome {
            RecordOutcome::Recorded(ProjectionChange::Updated) => Self::ProjectionUpdated,
            RecordOutcome::Recorded(ProjectionChange::Superseded) => Self::ProjectionSuperseded,
            RecordOutcome::Recorded(ProjectionChange::NotProjected) => Self::NotProjected,
            RecordOutcome::Duplicate => Self::Duplicate,
        }
    }
}

impl From<Outcome> for ConsumeOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::ProjectionUpdated => Self::ProjectionUpdated,
            Outcome::ProjectionSuperseded => Self::ProjectionSuperseded,
            Outcome::NotProjected => Self::NotProjected,
            Outcome::Duplicate => Self::Duplicate,
        }
    }
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::ProjectionUpdated => "projection_updated",
            Self::ProjectionSuperseded => "projection_superseded",
            Self::NotProjected => "not_projected",
            Self::Duplicate => "duplicate",
        }
    }
}

/// The consume handler: settings, the event store and the payload store
/// (read for the projection of a payload that travels by reference), built
/// once per container.
#[derive(Debug)]
pub struct Consumer<S, B> {
    store: S,
    payloads: B,
    rules: HashMap<String, ProjectionRule>,
    retention: Duration,
    metrics: Option<Arc<dyn MetricsRecorder>>,
}

impl<S: EventStore, B: PayloadStore> Consumer<S, B> {
    pub fn new(store: S, payloads: B, settings: Settings) -> Self {
        Self {
            store,
            payloads,
            rules: settings.rules,
            retention: settings.retention,
            metrics: None,
        }
    }

    /// Reports every event's outcome to `recorder` (the Lambda's EMF
    /// lines); without one, nothing is measured.
    pub fn with_metrics(mut self, recorder: Arc<dyn MetricsRecorder>) -> Self {
        self.metrics = Some(recorder);
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Records the EventBridge event `event` (its JSON text). Logs one line
    /// with the outcome or the error, in a span naming the bus event and,
    /// once parsed, the event id and correlation id.
    pub async fn handle(&self, event: &str) -> Result<Consumed, ConsumeError> {
        let bus_event: InvokedEvent<'_> = serde_json::from_str(event).map_err(|err| {
            tracing::error!(code = "not_a_bus_event", error = %err, "invocation rejected");
            self.measure(UNKNOWN_SOURCE, ConsumeOutcome::Failed);
            ConsumeError::NotABusEvent(err)
        })?;
        let span = tracing::info_span!(
            "consume",
            bus_event_id = %bus_event.id,
            bus_source = %bus_event.source,
            detail_type = %bus_event.detail_type,
            event_id = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        async {
            let result = self.record(&bus_event).await;
            let outcome = result
                .as_ref()
                .map_or(ConsumeOutcome::Failed, |consumed| consumed.outcome.into());
            self.measure(self.configured_source(&bus_event.source), outcome);
            match &result {
                Ok(consumed) => tracing::info!(
                    outcome = consumed.outcome.as_str(),
                    object_id = consumed.object_id.as_deref(),
                    "event consumed"
                ),
                Err(err) => tracing::error!(code = err.code(), error = %err, "event not recorded"),
            }
            result
        }
        .instrument(span)
        .await
    }

    /// The bus event's source if it is a configured one: anyone allowed to
    /// put events on the bus could name any other, and a dimension must
    /// not carry what a sender chose.
    fn configured_source<'s>(&self, bus_source: &'s str) -> &'s str {
        bus_source
            .strip_prefix(BUS_SOURCE_PREFIX)
            .filter(|source| self.rules.contains_key(*source))
            .unwrap_or(UNKNOWN_SOURCE)
    }

    fn measure(&self, source: &str, outcome: ConsumeOutcome) {
        if let Some(metrics) = &self.metrics {
            metrics.record(&Measurement::Consume { source, outcome });
        }
    }

    async fn record(&self, bus_event: &InvokedEvent<'_>) -> Result<Consumed, ConsumeError> {
        let envelope: Envelope = serde_json::from_str(bus_event.detail.get()).map_err(|err| {
            ConsumeError::InvalidEnvelope {
                bus_event_id: bus_event.id.clone().into_owned(),
                reason: err.to_string(),
            }
        })?;
        let span = tracing::Span::current();
        span.record("event_id", envelope.id.as_str());
        span.record("correlation_id", envelope.correlation_id.as_str());
        if envelope.bus_source() != bus_event.source {
            return Err(ConsumeError::SourceMismatch {
                bus_event_id: bus_event.id.clone().into_owned(),
                bus_source: bus_event.source.clone().into_owned(),
                envelope_source: envelope.source,
            });
        }
        // A source missing from the configuration has no rule: its events
        // are still recorded, only not projected.
        let rule = self.rules.get(&envelope.source);
        let body = envelope
            .body()
            .map_err(|err| ConsumeError::InvalidEnvelope {
                bus_event_id: bus_event.id.clone().into_owned(),
                reason: err.to_string(),
            })?;
        // A stored payload is read only when a projection needs it; the
        // record keeps its reference either way.
        let fetched;
        let payload = match (body, rule) {
            (Body::Inline(payload), _) => payload.get(),
            (Body::Stored(_), None) => "",
            (Body::Stored(reference), Some(_)) => {
                fetched = self.fetch(&envelope.id, reference).await?;
                &fetched
            }
        };
        let record =
            EventRecord::new(&envelope, payload, rule, self.retention).map_err(|source| {
                ConsumeError::InvalidTime {
                    event_id: envelope.id.clone(),
                    source,
                }
            })?;
        let outcome = self
            .store
            .record(&record)
            .await
            .map_err(|source| ConsumeError::Store {
                event_id: envelope.id.clone(),
                source,
            })?;
        Ok(Consumed {
            outcome: outcome.into(),
            object_id: record.projection.map(|projection| projection.object_id),
            event_id: envelope.id,
            source: envelope.source,
        })
    }
}

impl<S, B: PayloadStore> Consumer<S, B> {
    /// The referenced payload's text, read no further than its size and
    /// checked against its digest.
    async fn fetch(&self, event_id: &str, reference: &PayloadRef) -> Result<String, ConsumeError> {
        let mismatch = |reason: String| ConsumeError::PayloadMismatch {
            event_id: event_id.to_owned(),
            key: reference.key.clone(),
            reason,
        };
        reference
            .check_bucket(self.payloads.bucket())
            .map_err(|reason| mismatch(reason.to_string()))?;
        let bytes = self
            .payloads
            .get(&reference.key, reference.size)
            .await
            .map_err(|source| match source {
                PayloadStoreError::TooLarge { .. } => mismatch(source.to_string()),
                source => ConsumeError::PayloadUnavailable {
                    event_id: event_id.to_owned(),
                    key: reference.key.clone(),
                    source,
                },
            })?;
        reference
            .text(bytes)
            .map_err(|reason| mismatch(reason.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookbridge_testkit::{CapturedMetrics, MemoryEventStore, MemoryPayloads};

    pub(crate) const SOURCES: &str = r#"{"stripe":{"kind":"stripe"},"github":{"kind":"github"},
        "moneybutton":{"kind":"moneybutton"},"standard":{"kind":"standard"},
        "orders":{"kind":"hmac","header":"X-Sig","object_pointer":"/order/id"}}"#;
    const STRIPE_SAMPLE: &str = include_str!("../../../events/consume-stripe.json");
    const MONEYBUTTON_SAMPLE: &str = include_str!("../../../events/consume-moneybutton.json");
    const GITHUB_SAMPLE: &str = include_str!("../../../events/consume-github.json");

    pub(crate) fn settings_from(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    pub(crate) const BUCKET: (&str, &str) = ("PAYLOAD_BUCKET", "payloads");

    fn consumer<S: EventStore>(store: S) -> Consumer<S, MemoryPayloads> {
        consumer_with(store, MemoryPayloads::new("payloads"))
    }

    fn consumer_with<S: EventStore>(
        store: S,
        payloads: MemoryPayloads,
    ) -> Consumer<S, MemoryPayloads> {
        hookbridge_testlog::capture();
        let settings = settings_from(&[
            ("TABLE_NAME", "events"),
            ("HOOKBRIDGE_SOURCES", SOURCES),
            BUCKET,
        ])
        .unwrap();
        Consumer::new(store, payloads, settings)
    }

    /// An envelope of `source` whose `payload` is stored in `payloads`.
    fn referencing(payloads: &MemoryPayloads, source: &str, id: &str, payload: &str) -> String {
        let reference = PayloadRef::of("payloads", source, payload.as_bytes());
        payloads.overwrite(&reference.key, payload.as_bytes());
        envelope(source, id, "null").replace(
            r#""payload":null"#,
            &format!(
                r#""payload_ref":{}"#,
                serde_json::to_string(&reference).unwrap()
            ),
        )
    }

    const LARGE_STRIPE: &str = r#"{"id":"evt_big","data":{"object":{"id":"pi_big"}}}"#;

    #[tokio::test]
    async fn a_stored_payload_is_fetched_for_the_projection_and_recorded_by_reference() {
        let payloads = MemoryPayloads::new("payloads");
        let detail = referencing(&payloads, "stripe", "evt_big", LARGE_STRIPE);
        let consumer = consumer_with(MemoryEventStore::new(), payloads);
        let consumed = consumer
            .handle(&bus_event("stripe", &detail))
            .await
            .unwrap();
        assert_eq!(consumed.outcome, Outcome::ProjectionUpdated);
        assert_eq!(consumed.object_id.as_deref(), Some("pi_big"));
        let held = consumer.store().projection("stripe", "pi_big").unwrap();
        assert!(held.envelope.payload.is_none());
        assert_eq!(
            held.envelope.payload_ref.as_ref().unwrap().sha256,
            PayloadRef::of("payloads", "stripe", LARGE_STRIPE.as_bytes()).sha256
        );
    }

    #[tokio::test]
    async fn a_missing_or_tampered_stored_payload_is_an_error_lambda_retries() {
        let tampered = MemoryPayloads::new("payloads");
        let tampered_detail = referencing(&tampered, "stripe", "evt_big", LARGE_STRIPE);
        let key = PayloadRef::of("payloads", "stripe", LARGE_STRIPE.as_bytes()).key;
        tampered.overwrite(&key, &LARGE_STRIPE.replace("pi_big", "pi_bad").into_bytes());
        let missing_detail = referencing(
            &MemoryPayloads::new("payloads"),
            "stripe",
            "evt_big",
            LARGE_STRIPE,
        );
        let cases = [
            (tampered, tampered_detail, "payload_mismatch"),
            (
                MemoryPayloads::new("payloads"),
                missing_detail,
                "payload_missing",
            ),
        ];
        for (payloads, detail, code) in cases {
            let consumer = consumer_with(MemoryEventStore::new(), payloads);
            let error = consumer
                .handle(&bus_event("stripe", &detail))
                .await
                .unwrap_err();
            assert_eq!(error.code(), code);
            assert_eq!(
                consumer.store().event_count(),
                0,
                "{code}: nothing recorded"
            );
        }
    }

    #[tokio::test]
    async fn a_stored_payload_that_names_no_object_is_recorded_not_projected() {
        let payloads = MemoryPayloads::new("payloads");
        let reference = PayloadRef::of("payloads", "standard", b"{}");
        payloads.overwrite(&reference.key, b"{}");
        let detail = envelope("standard", "evt_s", "null").replace(
            r#""payload":null"#,
            &format!(
                r#""payload_ref":{}"#,
                serde_json::to_string(&reference).unwrap()
            ),
        );
        let consumer = consumer_with(MemoryEventStore::new(), payloads);
        let consumed = consumer
            .handle(&bus_event("standard", &detail))
            .await
            .unwrap();
        assert_eq!(consumed.outcome, Outcome::NotProjected);
    }

    /// A bus event as EventBridge delivers it, around `detail`.
    fn bus_event(source: &str, detail: &str) -> String {
        format!(
            r#"{{"version":"0","id":"bus-1","detail-type":"t","source":"hookbridge.{source}",
            "account":"1","time":"2026-11-24T00:00:00Z","region":"us-east-1","resources":[],
            "detail":{detail}}}"#
        )
    }

    fn envelope(source: &str, id: &str, payload: &str) -> String {
        format!(
            r#"{{"id":"{id}","source":"{source}","type":"t","received_at":"2026-11-24T00:00:00.000Z",
            "occurred_at":null,"correlation_id":"c","payload":{payload}}}"#
        )
    }

    struct FailingStore(fn() -> EventStoreError);

    impl EventStore for FailingStore {
        async fn record(&self, _: &EventRecord<'_>) -> Result<RecordOutcome, EventStoreError> {
            Err((self.0)())
        }
    }

    #[tokio::test]
    async fn sample_events_are_recorded_and_projected() {
        let consumer = consumer(MemoryEventStore::new());
        let cases = [
            (STRIPE_SAMPLE, "stripe", "pi_3QdevHookbridge0001"),
            (MONEYBUTTON_SAMPLE, "moneybutton", "1040"),
            (GITHUB_SAMPLE, "github", "hookbridge/demo#pull_request"),
        ];
        for (sample, source, object_id) in cases {
            let consumed = consumer.handle(sample).await.unwrap();
            assert_eq!(consumed.outcome, Outcome::ProjectionUpdated, "{source}");
            assert_eq!(consumed.source, source);
            assert_eq!(consumed.object_id.as_deref(), Some(object_id));
            let held = consumer.store().projection(source, object_id).unwrap();
            assert_eq!(held.envelope.id, consumed.event_id);
        }
        assert_eq!(consumer.store().event_count(), 3);
    }

    #[tokio::test]
    async fn a_repeated_event_is_a_duplicate() {
        let consumer = consumer(MemoryEventStore::new());
        assert_eq!(
            consumer.handle(STRIPE_SAMPLE).await.unwrap().outcome,
            Outcome::ProjectionUpdated
        );
        for _ in 0..4 {
            assert_eq!(
                consumer.handle(STRIPE_SAMPLE).await.unwrap().outcome,
                Outcome::Duplicate
            );
        }
        assert_eq!(consumer.store().event_count(), 1);
    }

    #[tokio::test]
    async fn events_without_an_object_or_rule_are_recorded_only() {
        let consumer = consumer(MemoryEventStore::new());
        let cases = [
            ("standard", r#"{"type":"user.created","data":{"id":"u1"}}"#),
            ("orders", r#"{"no_order":true}"#),
            ("unconfigured", r#"{"anything":1}"#),
        ];
        for (index, (source, payload)) in cases.into_iter().enumerate() {
            let event = bus_event(source, &envelope(source, &format!("e{index}"), payload));
            let consumed = consumer.handle(&event).await.unwrap();
            assert_eq!(consumed.outcome, Outcome::NotProjected, "{source}");
            assert_eq!(consumed.object_id, None);
        }
        assert_eq!(consumer.store().event_count(), 3);
    }

    #[tokio::test]
    async fn pointer_sources_are_projected_by_their_object_pointer() {
        let consumer = consumer(MemoryEventStore::new());
        let event = bus_event(
            "orders",
            &envelope("orders", "e1", r#"{"order":{"id":"ord_7"}}"#),
        );
        let consumed = consumer.handle(&event).await.unwrap();
        assert_eq!(consumed.object_id.as_deref(), Some("ord_7"));
        assert!(consumer.store().projection("orders", "ord_7").is_some());
    }

    #[tokio::test]
    async fn invocations_that_are_not_bus_events_are_errors() {
        let consumer = consumer(MemoryEventStore::new());
        for event in [
            "not json",
            "[]",
            r#"{"id":"x","source":"hookbridge.stripe","detail":{}}"#,
        ] {
            let error = consumer.handle(event).await.unwrap_err();
            assert_eq!(error.code(), "not_a_bus_event", "{event}");
        }
    }

    #[tokio::test]
    async fn details_that_are_not_envelopes_are_errors() {
        let consumer = consumer(MemoryEventStore::new());
        let missing_payload = r#"{"id":"e","source":"stripe","type":"t",
            "received_at":"2026-11-24T00:00:00Z","occurred_at":null,"correlation_id":"c"}"#;
        for detail in ["{}", "\"text\"", "null", missing_payload] {
            let error = consumer
                .handle(&bus_event("stripe", detail))
                .await
                .unwrap_err();
            assert_eq!(error.code(), "invalid_envelope", "{detail}");
            assert!(error.to_string().contains("bus-1"), "names the bus event");
        }
        assert_eq!(consumer.store().event_count(), 0);
    }

    #[tokio::test]
    async fn an_envelope_from_another_source_is_an_error() {
        let consumer = consumer(MemoryEventStore::new());
        let event = bus_event("stripe", &envelope("github", "e1", "{}"));
        let error = consumer.handle(&event).await.unwrap_err();
        assert_eq!(error.code(), "source_mismatch");
        assert_eq!(consumer.store().event_count(), 0);
    }

    #[tokio::test]
    async fn malformed_times_are_errors() {
        let consumer = consumer(MemoryEventStore::new());
        let detail = envelope("stripe", "e1", "{}").replace("2026-11-24T00:00:00.000Z", "now");
        let error = consumer
            .handle(&bus_event("stripe", &detail))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "invalid_time");
        assert_eq!(consumer.store().event_count(), 0);
    }

    #[tokio::test]
    async fn store_failures_are_errors_so_lambda_retries() {
        let unavailable = consumer(FailingStore(|| {
            EventStoreError::Unavailable("throttled".to_owned())
        }));
        let error = unavailable.handle(STRIPE_SAMPLE).await.unwrap_err();
        assert_eq!(error.code(), "store_unavailable");
        let rejected = consumer(FailingStore(|| {
            EventStoreError::Rejected("no such table".to_owned())
        }));
        let error = rejected.handle(STRIPE_SAMPLE).await.unwrap_err();
        assert_eq!(error.code(), "store_rejected");
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "store_rejected");
        assert!(diagnostic.error_message.contains("evt_3QdevHookbridge0001"));
    }

    /// `(metric, value, source)` of every datum CloudWatch extracts from
    /// the consumer's lines.
    fn measured(metrics: &CapturedMetrics) -> Vec<(String, f64, String)> {
        metrics
            .datums()
            .into_iter()
            .inspect(|datum| {
                assert_eq!(datum.namespace, "hookbridge");
                assert_eq!(datum.dimension("Stack"), hookbridge_testkit::TEST_STACK);
            })
            .filter(|datum| !datum.dimension("Source").is_empty())
            .map(|datum| {
                let source = datum.dimension("Source").to_owned();
                (datum.name, datum.value, source)
            })
            .collect()
    }

    fn datum(name: &str, source: &str) -> (String, f64, String) {
        (name.into(), 1.0, source.into())
    }

    #[tokio::test]
    async fn each_outcome_writes_one_emf_line_counting_it_per_source() {
        let metrics = CapturedMetrics::new();
        let consumer = consumer(MemoryEventStore::new()).with_metrics(Arc::new(metrics.clone()));
        let object = |id: &str| format!(r#"{{"id":"{id}","data":{{"object":{{"id":"pi_1"}}}}}}"#);
        let newer = bus_event("stripe", &envelope("stripe", "evt_b", &object("evt_b")));
        let older = bus_event("stripe", &envelope("stripe", "evt_a", &object("evt_a")));
        let unprojected = bus_event("standard", &envelope("standard", "evt_s", "{}"));
        for event in [&newer, &older, &newer, &unprojected] {
            consumer.handle(event).await.unwrap();
        }
        assert_eq!(metrics.lines().len(), 4);
        assert_eq!(
            measured(&metrics),
            [
                datum("Recorded", "stripe"),
                datum("ProjectionUpdated", "stripe"),
                datum("Recorded", "stripe"),
                datum("ProjectionSuperseded", "stripe"),
                datum("Duplicate", "stripe"),
                datum("Recorded", "standard"),
            ]
        );
    }

    #[tokio::test]
    async fn a_failure_is_counted_per_configured_source_only() {
        let metrics = CapturedMetrics::new();
        let failing = || EventStoreError::Unavailable("throttled".into());
        let consumer = consumer(FailingStore(failing)).with_metrics(Arc::new(metrics.clone()));
        let events = [
            bus_event("stripe", &envelope("stripe", "evt_1", "{}")),
            bus_event(
                "evt_chosen_by_sender",
                &envelope("evt_chosen_by_sender", "evt_2", "{}"),
            ),
            "not a bus event".to_owned(),
        ];
        for event in &events {
            assert!(consumer.handle(event).await.is_err());
        }
        assert_eq!(
            measured(&metrics),
            [
                datum("ConsumeFailed", "stripe"),
                datum("ConsumeFailed", "(unknown)"),
                datum("ConsumeFailed", "(unknown)"),
            ]
        );
        assert_eq!(metrics.datums().len(), 3, "no datum without its source");
        for line in metrics.lines() {
            assert!(!line.contains("evt_"), "{line}");
        }
    }
}
