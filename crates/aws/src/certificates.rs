//! [`CertificateSource`] over HTTPS, cached per container by URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use hookbridge_core::ports::{CertificateError, CertificateSource};
use hookbridge_core::sns::{CertificateUrl, SigningCertificate};

/// SNS certificates are about 2 KiB; anything far larger is not one.
const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
/// SNS signs with a handful of certificates at a time; a bound keeps a flood
/// of distinct (but genuine) URLs from growing the cache without end.
const MAX_CACHED_CERTIFICATES: usize = 16;

/// Fetches SNS signing certificates and keeps them for the container's life.
/// Only URLs already checked to be SNS's own ([`CertificateUrl`]) reach it.
#[derive(Debug)]
pub struct HttpsCertificateSource {
    client: reqwest::Client,
    cache: Mutex<HashMap<CertificateUrl, Arc<SigningCertificate>>>,
}

impl HttpsCertificateSource {
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, url: &CertificateUrl) -> Option<Arc<SigningCertificate>> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            .cloned()
    }

    fn remember(&self, url: &CertificateUrl, certificate: &Arc<SigningCertificate>) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_CERTIFICATES {
            cache.clear();
        }
        cache.insert(url.clone(), Arc::clone(certificate));
    }
}

/// Sends `request` (a GET of a certificate URL) and reads the certificate
/// from the answer; no answer at all is `Unavailable`.
pub async fn fetch_certificate(
    request: reqwest::RequestBuilder,
) -> Result<SigningCertificate, CertificateError> {
    let response = request
        .send()
        .await
        .map_err(|error| CertificateError::Unavailable(error.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|error| CertificateError::Unavailable(error.to_string()))?;
    certificate_from_response(status, &body)
}

/// What an answer from a certificate URL means. A server error may pass; any
/// other failure means the URL names no certificate, so the message that
/// pointed at it cannot be genuine.
fn certificate_from_response(
    status: u16,
    body: &[u8],
) -> Result<SigningCertificate, CertificateError> {
    match status {
        200..=299 if body.len() <= MAX_CERTIFICATE_BYTES => SigningCertificate::from_pem(body),
        200..=299 => Err(CertificateError::Invalid(format!(
            "{} bytes is too large",
            body.len()
        ))),
        429 | 500..=599 => Err(CertificateError::Unavailable(format!("HTTP {status}"))),
        _ => Err(CertificateError::Invalid(format!("HTTP {status}"))),
    }
}

impl CertificateSource for HttpsCertificateSource {
    async fn certificate(
        &self,
        url: &CertificateUrl,
    ) -> Result<Arc<SigningCertificate>, CertificateError> {
        if let Some(certificate) = self.cached(url) {
            return Ok(certificate);
        }
        let certificate = Arc::new(fetch_certificate(self.client.get(url.as_str())).await?);
        tracing::info!(url = %url, "fetched SNS signing certificate");
        self.remember(url, &certificate);
        Ok(certificate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/testdata/sns/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
    );

    #[test]
    fn a_served_certificate_is_parsed() {
        let pem = std::fs::read(PEM).unwrap();
        assert_eq!(
            certificate_from_response(200, &pem),
            SigningCertificate::from_pem(&pem)
        );
    }

    #[test]
    fn server_errors_are_unavailable() {
        for status in [429, 500, 503] {
            assert!(
                matches!(
                    certificate_from_response(status, b""),
                    Err(CertificateError::Unavailable(_))
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn anything_else_is_invalid() {
        for (status, body) in [
            (404, &b"not found"[..]),
            (403, b""),
            (301, b""),
            (200, b"<html>"),
        ] {
            assert!(
                matches!(
                    certificate_from_response(status, body),
                    Err(CertificateError::Invalid(_))
                ),
                "{status}"
            );
        }
        let huge = vec![b'A'; MAX_CERTIFICATE_BYTES + 1];
        assert!(matches!(
            certificate_from_response(200, &huge),
            Err(CertificateError::Invalid(_))
        ));
    }
}
