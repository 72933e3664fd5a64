//! The consumer's projection does not depend on delivery order: whatever
//! order (and however often) EventBridge delivers the same events, every
//! object ends in the same state, for every projection rule.

use std::collections::BTreeMap;
use std::time::Duration;

use hookbridge_core::envelope::Envelope;
use hookbridge_core::ports::EventStore;
use hookbridge_core::projection::{
    EventRecord, OrderKey, ProjectionChange, ProjectionRule, RecordOutcome, project,
};
use hookbridge_core::providers::Kind;
use hookbridge_testkit::{EnvelopeBuilder, MemoryEventStore, run_ready};
use proptest::prelude::*;

const RETENTION: Duration = Duration::from_secs(86_400);
const SOURCE: &str = "src";

/// One event of object `object`; times collide often, so ranks and ids
/// take part in the order too.
#[derive(Debug, Clone)]
struct Event {
    object: u8,
    second: u8,
    millis: u16,
    occurred: bool,
    status: u8,
}

fn any_event() -> impl Strategy<Value = Event> {
    (0u8..3, 0u8..4, 0u16..3, any::<bool>(), 0u8..5).prop_map(
        |(object, second, millis, occurred, status)| Event {
            object,
            second,
            millis,
            occurred,
            status,
        },
    )
}

fn any_rule() -> impl Strategy<Value = ProjectionRule> {
    prop_oneof![
        Just(ProjectionRule::Provider(Kind::Stripe)),
        Just(ProjectionRule::Provider(Kind::Github)),
        Just(ProjectionRule::Provider(Kind::MoneyButton)),
        Just(ProjectionRule::Pointer("/object/id".into())),
    ]
}

fn envelope(rule: &ProjectionRule, index: usize, event: &Event) -> Envelope {
    let object = format!("obj_{}", event.object);
    let status =
        ["PENDING", "RECEIVED", "COMPLETED", "FAILED", "DOUBLE_SPENT"][usize::from(event.status)];
    let (event_type, payload) = match rule {
        ProjectionRule::Provider(Kind::Stripe) => (
            "payment_intent.updated".to_owned(),
            format!(r#"{{"data":{{"object":{{"id":"{object}"}}}}}}"#),
        ),
        ProjectionRule::Provider(Kind::Github) => (
            "pull_request.edited".to_owned(),
            format!(r#"{{"repository":{{"full_name":"octo/{object}"}}}}"#),
        ),
        ProjectionRule::Provider(Kind::MoneyButton) => (
            format!("payment.{}", status.to_ascii_lowercase()),
            format!(r#"{{"payment":{{"id":"{object}","status":"{status}"}}}}"#),
        ),
        ProjectionRule::Pointer(_) => (
            "object.changed".to_owned(),
            format!(r#"{{"object":{{"id":"{object}"}}}}"#),
        ),
        ProjectionRule::Provider(kind) => unreachable!("no strategy makes {kind}"),
    };
    let time = format!("2026-11-24T00:00:0{}.{:03}Z", event.second, event.millis);
    EnvelopeBuilder::new(&format!("evt_{index}"), &payload)
        .source(SOURCE)
        .event_type(&event_type)
        .received_at(&time)
        .occurred_at(event.occurred.then_some(time.as_str()))
        .correlation_id(&format!("corr_{index}"))
        .build()
}

/// Every object's projection (event id and order key) after delivering
/// `order`, and how many distinct events were kept.
fn delivered(
    rule: &ProjectionRule,
    events: &[Envelope],
    order: &[usize],
) -> (BTreeMap<String, (String, String)>, usize) {
    let store = MemoryEventStore::new();
    for &index in order {
        let record = EventRecord::new(
            &events[index],
            inline(&events[index]),
            Some(rule),
            RETENTION,
        )
        .expect("valid times");
        run_ready(store.record(&record)).expect("the memory store does not fail");
    }
    let projections = (0..3)
        .flat_map(|object| {
            [
                format!("obj_{object}"),
                format!("octo/obj_{object}#pull_request"),
            ]
        })
        .filter_map(|object| {
            let held = store.projection(SOURCE, &object)?;
            Some((
                object,
                (held.envelope.id.clone(), held.order_key.as_str().to_owned()),
            ))
        })
        .collect();
    (projections, store.event_count())
}

/// Each object's newest delivered event by order key.
fn newest(
    rule: &ProjectionRule,
    events: &[Envelope],
    order: &[usize],
) -> BTreeMap<String, (String, String)> {
    let mut newest: BTreeMap<String, (String, String)> = BTreeMap::new();
    for &index in order {
        let record = EventRecord::new(
            &events[index],
            inline(&events[index]),
            Some(rule),
            RETENTION,
        )
        .expect("valid times");
        let projection = record
            .projection
            .expect("every generated event names its object");
        let candidate = (
            events[index].id.clone(),
            projection.order_key.as_str().to_owned(),
        );
        let held = newest
            .entry(projection.object_id)
            .or_insert_with(|| candidate.clone());
        if candidate.1 > held.1 {
            *held = candidate;
        }
    }
    newest
}

fn inline(envelope: &Envelope) -> &str {
    envelope
        .inline_payload()
        .expect("built with an inline payload")
}

fn key(rule: &ProjectionRule, envelope: &Envelope) -> OrderKey {
    project(rule, envelope, inline(envelope))
        .expect("valid times")
        .expect("names its object")
        .order_key
}

#[test]
fn memory_store_counts_duplicates_and_keeps_the_newest() {
    let store = MemoryEventStore::new();
    let rule = ProjectionRule::Provider(Kind::MoneyButton);
    let completed =
        EnvelopeBuilder::moneybutton_payment("c", "COMPLETED", "2026-11-24T00:00:02Z").build();
    let pending =
        EnvelopeBuilder::moneybutton_payment("p", "PENDING", "2026-11-24T00:00:01Z").build();
    let record = |e| EventRecord::new(e, inline(e), Some(&rule), RETENTION).unwrap();
    assert_eq!(
        run_ready(store.record(&record(&completed))).unwrap(),
        RecordOutcome::Recorded(ProjectionChange::Updated)
    );
    assert_eq!(
        run_ready(store.record(&record(&completed))).unwrap(),
        RecordOutcome::Duplicate
    );
    assert_eq!(
        run_ready(store.record(&record(&pending))).unwrap(),
        RecordOutcome::Recorded(ProjectionChange::Superseded)
    );
    assert_eq!(store.event_count(), 2);
    let held = store.projection("src", "pay_1").unwrap();
    assert_eq!(held.envelope.id, "c");
}

/// Events of one Money Button payment with colliding times, so times,
/// ranks and ids all take part in the order.
fn payment_events() -> Vec<Envelope> {
    let statuses = ["PENDING", "RECEIVED", "COMPLETED", "FAILED", "DOUBLE_SPENT"];
    let times = [
        "2026-11-24T00:00:00Z",
        "2026-11-24T00:00:00Z",
        "2026-11-24T00:00:01Z",
    ];
    let mut events = Vec::new();
    for (i, status) in statuses.iter().enumerate() {
        for (j, at) in times.iter().enumerate() {
            events.push(
                EnvelopeBuilder::moneybutton_payment(&format!("e{i}{j}"), status, at).build(),
            );
        }
    }
    events
}

proptest! {
    /// Whatever the delivery order and however often an event repeats, a
    /// payment's projection ends at the event with the greatest order key.
    #[test]
    fn one_payment_ends_at_its_newest_event_for_every_delivery_order(
        deliveries in proptest::collection::vec(0usize..15, 1..40)
            .prop_shuffle()
    ) {
        let events = payment_events();
        let rule = ProjectionRule::Provider(Kind::MoneyButton);
        let store = MemoryEventStore::new();
        for &index in &deliveries {
            let record = EventRecord::new(&events[index], inline(&events[index]), Some(&rule), RETENTION).unwrap();
            run_ready(store.record(&record)).unwrap();
        }
        let newest = deliveries
            .iter()
            .map(|&index| &events[index])
            .max_by_key(|event| key(&rule, event))
            .unwrap();
        let held = store.projection("src", "pay_1").unwrap();
        prop_assert_eq!(&held.envelope.id, &newest.id);
        let mut distinct = deliveries.clone();
        distinct.sort_unstable();
        distinct.dedup();
        prop_assert_eq!(store.event_count(), distinct.len());
    }

    #[test]
    fn projection_is_the_same_for_every_delivery_order(
        rule in any_rule(),
        events in proptest::collection::vec(any_event(), 1..12),
        deliveries in proptest::collection::vec(any::<prop::sample::Index>(), 1..40),
        seed in any::<u64>(),
    ) {
        let events: Vec<Envelope> = events
            .iter()
            .enumerate()
            .map(|(index, event)| envelope(&rule, index, event))
            .collect();
        let order: Vec<usize> = deliveries.iter().map(|index| index.index(events.len())).collect();
        let mut reversed = order.clone();
        reversed.reverse();
        let mut shuffled = order.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            // xorshift: a different permutation per case, reproducible.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let (projections, count) = delivered(&rule, &events, &order);
        prop_assert_eq!(delivered(&rule, &events, &reversed), (projections.clone(), count));
        prop_assert_eq!(delivered(&rule, &events, &shuffled), (projections.clone(), count));
        prop_assert_eq!(&projections, &newest(&rule, &events, &order));
        let mut distinct = order;
        distinct.sort_unstable();
        distinct.dedup();
        prop_assert_eq!(count, distinct.len());
    }
}
