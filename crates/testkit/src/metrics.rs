use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use hookbridge_core::metrics::{Measurement, emf_line};
use hookbridge_core::ports::MetricsRecorder;
use serde_json::Value;

/// The stack name [`CapturedMetrics`] writes into every line.
pub const TEST_STACK: &str = "test-stack";

/// The time [`CapturedMetrics`] stamps every line with, in milliseconds.
pub const TEST_METRICS_TIME_MS: u64 = 1_764_000_000_000;

/// Records the EMF line of every measurement, as the Lambda recorder
/// writes it to stdout. Clones share the lines.
#[derive(Debug, Clone, Default)]
pub struct CapturedMetrics(Arc<Mutex<Vec<String>>>);

impl CapturedMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every metric datum of every line, as CloudWatch extracts them.
    pub fn datums(&self) -> Vec<EmfDatum> {
        self.lines()
            .iter()
            .flat_map(|line| extract_emf(line))
            .collect()
    }
}

impl MetricsRecorder for CapturedMetrics {
    fn record(&self, measurement: &Measurement<'_>) {
        let at = UNIX_EPOCH + Duration::from_millis(TEST_METRICS_TIME_MS);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(emf_line(TEST_STACK, at, measurement));
    }
}

/// One metric value CloudWatch would store: the metric of one directive,
/// under one of its dimension sets.
#[derive(Debug, Clone, PartialEq)]
pub struct EmfDatum {
    pub namespace: String,
    pub name: String,
    pub unit: String,
    pub value: f64,
    pub timestamp_ms: u64,
    pub dimensions: BTreeMap<String, String>,
}

impl EmfDatum {
    /// The dimension's value, `""` when the datum has none.
    pub fn dimension(&self, name: &str) -> &str {
        self.dimensions.get(name).map_or("", String::as_str)
    }
}

/// Parses one log line as CloudWatch Logs reads an EMF document (the
/// specification's `_aws` structure), panicking at the first rule the line
/// breaks: one JSON object and nothing else, `_aws.Timestamp` a number of
/// milliseconds, each directive with a `Namespace`, at most 30 dimensions
/// per set and 100 metrics, every dimension a string member of the root and
/// every metric a number member of the root.
pub fn extract_emf(line: &str) -> Vec<EmfDatum> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    assert!(!line.contains('\n'), "an EMF document is one line: {line}");
    let root: Value = serde_json::from_str(line).expect("an EMF line is one JSON object");
    let root = root.as_object().expect("an EMF document is a JSON object");
    let metadata = root["_aws"].as_object().expect("`_aws` is an object");
    let timestamp_ms = metadata["Timestamp"]
        .as_u64()
        .expect("`_aws.Timestamp` is milliseconds since the epoch");
    let directives = metadata["CloudWatchMetrics"]
        .as_array()
        .expect("`CloudWatchMetrics` is an array");
    let mut datums = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("a Namespace");
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(metrics.len() <= 100, "at most 100 metrics per directive");
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions per set");
            let dimensions: BTreeMap<String, String> = set
                .iter()
                .map(|name| {
                    let name = name.as_str().expect("a dimension name is a string");
                    let value = root
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("dimension `{name}` is a string member"));
                    (name.to_owned(), value.to_owned())
                })
                .collect();
            for metric in metrics {
                let name = metric["Name"].as_str().expect("a metric Name");
                let value = root
                    .get(name)
                    .and_then(Value::as_f64)
                    .unwrap_or_else(|| panic!("metric `{name}` has a number member"));
                datums.push(EmfDatum {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    unit: metric["Unit"].as_str().unwrap_or("None").to_owned(),
                    value,
                    timestamp_ms,
                    dimensions: dimensions.clone(),
                });
            }
        }
    }
    datums
}
