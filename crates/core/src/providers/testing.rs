//! What the providers' tests share: a configured source and a request run
//! through ingest's whole rule.

use std::time::{Duration, UNIX_EPOCH};

use crate::config::{SourceConfig, Sources};
use crate::envelope::Envelope;
use crate::ingest::{IngestError, Ingested, Prepared, Webhook, prepare};
use crate::secret::SecretSet;

/// The URL the tests' requests arrive on.
pub const URL: &str = "https://hooks.example.com/webhooks/s";

/// Source `s` configured with `options` (a JSON object's text).
pub fn source(options: &str) -> SourceConfig {
    let sources = Sources::from_json(&format!(r#"{{"s":{options}}}"#)).unwrap();
    sources.get("s").unwrap().clone()
}

/// The request, POSTed to `url`, through `prepare` at unix time `now`.
pub fn run_url(
    config: &SourceConfig,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    secrets: &str,
    now: u64,
) -> Result<Ingested, IngestError> {
    let headers = hookbridge_testkit::header_map(headers);
    let webhook = Webhook {
        source: "s",
        config,
        method: &http::Method::POST,
        url,
        headers: &headers,
        body,
    };
    prepare(
        &webhook,
        &SecretSet::parse(secrets),
        UNIX_EPOCH + Duration::from_secs(now),
        "corr",
        "payloads",
    )
}

/// As [`run_url`], to [`URL`].
pub fn run(
    config: &SourceConfig,
    headers: &[(&str, &str)],
    body: &[u8],
    secrets: &str,
    now: u64,
) -> Result<Ingested, IngestError> {
    run_url(config, URL, headers, body, secrets, now)
}

/// The event of a run that must be one.
pub fn event(result: Result<Ingested, IngestError>) -> Prepared {
    match result {
        Ok(Ingested::Event(prepared)) => prepared,
        other => panic!("not an event: {other:?}"),
    }
}

pub fn envelope(prepared: &Prepared) -> Envelope {
    serde_json::from_str(&prepared.bus_event.detail).unwrap()
}

/// The 401 code of a run that must be refused.
pub fn refused(result: Result<Ingested, IngestError>) -> &'static str {
    match result {
        Err(error) if error.status() == 401 => error.code(),
        other => panic!("not refused with 401: {other:?}"),
    }
}
