//! The EMF lines of every outcome, read back as CloudWatch reads them.

use std::collections::BTreeSet;
use std::time::{Duration, UNIX_EPOCH};

use hookbridge_core::ingest::IngestError;
use hookbridge_core::metrics::{
    ConsumeOutcome, DeliveryOutcome, FailureClass, IngestOutcome, Measurement, Metric, NAMESPACE,
    Refusal, emf_line,
};
use hookbridge_core::ports::TargetError;
use hookbridge_core::verify::VerifyError;
use hookbridge_testkit::{EmfDatum, extract_emf};

const AT_MS: u64 = 1_764_000_000_123;

fn datums(measurement: Measurement<'_>) -> Vec<EmfDatum> {
    let at = UNIX_EPOCH + Duration::from_millis(AT_MS);
    let line = emf_line("prod", at, &measurement);
    assert!(line.ends_with('\n'));
    let datums = extract_emf(&line);
    for datum in &datums {
        assert_eq!(datum.namespace, NAMESPACE);
        assert_eq!(datum.timestamp_ms, AT_MS);
        assert_eq!(datum.dimension("Stack"), "prod");
        let metric = Metric::from_name(&datum.name).expect("a metric of the catalogue");
        assert_eq!(datum.unit, metric.unit().as_str());
        let names: Vec<&str> = datum.dimensions.keys().map(String::as_str).collect();
        assert!(
            metric.dimension_sets().iter().any(|set| {
                let mut set: Vec<&str> = set.iter().map(|d| d.name()).collect();
                set.sort_unstable();
                set == names
            }),
            "{} under {names:?}",
            datum.name
        );
    }
    datums
}

/// `(metric, dimensions other than Stack, value)`, sorted.
fn summary(datums: &[EmfDatum]) -> BTreeSet<(String, String, u64)> {
    datums
        .iter()
        .map(|datum| {
            let others: Vec<String> = datum
                .dimensions
                .iter()
                .filter(|(name, _)| *name != "Stack")
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            (datum.name.clone(), others.join(","), datum.value as u64)
        })
        .collect()
}

/// `(metric, dimensions other than Stack, value)`.
type Expected<'a> = (&'a str, &'a str, u64);

fn set(entries: &[Expected]) -> BTreeSet<(String, String, u64)> {
    entries
        .iter()
        .map(|(name, dims, value)| ((*name).to_owned(), (*dims).to_owned(), *value))
        .collect()
}

#[test]
fn an_accepted_webhook_counts_per_source_with_its_latency() {
    let datums = datums(Measurement::Ingest {
        source: "stripe",
        outcome: IngestOutcome::Accepted,
        latency_ms: 7,
    });
    assert_eq!(
        summary(&datums),
        set(&[
            ("Accepted", "Source=stripe", 1),
            ("IngestLatency", "Source=stripe", 7),
        ])
    );
}

#[test]
fn a_refusal_counts_by_reason_per_source_and_for_the_stack() {
    for refusal in Refusal::ALL {
        let datums = datums(Measurement::Ingest {
            source: "github",
            outcome: IngestOutcome::Refused(refusal),
            latency_ms: 1,
        });
        let reason = refusal.as_str();
        assert_eq!(
            summary(&datums),
            set(&[
                ("Refused", &format!("Reason={reason},Source=github"), 1),
                ("Refused", &format!("Reason={reason}"), 1),
                ("IngestLatency", "Source=github", 1),
            ])
        );
    }
}

#[test]
fn ingest_errors_map_to_the_reason_a_person_acts_on_and_503s_are_unavailable() {
    let cases = [
        (
            IngestError::UnknownSource("x".into()),
            IngestOutcome::Refused(Refusal::UnknownSource),
        ),
        (
            IngestError::MethodNotAllowed,
            IngestOutcome::Refused(Refusal::Method),
        ),
        (
            IngestError::TooLarge { size: 1 },
            IngestOutcome::Refused(Refusal::TooLarge),
        ),
        (
            IngestError::Unverified(VerifyError::NoMatch),
            IngestOutcome::Refused(Refusal::Signature),
        ),
        (
            IngestError::Unverified(VerifyError::MissingHeader("h".into())),
            IngestOutcome::Refused(Refusal::Signature),
        ),
        (
            IngestError::Unverified(VerifyError::OutsideTolerance {
                tolerance_seconds: 300,
                age_seconds: 412,
            }),
            IngestOutcome::Refused(Refusal::Stale),
        ),
        (
            IngestError::Unverified(VerifyError::InvalidSecret),
            IngestOutcome::Unavailable,
        ),
        (IngestError::SecretsUnavailable, IngestOutcome::Unavailable),
        (IngestError::BusUnavailable, IngestOutcome::Unavailable),
        (
            IngestError::PayloadStoreUnavailable,
            IngestOutcome::Unavailable,
        ),
    ];
    for (error, outcome) in cases {
        assert_eq!(IngestOutcome::from(&error), outcome, "{error}");
        assert_eq!(
            outcome == IngestOutcome::Unavailable,
            error.status() == 503,
            "{error}"
        );
    }
}

#[test]
fn a_delivery_counts_an_attempt_a_success_and_its_latency_per_destination() {
    let datums = datums(Measurement::Delivery {
        destination: "billing",
        outcome: DeliveryOutcome::Delivered,
        latency_ms: 120,
    });
    assert_eq!(
        summary(&datums),
        set(&[
            ("DeliveryAttempts", "Destination=billing", 1),
            ("Delivered", "Destination=billing", 1),
            ("DeliveryLatency", "Destination=billing", 120),
        ])
    );
}

#[test]
fn a_failed_attempt_counts_zero_delivered_and_one_failure_of_its_class() {
    let classes = [
        (FailureClass::of_status(500), "5xx"),
        (FailureClass::of_status(503), "5xx"),
        (FailureClass::of_status(429), "4xx"),
        (FailureClass::of_status(302), "3xx"),
        (FailureClass::of_status(101), "1xx"),
        (FailureClass::of_status(999), "5xx"),
        (FailureClass::of_error(&TargetError::Timeout), "timeout"),
        (
            FailureClass::of_error(&TargetError::Connection("refused".into())),
            "connection",
        ),
        (
            FailureClass::of_error(&TargetError::Request("reset".into())),
            "connection",
        ),
    ];
    for (class, name) in classes {
        let datums = datums(Measurement::Delivery {
            destination: "crm",
            outcome: DeliveryOutcome::Failed(class),
            latency_ms: 3,
        });
        assert_eq!(
            summary(&datums),
            set(&[
                ("DeliveryAttempts", "Destination=crm", 1),
                ("Delivered", "Destination=crm", 0),
                ("DeliveryLatency", "Destination=crm", 3),
                (
                    "DeliveryFailed",
                    &format!("Class={name},Destination=crm"),
                    1
                ),
            ])
        );
    }
}

#[test]
fn a_gone_destination_counts_a_4xx_failure_and_a_dead_letter() {
    let datums = datums(Measurement::Delivery {
        destination: "crm",
        outcome: DeliveryOutcome::DeadLettered(FailureClass::Status(4)),
        latency_ms: 3,
    });
    let summary = summary(&datums);
    assert!(summary.contains(&(
        "DeliveryFailed".into(),
        "Class=4xx,Destination=crm".into(),
        1
    )));
    assert!(summary.contains(&("DeadLettered".into(), "Destination=crm".into(), 1)));
    assert!(summary.contains(&("Delivered".into(), "Destination=crm".into(), 0)));
}

#[test]
fn consume_counts_records_duplicates_projections_and_failures() {
    let cases: [(ConsumeOutcome, &[Expected]); 5] = [
        (
            ConsumeOutcome::ProjectionUpdated,
            &[
                ("Recorded", "Source=stripe", 1),
                ("ProjectionUpdated", "Source=stripe", 1),
            ],
        ),
        (
            ConsumeOutcome::ProjectionSuperseded,
            &[
                ("Recorded", "Source=stripe", 1),
                ("ProjectionSuperseded", "Source=stripe", 1),
            ],
        ),
        (
            ConsumeOutcome::NotProjected,
            &[("Recorded", "Source=stripe", 1)],
        ),
        (
            ConsumeOutcome::Duplicate,
            &[("Duplicate", "Source=stripe", 1)],
        ),
        (
            ConsumeOutcome::Failed,
            &[("ConsumeFailed", "Source=stripe", 1)],
        ),
    ];
    for (outcome, expected) in cases {
        let datums = datums(Measurement::Consume {
            source: "stripe",
            outcome,
        });
        assert_eq!(summary(&datums), set(expected), "{outcome:?}");
    }
}

#[test]
fn a_dimension_value_is_escaped_as_a_json_string() {
    let datums = datums(Measurement::Consume {
        source: "a\"b\\c\n",
        outcome: ConsumeOutcome::Duplicate,
    });
    assert_eq!(datums[0].dimension("Source"), "a\"b\\c\n");
}

#[test]
fn metric_names_are_unique_and_never_a_dimension_name() {
    let names: BTreeSet<&str> = Metric::ALL.iter().map(|metric| metric.name()).collect();
    assert_eq!(names.len(), Metric::ALL.len());
    for dimension in ["Stack", "Source", "Reason", "Destination", "Class"] {
        assert!(!names.contains(dimension));
    }
}
