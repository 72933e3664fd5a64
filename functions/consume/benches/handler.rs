//! The consume handler's CPU path: parsing the bus event and the envelope,
//! computing the projection and the record, with a store that answers at
//! once (no network, no state).

use std::hint::black_box;

use consume::{Consumer, Settings};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookbridge_testkit::{AcceptingStore, MemoryPayloads, run_ready};

const SOURCES: &str = r#"{"stripe":{"kind":"stripe"},"moneybutton":{"kind":"moneybutton"},
    "github":{"kind":"github"},"orders":{"kind":"hmac","header":"X-Sig","object_pointer":"/order/id"}}"#;
const STRIPE_SAMPLE: &str = include_str!("../../../events/consume-stripe.json");
const MONEYBUTTON_SAMPLE: &str = include_str!("../../../events/consume-moneybutton.json");
const GITHUB_SAMPLE: &str = include_str!("../../../events/consume-github.json");

/// A Stripe-shaped bus event whose payload is about `size` bytes.
fn large_stripe_event(size: usize) -> String {
    let filler = "x".repeat(size);
    STRIPE_SAMPLE.replace(
        r#""metadata": {"order": "ord_1"}"#,
        &format!(r#""metadata": {{"order": "ord_1", "notes": "{filler}"}}"#),
    )
}

/// An hmac source projected through a JSON pointer (parses the whole payload).
fn pointer_event() -> String {
    STRIPE_SAMPLE
        .replace("hookbridge.stripe", "hookbridge.orders")
        .replace(r#""source": "stripe""#, r#""source": "orders""#)
        .replace(
            r#""object": "event","#,
            r#""object": "event", "order": {"id": "ord_1"},"#,
        )
}

fn handler(c: &mut Criterion) {
    let settings = Settings::from_lookup(|name| match name {
        "TABLE_NAME" => Some("events".to_owned()),
        "HOOKBRIDGE_SOURCES" => Some(SOURCES.to_owned()),
        "PAYLOAD_BUCKET" => Some("payloads".to_owned()),
        _ => None,
    })
    .expect("settings");
    let consumer = Consumer::new(AcceptingStore, MemoryPayloads::new("payloads"), settings);
    let large = large_stripe_event(200 * 1024);
    let pointer = pointer_event();
    let cases = [
        ("stripe", STRIPE_SAMPLE),
        ("moneybutton", MONEYBUTTON_SAMPLE),
        ("github", GITHUB_SAMPLE),
        ("hmac_pointer", pointer.as_str()),
        ("stripe_200k", large.as_str()),
    ];

    let mut group = c.benchmark_group("consume_handle");
    for (name, event) in cases {
        run_ready(consumer.handle(event)).expect("the sample is recorded");
        group.throughput(Throughput::Bytes(event.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| run_ready(consumer.handle(black_box(event))));
        });
    }
    group.finish();
}

criterion_group!(benches, handler);
criterion_main!(benches);
