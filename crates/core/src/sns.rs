//! Amazon SNS HTTP/S messages: parsing, the string SNS signs, the URLs it may
//! point at, and RSA signature verification. No network: certificates come
//! in through [`CertificateSource`](crate::ports::CertificateSource),
//! confirmations go out through
//! [`SubscriptionConfirmer`](crate::ports::SubscriptionConfirmer).

use std::fmt;

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use x509_cert::Certificate;
use x509_cert::der::DecodePem;
use x509_cert::der::oid::ObjectIdentifier;

use crate::ports::CertificateError;

/// What an SNS message announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl MessageType {
    fn parse(value: &str) -> Result<Self, SnsError> {
        match value {
            "Notification" => Ok(Self::Notification),
            "SubscriptionConfirmation" => Ok(Self::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Ok(Self::UnsubscribeConfirmation),
            _ => Err(SnsError::UnknownType),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "Notification",
            Self::SubscriptionConfirmation => "SubscriptionConfirmation",
            Self::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// How the message is signed: version 1 is SHA1withRSA, 2 SHA256withRSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    V1,
    V2,
}

/// Why an SNS message is not accepted. None of them carries a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    #[error("the body is not an SNS message: {0}")]
    Malformed(String),
    #[error("the `{0}` field is missing")]
    MissingField(&'static str),
    #[error("the message type is not one SNS sends")]
    UnknownType,
    #[error("signature version `{0}` is not supported")]
    UnsupportedSignatureVersion(String),
    #[error("the signature is not base64")]
    SignatureEncoding,
    #[error("SigningCertURL is untrusted: {0}")]
    UntrustedCertificateUrl(UntrustedUrl),
    #[error("SubscribeURL is untrusted: {0}")]
    UntrustedSubscribeUrl(UntrustedUrl),
    #[error("the signature does not match the message")]
    SignatureMismatch,
}

/// Why a URL is not one of SNS's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedUrl {
    #[error("the scheme is not https")]
    NotHttps,
    #[error("the host is not sns.<region>.amazonaws.com[.cn]")]
    ForeignHost,
    #[error("the path does not name a .pem certificate")]
    NotACertificate,
}

/// An `https` URL on an SNS regional endpoint
/// (`^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnsUrl(String);

impl SnsUrl {
    pub fn parse(url: &str) -> Result<Self, UntrustedUrl> {
        split_sns_url(url)?;
        Ok(Self(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host, already checked to be an SNS endpoint.
    pub fn host(&self) -> &str {
        split_sns_url(&self.0)
            .expect("an SnsUrl is valid by construction")
            .0
    }
}

impl fmt::Display for SnsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An SNS URL whose path names a `.pem` file, with no query or fragment:
/// the only kind of `SigningCertURL` ever fetched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateUrl(SnsUrl);

impl CertificateUrl {
    pub fn parse(url: &str) -> Result<Self, UntrustedUrl> {
        let (_, rest) = split_sns_url(url)?;
        let names_pem = !rest.contains(['?', '#']) && rest.len() > ".pem".len() + 1;
        if !names_pem || !rest.ends_with(".pem") {
            return Err(UntrustedUrl::NotACertificate);
        }
        Ok(Self(SnsUrl(url.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for CertificateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Splits an SNS URL into its host and the rest (path, query, fragment).
fn split_sns_url(url: &str) -> Result<(&str, &str), UntrustedUrl> {
    let after_scheme = url.strip_prefix("https://").ok_or(UntrustedUrl::NotHttps)?;
    let host_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (host, rest) = after_scheme.split_at(host_end);
    if is_sns_host(host) {
        Ok((host, rest))
    } else {
        Err(UntrustedUrl::ForeignHost)
    }
}

/// `^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$`. Anything else in the
/// authority (a port, user info, a backslash, percent-encoding) fails.
fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let Some(region) = rest
        .strip_suffix(".amazonaws.com.cn")
        .or_else(|| rest.strip_suffix(".amazonaws.com"))
    else {
        return false;
    };
    region.len() >= 3
        && region
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

/// The body SNS posts, as sent on the wire.
#[derive(Deserialize)]
struct WireMessage {
    #[serde(rename = "Type")]
    message_type: Option<String>,
    #[serde(rename = "MessageId")]
    message_id: Option<String>,
    #[serde(rename = "TopicArn")]
    topic_arn: Option<String>,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "Timestamp")]
    timestamp: Option<String>,
    #[serde(rename = "SignatureVersion")]
    signature_version: Option<String>,
    #[serde(rename = "Signature")]
    signature: Option<String>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
}

/// A parsed SNS message whose certificate URL and (for confirmations)
/// subscribe URL are SNS's own. Its signature is not checked yet: see
/// [`SnsMessage::verify`].
#[derive(Clone, PartialEq, Eq)]
pub struct SnsMessage {
    message_type: MessageType,
    message_id: String,
    topic_arn: String,
    subject: Option<String>,
    message: String,
    timestamp: String,
    signature_version: SignatureVersion,
    signature: Vec<u8>,
    signing_cert_url: CertificateUrl,
    confirmation: Option<Confirmation>,
}

/// What only subscription and unsubscribe confirmations carry.
#[derive(Clone, PartialEq, Eq)]
struct Confirmation {
    subscribe_url: SnsUrl,
    token: String,
}

impl fmt::Debug for SnsMessage {
    /// Leaves out the signature and the confirmation token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnsMessage")
            .field("message_type", &self.message_type)
            .field("message_id", &self.message_id)
            .field("topic_arn", &self.topic_arn)
            .field("timestamp", &self.timestamp)
            .field("signature_version", &self.signature_version)
            .field("signing_cert_url", &self.signing_cert_url)
            .finish_non_exhaustive()
    }
}

fn required(field: Option<String>, name: &'static str) -> Result<String, SnsError> {
    field.ok_or(SnsError::MissingField(name))
}

impl SnsMessage {
    /// Parses the body of an SNS HTTP/S request and checks that every URL
    /// it would make us fetch is SNS's own.
    pub fn parse(body: &[u8]) -> Result<Self, SnsError> {
        let wire: WireMessage =
            serde_json::from_slice(body).map_err(|error| SnsError::Malformed(error.to_string()))?;
        let message_type = MessageType::parse(&required(wire.message_type, "Type")?)?;
        let signature_version = match required(wire.signature_version, "SignatureVersion")?.as_str()
        {
            "1" => SignatureVersion::V1,
            "2" => SignatureVersion::V2,
            other => return Err(SnsError::UnsupportedSignatureVersion(other.to_owned())),
        };
        let signature = BASE64
            .decode(required(wire.signature, "Signature")?)
            .map_err(|_| SnsError::SignatureEncoding)?;
        let signing_cert_url =
            CertificateUrl::parse(&required(wire.signing_cert_url, "SigningCertURL")?)
                .map_err(SnsError::UntrustedCertificateUrl)?;
        let confirmation = match message_type {
            MessageType::Notification => None,
            MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => {
                let subscribe_url = SnsUrl::parse(&required(wire.subscribe_url, "SubscribeURL")?)
                    .map_err(SnsError::UntrustedSubscribeUrl)?;
                let token = required(wire.token, "Token")?;
                Some(Confirmation {
                    subscribe_url,
                    token,
                })
            }
        };
        Ok(Self {
            message_type,
            message_id: required(wire.message_id, "MessageId")?,
            topic_arn: required(wire.topic_arn, "TopicArn")?,
            // SNS signs Subject only on notifications.
            subject: wire
                .subject
                .filter(|_| message_type == MessageType::Notification),
            message: required(wire.message, "Message")?,
            timestamp: required(wire.timestamp, "Timestamp")?,
            signature_version,
            signature,
            signing_cert_url,
            confirmation,
        })
    }

    pub fn message_type(&self) -> MessageType {
        self.message_type
    }

    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The published message: for hookbridge, the serialised envelope.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    pub fn signature_version(&self) -> SignatureVersion {
        self.signature_version
    }

    pub fn signing_cert_url(&self) -> &CertificateUrl {
        &self.signing_cert_url
    }

    /// Where to confirm the subscription; only on confirmations.
    pub fn subscribe_url(&self) -> Option<&SnsUrl> {
        self.confirmation.as_ref().map(|c| &c.subscribe_url)
    }

    /// The canonical string SNS signs: `key\nvalue\n` for each signed field,
    /// in the order SNS documents for the message type.
    pub fn string_to_sign(&self) -> String {
        let mut fields: [(&str, Option<&str>); 7] = [
            ("Message", Some(&self.message)),
            ("MessageId", Some(&self.message_id)),
            ("Subject", None),
            ("SubscribeURL", None),
            ("Timestamp", Some(&self.timestamp)),
            ("Token", None),
            ("TopicArn", Some(&self.topic_arn)),
        ];
        match &self.confirmation {
            None => fields[2].1 = self.subject.as_deref(),
            Some(confirmation) => {
                fields[3].1 = Some(confirmation.subscribe_url.as_str());
                fields[5].1 = Some(&confirmation.token);
            }
        }
        let length = fields
            .iter()
            .filter_map(|(key, value)| value.map(|value| key.len() + value.len() + 2))
            .sum::<usize>()
            + "Type".len()
            + self.message_type.as_str().len()
            + 2;
        let mut canonical = String::with_capacity(length);
        let signed = fields
            .iter()
            .filter_map(|(key, value)| value.map(|value| (*key, value)))
            .chain([("Type", self.message_type.as_str())]);
        for (key, value) in signed {
            canonical.push_str(key);
            canonical.push('\n');
            canonical.push_str(value);
            canonical.push('\n');
        }
        canonical
    }

    /// Checks the signature with the certificate fetched from
    /// [`SnsMessage::signing_cert_url`]. The certificate's validity dates
    /// are deliberately not checked: SNS's URL is the trust anchor.
    pub fn verify(&self, certificate: &SigningCertificate) -> Result<(), SnsError> {
        let canonical = self.string_to_sign();
        // SignatureVersion 1 is SHA1withRSA: legacy, and still what SNS
        // sends unless the topic asks for version 2.
        let algorithm = match self.signature_version {
            SignatureVersion::V1 => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            SignatureVersion::V2 => &RSA_PKCS1_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(algorithm, &certificate.rsa_public_key)
            .verify(canonical.as_bytes(), &self.signature)
            .map_err(|_| SnsError::SignatureMismatch)
    }
}

/// `rsaEncryption` (RFC 8017): the only key type SNS signs with.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The RSA public key of an SNS signing certificate, read once per
/// certificate. Verification uses aws-lc (already linked for TLS): an order
/// of magnitude faster than a pure-Rust RSA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    /// DER `RSAPublicKey` (PKCS #1), as the certificate carries it.
    rsa_public_key: Vec<u8>,
}

impl SigningCertificate {
    /// Reads the public key of a PEM-encoded X.509 certificate.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CertificateError> {
        let certificate = Certificate::from_pem(pem)
            .map_err(|error| CertificateError::Invalid(error.to_string()))?;
        let key_info = certificate.tbs_certificate.subject_public_key_info;
        if key_info.algorithm.oid != RSA_ENCRYPTION {
            return Err(CertificateError::Invalid(format!(
                "the key is {}, not RSA",
                key_info.algorithm.oid
            )));
        }
        let rsa_public_key = key_info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| CertificateError::Invalid("the key is not whole bytes".into()))?
            .to_vec();
        Ok(Self { rsa_public_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/sns/");
    const FIXTURES: [&str; 4] = [
        "notification-v1.json",
        "notification-v2.json",
        "notification-subject-v1.json",
        "notification-subject-v2.json",
    ];

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{TESTDATA}{name}")).unwrap()
    }

    fn fixture_json(name: &str) -> serde_json::Value {
        serde_json::from_str(&fixture(name)).unwrap()
    }

    fn certificate() -> SigningCertificate {
        let pem = std::fs::read(format!(
            "{TESTDATA}SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
        ))
        .unwrap();
        SigningCertificate::from_pem(&pem).unwrap()
    }

    fn verify_json(json: &serde_json::Value) -> Result<(), SnsError> {
        SnsMessage::parse(json.to_string().as_bytes())?.verify(&certificate())
    }

    #[test]
    fn real_aws_messages_verify() {
        for name in FIXTURES {
            let message = SnsMessage::parse(fixture(name).as_bytes()).unwrap();
            assert_eq!(message.verify(&certificate()), Ok(()), "{name}");
            assert_eq!(message.message_type(), MessageType::Notification);
            assert_eq!(message.message(), "Hello world");
        }
    }

    #[test]
    fn fixtures_cover_both_versions() {
        let versions: Vec<SignatureVersion> = FIXTURES
            .iter()
            .map(|name| {
                SnsMessage::parse(fixture(name).as_bytes())
                    .unwrap()
                    .signature_version()
            })
            .collect();
        use SignatureVersion::*;
        assert_eq!(versions, [V1, V2, V1, V2]);
    }

    #[test]
    fn string_to_sign_of_a_notification_with_subject() {
        let message =
            SnsMessage::parse(fixture("notification-subject-v2.json").as_bytes()).unwrap();
        assert_eq!(
            message.string_to_sign(),
            "Message\nHello world\n\
             MessageId\n4504e649-d933-5aa9-8199-bd14ccf05f0b\n\
             Subject\nHello world\n\
             Timestamp\n2022-07-28T22:53:55.086Z\n\
             TopicArn\narn:aws:sns:us-east-2:295079676684:publish-and-verify-530b26da-0687-4fe4-9f71-780bad3181e2\n\
             Type\nNotification\n"
        );
    }

    fn confirmation_json(message_type: &str) -> serde_json::Value {
        serde_json::json!({
            "Type": message_type,
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37",
            "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
            "Message": "You have chosen to subscribe to the topic",
            "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37",
            "Timestamp": "2012-04-26T20:45:04.751Z",
            "SignatureVersion": "1",
            "Signature": "AAAA",
            "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
        })
    }

    #[test]
    fn string_to_sign_of_confirmations_includes_url_and_token() {
        for message_type in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
            let mut json = confirmation_json(message_type);
            json["Subject"] = "ignored".into();
            let message = SnsMessage::parse(json.to_string().as_bytes()).unwrap();
            assert_eq!(
                message.string_to_sign(),
                format!(
                    "Message\nYou have chosen to subscribe to the topic\n\
                     MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n\
                     SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37\n\
                     Timestamp\n2012-04-26T20:45:04.751Z\n\
                     Token\n2336412f37\n\
                     TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
                     Type\n{message_type}\n"
                )
            );
            assert_eq!(
                message.subscribe_url().map(SnsUrl::host),
                Some("sns.us-west-2.amazonaws.com")
            );
        }
    }

    #[test]
    fn confirmations_need_subscribe_url_and_token() {
        for field in ["SubscribeURL", "Token"] {
            let mut json = confirmation_json("SubscriptionConfirmation");
            json.as_object_mut().unwrap().remove(field);
            assert_eq!(
                SnsMessage::parse(json.to_string().as_bytes()),
                Err(SnsError::MissingField(field))
            );
        }
    }

    #[test]
    fn a_foreign_subscribe_url_is_rejected() {
        let mut json = confirmation_json("SubscriptionConfirmation");
        json["SubscribeURL"] = "https://evil.example/?Action=ConfirmSubscription".into();
        assert_eq!(
            SnsMessage::parse(json.to_string().as_bytes()),
            Err(SnsError::UntrustedSubscribeUrl(UntrustedUrl::ForeignHost))
        );
    }

    #[test]
    fn any_changed_byte_of_a_signed_field_fails() {
        for name in FIXTURES {
            let original = fixture_json(name);
            for field in ["Message", "MessageId", "Timestamp", "TopicArn", "Subject"] {
                let Some(value) = original[field].as_str() else {
                    continue;
                };
                let mut bytes = value.as_bytes().to_vec();
                for index in [0, bytes.len() / 2, bytes.len() - 1] {
                    let saved = bytes[index];
                    bytes[index] = if saved == b'x' { b'y' } else { b'x' };
                    let mut json = original.clone();
                    json[field] = String::from_utf8(bytes.clone()).unwrap().into();
                    assert_eq!(
                        verify_json(&json),
                        Err(SnsError::SignatureMismatch),
                        "{name}: {field}[{index}]"
                    );
                    bytes[index] = saved;
                }
            }
        }
    }

    #[test]
    fn any_changed_signature_byte_fails() {
        let original = fixture_json("notification-v2.json");
        let signature = BASE64
            .decode(original["Signature"].as_str().unwrap())
            .unwrap();
        for index in [0, 100, signature.len() - 1] {
            let mut changed = signature.clone();
            changed[index] ^= 0x01;
            let mut json = original.clone();
            json["Signature"] = BASE64.encode(&changed).into();
            assert_eq!(
                verify_json(&json),
                Err(SnsError::SignatureMismatch),
                "byte {index}"
            );
        }
    }

    #[test]
    fn a_field_moved_between_keys_fails() {
        let original = fixture_json("notification-subject-v1.json");
        let mut swapped = original.clone();
        swapped["Message"] = original["MessageId"].clone();
        swapped["MessageId"] = original["Message"].clone();
        assert_eq!(verify_json(&swapped), Err(SnsError::SignatureMismatch));

        // Subject and Message hold the same text: dropping Subject changes
        // the string to sign even though no value changes.
        let mut dropped = original.clone();
        dropped.as_object_mut().unwrap().remove("Subject");
        assert_eq!(verify_json(&dropped), Err(SnsError::SignatureMismatch));

        let mut added = fixture_json("notification-v1.json");
        added["Subject"] = "Hello world".into();
        assert_eq!(verify_json(&added), Err(SnsError::SignatureMismatch));
    }

    #[test]
    fn a_changed_type_fails() {
        let mut json = fixture_json("notification-v1.json");
        json["Type"] = "UnsubscribeConfirmation".into();
        json["SubscribeURL"] = "https://sns.us-east-2.amazonaws.com/?Action=x".into();
        json["Token"] = "t".into();
        assert_eq!(verify_json(&json), Err(SnsError::SignatureMismatch));
    }

    #[test]
    fn a_swapped_signature_version_fails() {
        for (name, other) in [("notification-v1.json", "2"), ("notification-v2.json", "1")] {
            let mut json = fixture_json(name);
            json["SignatureVersion"] = other.into();
            assert_eq!(
                verify_json(&json),
                Err(SnsError::SignatureMismatch),
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_signature_versions_are_rejected() {
        for version in ["0", "3", "", "v2", "02"] {
            let mut json = fixture_json("notification-v2.json");
            json["SignatureVersion"] = version.into();
            assert_eq!(
                verify_json(&json),
                Err(SnsError::UnsupportedSignatureVersion(version.to_owned()))
            );
        }
    }

    #[test]
    fn foreign_certificate_urls_are_rejected() {
        let cases = [
            (
                "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
                UntrustedUrl::NotHttps,
            ),
            (
                "https://example.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
                UntrustedUrl::ForeignHost,
            ),
            ("https://sns.evil.com/cert.pem", UntrustedUrl::ForeignHost),
            (
                "https://sns.us-east-1.amazonaws.com.evil.com/cert.pem",
                UntrustedUrl::ForeignHost,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
                UntrustedUrl::ForeignHost,
            ),
            (
                "https://sns.us-east-1.amazonaws.com@evil.com/cert.pem",
                UntrustedUrl::ForeignHost,
            ),
            (
                "https://evil.com\\@sns.us-east-1.amazonaws.com/cert.pem",
                UntrustedUrl::ForeignHost,
            ),
            (
                "https://sns.us.amazonaws.com/cert.pem",
                UntrustedUrl::ForeignHost,
            ),
            (
                "https://sqs.us-east-1.amazonaws.com/cert.pem",
                UntrustedUrl::ForeignHost,
            ),
            (
                "https://SNS.us-east-1.amazonaws.com/cert.pem",
                UntrustedUrl::ForeignHost,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/cert.txt",
                UntrustedUrl::NotACertificate,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/cert.pem?x=1",
                UntrustedUrl::NotACertificate,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/cert.pem#x",
                UntrustedUrl::NotACertificate,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/.pem",
                UntrustedUrl::NotACertificate,
            ),
            (
                "https://sns.us-east-1.amazonaws.com",
                UntrustedUrl::NotACertificate,
            ),
            (
                "sns.us-east-1.amazonaws.com/cert.pem",
                UntrustedUrl::NotHttps,
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(CertificateUrl::parse(url), Err(expected), "{url}");
            let mut json = fixture_json("notification-v2.json");
            json["SigningCertURL"] = url.into();
            assert_eq!(
                verify_json(&json),
                Err(SnsError::UntrustedCertificateUrl(expected)),
                "{url}"
            );
        }
    }

    #[test]
    fn sns_certificate_urls_are_accepted() {
        for url in [
            "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
            "https://sns.eu-west-1.amazonaws.com/a/b.pem",
        ] {
            assert_eq!(
                CertificateUrl::parse(url).map(|u| u.as_str().to_owned()),
                Ok(url.to_owned())
            );
        }
    }

    #[test]
    fn missing_fields_are_named() {
        for field in [
            "Type",
            "MessageId",
            "TopicArn",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
        ] {
            let mut json = fixture_json("notification-v1.json");
            json.as_object_mut().unwrap().remove(field);
            assert_eq!(
                SnsMessage::parse(json.to_string().as_bytes()),
                Err(SnsError::MissingField(field)),
                "{field}"
            );
        }
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        for body in [&b""[..], b"not json", b"[]", br#"{"Type": 1}"#] {
            assert!(
                matches!(SnsMessage::parse(body), Err(SnsError::Malformed(_))),
                "{body:?}"
            );
        }
        let mut duplicated = fixture("notification-v1.json");
        duplicated.insert_str(1, r#""Message": "Goodbye world","#);
        assert!(matches!(
            SnsMessage::parse(duplicated.as_bytes()),
            Err(SnsError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_types_and_bad_signature_encodings_are_rejected() {
        let mut json = fixture_json("notification-v1.json");
        json["Type"] = "Notice".into();
        assert_eq!(verify_json(&json), Err(SnsError::UnknownType));
        let mut json = fixture_json("notification-v1.json");
        json["Signature"] = "not base64!".into();
        assert_eq!(verify_json(&json), Err(SnsError::SignatureEncoding));
    }

    #[test]
    fn a_certificate_that_is_not_pem_is_invalid() {
        assert!(matches!(
            SigningCertificate::from_pem(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            Err(CertificateError::Invalid(_))
        ));
        assert!(matches!(
            SigningCertificate::from_pem(b"<html>"),
            Err(CertificateError::Invalid(_))
        ));
    }

    #[test]
    fn debug_leaves_out_signature_and_token() {
        let message = SnsMessage::parse(
            confirmation_json("SubscriptionConfirmation")
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let debug = format!("{message:?}");
        assert!(!debug.contains("2336412f37"), "{debug}");
        assert!(!debug.contains("signature:"), "{debug}");
    }
}
