//! The local console: the page at `GET /` (static assets built into the
//! binary), its JSON API under `/api/`, and what it keeps of each webhook
//! (an accepted event's masked headers, a refused one in the refusal ring).

mod api;
mod reason;
mod redact;

use std::time::SystemTime;

use hookbridge_core::ingest::IngestError;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use ingest::{Answer, Decided};

use super::store::LocalStore;
use super::store::refusals::{NewRefusal, record_refusal};

pub use api::{ApiRequest, answer};
use reason::refusal_reason;
use redact::{body_excerpt, masked_headers};

/// Nothing the page loads may come from off the machine, and it may not be
/// framed: a strict policy for every console asset.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console's state: the store it reads and writes, the configured
/// sources (a refusal for an unknown source names them), the headers they
/// sign in (masked like every secret-bearing header) and the host the
/// server listens on.
#[derive(Debug, Clone)]
pub struct Console {
    pub store: LocalStore,
    pub sources: Vec<String>,
    pub signature_headers: Vec<String>,
    pub listen_host: String,
}

impl Console {
    /// Whether the request's `Host` names this server by IP address, as
    /// `localhost`, or as the host it listens on. A page whose own DNS name
    /// was rebound to this machine names its own host, so it cannot read
    /// the console.
    pub fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let name = match host.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        name.parse::<std::net::IpAddr>().is_ok()
            || name.eq_ignore_ascii_case("localhost")
            || name.eq_ignore_ascii_case(self.listen_host.trim_matches(['[', ']']))
    }

    /// The masked request headers the console shows, as stored (JSON
    /// `[[name, value], …]`): the edge hands them to the local bus
    /// ([`super::bus::REQUEST_HEADERS`]), which commits them with the event.
    pub fn masked_headers_json(&self, headers: &HeaderMap) -> Option<String> {
        serde_json::to_string(&masked_headers(headers, &self.signature_headers)).ok()
    }

    /// Keeps what the console shows of a refused webhook: the refusal with
    /// its reason (an accepted event's headers were committed with it). A
    /// failure to keep it is logged; the webhook's answer does not change.
    pub async fn record(&self, decided: &Decided, headers: &HeaderMap, body: &[u8]) {
        let outcome = match &decided.decision {
            Ok(Answer::Accepted(_) | Answer::Handshake(_)) => return,
            Err(error) => {
                let refusal = self.refusal(error, decided, headers, body);
                self.store
                    .write(move |connection| record_refusal(connection, &refusal))
                    .await
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(
                correlation_id = decided.correlation_id,
                %error,
                "the console could not keep this webhook's record"
            );
        }
    }

    /// Keeps a request the edge refused before ingest ran (too large, too
    /// slow): its body was never read whole, so no excerpt.
    pub async fn record_edge_refusal(
        &self,
        source: &str,
        (status, code): (StatusCode, &'static str),
        reason: String,
        correlation_id: &str,
        headers: &HeaderMap,
    ) {
        let refusal = NewRefusal {
            at: SystemTime::now(),
            source: source.to_owned(),
            status: status.as_u16(),
            code,
            reason,
            correlation_id: correlation_id.to_owned(),
            headers: masked_headers(headers, &self.signature_headers),
            body_excerpt: None,
        };
        if let Err(error) = self
            .store
            .write(move |connection| record_refusal(connection, &refusal))
            .await
        {
            tracing::warn!(correlation_id, %error, "the console could not keep this refusal");
        }
    }

    fn refusal(
        &self,
        error: &IngestError,
        decided: &Decided,
        headers: &HeaderMap,
        body: &[u8],
    ) -> NewRefusal {
        let known = !matches!(error, IngestError::UnknownSource(_));
        NewRefusal {
            at: SystemTime::now(),
            source: decided.source.clone(),
            status: error.status(),
            code: error.code(),
            reason: refusal_reason(error, &decided.source, &self.sources),
            correlation_id: decided.correlation_id.clone(),
            headers: masked_headers(headers, &self.signature_headers),
            // A request to an unknown source may be anyone's: keep none of it.
            body_excerpt: known.then(|| body_excerpt(body)).flatten(),
        }
    }
}

/// A file of the page, by path: `/` is the page itself.
pub fn asset(path: &str) -> Option<Response<String>> {
    let (content_type, body) = match path {
        "/" | "/index.html" => (
            "text/html; charset=utf-8",
            include_str!("assets/index.html"),
        ),
        "/console.css" => (
            "text/css; charset=utf-8",
            include_str!("assets/console.css"),
        ),
        "/console.js" => (
            "text/javascript; charset=utf-8",
            include_str!("assets/console.js"),
        ),
        _ => return None,
    };
    let mut response = Response::new(body.to_owned());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_localhost_and_the_listen_host_name_the_console() {
        let console = Console {
            store: LocalStore::in_memory(),
            sources: Vec::new(),
            signature_headers: Vec::new(),
            listen_host: "devbox.lan".to_owned(),
        };
        let allowed = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, host.parse().unwrap());
            console.host_allowed(&headers)
        };
        for host in [
            "127.0.0.1:3000",
            "[::1]:3000",
            "localhost:3000",
            "10.0.0.5",
            "devbox.lan:3000",
        ] {
            assert!(allowed(host), "{host}");
        }
        for host in [
            "rebound.attacker.example:3000",
            "localhost.attacker.example",
        ] {
            assert!(!allowed(host), "{host}");
        }
        assert!(!console.host_allowed(&HeaderMap::new()), "no Host at all");
    }
}
