//! The ingest CPU path: verify the Stripe signature, parse and validate the
//! payload, build the envelope and serialise the bus entry.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookbridge_core::config::Sources;
use hookbridge_core::ingest::{Webhook, prepare};
use hookbridge_core::providers::stripe;
use hookbridge_core::secret::SecretSet;

const SECRET: &str = "whsec_bench_secret";
const SIGNED_AT: i64 = 1_764_000_000;

/// A realistic Stripe `payment_intent.succeeded` event padded with metadata
/// to about `size` bytes.
fn stripe_event(size: usize) -> String {
    let head = r#"{"id":"evt_3QbenchA1b2C3d4E","object":"event","api_version":"2024-06-20","created":1764000000,"type":"payment_intent.succeeded","livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":"a1b2c3"},"data":{"object":{"id":"pi_3QbenchA1b2C3d4E","object":"payment_intent","amount":2000,"currency":"usd","status":"succeeded","metadata":{"#;
    let mut body = String::from(head);
    let mut i = 0;
    while body.len() + 40 < size {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#""key_{i:05}":"value \u00e9 {i:05}""#));
        i += 1;
    }
    body.push_str("}}}}");
    body
}

fn bench_prepare(c: &mut Criterion) {
    let sources = Sources::from_json(r#"{"stripe":{"kind":"stripe"}}"#).unwrap();
    let config = sources.get("stripe").unwrap();
    let secrets = SecretSet::parse(SECRET);
    let now = UNIX_EPOCH + Duration::from_secs(SIGNED_AT as u64);
    let mut group = c.benchmark_group("ingest_prepare_stripe");
    for (label, size) in [("4KB", 4 * 1024), ("200KB", 200 * 1024)] {
        let body = stripe_event(size);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            stripe::SIGNATURE_HEADER,
            stripe::sign(SECRET, SIGNED_AT, body.as_bytes())
                .parse()
                .unwrap(),
        );
        let webhook = Webhook {
            source: "stripe",
            config,
            method: &http::Method::POST,
            url: "https://hooks.example.com/webhooks/stripe",
            headers: &headers,
            body: body.as_bytes(),
        };
        assert!(prepare(&webhook, &secrets, now, "corr", "payloads").is_ok());
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(label, |b| {
            b.iter(|| {
                prepare(
                    black_box(&webhook),
                    &secrets,
                    now,
                    "6f1c0000-0000-4000-8000-000000000000",
                    "payloads",
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_prepare, bench_stages);
criterion_main!(benches);

/// The two passes `prepare` cannot avoid over a body, on their own: the MAC
/// and one JSON validation. Their sum is the floor for `prepare`.
fn bench_stages(c: &mut Criterion) {
    let body = stripe_event(200 * 1024);
    let bytes = body.as_bytes();
    let mut group = c.benchmark_group("ingest_floor_200KB");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("hmac_sha256", |b| {
        b.iter(|| hookbridge_core::providers::github::sign(SECRET, black_box(bytes)))
    });
    group.bench_function("raw_json_validation", |b| {
        b.iter(|| serde_json::from_slice::<&serde_json::value::RawValue>(black_box(bytes)).unwrap())
    });
    group.finish();
}
