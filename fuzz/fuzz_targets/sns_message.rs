//! SNS messages: parsing never panics; the string to sign does not depend
//! on the order of the JSON keys or on how the JSON is written; a message
//! verifies with AWS's certificate only if it signs what AWS signed.
//!
//! Input: an HTTP body as SNS posts it.
#![no_main]

use std::sync::LazyLock;

use hookbridge_core::sns::{SigningCertificate, SnsMessage};
use hookbridge_fuzz::{object_members, object_text};
use libfuzzer_sys::fuzz_target;

macro_rules! testdata {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/testdata/sns/",
            $name
        ))
    };
}

static CERTIFICATE: LazyLock<SigningCertificate> = LazyLock::new(|| {
    SigningCertificate::from_pem(testdata!(
        "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
    ))
    .expect("AWS's certificate parses")
});

/// What AWS signed in the official messages.
static SIGNED_BY_AWS: LazyLock<Vec<String>> = LazyLock::new(|| {
    [
        &testdata!("notification-v1.json")[..],
        testdata!("notification-v2.json"),
        testdata!("notification-subject-v1.json"),
        testdata!("notification-subject-v2.json"),
    ]
    .into_iter()
    .map(|body| {
        SnsMessage::parse(body)
            .expect("official message")
            .string_to_sign()
    })
    .collect()
});

fuzz_target!(|data: &[u8]| {
    let Ok(message) = SnsMessage::parse(data) else {
        return;
    };
    let string_to_sign = message.string_to_sign();

    // serde_json does not check UTF-8 inside members it skips; such bodies
    // cannot be rewritten as text, and nothing signed comes from them.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let members = object_members(text).expect("a parsed body is an object");
    let count = members.len().max(1);
    let rotation = data.len() % count;
    let permutations = [
        members.iter().rev().collect::<Vec<_>>(),
        members
            .iter()
            .cycle()
            .skip(rotation)
            .take(members.len())
            .collect(),
    ];
    for permuted in permutations {
        let written = object_text(permuted.into_iter().map(|(k, v)| (k.as_str(), *v)));
        let reparsed = SnsMessage::parse(written.as_bytes())
            .unwrap_or_else(|error| panic!("permuted keys refused ({error}): {written}"));
        assert_eq!(reparsed.string_to_sign(), string_to_sign);
        assert!(reparsed == message);
    }

    // Written anew by a JSON library (escapes and spacing normalised).
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let written = serde_json::to_string(&value).expect("serialises");
        let reparsed = SnsMessage::parse(written.as_bytes())
            .unwrap_or_else(|error| panic!("re-serialised message refused ({error}): {written}"));
        assert_eq!(reparsed.string_to_sign(), string_to_sign);
    }

    if message.verify(&CERTIFICATE).is_ok() {
        assert!(
            SIGNED_BY_AWS.contains(&string_to_sign),
            "verified a message AWS did not sign: {string_to_sign:?}"
        );
    }
});
