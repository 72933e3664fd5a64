//! The handshakes recognised by their query string, for any source: Meta
//! (WhatsApp, Instagram, Messenger) subscribes with `GET
//! ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`, answered with
//! the challenge when the token equals one of the source's secrets;
//! Microsoft Graph validates with `POST ?validationToken=…`, answered with
//! the token as text.

use subtle::ConstantTimeEq;

use super::Handshake;
use crate::ingest::form;
use crate::secret::SecretSet;
use crate::verify::VerifyError;

/// Longest challenge or token echoed: both providers send short ones.
const MAX_ECHO: usize = 1024;

/// A handshake the query string asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryHandshake {
    Meta {
        verify_token: String,
        challenge: String,
    },
    Graph {
        validation_token: String,
    },
}

impl QueryHandshake {
    /// The handshake `method` and `query` ask for, if any.
    pub fn of(method: &http::Method, query: Option<&str>) -> Option<Self> {
        let fields = form::decode(query?.as_bytes()).ok()?;
        let field = |name| form::first(&fields, name).map(str::to_owned);
        if method == http::Method::GET && field("hub.mode").as_deref() == Some("subscribe") {
            return Some(Self::Meta {
                verify_token: field("hub.verify_token").unwrap_or_default(),
                challenge: field("hub.challenge").unwrap_or_default(),
            });
        }
        if method == http::Method::POST {
            return field("validationToken")
                .map(|validation_token| Self::Graph { validation_token });
        }
        None
    }

    /// Whether the answer needs the source's secrets.
    pub fn needs_secrets(&self) -> bool {
        matches!(self, Self::Meta { .. })
    }

    /// The answer: the echoed text, or why not.
    pub fn answer(&self, secrets: &SecretSet) -> Result<Handshake, VerifyError> {
        match self {
            Self::Meta {
                verify_token,
                challenge,
            } => {
                let matched = secrets
                    .iter()
                    .fold(subtle::Choice::from(0), |matched, secret| {
                        matched | secret.expose().as_bytes().ct_eq(verify_token.as_bytes())
                    });
                if verify_token.is_empty() || !bool::from(matched) {
                    return Err(VerifyError::HandshakeRefused);
                }
                Ok(Handshake::text(
                    "meta hub.challenge",
                    echoable(challenge, "hub.challenge")?,
                ))
            }
            Self::Graph { validation_token } => Ok(Handshake::text(
                "microsoft graph validationToken",
                echoable(validation_token, "validationToken")?,
            )),
        }
    }
}

/// Text fit to echo: short and printable.
fn echoable(text: &str, field: &'static str) -> Result<String, VerifyError> {
    if text.is_empty() || text.len() > MAX_ECHO || text.chars().any(char::is_control) {
        Err(VerifyError::MalformedSignedField(field))
    } else {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_subscription_echoes_the_challenge_for_a_known_token() {
        let query = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";
        let handshake = QueryHandshake::of(&http::Method::GET, Some(query)).unwrap();
        assert!(handshake.needs_secrets());
        let answer = handshake
            .answer(&SecretSet::parse("app-secret,meatyhamhock"))
            .unwrap();
        assert_eq!((answer.status, answer.body.as_str()), (200, "1158201444"));
        assert_eq!(answer.content_type, Some("text/plain; charset=utf-8"));
        assert_eq!(
            handshake.answer(&SecretSet::parse("app-secret")),
            Err(VerifyError::HandshakeRefused)
        );
    }

    #[test]
    fn meta_without_a_token_or_challenge_is_refused() {
        let no_token = QueryHandshake::of(
            &http::Method::GET,
            Some("hub.mode=subscribe&hub.challenge=1"),
        )
        .unwrap();
        assert!(no_token.answer(&SecretSet::parse("s")).is_err());
        let no_challenge = QueryHandshake::of(
            &http::Method::GET,
            Some("hub.mode=subscribe&hub.verify_token=s"),
        )
        .unwrap();
        assert!(no_challenge.answer(&SecretSet::parse("s")).is_err());
    }

    #[test]
    fn graph_validation_echoes_the_decoded_token() {
        let query = "validationToken=Validation%3A+Testing+client+application+reachability+for+subscription+Request-Id%3A+f1c2";
        let handshake = QueryHandshake::of(&http::Method::POST, Some(query)).unwrap();
        assert!(!handshake.needs_secrets());
        let answer = handshake.answer(&SecretSet::default()).unwrap();
        assert_eq!(
            answer.body,
            "Validation: Testing client application reachability for subscription Request-Id: f1c2"
        );
        let control =
            QueryHandshake::of(&http::Method::POST, Some("validationToken=a%0Ab")).unwrap();
        assert!(control.answer(&SecretSet::default()).is_err());
    }

    #[test]
    fn other_queries_are_no_handshake() {
        assert_eq!(QueryHandshake::of(&http::Method::GET, None), None);
        assert_eq!(
            QueryHandshake::of(&http::Method::GET, Some("hub.mode=unsubscribe")),
            None
        );
        assert_eq!(
            QueryHandshake::of(&http::Method::POST, Some("bodySHA256=ab")),
            None
        );
        assert_eq!(
            QueryHandshake::of(&http::Method::GET, Some("validationToken=x")),
            None
        );
    }
}
