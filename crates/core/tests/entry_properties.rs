//! The size ingest checks against EventBridge's limit is the size of what it
//! sends: for any envelope fields and any JSON payload, the detail is the
//! envelope exactly as a JSON serialiser writes it, and the entry size is
//! the UTF-8 length of Source, DetailType and that detail.

use hookbridge_core::entry::entry_size;
use hookbridge_core::envelope::{BodyRef, Envelope, EnvelopeRef, bus_source};
use hookbridge_core::ports::BusEvent;
use proptest::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A payload as a provider might write it: compact or pretty, so the raw
/// text (kept byte for byte) is not always what a serialiser would write.
fn any_payload() -> impl Strategy<Value = String> {
    (
        proptest::collection::btree_map(any::<String>(), any_json(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(members, pretty)| {
            let object = Value::Object(members.into_iter().collect());
            if pretty {
                serde_json::to_string_pretty(&object).expect("serialises")
            } else {
                object.to_string()
            }
        })
}

proptest! {
    #[test]
    fn entry_size_is_the_length_of_the_serialised_entry(
        id in any::<String>(),
        source in "[a-z0-9][a-z0-9_-]{0,63}",
        event_type in any::<String>(),
        received_at in any::<String>(),
        occurred_at in proptest::option::of(any::<String>()),
        correlation_id in any::<String>(),
        payload in any_payload(),
    ) {
        let detail = EnvelopeRef {
            id: &id,
            source: &source,
            event_type: &event_type,
            received_at: &received_at,
            occurred_at: occurred_at.as_deref(),
            correlation_id: &correlation_id,
            payload: BodyRef::Inline(&payload),
            content_type: None,
            raw_body: None,
        }
        .to_json();
        let serialised = serde_json::to_string(&Envelope {
            id: id.clone(),
            source: source.clone(),
            event_type: event_type.clone(),
            received_at,
            occurred_at,
            correlation_id,
            payload: Some(RawValue::from_string(payload).expect("valid JSON")),
            payload_ref: None,
            content_type: None,
            raw_body: None,
        })
        .expect("serialises");
        prop_assert_eq!(&detail, &serialised);

        let event = BusEvent { source: bus_source(&source), detail_type: event_type, detail };
        let sent = [&event.source, &event.detail_type, &event.detail];
        let utf8_bytes: usize = sent.iter().flat_map(|text| text.chars()).map(char::len_utf8).sum();
        prop_assert_eq!(entry_size(&event), utf8_bytes);
        prop_assert_eq!(entry_size(&event), "hookbridge.".len() + source.len() + event.detail_type.len() + serialised.len());
    }
}
