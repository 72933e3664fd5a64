use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn parse(json: Value) -> Result<Destinations, DestinationsError> {
    Destinations::from_json(&json.to_string())
}

fn invalid(json: Value) -> String {
    parse(json).unwrap_err().to_string()
}

#[test]
fn the_design_example_parses() {
    let destinations = parse(json!({
        "billing": {"url": "https://billing.internal.example/webhooks",
                    "sources": ["stripe"], "types": ["invoice.*", "customer.subscription.*"],
                    "rate_per_second": 20, "timeout_seconds": 10, "horizon_hours": 72},
        "crm": {"url": "https://crm.example.com/hooks", "types": ["customer.*"]}
    }))
    .unwrap();
    assert_eq!(destinations.len(), 2);
    let billing = destinations.get("billing").unwrap();
    assert_eq!(billing.rate_per_second, Some(20));
    assert_eq!(billing.timeout, Some(Duration::from_secs(10)));
    assert_eq!(billing.horizon_hours, 72);
    assert!(billing.wants("stripe", "invoice.paid"));
    assert!(!billing.wants("github", "invoice.paid"));
    assert!(!billing.wants("stripe", "charge.succeeded"));
    let crm = destinations.get("crm").unwrap();
    assert_eq!(crm.horizon_hours, DEFAULT_HORIZON_HOURS);
    assert_eq!(crm.timeout, None);
    assert!(crm.wants("hubspot", "customer.created"));
    let names: Vec<_> = destinations
        .matching("stripe", "customer.subscription.updated")
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["billing", "crm"]);
    assert_eq!(destinations.matching("github", "push").count(), 0);
}

#[test]
fn the_shortcut_is_a_default_destination_taking_everything() {
    let destinations = Destinations::single_default("https://example.com/hook").unwrap();
    let default = destinations.get(DEFAULT_DESTINATION).unwrap();
    assert_eq!(default.filter, EventFilter::everything());
    assert!(default.wants("any", "thing"));
    assert_eq!(default.filter.sns_filter_policy(), None);
    assert!(Destinations::single_default("ftp://example.com").is_err());
}

#[test]
fn an_empty_object_is_no_destination() {
    assert!(parse(json!({})).unwrap().is_empty());
}

#[test]
fn every_error_names_the_destination_and_the_field() {
    let cases = [
        (
            json!({"b": {"url": "https://x", "colour": "red"}}),
            "colour",
        ),
        (json!({"b": {}}), "url"),
        (json!({"b": {"url": "not a url"}}), "url"),
        (json!({"b": {"url": "/relative"}}), "url"),
        (json!({"b": {"url": "mailto:someone@example.com"}}), "url"),
        (
            json!({"b": {"url": "https://x", "timeout_seconds": 15}}),
            "timeout_seconds",
        ),
        (
            json!({"b": {"url": "https://x", "timeout_seconds": 0}}),
            "timeout_seconds",
        ),
        (
            json!({"b": {"url": "https://x", "horizon_hours": 169}}),
            "horizon_hours",
        ),
        (
            json!({"b": {"url": "https://x", "horizon_hours": 0}}),
            "horizon_hours",
        ),
        (
            json!({"b": {"url": "https://x", "rate_per_second": 0}}),
            "rate_per_second",
        ),
        (
            json!({"b": {"url": "https://x", "rate_per_second": -1}}),
            "rate_per_second",
        ),
        (json!({"b": {"url": "https://x", "sources": []}}), "sources"),
        (
            json!({"b": {"url": "https://x", "sources": "stripe"}}),
            "sources",
        ),
        (json!({"b": {"url": "https://x", "types": []}}), "types"),
        (
            json!({"b": {"url": "https://x", "types": ["a*b"]}}),
            "types",
        ),
        (json!({"b": {"url": "https://x", "types": ["*a"]}}), "types"),
        (json!({"b": {"url": "https://x", "types": [""]}}), "types"),
        (json!({"b": "https://x"}), "b"),
    ];
    for (json, field) in cases {
        let message = invalid(json.clone());
        assert!(message.contains("destination `b`"), "{json}: {message}");
        assert!(message.contains(field), "{json}: {message}");
    }
}

#[test]
fn names_are_checked() {
    for name in [
        "",
        "Billing",
        "-crm",
        "_crm",
        "a b",
        "crm/x",
        &"a".repeat(65),
    ] {
        let message = invalid(json!({ name: {"url": "https://x"} }));
        assert!(message.contains("is invalid"), "{name}: {message}");
    }
    for name in ["a", "0", "crm-eu_1", &"a".repeat(64)] {
        assert!(
            parse(json!({ name: {"url": "https://x"} })).is_ok(),
            "{name}"
        );
    }
    assert!(invalid(json!([])).contains("not a JSON object"));
}

#[test]
fn aws_refuses_a_destination_that_is_not_https() {
    let destinations = parse(json!({
        "a": {"url": "https://a.example"},
        "local": {"url": "http://127.0.0.1:9000/hook"}
    }))
    .unwrap();
    let message = destinations.require_https().unwrap_err().to_string();
    assert!(message.contains("destination `local`"), "{message}");
    assert!(message.contains("https"), "{message}");
    assert!(
        parse(json!({"a": {"url": "https://a.example"}}))
            .unwrap()
            .require_https()
            .is_ok()
    );
}

#[test]
fn a_star_takes_every_type_and_needs_no_type_condition() {
    let destinations =
        parse(json!({"a": {"url": "https://x", "types": ["*"], "sources": ["s"]}})).unwrap();
    let a = destinations.get("a").unwrap();
    assert!(a.wants("s", "anything"));
    assert_eq!(a.filter.sns_filter_policy(), Some(json!({"source": ["s"]})));
}

#[test]
fn the_policy_has_the_documented_shape() {
    let destinations = parse(json!({"billing": {"url": "https://x",
        "sources": ["stripe"], "types": ["invoice.*", "charge.succeeded"]}}))
    .unwrap();
    assert_eq!(
        destinations
            .get("billing")
            .unwrap()
            .filter
            .sns_filter_policy(),
        Some(json!({"source": ["stripe"], "type": [{"prefix": "invoice."}, "charge.succeeded"]}))
    );
}

#[test]
fn a_filter_beyond_sns_limits_has_no_policy_and_deliver_filters_alone() {
    let sources: Vec<String> = (0..11).map(|i| format!("s{i}")).collect();
    let types: Vec<String> = (0..14).map(|i| format!("t{i}")).collect();
    let destinations =
        parse(json!({"a": {"url": "https://x", "sources": sources, "types": types}})).unwrap();
    let a = destinations.get("a").unwrap();
    assert_eq!(a.filter.sns_filter_policy(), None);
    assert!(a.wants("s3", "t13"));
    assert!(!a.wants("s3", "t14"));
}

/// SNS's evaluation of a MessageBody-scoped policy over string values: every
/// key must be present in the body and match one of its conditions, a string
/// exactly or `{"prefix": …}` by prefix.
fn sns_accepts(policy: &Value, body: &Value) -> bool {
    policy.as_object().unwrap().iter().all(|(key, conditions)| {
        let Some(Value::String(value)) = body.get(key) else {
            return false;
        };
        conditions
            .as_array()
            .unwrap()
            .iter()
            .any(|condition| match condition {
                Value::String(exact) => exact == value,
                Value::Object(operator) => {
                    let prefix = operator["prefix"].as_str().unwrap();
                    assert!(!prefix.is_empty(), "SNS refuses an empty prefix");
                    value.starts_with(prefix)
                }
                other => panic!("not an SNS condition: {other}"),
            })
    })
}

fn word() -> impl Strategy<Value = String> {
    "[a-c]{0,3}(\\.[a-c]{0,2})?"
}

fn filter_spec() -> impl Strategy<Value = Value> {
    let sources = prop::option::of(prop::collection::vec("[a-c]{1,2}", 1..4));
    let types = prop::option::of(prop::collection::vec(
        (word(), any::<bool>()).prop_map(|(w, prefix)| {
            if prefix {
                format!("{w}*")
            } else if w.is_empty() {
                "a".into()
            } else {
                w
            }
        }),
        1..5,
    ));
    (sources, types).prop_map(|(sources, types)| {
        let mut spec = json!({"url": "https://x"});
        if let Some(sources) = sources {
            spec["sources"] = json!(sources);
        }
        if let Some(types) = types {
            spec["types"] = json!(types);
        }
        spec
    })
}

proptest! {
    #[test]
    fn matching_is_sources_and_types_both(spec in filter_spec(), source in "[a-c]{1,2}", event_type in word()) {
        let destinations = parse(json!({"d": spec.clone()})).unwrap();
        let wants = destinations.get("d").unwrap().wants(&source, &event_type);
        let source_ok = spec.get("sources").is_none_or(|s| s.as_array().unwrap().iter().any(|s| s == source.as_str()));
        let type_ok = spec.get("types").is_none_or(|t| t.as_array().unwrap().iter().any(|p| {
            let p = p.as_str().unwrap();
            match p.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => p == event_type,
            }
        }));
        prop_assert_eq!(wants, source_ok && type_ok);
        prop_assert_eq!(destinations.matching(&source, &event_type).count(), usize::from(wants));
    }

    #[test]
    fn the_sns_policy_accepts_exactly_what_the_rule_matches(
        spec in filter_spec(),
        events in prop::collection::vec(("[a-c]{1,2}", word()), 1..20),
    ) {
        let destinations = parse(json!({"d": spec})).unwrap();
        let filter = &destinations.get("d").unwrap().filter;
        match filter.sns_filter_policy() {
            Some(policy) => {
                for (source, event_type) in events {
                    let envelope = json!({"id": "e", "source": source, "type": event_type, "payload": {}});
                    prop_assert_eq!(sns_accepts(&policy, &envelope), filter.matches(&source, &event_type));
                }
            }
            // No policy: only a filter that takes everything (combinations here stay under 150).
            None => for (source, event_type) in events {
                prop_assert!(filter.matches(&source, &event_type));
            },
        }
    }
}
