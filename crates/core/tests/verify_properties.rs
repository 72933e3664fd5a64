//! Properties of the verifiers over arbitrary input: a signature made for a
//! body verifies that body and no other, and no header text makes a parser
//! panic.

use std::time::{Duration, UNIX_EPOCH};

use hookbridge_core::config::Sources;
use hookbridge_core::providers::{Outgoing, Request, github, standard, stripe};
use hookbridge_core::secret::{Secret, SecretSet};
use hookbridge_core::verify::VerifyError;
use hookbridge_testkit::header_map;
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;
const TOLERANCE: Duration = Duration::from_secs(300);

fn tampered(body: &[u8], index: usize, flip: u8) -> Vec<u8> {
    let mut other = body.to_vec();
    if other.is_empty() {
        other.push(flip);
    } else {
        let i = index % other.len();
        other[i] ^= flip.max(1);
    }
    other
}

proptest! {
    #[test]
    fn stripe_signature_verifies_its_body_and_no_other(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        secret in "whsec_[a-zA-Z0-9]{1,40}",
        index in any::<usize>(),
        flip in any::<u8>(),
        skew in -300i64..=300,
    ) {
        let header = stripe::sign(&secret, NOW as i64 + skew, &body);
        let h = header_map(&[("stripe-signature", &header)]);
        let secrets = SecretSet::parse(&secret);
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        prop_assert_eq!(stripe::verify(&h, &body, &secrets, now, TOLERANCE), Ok(()));
        let other = tampered(&body, index, flip);
        prop_assert_eq!(stripe::verify(&h, &other, &secrets, now, TOLERANCE), Err(VerifyError::NoMatch));
    }

    #[test]
    fn standard_signature_verifies_its_body_and_no_other(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        key in proptest::collection::vec(any::<u8>(), 1..64),
        id in "msg_[a-zA-Z0-9]{1,30}",
        index in any::<usize>(),
        flip in any::<u8>(),
    ) {
        use base64::Engine;
        let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(&key));
        let signature = standard::sign(&Secret::new(secret.as_str()), &id, NOW as i64, &body).unwrap();
        let h = header_map(&[
            ("webhook-id", &id),
            ("webhook-timestamp", &NOW.to_string()),
            ("webhook-signature", &signature),
        ]);
        let secrets = SecretSet::parse(&secret);
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        prop_assert_eq!(standard::verify(&h, &body, &secrets, now, TOLERANCE), Ok(()));
        let other = tampered(&body, index, flip);
        prop_assert_eq!(standard::verify(&h, &other, &secrets, now, TOLERANCE), Err(VerifyError::NoMatch));
    }

    #[test]
    fn github_and_hmac_signatures_verify_their_body_and_no_other(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        secret in "[ -~]{1,40}",
        index in any::<usize>(),
        flip in any::<u8>(),
        base64 in any::<bool>(),
    ) {
        let secret = secret.replace(',', ";");
        let secret = secret.trim();
        prop_assume!(!secret.is_empty());
        let secrets = SecretSet::parse(secret);
        let other = tampered(&body, index, flip);

        let h = header_map(&[("x-hub-signature-256", &github::sign(secret, &body))]);
        prop_assert_eq!(github::verify(&h, &body, &secrets), Ok(()));
        prop_assert_eq!(github::verify(&h, &other, &secrets), Err(VerifyError::NoMatch));

        let encoding = if base64 { "base64" } else { "hex" };
        let sources = Sources::from_json(&format!(
            r#"{{"s":{{"kind":"hmac","header":"X-Signature","prefix":"sha256=","encoding":"{encoding}"}}}}"#
        )).unwrap();
        let provider = sources.get("s").unwrap().provider();
        let outgoing = Outgoing { id: "", event_type: None, timestamp: 0, url: "", body: &body };
        let signed = provider.sign(secret, &outgoing).unwrap();
        let h = header_map(&[("x-signature", &signed.headers[0].1)]);
        let verify = |body: &[u8]| {
            let request = Request { method: &http::Method::POST, url: "", headers: &h, body, form: None };
            provider.verify(&request, None, &secrets, UNIX_EPOCH)
        };
        prop_assert_eq!(verify(&body), Ok(()));
        prop_assert_eq!(verify(&other), Err(VerifyError::NoMatch));
    }

    #[test]
    fn arbitrary_signature_headers_never_verify_or_panic(value in "[ -~]{0,300}") {
        let secrets = SecretSet::parse("whsec_secret");
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let Ok(value) = http::HeaderValue::from_str(&value) else { return Ok(()) };
        for name in ["stripe-signature", "x-hub-signature-256", "webhook-signature"] {
            let mut h = http::HeaderMap::new();
            h.insert(name, value.clone());
            h.insert("webhook-id", http::HeaderValue::from_static("msg_1"));
            h.insert("webhook-timestamp", http::HeaderValue::from_static("1800000000"));
            let verdicts = [
                stripe::verify(&h, b"{}", &secrets, now, TOLERANCE),
                github::verify(&h, b"{}", &secrets),
                standard::verify(&h, b"{}", &secrets, now, TOLERANCE),
            ];
            prop_assert!(verdicts.iter().all(Result::is_err), "{verdicts:?}");
        }
    }

    #[test]
    fn accepted_stripe_headers_keep_their_timestamp_and_signatures(
        t in 0i64..4_000_000_000,
        sigs in proptest::collection::vec("[0-9a-f]{64}", 1..4),
        extra in proptest::collection::vec(("[a-z][a-z0-9]{0,3}", "[a-zA-Z0-9_]{0,10}"), 0..3),
    ) {
        let mut items = vec![format!("t={t}")];
        items.extend(sigs.iter().map(|s| format!("v1={s}")));
        items.extend(extra.iter().filter(|(k, _)| k != "t" && k != "v1").map(|(k, v)| format!("{k}={v}")));
        let header = items.join(",");
        let parsed = stripe::SignatureHeader::parse(&header).unwrap();
        prop_assert_eq!(parsed.timestamp, t);
        prop_assert_eq!(parsed.signatures().collect::<Vec<_>>(), sigs.iter().map(String::as_str).collect::<Vec<_>>());
    }
}
