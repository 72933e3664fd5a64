//! The consumer's projection does not depend on delivery order: whatever
//! order (and however often) EventBridge delivers the same events, every
//! object ends in the same state, for every projection rule.

use std::collections::BTreeMap;
use std::time::Duration;

use hookbridge_core::envelope::Envelope;
use hookbridge_core::projection::{EventRecord, EventStore, MemoryEventStore, ProjectionRule};
use proptest::prelude::*;
use serde_json::value::RawValue;

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
        Just(ProjectionRule::Stripe),
        Just(ProjectionRule::Github),
        Just(ProjectionRule::MoneyButton),
        Just(ProjectionRule::Pointer("/object/id".into())),
    ]
}

fn envelope(rule: &ProjectionRule, index: usize, event: &Event) -> Envelope {
    let object = format!("obj_{}", event.object);
    let status =
        ["PENDING", "RECEIVED", "COMPLETED", "FAILED", "DOUBLE_SPENT"][usize::from(event.status)];
    let (event_type, payload) = match rule {
        ProjectionRule::Stripe => (
            "payment_intent.updated".to_owned(),
            format!(r#"{{"data":{{"object":{{"id":"{object}"}}}}}}"#),
        ),
        ProjectionRule::Github => (
            "pull_request.edited".to_owned(),
            format!(r#"{{"repository":{{"full_name":"octo/{object}"}}}}"#),
        ),
        ProjectionRule::MoneyButton => (
            format!("payment.{}", status.to_ascii_lowercase()),
            format!(r#"{{"payment":{{"id":"{object}","status":"{status}"}}}}"#),
        ),
        ProjectionRule::Pointer(_) => (
            "object.changed".to_owned(),
            format!(r#"{{"object":{{"id":"{object}"}}}}"#),
        ),
    };
    let time = format!("2026-11-24T00:00:0{}.{:03}Z", event.second, event.millis);
    Envelope {
        id: format!("evt_{index}"),
        source: SOURCE.into(),
        event_type,
        received_at: time.clone(),
        occurred_at: event.occurred.then_some(time),
        correlation_id: format!("corr_{index}"),
        payload: RawValue::from_string(payload).expect("valid JSON"),
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    // The memory store never awaits anything, so one poll completes it.
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("memory store future was pending"),
    }
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
        let record = EventRecord::new(&events[index], Some(rule), RETENTION).expect("valid times");
        block_on(store.record(&record)).expect("the memory store does not fail");
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
        let record = EventRecord::new(&events[index], Some(rule), RETENTION).expect("valid times");
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

proptest! {
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
