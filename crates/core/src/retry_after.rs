//! The `Retry-After` response header (RFC 9110 §10.2.3): either
//! delta-seconds or an HTTP-date in any of the three formats of §5.6.7
//! (IMF-fixdate, obsolete RFC 850, asctime).
//!
//! Parsing is total: a value that is not one of those shapes is ignored
//! (`None`), never an error and never a panic, because a target's broken
//! header must not change what we do beyond losing the hint.

use std::time::{Duration, SystemTime};

/// The instant `value` asks the next attempt to wait for, read at `now`.
/// A date in the past yields that past instant (the caller takes the later
/// of it and its own schedule).
pub fn parse(value: &str, now: SystemTime) -> Option<SystemTime> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|byte| byte.is_ascii_digit()) {
        let seconds: u64 = value.parse().ok()?;
        return now.checked_add(Duration::from_secs(seconds));
    }
    httpdate::parse_http_date(value).ok()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use proptest::prelude::*;

    use super::*;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    /// 1994-11-06T08:49:37Z, RFC 9110's example date.
    fn rfc_example() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    #[test]
    fn delta_seconds_count_from_now() {
        assert_eq!(parse("120", now()), Some(now() + Duration::from_secs(120)));
        assert_eq!(parse(" 0 ", now()), Some(now()));
    }

    #[test]
    fn reads_each_http_date_format() {
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse(value, now()), Some(rfc_example()), "{value}");
        }
    }

    #[test]
    fn ignores_what_is_neither_seconds_nor_a_date() {
        for value in [
            "",
            "   ",
            "-5",
            "+5",
            "1.5",
            "12 s",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "99999999999999999999999999",
            "18446744073709551615",
            "ü",
        ] {
            assert_eq!(parse(value, now()), None, "{value:?}");
        }
    }

    proptest! {
        #[test]
        fn any_string_parses_without_panicking(value in any::<String>()) {
            let _ = parse(&value, now());
        }

        #[test]
        fn any_delta_is_exactly_that_far_ahead(seconds in 0u64..=1_000_000_000) {
            prop_assert_eq!(
                parse(&seconds.to_string(), now()),
                Some(now() + Duration::from_secs(seconds))
            );
        }

        #[test]
        fn any_formatted_date_reads_back(seconds in 0u64..=253_402_300_799) {
            let date = UNIX_EPOCH + Duration::from_secs(seconds);
            prop_assert_eq!(parse(&httpdate::fmt_http_date(date), now()), Some(date));
        }
    }
}
