//! The group commit of `hookbridge dev`'s store: events published through
//! the one writer onto a real database file (WAL, `synchronous = FULL`, so
//! every batch costs an fsync), by 1 to 512 concurrent publishers. With one
//! publisher every event is a batch of its own; with more, the writer commits
//! whatever queued during the previous fsync, up to its batch limit.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookbridge::dev::store::LocalStore;
use hookbridge::dev::store::bus::publish;
use hookbridge_core::destinations::Destinations;
use hookbridge_core::ports::BusEvent;

/// Events published per measured iteration.
const EVENTS: usize = 1024;

fn bus_event(id: usize) -> BusEvent {
    BusEvent {
        source: "hookbridge.github".to_owned(),
        detail_type: "pull_request".to_owned(),
        detail: format!(
            r#"{{"id":"evt_{id}","source":"github","type":"pull_request",
            "received_at":"2026-12-01T00:00:00.000Z","occurred_at":null,
            "correlation_id":"c_{id}","payload":{{"action":"opened","number":7}}}}"#
        ),
    }
}

fn group_commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("hookbridge-bench-{}", std::process::id()));
    let store = LocalStore::open(&dir).expect("store");
    let destinations = Arc::new(Destinations::single_default("http://127.0.0.1:9/hook").unwrap());
    let mut next_id = 0;

    let mut group = c.benchmark_group("group_commit_publish");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(EVENTS as u64));
    for publishers in [1, 16, 64, 256, 512] {
        group.bench_function(format!("{publishers}_publishers"), |b| {
            b.iter(|| {
                let first = next_id;
                next_id += EVENTS;
                runtime.block_on(async {
                    let mut tasks = tokio::task::JoinSet::new();
                    for publisher in 0..publishers {
                        let (store, destinations) = (store.clone(), Arc::clone(&destinations));
                        tasks.spawn(async move {
                            for n in (publisher..EVENTS).step_by(publishers) {
                                let (event, destinations) =
                                    (bus_event(first + n), Arc::clone(&destinations));
                                store
                                    .write(move |connection| {
                                        publish(
                                            connection,
                                            &event,
                                            None,
                                            &destinations,
                                            SystemTime::now(),
                                        )
                                    })
                                    .await
                                    .expect("published");
                            }
                        });
                    }
                    while let Some(joined) = tasks.join_next().await {
                        joined.expect("publisher");
                    }
                });
            });
        });
    }
    group.finish();
    runtime.block_on(store.close());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, group_commit);
criterion_main!(benches);
