//! Where each delivery stands: one record per (event, destination), with the
//! attempts that led there. The deliverers (deliver in AWS, `hookbridge dev`)
//! write it; `hookbridge status`, `GET /events` and the console read it.

use serde::{Deserialize, Serialize};

use crate::destinations::DestinationName;

/// At most this much of a target's answer is kept per attempt.
pub const RESPONSE_EXCERPT_BYTES: usize = 1024;
/// Attempts kept per record: the first and the newest, so a record stays
/// small (a DynamoDB item is at most 400 KB) however long a target is down.
pub const MAX_RECORDED_ATTEMPTS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not attempted yet.
    Pending,
    /// Attempted and failed; more attempts will come.
    Retrying,
    Delivered,
    /// No more automatic attempts; a replay can send it again.
    DeadLettered,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Delivered => "delivered",
            Self::DeadLettered => "dead_lettered",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Retrying,
            Self::Delivered,
            Self::DeadLettered,
        ]
        .into_iter()
        .find(|state| state.as_str() == stored)
    }
}

/// What one attempt got back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The target answered with this HTTP status.
    Status(u16),
    /// No answer: a timeout or a connection error, in words (never a secret).
    Error(String),
}

impl AttemptOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Status(status) if (200..300).contains(status))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// RFC 3339 UTC with milliseconds.
    pub at: String,
    pub outcome: AttemptOutcome,
    pub latency_ms: u64,
    /// The start of the target's answer ([`response_excerpt`]).
    pub response_excerpt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub destination: DestinationName,
    pub state: DeliveryState,
    /// Every attempt made, including those no longer kept in `attempts`.
    pub attempt_count: u32,
    /// The first attempt and the newest ones, oldest first.
    pub attempts: Vec<Attempt>,
}

impl DeliveryRecord {
    pub fn pending(event_id: &str, destination: DestinationName) -> Self {
        Self {
            event_id: event_id.to_owned(),
            destination,
            state: DeliveryState::Pending,
            attempt_count: 0,
            attempts: Vec::new(),
        }
    }

    /// Adds `attempt` and moves to `state`. Recording the same attempt twice
    /// (a retried write) changes nothing, and a delivered record stays
    /// delivered: a duplicate notification failing later does not undo it.
    pub fn record(&mut self, attempt: Attempt, state: DeliveryState) {
        if self.attempts.contains(&attempt) {
            return;
        }
        self.attempt_count = self.attempt_count.saturating_add(1);
        if self.attempts.len() == MAX_RECORDED_ATTEMPTS {
            // Keep the first: it says when trouble started.
            self.attempts.remove(1);
        }
        self.attempts.push(attempt);
        if self.state != DeliveryState::Delivered {
            self.state = state;
        }
    }
}

/// The first [`RESPONSE_EXCERPT_BYTES`] of a target's answer, cut on a
/// character boundary, invalid UTF-8 replaced; `None` for an empty body.
pub fn response_excerpt(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let head = &body[..body.len().min(RESPONSE_EXCERPT_BYTES)];
    let mut text = String::from_utf8_lossy(head).into_owned();
    while text.len() > RESPONSE_EXCERPT_BYTES {
        text.pop();
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(at: &str, outcome: AttemptOutcome) -> Attempt {
        Attempt {
            at: at.to_owned(),
            outcome,
            latency_ms: 12,
            response_excerpt: None,
        }
    }

    fn record() -> DeliveryRecord {
        DeliveryRecord::pending("evt_1", DestinationName::parse("billing").unwrap())
    }

    #[test]
    fn states_have_one_spelling_each() {
        for state in [
            DeliveryState::Pending,
            DeliveryState::Retrying,
            DeliveryState::Delivered,
            DeliveryState::DeadLettered,
        ] {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        assert_eq!(DeliveryState::parse("failed"), None);
    }

    #[test]
    fn recording_the_same_attempt_twice_changes_nothing() {
        let mut r = record();
        let failed = attempt("2026-12-01T00:00:00.000Z", AttemptOutcome::Status(500));
        r.record(failed.clone(), DeliveryState::Retrying);
        let once = r.clone();
        r.record(failed, DeliveryState::Retrying);
        assert_eq!(r, once);
        assert_eq!(r.attempt_count, 1);
    }

    #[test]
    fn a_delivered_record_stays_delivered() {
        let mut r = record();
        r.record(
            attempt("2026-12-01T00:00:00.000Z", AttemptOutcome::Status(204)),
            DeliveryState::Delivered,
        );
        r.record(
            attempt(
                "2026-12-01T00:00:01.000Z",
                AttemptOutcome::Error("timeout".into()),
            ),
            DeliveryState::Retrying,
        );
        assert_eq!(r.state, DeliveryState::Delivered);
        assert_eq!(r.attempt_count, 2);
    }

    #[test]
    fn attempts_are_capped_keeping_the_first_and_the_newest() {
        let mut r = record();
        for second in 0..50 {
            r.record(
                attempt(
                    &format!("2026-12-01T00:00:{second:02}.000Z"),
                    AttemptOutcome::Status(503),
                ),
                DeliveryState::Retrying,
            );
        }
        assert_eq!(r.attempt_count, 50);
        assert_eq!(r.attempts.len(), MAX_RECORDED_ATTEMPTS);
        assert_eq!(r.attempts[0].at, "2026-12-01T00:00:00.000Z");
        assert_eq!(r.attempts.last().unwrap().at, "2026-12-01T00:00:49.000Z");
    }

    #[test]
    fn an_excerpt_is_at_most_one_kib_and_cut_on_a_character() {
        assert_eq!(response_excerpt(b""), None);
        assert_eq!(response_excerpt(b"ok").as_deref(), Some("ok"));
        let long = "é".repeat(2000);
        let excerpt = response_excerpt(long.as_bytes()).unwrap();
        assert!(excerpt.len() <= RESPONSE_EXCERPT_BYTES);
        assert!(excerpt.chars().all(|c| c == 'é'));
        let binary = response_excerpt(&[0xff; 4000]).unwrap();
        assert!(binary.len() <= RESPONSE_EXCERPT_BYTES);
    }
}
