//! What a verified webhook says about itself (id, type, time), read with the
//! rule that a verified webhook is the provider's word: a field that is
//! absent or has an unexpected shape falls back, and the fallback is noted
//! for the log. Only a missing id the provider promises refuses it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::ingest::PayloadError;

/// EventBridge caps `DetailType` at 128 characters.
const MAX_TYPE_LEN: usize = 128;
/// Ids become DynamoDB keys and HTTP headers; 256 bytes covers every
/// provider's ids with room to spare.
const MAX_ID_LEN: usize = 256;
/// A unix time above this is in milliseconds (in seconds it would be the
/// year 5138).
const MILLISECONDS_FROM: f64 = 1e11;
/// Beyond year 9999 RFC 3339 has no form.
const MAX_UNIX_SECONDS: f64 = 253_402_300_799.0;

/// A field read from a header or the payload: absent, present, or present
/// but unreadable (the reason says why).
pub type Lookup = Result<Option<Value>, String>;

/// A metadata field that fell back, for the decision's log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub field: &'static str,
    pub reason: String,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field, self.reason)
    }
}

/// The envelope fields a provider read from one webhook.
#[derive(Debug, Default)]
pub struct Described {
    pub id: Option<String>,
    pub event_type: Option<String>,
    pub occurred_at: Option<String>,
    /// The payload when it differs from the body (a removed secret).
    pub rewritten_payload: Option<String>,
    pub fallbacks: Vec<Fallback>,
}

impl Described {
    fn fall_back(&mut self, field: &'static str, reason: impl Into<String>) {
        self.fallbacks.push(Fallback {
            field,
            reason: reason.into(),
        });
    }

    /// An id the provider may leave out: else the body's digest.
    pub fn id(&mut self, field: &'static str, found: Lookup) {
        if self.id.is_some() {
            return;
        }
        match found.and_then(|value| value.map(|v| checked(&v, MAX_ID_LEN)).transpose()) {
            Ok(Some(id)) => self.id = Some(id),
            Ok(None) => {}
            Err(reason) => self.fall_back(field, format!("{reason}; the body digest is the id")),
        }
    }

    /// An id the provider promises: without a usable one the webhook cannot
    /// be deduplicated, so it is refused.
    pub fn promised_id(&mut self, field: &'static str, found: Lookup) -> Result<(), PayloadError> {
        let value = found
            .map_err(|reason| invalid(field, reason))?
            .ok_or(PayloadError::MissingField(field))?;
        self.id = Some(checked(&value, MAX_ID_LEN).map_err(|reason| invalid(field, reason))?);
        Ok(())
    }

    /// The event type; the first usable one wins, else the source's default.
    pub fn event_type(&mut self, field: &'static str, found: Lookup) {
        if self.event_type.is_some() {
            return;
        }
        match found.and_then(|value| value.map(|v| checked(&v, MAX_TYPE_LEN)).transpose()) {
            Ok(Some(event_type)) => self.event_type = Some(event_type),
            Ok(None) => {}
            Err(reason) => self.fall_back(field, reason),
        }
    }

    /// When the provider says the event happened; the first usable time wins.
    pub fn occurred_at(&mut self, field: &'static str, found: Lookup) {
        if self.occurred_at.is_some() {
            return;
        }
        match found.and_then(|value| value.map(|v| time_of(&v)).transpose()) {
            Ok(Some(at)) => self.occurred_at = Some(at),
            Ok(None) => {}
            Err(reason) => self.fall_back(field, format!("{reason}; no occurred_at")),
        }
    }

    /// Completes the fields: the digest as id, the default type, and a note
    /// for each.
    pub(crate) fn finish(
        &mut self,
        body_digest: impl FnOnce() -> String,
        default_type: &str,
    ) -> (String, String) {
        let id = match self.id.take() {
            Some(id) => id,
            None => body_digest(),
        };
        let event_type = match self.event_type.take() {
            Some(event_type) => event_type,
            None => {
                self.fall_back("type", format!("not found; `{default_type}` is the type"));
                default_type.to_owned()
            }
        };
        (id, event_type)
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PayloadError {
    PayloadError::InvalidField {
        field,
        reason: reason.into(),
    }
}

/// A text or number field as text fit for an id or a type.
fn checked(value: &Value, max_len: usize) -> Result<String, String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Err("is neither text nor a number".into()),
    };
    if text.is_empty() {
        Err("is empty".into())
    } else if text.len() > max_len {
        Err(format!("is longer than {max_len} bytes"))
    } else if text.chars().any(char::is_control) {
        Err("contains control characters".into())
    } else {
        Ok(text)
    }
}

/// A header's text as a lookup.
pub fn header(headers: &http::HeaderMap, name: &str) -> Lookup {
    headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map(|text| Value::String(text.trim().to_owned()))
                .map_err(|_| "is not text".to_owned())
        })
        .transpose()
}

/// A time as RFC 3339 UTC: RFC 3339 text with any offset, or a unix time
/// (seconds, or milliseconds when that large) as a number or numeric text.
pub fn time_of(value: &Value) -> Result<String, String> {
    match value {
        Value::Number(number) => number
            .as_f64()
            .ok_or_else(|| "is not a finite number".to_owned())
            .and_then(unix_time),
        Value::String(text) => match text.parse::<f64>() {
            Ok(number) if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                unix_time(number)
            }
            _ => parse_rfc3339(text).map(rfc3339),
        },
        _ => Err("is neither a time text nor a number".into()),
    }
}

fn unix_time(number: f64) -> Result<String, String> {
    let seconds = if number >= MILLISECONDS_FROM {
        number / 1000.0
    } else {
        number
    };
    if (0.0..=MAX_UNIX_SECONDS).contains(&seconds) {
        let millis = (seconds * 1000.0).round() as u64;
        Ok(rfc3339(UNIX_EPOCH + Duration::from_millis(millis)))
    } else {
        Err("is not a valid unix time".into())
    }
}

/// RFC 3339 with `Z` or a numeric offset (`+02:00`, `-0500`).
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    let not_a_time = || "is not an RFC 3339 time".to_owned();
    // RFC 3339 is ASCII; this also keeps the byte slicing below on char
    // boundaries.
    if !text.is_ascii() {
        return Err(not_a_time());
    }
    let (local, offset_seconds) = match text.len().checked_sub(6).map(|at| text.split_at(at)) {
        Some((local, offset)) if offset.starts_with(['+', '-']) && offset.as_bytes()[3] == b':' => {
            (local, offset_of(offset).ok_or_else(not_a_time)?)
        }
        _ => match text.len().checked_sub(5).map(|at| text.split_at(at)) {
            Some((local, offset))
                if offset.starts_with(['+', '-']) && local.contains('T') && local.len() >= 19 =>
            {
                (local, offset_of(offset).ok_or_else(not_a_time)?)
            }
            _ => (text.trim_end_matches(['Z', 'z']), 0),
        },
    };
    let utc = humantime::parse_rfc3339_weak(local).map_err(|_| not_a_time())?;
    let shifted = if offset_seconds >= 0 {
        utc.checked_sub(Duration::from_secs(offset_seconds as u64))
    } else {
        utc.checked_add(Duration::from_secs(offset_seconds.unsigned_abs()))
    };
    shifted
        .filter(|at| *at >= UNIX_EPOCH)
        .ok_or_else(not_a_time)
}

/// `+HH:MM` or `+HHMM` as signed seconds east of UTC.
fn offset_of(offset: &str) -> Option<i64> {
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    (hours < 24 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

/// RFC 3339 UTC, to the second when that is all the time says, else to the
/// millisecond.
pub fn rfc3339(time: SystemTime) -> String {
    let whole_seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() == 0)
        .unwrap_or(true);
    if whole_seconds {
        humantime::format_rfc3339_seconds(time).to_string()
    } else {
        humantime::format_rfc3339_millis(time).to_string()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn times_with_offsets_and_as_numbers_are_read() {
        let cases = [
            (json!("2026-11-24T02:00:00+02:00"), "2026-11-24T00:00:00Z"),
            (
                json!("2026-11-23T19:00:00.5-0500"),
                "2026-11-24T00:00:00.500Z",
            ),
            (json!("2026-11-24T00:00:00Z"), "2026-11-24T00:00:00Z"),
            (
                json!("2026-11-24T00:00:00.123456789Z"),
                "2026-11-24T00:00:00.123Z",
            ),
            (json!(1795478400), "2026-11-24T00:00:00Z"),
            (json!(1795478400123u64), "2026-11-24T00:00:00.123Z"),
            (json!(1795478400.25), "2026-11-24T00:00:00.250Z"),
            (json!("1795478400"), "2026-11-24T00:00:00Z"),
        ];
        for (value, expected) in cases {
            assert_eq!(time_of(&value).as_deref(), Ok(expected), "{value}");
        }
    }

    #[test]
    fn unreadable_times_are_reasons_not_panics() {
        for value in [
            json!("yesterday"),
            json!("2026-11-24T00:00:00+25:00"),
            json!(-1),
            json!(1e300),
            json!(true),
            json!("2026-13-24T00:00:00Z"),
            json!("+02:00"),
        ] {
            assert!(time_of(&value).is_err(), "{value}");
        }
    }

    #[test]
    fn an_unusable_optional_field_falls_back_and_is_noted() {
        let mut described = Described::default();
        described.id("id", Ok(Some(json!({"nested": 1}))));
        described.occurred_at("created", Ok(Some(json!("soon"))));
        let (id, event_type) = described.finish(|| "digest".into(), "webhook");
        assert_eq!((id.as_str(), event_type.as_str()), ("digest", "webhook"));
        let fields: Vec<_> = described.fallbacks.iter().map(|f| f.field).collect();
        assert_eq!(fields, ["id", "created", "type"]);
    }

    #[test]
    fn a_promised_id_is_required() {
        let mut described = Described::default();
        assert_eq!(
            described.promised_id("id", Ok(None)),
            Err(PayloadError::MissingField("id"))
        );
        assert!(
            described
                .promised_id("id", Ok(Some(json!("a\u{1}b"))))
                .is_err()
        );
        assert!(described.promised_id("id", Ok(Some(json!(42)))).is_ok());
        assert_eq!(described.id.as_deref(), Some("42"));
    }

    proptest! {
        #[test]
        fn any_text_is_a_time_or_a_reason(text in "\\PC{0,40}") {
            let _ = time_of(&Value::String(text));
        }

        #[test]
        fn offsets_shift_to_the_same_instant(
            seconds in 86_400u64..253_000_000_000,
            offset_minutes in -1439i64..1440,
        ) {
            let utc = UNIX_EPOCH + Duration::from_secs(seconds);
            let local = UNIX_EPOCH
                + Duration::from_secs((seconds as i64 + offset_minutes * 60) as u64);
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let minutes = offset_minutes.unsigned_abs();
            let text = format!(
                "{}{sign}{:02}:{:02}",
                humantime::format_rfc3339_seconds(local).to_string().trim_end_matches('Z'),
                minutes / 60,
                minutes % 60
            );
            prop_assert_eq!(parse_rfc3339(&text), Ok(utc));
        }
    }
}
