//! The part of a notification's CPU that depends on how many destinations
//! are configured: read `?destination=` from the query, find it, and apply
//! its filter to the envelope's source and type. It must not grow with the
//! count (one `BTreeMap` lookup, one filter).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use deliver::requested_destination;
use hookbridge_core::destinations::Destinations;

/// `count` destinations, each filtered by source and type prefix, as a
/// stack with many consumers declares them.
fn destinations(count: usize) -> Destinations {
    let declared: serde_json::Map<String, serde_json::Value> = (0..count)
        .map(|i| {
            (
                format!("consumer-{i:02}"),
                serde_json::json!({
                    "url": format!("https://consumer-{i:02}.example/hooks"),
                    "sources": ["stripe", "github"],
                    "types": ["invoice.*", "customer.subscription.*", "charge.succeeded"],
                }),
            )
        })
        .collect();
    Destinations::from_map(declared).expect("valid destinations")
}

fn bench_routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("deliver_route_notification");
    for count in [1, 50] {
        let destinations = destinations(count);
        // The last by name: the worst place for a linear search.
        let query = format!("destination=consumer-{:02}", count - 1);
        group.bench_function(format!("{count}_destinations"), |b| {
            b.iter(|| {
                let name = requested_destination(Some(black_box(&query))).unwrap();
                let destination = destinations.get(name).unwrap();
                black_box(destination.wants(
                    black_box("stripe"),
                    black_box("customer.subscription.updated"),
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_routing);
criterion_main!(benches);
