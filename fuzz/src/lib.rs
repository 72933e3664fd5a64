//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! A target's input is a few NUL-separated fields, the last one taking the
//! rest (so a body may itself hold NULs): seeds are easy to write from the
//! official vectors and `events/` (see `scripts/fuzz`), and libFuzzer's
//! mutations keep the shape.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookbridge_core::secret::{Secret, SecretSet};
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// The "now" of targets whose input carries no usable time.
pub const NOW: i64 = 1_800_000_000;

/// The latest second RFC 3339 can write (9999-12-31T23:59:59Z).
pub const MAX_RFC3339_SECONDS: i64 = 253_402_300_799;

/// Splits `data` into `N` fields at NUL bytes; the last field is the rest.
pub fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut fields = [&data[..0]; N];
    let mut rest = data;
    for field in fields.iter_mut().take(N - 1) {
        match rest.iter().position(|&byte| byte == 0) {
            Some(end) => {
                *field = &rest[..end];
                rest = &rest[end + 1..];
            }
            None => {
                *field = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    fields[N - 1] = rest;
    fields
}

pub fn text(field: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(field)
}

/// A unix time in RFC 3339's range from a decimal field, else [`NOW`].
pub fn unix_seconds(field: &[u8]) -> i64 {
    std::str::from_utf8(field)
        .ok()
        .and_then(|text| text.trim().parse::<i64>().ok())
        .filter(|seconds| (0..=MAX_RFC3339_SECONDS).contains(seconds))
        .unwrap_or(NOW)
}

pub fn at(unix_seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_seconds.max(0).unsigned_abs())
}

pub fn one_secret(secret: &str) -> SecretSet {
    [Secret::new(secret)].into_iter().collect()
}

/// Headers from name/value pairs; `None` when a value cannot be a header
/// value at all (it could never arrive).
pub fn header_map(pairs: &[(&str, &[u8])]) -> Option<http::HeaderMap> {
    let mut headers = http::HeaderMap::new();
    for (name, value) in pairs {
        let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
        headers.append(name, http::HeaderValue::from_bytes(value).ok()?);
    }
    Some(headers)
}

/// Whether `text` survives as a header value that reads back as text
/// (visible ASCII, spaces and tabs).
pub fn is_header_text(text: &str) -> bool {
    http::HeaderValue::from_str(text).is_ok_and(|value| value.to_str().is_ok())
}

/// Whether HMAC treats two keys as the same key (RFC 2104): a key longer
/// than the 64-byte block is replaced by its hash, and a shorter one is
/// padded with zeros, so `k` and `k\0` sign alike. Such pairs are not a
/// "different secret" for the properties.
pub fn hmac_equivalent_keys(a: &[u8], b: &[u8]) -> bool {
    fn normalised(key: &[u8]) -> Vec<u8> {
        let mut key = if key.len() > 64 {
            Sha256::digest(key).to_vec()
        } else {
            key.to_vec()
        };
        while key.last() == Some(&0) {
            key.pop();
        }
        key
    }
    normalised(a) == normalised(b)
}

/// The top-level members of a JSON object in document order, values raw;
/// `None` if `json` is not an object.
pub fn object_members(json: &str) -> Option<Vec<(String, &RawValue)>> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut members = Vec::new();
            while let Some(member) = map.next_entry()? {
                members.push(member);
            }
            Ok(members)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let members = serde::Deserializer::deserialize_map(&mut deserializer, Members).ok()?;
    deserializer.end().ok()?;
    Some(members)
}

/// Whether any object in `json` repeats a key (`None`: not JSON). Parsers
/// disagree on what a repeated key means: serde's derived structs refuse
/// it, `serde_json::Value` keeps the last.
pub fn has_repeated_keys(json: &[u8]) -> Option<bool> {
    struct Repeats(bool);
    impl<'de> serde::Deserialize<'de> for Repeats {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(RepeatsVisitor)
        }
    }
    struct RepeatsVisitor;
    impl<'de> Visitor<'de> for RepeatsVisitor {
        type Value = Repeats;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Repeats, A::Error> {
            let mut keys = std::collections::HashSet::new();
            let mut repeats = false;
            while let Some(key) = map.next_key::<String>()? {
                repeats |= !keys.insert(key);
                repeats |= map.next_value::<Repeats>()?.0;
            }
            Ok(Repeats(repeats))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Repeats, A::Error> {
            let mut repeats = false;
            while let Some(Repeats(inner)) = seq.next_element()? {
                repeats |= inner;
            }
            Ok(Repeats(repeats))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_str<E>(self, _: &str) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_unit<E>(self) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
    }
    serde_json::from_slice::<Repeats>(json)
        .ok()
        .map(|repeats| repeats.0)
}

/// A JSON object written with its members in the given order.
pub fn object_text<'a>(members: impl IntoIterator<Item = (&'a str, &'a RawValue)>) -> String {
    let mut text = String::from("{");
    for (index, (key, value)) in members.into_iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        text.push_str(&serde_json::to_string(key).expect("a string serialises"));
        text.push(':');
        text.push_str(value.get());
    }
    text.push('}');
    text
}
