//! The metrics recorder of the Lambda functions: each measurement as one
//! CloudWatch Embedded Metric Format line on stdout, which Lambda sends to
//! the function's log group and CloudWatch Logs turns into metrics. No API
//! call, nothing to flush: the line is written before the answer is.

use std::io::Write;
use std::time::SystemTime;

use hookbridge_core::metrics::{Measurement, emf_line};
use hookbridge_core::ports::{Clock, MetricsRecorder};

use crate::clock::SystemClock;

/// The stack name every metric is dimensioned by (`Stack`). Unset (local
/// runs, `hookbridge dev --aws`): no metric lines are written.
pub const STACK_VARIABLE: &str = "HOOKBRIDGE_STACK";

/// Writes EMF lines to stdout.
#[derive(Debug, Clone)]
pub struct EmfStdout {
    stack: String,
}

impl EmfStdout {
    pub fn new(stack: impl Into<String>) -> Self {
        Self {
            stack: stack.into(),
        }
    }

    /// The recorder for the stack named by [`STACK_VARIABLE`], if it is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        lookup(STACK_VARIABLE)
            .filter(|stack| !stack.trim().is_empty())
            .map(Self::new)
    }

    /// One line, in one write: tracing's lines (also on stdout) never
    /// interleave with it, so CloudWatch sees a whole JSON object.
    fn write(&self, out: &mut impl Write, at: SystemTime, measurement: &Measurement<'_>) {
        // A metric that cannot be written must not change the answer.
        let _ = out.write_all(emf_line(&self.stack, at, measurement).as_bytes());
    }
}

impl MetricsRecorder for EmfStdout {
    fn record(&self, measurement: &Measurement<'_>) {
        self.write(
            &mut std::io::stdout().lock(),
            SystemClock.now(),
            measurement,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use hookbridge_core::metrics::IngestOutcome;

    use super::*;

    #[test]
    fn no_recorder_without_a_stack_name() {
        assert!(EmfStdout::from_lookup(|_| None).is_none());
        assert!(EmfStdout::from_lookup(|_| Some(" ".into())).is_none());
        let recorder = EmfStdout::from_lookup(|name| {
            (name == STACK_VARIABLE).then(|| "hookbridge-prod".to_owned())
        });
        assert_eq!(recorder.unwrap().stack, "hookbridge-prod");
    }

    #[test]
    fn each_measurement_is_one_whole_line_naming_the_stack() {
        let mut out = Vec::new();
        let recorder = EmfStdout::new("prod");
        let measurement = Measurement::Ingest {
            source: "stripe",
            outcome: IngestOutcome::Accepted,
            latency_ms: 4,
        };
        let at = UNIX_EPOCH + Duration::from_secs(1);
        recorder.write(&mut out, at, &measurement);
        recorder.write(&mut out, at, &measurement);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let document: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(document["Stack"], "prod");
        assert_eq!(document["_aws"]["Timestamp"], 1000);
    }
}
