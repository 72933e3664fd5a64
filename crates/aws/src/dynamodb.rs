//! [`EventStore`] on one DynamoDB table (see "Consume: table design" in
//! docs/architecture.md).
//!
//! One string partition key `pk` and two kinds of item:
//! - event: `pk = EVENT#<source>#<event id>`, written once with
//!   `attribute_not_exists(pk)`, expiring through the TTL attribute
//!   `expires_at`;
//! - projection: `pk = OBJECT#<source>#<object id>`, replaced only when the
//!   new event's `order_key` is greater than the one it holds.
//!
//! Source names cannot contain `#`, so neither key can collide with another
//! source's. An event and its projection are written in one transaction, so
//! a projection never exists without its event and a retry after any failure
//! starts from a state where either both or neither were written.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use hookbridge_core::envelope::Envelope;
use hookbridge_core::ports::{EventStore, EventStoreError};
use hookbridge_core::projection::{EventRecord, ProjectionChange, RecordOutcome};

/// Attribute names of the table design; tests and tools read items by them.
pub mod attr {
    pub const PK: &str = "pk";
    pub const RECORD: &str = "record";
    pub const SOURCE: &str = "source";
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const RECEIVED_AT: &str = "received_at";
    pub const OCCURRED_AT: &str = "occurred_at";
    pub const CORRELATION_ID: &str = "correlation_id";
    /// The provider's JSON as its exact text.
    pub const PAYLOAD: &str = "payload";
    /// A payload too large for an item: where it is stored and what it is.
    pub const PAYLOAD_BUCKET: &str = "payload_bucket";
    pub const PAYLOAD_KEY: &str = "payload_key";
    pub const PAYLOAD_SIZE: &str = "payload_size";
    pub const PAYLOAD_SHA256: &str = "payload_sha256";
    pub const OBJECT_ID: &str = "object_id";
    pub const ORDER_KEY: &str = "order_key";
    /// TTL attribute: seconds since the Unix epoch.
    pub const EXPIRES_AT: &str = "expires_at";
    /// Delivery status items (`crate::delivery_status`).
    pub const DESTINATION: &str = "destination";
    pub const DESTINATIONS: &str = "destinations";
    pub const STATE: &str = "state";
    pub const ATTEMPT_COUNT: &str = "attempt_count";
    /// The recorded attempts as JSON text.
    pub const ATTEMPTS: &str = "attempts";
    /// Bumped on every write of a delivery item: the optimistic lock.
    pub const VERSION: &str = "version";
}

/// Attempts per request, the first included; the SDK's standard mode
/// retries throttling and transient errors with jittered backoff.
const MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Every attempt and backoff of one request; an event's two requests stay
/// within the function's 10 s timeout, so a stuck write ends as an error
/// Lambda retries, not as a timeout.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

const EVENT_IS_NEW: &str = "attribute_not_exists(pk)";
const PROJECTION_IS_OLDER: &str = "attribute_not_exists(pk) OR order_key < :order_key";
const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";

/// The partition key of an event item.
pub fn event_key(source: &str, event_id: &str) -> String {
    format!("EVENT#{source}#{event_id}")
}

/// The partition key of a projection item.
pub fn projection_key(source: &str, object_id: &str) -> String {
    format!("OBJECT#{source}#{object_id}")
}

/// Records events in DynamoDB table `table`.
#[derive(Debug, Clone)]
pub struct DynamoDbEventStore {
    client: Client,
    table: String,
}

impl DynamoDbEventStore {
    /// A store on `table`, with `client` bounded to [`MAX_ATTEMPTS`] and
    /// [`OPERATION_TIMEOUT`] per request.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client: bounded(&client),
            table: table.into(),
        }
    }

    /// Writes the event item alone; a failed condition means a duplicate.
    async fn put_event(
        &self,
        item: HashMap<String, AttributeValue>,
    ) -> Result<bool, EventStoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(EVENT_IS_NEW)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                Some(PutItemError::ResourceNotFoundException(_)) => {
                    Err(EventStoreError::Rejected(describe(&err)))
                }
                _ if is_validation(&err) => Err(EventStoreError::Rejected(describe(&err))),
                _ => Err(EventStoreError::Unavailable(describe(&err))),
            },
        }
    }
}

impl EventStore for DynamoDbEventStore {
    async fn record(&self, record: &EventRecord<'_>) -> Result<RecordOutcome, EventStoreError> {
        let Some(projection) = &record.projection else {
            return Ok(if self.put_event(event_item(record)).await? {
                RecordOutcome::Recorded(ProjectionChange::NotProjected)
            } else {
                RecordOutcome::Duplicate
            });
        };
        let order_key = AttributeValue::S(projection.order_key.as_str().to_owned());
        let mut latest = envelope_attributes(record.envelope);
        latest.insert(
            attr::PK.to_owned(),
            AttributeValue::S(projection_key(
                &record.envelope.source,
                &projection.object_id,
            )),
        );
        latest.insert(
            attr::RECORD.to_owned(),
            AttributeValue::S("projection".to_owned()),
        );
        latest.insert(
            attr::OBJECT_ID.to_owned(),
            AttributeValue::S(projection.object_id.clone()),
        );
        latest.insert(attr::ORDER_KEY.to_owned(), order_key.clone());

        let result = self
            .client
            .transact_write_items()
            .transact_items(put(&self.table, event_item(record), EVENT_IS_NEW, None)?)
            .transact_items(put(
                &self.table,
                latest,
                PROJECTION_IS_OLDER,
                Some((":order_key", order_key)),
            )?)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(RecordOutcome::Recorded(ProjectionChange::Updated)),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                let codes: Vec<&str> = cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| reason.code().unwrap_or("None"))
                    .collect();
                match codes.as_slice() {
                    // The event is already recorded, and with it the decision
                    // about its projection: a duplicate.
                    [CONDITIONAL_CHECK_FAILED, ..] => Ok(RecordOutcome::Duplicate),
                    // A new event whose projection already holds a newer (or
                    // this) event: record the event alone. Order keys only
                    // grow, so this stays true on every retry.
                    ["None", CONDITIONAL_CHECK_FAILED] => {
                        Ok(if self.put_event(event_item(record)).await? {
                            RecordOutcome::Recorded(ProjectionChange::Superseded)
                        } else {
                            RecordOutcome::Duplicate
                        })
                    }
                    // An item DynamoDB will never accept (e.g. too large).
                    codes if codes.contains(&"ValidationError") => Err(EventStoreError::Rejected(
                        format!("transaction cancelled: {}", codes.join(", ")),
                    )),
                    // Conflicting transactions, throttling: retry later.
                    _ => Err(EventStoreError::Unavailable(format!(
                        "transaction cancelled: {}",
                        codes.join(", ")
                    ))),
                }
            }
            Some(TransactWriteItemsError::ResourceNotFoundException(_)) => {
                Err(EventStoreError::Rejected(describe(&err)))
            }
            _ if is_validation(&err) => Err(EventStoreError::Rejected(describe(&err))),
            _ => Err(EventStoreError::Unavailable(describe(&err))),
        }
    }
}

/// `client` with this store's retry and timeout bounds, set once here
/// rather than per call (which would rebuild the SDK's runtime plugins on
/// every request).
pub(crate) fn bounded(client: &Client) -> Client {
    let config = client
        .config()
        .to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// The event item: the envelope, its expiry and, if projected, its object.
fn event_item(record: &EventRecord<'_>) -> HashMap<String, AttributeValue> {
    let envelope = record.envelope;
    let mut item = envelope_attributes(envelope);
    item.insert(
        attr::PK.to_owned(),
        AttributeValue::S(event_key(&envelope.source, &envelope.id)),
    );
    item.insert(
        attr::RECORD.to_owned(),
        AttributeValue::S("event".to_owned()),
    );
    item.insert(
        attr::EXPIRES_AT.to_owned(),
        AttributeValue::N(record.expires_at.to_string()),
    );
    if let Some(projection) = &record.projection {
        item.insert(
            attr::OBJECT_ID.to_owned(),
            AttributeValue::S(projection.object_id.clone()),
        );
    }
    item
}

/// The attributes event and projection items share: the envelope.
fn envelope_attributes(envelope: &Envelope) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::with_capacity(12);
    let mut text = |name: &str, value: &str| {
        item.insert(name.to_owned(), AttributeValue::S(value.to_owned()));
    };
    text(attr::SOURCE, &envelope.source);
    text(attr::EVENT_ID, &envelope.id);
    text(attr::EVENT_TYPE, &envelope.event_type);
    text(attr::RECEIVED_AT, &envelope.received_at);
    text(attr::CORRELATION_ID, &envelope.correlation_id);
    // The raw text, not a DynamoDB map: maps would turn large integers into
    // numbers with 38 digits at most and lose key order. A payload too large
    // for an item is recorded by its reference, so items stay under 400 KB.
    if let Some(payload) = &envelope.payload {
        text(attr::PAYLOAD, payload.get());
    }
    if let Some(reference) = &envelope.payload_ref {
        text(attr::PAYLOAD_BUCKET, &reference.bucket);
        text(attr::PAYLOAD_KEY, &reference.key);
        text(attr::PAYLOAD_SHA256, &reference.sha256);
    }
    if let Some(occurred_at) = &envelope.occurred_at {
        text(attr::OCCURRED_AT, occurred_at);
    }
    if let Some(reference) = &envelope.payload_ref {
        item.insert(
            attr::PAYLOAD_SIZE.to_owned(),
            AttributeValue::N(reference.size.to_string()),
        );
    }
    item
}

fn put(
    table: &str,
    item: HashMap<String, AttributeValue>,
    condition: &str,
    value: Option<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, EventStoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition);
    let put = match value {
        Some((name, value)) => put.expression_attribute_values(name, value),
        None => put,
    };
    let put = put
        .build()
        .map_err(|err| EventStoreError::Rejected(err.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A request DynamoDB will never accept (e.g. an item over 400 KB).
pub(crate) fn is_validation<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|service| service.code())
        .is_some_and(|code| code == "ValidationException")
}

pub(crate) fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DisplayErrorContext(err).to_string()
}
