//! Money Button: no signature header; the webhook's JSON body carries the
//! shared secret in its `secret` field. It is compared in constant time and
//! removed from the payload before anything is stored or forwarded.
//!
//! Configure: `{"kind": "moneybutton"}`. The secret is the webhook secret of
//! the app (Money Button → Settings → Apps → the app → Webhook secret). The
//! id is `payment.id` and the status, the type `payment.<status>`, the time
//! `payment.updatedAt` (else `createdAt`); the object is the payment, whose
//! statuses rank PENDING < RECEIVED < COMPLETED < FAILED = DOUBLE_SPENT.

use std::time::SystemTime;

use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::ingest::PayloadError;
use crate::ingest::payload::{JsonObject, Text, parse_raw};
use crate::secret::SecretSet;
use crate::verify::VerifyError;

/// A Money Button source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyButton;

/// A Money Button payment, as ingest and the projection read it.
#[derive(Debug, Deserialize)]
pub struct Payment {
    pub id: Option<PaymentId>,
    pub status: Option<String>,
    #[serde(rename = "updatedAt")]
    pub updated_at: Option<serde_json::Value>,
    #[serde(rename = "createdAt")]
    pub created_at: Option<serde_json::Value>,
}

/// Money Button payment ids have been sent both as strings and numbers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PaymentId {
    Text(String),
    Number(u64),
}

impl PaymentId {
    fn text(&self) -> String {
        match self {
            Self::Text(id) => id.clone(),
            Self::Number(id) => id.to_string(),
        }
    }
}

impl Payment {
    /// The status's place in a payment's life. FAILED and DOUBLE_SPENT are
    /// terminal, so they rank above every live state.
    pub fn rank(&self) -> u8 {
        match self
            .status
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("PENDING") => 1,
            Some("RECEIVED") => 2,
            Some("COMPLETED") => 3,
            Some("FAILED" | "DOUBLE_SPENT") => 4,
            _ => 0,
        }
    }
}

/// The secret sent in the body, empty when there is none (a missing
/// signature, 401) or it is not a string.
fn body_secret<'a>(document: &JsonObject<'a>) -> Result<Option<Text<'a>>, VerifyError> {
    document
        .member("secret")
        .map_err(|_| VerifyError::MalformedSignedField("secret"))?
        .map(|raw| parse_raw::<Text>("secret", raw))
        .transpose()
        .map_err(|_| VerifyError::MalformedSignedField("secret"))
}

impl Provider for MoneyButton {
    fn from_options(_: &mut Options) -> Result<Self, String> {
        Ok(Self)
    }

    fn secret_in_body(&self) -> bool {
        true
    }

    fn verify(
        &self,
        _: &Request<'_>,
        document: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        _: SystemTime,
    ) -> Result<(), VerifyError> {
        let document = document.ok_or(VerifyError::MissingBodySecret)?;
        let secret = body_secret(document)?;
        verify(secret.as_ref().map_or("", Text::as_str), secrets)
    }

    /// The payment's id and status are what Money Button promises: without
    /// them the event has no id.
    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        let payment = document
            .member("payment")?
            .ok_or(PayloadError::MissingField("payment"))?;
        let payment: Payment = parse_raw("payment", payment)?;
        let payment_id = payment
            .id
            .as_ref()
            .ok_or(PayloadError::MissingField("payment.id"))?
            .text();
        let status = payment
            .status
            .as_deref()
            .ok_or(PayloadError::MissingField("payment.status"))?;
        if status.is_empty() || !status.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
            return Err(PayloadError::InvalidField {
                field: "payment.status",
                reason: "must be a status name such as COMPLETED".into(),
            });
        }
        let status = status.to_ascii_lowercase();
        described.promised_id(
            "payment.id",
            Ok(Some(format!("{payment_id}:{status}").into())),
        )?;
        described.event_type(
            "payment.status",
            Ok(Some(format!("payment.{status}").into())),
        );
        described.occurred_at("payment.updatedAt", Ok(payment.updated_at));
        described.occurred_at("payment.createdAt", Ok(payment.created_at));
        described.rewritten_payload = Some(without_secret(document));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        #[derive(Deserialize)]
        struct Body {
            payment: Option<Payment>,
        }
        let payment = serde_json::from_str::<Body>(event.payload).ok()?.payment?;
        Some(ObjectRef {
            id: payment.id.as_ref()?.text(),
            rank: payment.rank(),
        })
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let text =
            std::str::from_utf8(outgoing.body).map_err(|e| SignError::NotJson(e.to_string()))?;
        let payload: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| SignError::NotJson(e.to_string()))?;
        if payload.contains_key("secret") {
            return Err(SignError::FieldAlreadyInPayload("secret"));
        }
        Ok(Signed {
            headers: Vec::new(),
            rewritten_body: Some(with_secret_field(text, secret, payload.is_empty())),
        })
    }
}

/// The payload without its `secret` member: member by member from the raw
/// text, so every other byte is kept.
fn without_secret(document: &JsonObject<'_>) -> String {
    let mut payload = String::with_capacity(document.text().len());
    for (key, value) in document.members().filter(|(key, _)| *key != "secret") {
        payload.push(if payload.is_empty() { '{' } else { ',' });
        payload.push_str(&serde_json::to_string(key).expect("a string serialises"));
        payload.push(':');
        payload.push_str(value.get());
    }
    if payload.is_empty() {
        payload.push('{');
    }
    payload.push('}');
    payload
}

/// Inserts `"secret": <secret>` as the first member of the JSON object
/// `object`, leaving every other byte as it was.
fn with_secret_field(object: &str, secret: &str, is_empty: bool) -> String {
    let open = object
        .find('{')
        .expect("a parsed JSON object has an opening brace");
    let field = serde_json::json!(secret).to_string();
    let separator = if is_empty { "" } else { "," };
    format!(
        "{}{{\"secret\":{field}{separator}{}",
        &object[..open],
        &object[open + 1..]
    )
}

/// Whether the secret found in the body is one of `secrets`.
pub fn verify(provided: &str, secrets: &SecretSet) -> Result<(), VerifyError> {
    if provided.is_empty() {
        return Err(VerifyError::MissingBodySecret);
    }
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    // Compare against every secret without stopping early, so timing does not
    // tell which one (if any) matched. Length differences are not hidden by
    // `ct_eq`; the length of a shared secret is not what protects it.
    let matched = secrets.iter().fold(subtle::Choice::from(0), |acc, secret| {
        acc | secret.expose().as_bytes().ct_eq(provided.as_bytes())
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_secret_verifies() {
        assert_eq!(verify("b", &SecretSet::parse("a,b")), Ok(()));
    }

    #[test]
    fn wrong_secret_does_not_match() {
        assert_eq!(
            verify("c", &SecretSet::parse("a,b")),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify("a ", &SecretSet::parse("a")),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn empty_secret_is_missing() {
        assert_eq!(
            verify("", &SecretSet::parse("a")),
            Err(VerifyError::MissingBodySecret)
        );
    }

    #[test]
    fn no_configured_secret_never_matches() {
        assert_eq!(
            verify("a", &SecretSet::default()),
            Err(VerifyError::NoSecrets)
        );
    }
}
