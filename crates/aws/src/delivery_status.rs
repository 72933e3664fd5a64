//! [`DeliveryStatusStore`] on the events table (see "Delivery status items"
//! in docs/architecture.md).
//!
//! Two kinds of item beside consume's:
//! - delivery: `pk = DELIVERY#<destination>#<event id>`, one per (event,
//!   destination): `state`, `attempt_count`, `attempts` (JSON text, capped
//!   by [`DeliveryRecord::record`]) and `version`, the optimistic lock every
//!   write checks and bumps;
//! - index: `pk = DELIVERIES#<event id>`, the string set `destinations` of
//!   every destination with a delivery item, so one event's records are read
//!   with one GetItem and one BatchGetItem, without a scan or a sort key.
//!
//! Destination names cannot contain `#`, so the destination ends a delivery
//! key's second segment and no event id can make two keys collide; the two
//! prefixes differ in their eighth character. The index is written before a
//! new delivery item, so every delivery item is reachable from it; an index
//! entry whose item is not written yet reads as no record. Both expire with
//! the event items (`expires_at`, the retention after the latest attempt).

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use hookbridge_core::delivery_status::{Attempt, DeliveryRecord, DeliveryState};
use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{Clock, DeliveryStatusError, DeliveryStatusStore};

use crate::dynamodb::{attr, bounded, describe, is_validation};

/// Read-modify-write rounds before a delivery item that keeps changing
/// under us is reported unavailable (SNS delivers one message to one
/// destination at a time; a conflict is a rare duplicate delivery).
const MAX_ROUNDS: usize = 3;
/// Keys per BatchGetItem, DynamoDB's limit.
const BATCH_KEYS: usize = 100;
/// BatchGetItem calls for the keys DynamoDB left unprocessed.
const MAX_BATCH_CALLS: usize = 5;
const DELIVERY_RECORD: &str = "delivery";
const INDEX_RECORD: &str = "deliveries";

/// The partition key of the delivery item of (`event_id`, `destination`).
pub fn delivery_key(destination: &DestinationName, event_id: &str) -> String {
    format!("DELIVERY#{destination}#{event_id}")
}

/// The partition key of the index item of `event_id`'s deliveries.
pub fn index_key(event_id: &str) -> String {
    format!("DELIVERIES#{event_id}")
}

/// Delivery status in DynamoDB table `table`, items kept for `retention`
/// after their latest attempt.
#[derive(Debug, Clone)]
pub struct DynamoDbDeliveryStatus<C> {
    client: Client,
    table: String,
    retention: Duration,
    clock: C,
}

/// What a delivery item holds beside its record: the lock to check.
struct Stored {
    record: DeliveryRecord,
    version: u64,
}

enum Written {
    Done,
    /// Another write changed the item since it was read.
    Conflict,
}

impl<C: Clock> DynamoDbDeliveryStatus<C> {
    pub fn new(client: Client, table: impl Into<String>, retention: Duration, clock: C) -> Self {
        Self {
            client: bounded(&client),
            table: table.into(),
            retention,
            clock,
        }
    }

    fn expires_at(&self) -> AttributeValue {
        let expiry = self.clock.now() + self.retention;
        let seconds = expiry.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        AttributeValue::N(seconds.to_string())
    }

    async fn read(&self, key: &str) -> Result<Option<Stored>, DeliveryStatusError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| unavailable_or_rejected(is_validation(&err), describe(&err)))?;
        output.item.as_ref().map(stored).transpose()
    }

    /// Adds `destination` to the index of `event_id` (idempotent: a set).
    async fn index(
        &self,
        event_id: &str,
        destination: &DestinationName,
    ) -> Result<(), DeliveryStatusError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, AttributeValue::S(index_key(event_id)))
            .update_expression("ADD #destinations :destination SET #record = :record, #event_id = :event_id, #expires_at = :expires_at")
            .expression_attribute_names("#destinations", attr::DESTINATIONS)
            .expression_attribute_names("#record", attr::RECORD)
            .expression_attribute_names("#event_id", attr::EVENT_ID)
            .expression_attribute_names("#expires_at", attr::EXPIRES_AT)
            .expression_attribute_values(
                ":destination",
                AttributeValue::Ss(vec![destination.as_str().to_owned()]),
            )
            .expression_attribute_values(":record", AttributeValue::S(INDEX_RECORD.to_owned()))
            .expression_attribute_values(":event_id", AttributeValue::S(event_id.to_owned()))
            .expression_attribute_values(":expires_at", self.expires_at())
            .send()
            .await
            .map_err(|err| unavailable_or_rejected(is_validation(&err), describe(&err)))?;
        Ok(())
    }

    /// Writes `record` as version `version + 1`, if the item is still at
    /// `version` (0: absent).
    async fn write(
        &self,
        record: &DeliveryRecord,
        version: u64,
    ) -> Result<Written, DeliveryStatusError> {
        let attempts = serde_json::to_string(&record.attempts)
            .map_err(|error| DeliveryStatusError::Rejected(error.to_string()))?;
        let text = |value: &str| AttributeValue::S(value.to_owned());
        let item = HashMap::from([
            (
                attr::PK.to_owned(),
                text(&delivery_key(&record.destination, &record.event_id)),
            ),
            (attr::RECORD.to_owned(), text(DELIVERY_RECORD)),
            (attr::EVENT_ID.to_owned(), text(&record.event_id)),
            (
                attr::DESTINATION.to_owned(),
                text(record.destination.as_str()),
            ),
            (attr::STATE.to_owned(), text(record.state.as_str())),
            (
                attr::ATTEMPT_COUNT.to_owned(),
                AttributeValue::N(record.attempt_count.to_string()),
            ),
            (attr::ATTEMPTS.to_owned(), AttributeValue::S(attempts)),
            (
                attr::VERSION.to_owned(),
                AttributeValue::N((version + 1).to_string()),
            ),
            (attr::EXPIRES_AT.to_owned(), self.expires_at()),
        ]);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if version == 0 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", attr::VERSION)
                .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
        };
        match request.send().await {
            Ok(_) => Ok(Written::Done),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(Written::Conflict),
                Some(PutItemError::ResourceNotFoundException(_)) => {
                    Err(DeliveryStatusError::Rejected(describe(&err)))
                }
                _ => Err(unavailable_or_rejected(is_validation(&err), describe(&err))),
            },
        }
    }

    /// The delivery items of `keys`, as many as exist.
    async fn read_batch(
        &self,
        keys: &[String],
    ) -> Result<Vec<DeliveryRecord>, DeliveryStatusError> {
        let request = |keys: Vec<HashMap<String, AttributeValue>>| {
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|error| DeliveryStatusError::Rejected(error.to_string()))
        };
        let mut pending = request(
            keys.iter()
                .map(|key| HashMap::from([(attr::PK.to_owned(), AttributeValue::S(key.clone()))]))
                .collect(),
        )?;
        let mut records = Vec::with_capacity(keys.len());
        for _ in 0..MAX_BATCH_CALLS {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|err| unavailable_or_rejected(is_validation(&err), describe(&err)))?;
            for item in output
                .responses
                .and_then(|mut tables| tables.remove(&self.table))
                .unwrap_or_default()
            {
                records.push(stored(&item)?.record);
            }
            match output
                .unprocessed_keys
                .and_then(|mut tables| tables.remove(&self.table))
            {
                Some(unprocessed) if !unprocessed.keys.is_empty() => pending = unprocessed,
                _ => return Ok(records),
            }
        }
        Err(DeliveryStatusError::Unavailable(
            "DynamoDB kept delivery items unprocessed".to_owned(),
        ))
    }
}

impl<C: Clock> DeliveryStatusStore for DynamoDbDeliveryStatus<C> {
    async fn record_attempt(
        &self,
        event_id: &str,
        destination: &DestinationName,
        attempt: Attempt,
        state: DeliveryState,
    ) -> Result<(), DeliveryStatusError> {
        let key = delivery_key(destination, event_id);
        for _ in 0..MAX_ROUNDS {
            let (mut record, version) = match self.read(&key).await? {
                Some(Stored { record, version }) => (record, version),
                None => {
                    self.index(event_id, destination).await?;
                    (DeliveryRecord::pending(event_id, destination.clone()), 0)
                }
            };
            let before = record.clone();
            record.record(attempt.clone(), state);
            if record == before {
                return Ok(());
            }
            if let Written::Done = self.write(&record, version).await? {
                return Ok(());
            }
        }
        Err(DeliveryStatusError::Unavailable(format!(
            "the delivery item changed {MAX_ROUNDS} times while being updated"
        )))
    }

    async fn records(&self, event_id: &str) -> Result<Vec<DeliveryRecord>, DeliveryStatusError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, AttributeValue::S(index_key(event_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| unavailable_or_rejected(is_validation(&err), describe(&err)))?;
        let Some(index) = output.item else {
            return Ok(Vec::new());
        };
        let mut keys = Vec::new();
        if let Some(AttributeValue::Ss(names)) = index.get(attr::DESTINATIONS) {
            for name in names {
                let destination = DestinationName::parse(name).map_err(|error| {
                    malformed(
                        &index_key(event_id),
                        &format!("destination {name:?}: {error}"),
                    )
                })?;
                keys.push(delivery_key(&destination, event_id));
            }
        }
        let mut records = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_KEYS) {
            records.extend(self.read_batch(chunk).await?);
        }
        records.sort_by(|a, b| a.destination.cmp(&b.destination));
        Ok(records)
    }
}

/// The record and lock of a delivery item.
fn stored(item: &HashMap<String, AttributeValue>) -> Result<Stored, DeliveryStatusError> {
    let key = match item.get(attr::PK) {
        Some(AttributeValue::S(key)) => key.as_str(),
        _ => "?",
    };
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.as_str()),
        _ => Err(malformed(key, &format!("`{name}` is not a string"))),
    };
    let destination = DestinationName::parse(text(attr::DESTINATION)?)
        .map_err(|error| malformed(key, &error.to_string()))?;
    let state = DeliveryState::parse(text(attr::STATE)?)
        .ok_or_else(|| malformed(key, "`state` is not a delivery state"))?;
    let attempts: Vec<Attempt> = serde_json::from_str(text(attr::ATTEMPTS)?)
        .map_err(|error| malformed(key, &format!("attempts: {error}")))?;
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse::<u64>()
            .map_err(|_| malformed(key, &format!("`{name}` is not a whole number"))),
        _ => Err(malformed(key, &format!("`{name}` is not a number"))),
    };
    let version = number(attr::VERSION)?;
    let attempt_count = u32::try_from(number(attr::ATTEMPT_COUNT)?)
        .map_err(|_| malformed(key, "`attempt_count` is too large"))?;
    Ok(Stored {
        record: DeliveryRecord {
            event_id: text(attr::EVENT_ID)?.to_owned(),
            destination,
            state,
            attempt_count,
            attempts,
        },
        version,
    })
}

fn malformed(key: &str, problem: &str) -> DeliveryStatusError {
    DeliveryStatusError::Rejected(format!("the item {key} is malformed: {problem}"))
}

fn unavailable_or_rejected(validation: bool, description: String) -> DeliveryStatusError {
    if validation {
        DeliveryStatusError::Rejected(description)
    } else {
        DeliveryStatusError::Unavailable(description)
    }
}
