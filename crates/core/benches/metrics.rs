//! The cost of one EMF line, written on ingest's and deliver's hot path
//! once per webhook and per attempt.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use hookbridge_core::metrics::{
    DeliveryOutcome, FailureClass, IngestOutcome, Measurement, Refusal, emf_line,
};

fn bench_emf_line(c: &mut Criterion) {
    let at = UNIX_EPOCH + Duration::from_millis(1_764_000_000_123);
    let mut group = c.benchmark_group("emf_line");
    let cases = [
        (
            "ingest_accepted",
            Measurement::Ingest {
                source: "stripe",
                outcome: IngestOutcome::Accepted,
                latency_ms: 3,
            },
        ),
        (
            "ingest_refused",
            Measurement::Ingest {
                source: "stripe",
                outcome: IngestOutcome::Refused(Refusal::Signature),
                latency_ms: 1,
            },
        ),
        (
            "delivery_failed",
            Measurement::Delivery {
                destination: "billing",
                outcome: DeliveryOutcome::Failed(FailureClass::Status(5)),
                latency_ms: 120,
            },
        ),
    ];
    for (label, measurement) in cases {
        group.bench_function(label, |b| {
            b.iter(|| emf_line(black_box("hookbridge-prod"), at, black_box(&measurement)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_emf_line);
criterion_main!(benches);
