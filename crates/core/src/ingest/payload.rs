//! The webhook body as a JSON object, parsed once: the whole document is
//! validated while its top-level members are collected as raw values, so
//! the few fields hookbridge reads are parsed from small slices and the
//! payload itself is never parsed again.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::PayloadError;
use crate::providers::describe::Lookup;

/// Deepest nesting accepted. serde_json reads raw values at any depth but
/// builds values only 128 deep, so a deeper payload would be acknowledged
/// here and then fail in every consumer that parses it.
pub const MAX_NESTING: usize = 64;

/// A JSON object body (or, for providers that batch, an array): its text
/// (surrounding whitespace trimmed) and its top-level members in order.
pub struct JsonObject<'a> {
    text: &'a str,
    members: Vec<(Text<'a>, &'a RawValue)>,
}

impl<'a> JsonObject<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, PayloadError> {
        Self::parse_as(body, false)
    }

    /// As [`JsonObject::parse`], also taking a JSON array (with no members).
    pub fn parse_object_or_array(body: &'a [u8]) -> Result<Self, PayloadError> {
        Self::parse_as(body, true)
    }

    fn parse_as(body: &'a [u8], array_allowed: bool) -> Result<Self, PayloadError> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        let members = match first {
            Some(b'{') => {
                let Members(members) = serde_json::from_slice(body)
                    .map_err(|e| PayloadError::NotJson(e.to_string()))?;
                members
            }
            Some(b'[') if array_allowed => {
                serde_json::from_slice::<&RawValue>(body)
                    .map_err(|e| PayloadError::NotJson(e.to_string()))?;
                Vec::new()
            }
            _ => {
                return Err(match serde_json::from_slice::<&RawValue>(body) {
                    Ok(_) => PayloadError::NotAnObject,
                    Err(e) => PayloadError::NotJson(e.to_string()),
                });
            }
        };
        // Parsing proved the body valid UTF-8; this cannot fail.
        let text = std::str::from_utf8(body)
            .map_err(|e| PayloadError::NotJson(e.to_string()))?
            .trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        if nesting_depth(text) > MAX_NESTING {
            return Err(PayloadError::NotJson(format!(
                "nested deeper than {MAX_NESTING} levels"
            )));
        }
        Ok(Self { text, members })
    }

    /// The object's JSON text, exactly as received.
    pub fn text(&self) -> &'a str {
        self.text
    }

    pub fn members(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.members
            .iter()
            .map(|(key, value)| (key.as_str(), *value))
    }

    /// The raw value of member `name`; a member given twice has no
    /// unambiguous value and is refused.
    pub fn member(&self, name: &'static str) -> Result<Option<&'a RawValue>, PayloadError> {
        let mut found = self
            .members()
            .filter(|(key, _)| *key == name)
            .map(|(_, v)| v);
        let first = found.next();
        if found.next().is_some() {
            return Err(PayloadError::InvalidField {
                field: name,
                reason: "appears more than once".into(),
            });
        }
        Ok(first)
    }

    /// Member `name` as a `T`; absent and `null` are both `None`.
    pub fn field<T: Deserialize<'a>>(&self, name: &'static str) -> Result<Option<T>, PayloadError> {
        self.member(name)?
            .map(|raw| parse_raw::<Option<T>>(name, raw))
            .transpose()
            .map(Option::flatten)
    }

    /// The value at a JSON pointer, parsing only the raw values along its
    /// path. A member given twice at any level is unreadable, as in
    /// [`JsonObject::member`]: JSON parsers disagree on which one counts, so
    /// the type on the bus could differ from the one a consumer reads in the
    /// payload.
    pub fn at(&self, pointer: &str) -> Lookup {
        let mut segments = pointer.strip_prefix('/').unwrap_or(pointer).split('/');
        let first = unescape_pointer(segments.next().unwrap_or_default());
        let Some(mut raw) = unique_member(self.members(), &first)? else {
            return Ok(None);
        };
        for segment in segments {
            let segment = unescape_pointer(segment);
            let next = match raw.get().as_bytes().first() {
                Some(b'{') => {
                    let Members(members) =
                        serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
                    unique_member(
                        members.iter().map(|(key, value)| (key.as_str(), *value)),
                        &segment,
                    )?
                }
                Some(b'[') => {
                    let items: Vec<&RawValue> =
                        serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
                    array_index(&segment).and_then(|index| items.get(index).copied())
                }
                _ => None,
            };
            let Some(next) = next else {
                return Ok(None);
            };
            raw = next;
        }
        let value: serde_json::Value =
            serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
        Ok(Some(value).filter(|value| !value.is_null()))
    }
}

/// The one member called `name`; two are unreadable.
fn unique_member<'a, 'k>(
    mut members: impl Iterator<Item = (&'k str, &'a RawValue)>,
    name: &str,
) -> Result<Option<&'a RawValue>, String> {
    let mut found = members.by_ref().filter(|(key, _)| *key == name);
    let first = found.next().map(|(_, raw)| raw);
    if first.is_some() && found.next().is_some() {
        return Err("appears more than once".into());
    }
    Ok(first)
}

/// RFC 6901's array index: digits without a leading zero (as
/// `serde_json::Value::pointer` reads it).
fn array_index(segment: &str) -> Option<usize> {
    if segment.starts_with('+') || (segment.starts_with('0') && segment.len() > 1) {
        return None;
    }
    segment.parse().ok()
}

pub(crate) fn parse_raw<'a, T: Deserialize<'a>>(
    field: &'static str,
    raw: &'a RawValue,
) -> Result<T, PayloadError> {
    serde_json::from_str(raw.get()).map_err(|e| PayloadError::InvalidField {
        field,
        reason: e.to_string(),
    })
}

/// RFC 6901: `~1` is `/` and `~0` is `~` inside a pointer segment.
fn unescape_pointer(segment: &str) -> Cow<'_, str> {
    if segment.contains('~') {
        Cow::Owned(segment.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(segment)
    }
}

/// The maximum depth of arrays and objects in valid JSON text. Strings are
/// skipped with `memchr` (most of a payload's bytes are inside strings), so
/// this costs a fraction of a parse.
fn nesting_depth(json: &str) -> usize {
    let bytes = json.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                // Valid JSON: every string closes, and `\` escapes one byte.
                while let Some(offset) = memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    i += offset;
                    if bytes[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// A JSON string, borrowed from the body when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// The top-level members of an object, values kept raw.
struct Members<'a>(Vec<(Text<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(16);
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_keep_order_and_raw_values() {
        let object = JsonObject::parse(b" {\"b\":[1, 2],\"a\":{\"x\":\"\\u00e9\"}}\n").unwrap();
        let members: Vec<_> = object.members().map(|(k, v)| (k, v.get())).collect();
        assert_eq!(members, [("b", "[1, 2]"), ("a", r#"{"x":"\u00e9"}"#)]);
        assert_eq!(object.text(), r#"{"b":[1, 2],"a":{"x":"\u00e9"}}"#);
    }

    #[test]
    fn escaped_keys_are_matched_by_their_value() {
        let object = JsonObject::parse(br#"{"\u0069d":"evt_1"}"#).unwrap();
        assert_eq!(
            object.field::<Text>("id").unwrap().unwrap().as_str(),
            "evt_1"
        );
    }

    #[test]
    fn null_counts_as_absent() {
        let object = JsonObject::parse(br#"{"created":null}"#).unwrap();
        assert_eq!(object.field::<i64>("created").unwrap(), None);
    }

    #[test]
    fn pointers_reach_into_members() {
        let object =
            JsonObject::parse(br#"{"a/b":"top","data":{"kind":"deep","n":1,"z":null}}"#).unwrap();
        assert_eq!(object.at("/a~1b"), Ok(Some(json!("top"))));
        assert_eq!(object.at("/data/kind"), Ok(Some(json!("deep"))));
        assert_eq!(object.at("/data/n"), Ok(Some(json!(1))));
        assert_eq!(object.at("/data/z"), Ok(None));
        assert_eq!(object.at("/missing"), Ok(None));
        assert_eq!(object.at("/data/kind/deeper"), Ok(None));
        let list = JsonObject::parse(br#"{"list":[{"k":"zero"}, {"k":"one"}]}"#).unwrap();
        assert_eq!(list.at("/list/1/k"), Ok(Some(json!("one"))));
        assert_eq!(list.at("/list/0"), Ok(Some(json!({"k": "zero"}))));
        for beyond in ["/list/2/k", "/list/01/k", "/list/+1/k", "/list/k"] {
            assert_eq!(list.at(beyond), Ok(None), "{beyond}");
        }
    }

    /// Found by fuzzing (fuzz/regressions/ingest_prepare/duplicate-type-member):
    /// the first of two `type` members was taken, while a JSON parser reading
    /// the payload takes the last.
    #[test]
    fn pointer_into_a_repeated_member_is_unreadable() {
        let cases: [(&[u8], &str); 4] = [
            (br#"{"type":"a.created","type":"a.deleted"}"#, "/type"),
            (
                br#"{"data":{"kind":"x"},"d\u0061ta":{"kind":"y"}}"#,
                "/data/kind",
            ),
            // Found by fuzzing (nested-repeated-type-falls-back): a repeat
            // below the top level is as ambiguous.
            (
                br#"{"event":{"name":"a.created","amount":1,"name":"b"}}"#,
                "/event/name",
            ),
            (br#"{"a":[{"k":1,"k":2}]}"#, "/a/0/k"),
        ];
        for (body, pointer) in cases {
            let object = JsonObject::parse(body).unwrap();
            assert_eq!(object.at(pointer), Err("appears more than once".into()));
        }
    }

    #[test]
    fn arrays_are_taken_only_when_allowed() {
        assert!(matches!(
            JsonObject::parse(b"[1]"),
            Err(PayloadError::NotAnObject)
        ));
        let array = JsonObject::parse_object_or_array(b" [{\"a\":1}] ").unwrap();
        assert_eq!(array.text(), r#"[{"a":1}]"#);
        assert_eq!(array.members().count(), 0);
        assert!(matches!(
            JsonObject::parse_object_or_array(b"[1,"),
            Err(PayloadError::NotJson(_))
        ));
    }

    #[test]
    fn depth_ignores_brackets_inside_strings_and_after_escapes() {
        assert_eq!(nesting_depth(r#"{"a":"[[{\"}]","b":[[1]]}"#), 3);
        assert_eq!(nesting_depth(r#"{"a":"\\","b":{}}"#), 2);
        assert_eq!(nesting_depth(r#"{"a":"\\\"[["}"#), 1);
        assert_eq!(nesting_depth("{}"), 1);
    }

    #[test]
    fn invalid_json_anywhere_is_refused() {
        for body in [
            &br#"{"a":1,"b":[1,}"#[..],
            br#"{"a":"\x"}"#,
            b"{\"a\":\"\xff\"}",
            br#"{"a":1} trailing"#,
            br#"{"a":tru}"#,
        ] {
            assert!(
                matches!(JsonObject::parse(body), Err(PayloadError::NotJson(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
