//! [`WebhookTarget`] over HTTP(S) with the shared client.

use std::time::Duration;

use hookbridge_core::delivery_status::{RESPONSE_EXCERPT_BYTES, response_excerpt};
use hookbridge_core::outbound::OutboundWebhook;
use hookbridge_core::ports::{TargetAnswer, TargetError, WebhookTarget};

/// POSTs signed webhooks; the client's timeout bounds every attempt unless
/// the destination sets its own.
#[derive(Debug, Clone)]
pub struct HttpWebhookTarget {
    client: reqwest::Client,
}

impl HttpWebhookTarget {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl WebhookTarget for HttpWebhookTarget {
    async fn post(
        &self,
        url: &str,
        webhook: &OutboundWebhook,
        timeout: Option<Duration>,
    ) -> Result<TargetAnswer, TargetError> {
        let mut request = self.client.post(url);
        for (name, value) in webhook.headers() {
            request = request.header(name, value);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let mut response = request
            .body(webhook.body().to_owned())
            .send()
            .await
            .map_err(target_error)?;
        let status = response.status().as_u16();
        // A value that is not visible ASCII is no date nor number either.
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        // Only the excerpt is kept: read no further than it, and let a body
        // that fails midway cost the excerpt, not the answer.
        let mut head = Vec::new();
        while head.len() < RESPONSE_EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(TargetAnswer {
            status,
            excerpt: response_excerpt(&head),
            retry_after,
        })
    }
}

fn target_error(error: reqwest::Error) -> TargetError {
    // The URL may carry credentials of the target; keep it out of logs.
    let error = error.without_url();
    if error.is_timeout() {
        TargetError::Timeout
    } else if error.is_connect() {
        TargetError::Connection(error.to_string())
    } else {
        TargetError::Request(error.to_string())
    }
}
