//! [`WebhookTarget`] over HTTP(S) with the shared client.

use hookbridge_core::outbound::OutboundWebhook;
use hookbridge_core::ports::{TargetError, WebhookTarget};

/// POSTs signed webhooks; the client's timeout bounds every attempt.
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
    async fn post(&self, url: &str, webhook: &OutboundWebhook) -> Result<u16, TargetError> {
        let mut request = self.client.post(url);
        for (name, value) in webhook.headers() {
            request = request.header(name, value);
        }
        let response = request
            .body(webhook.body().to_owned())
            .send()
            .await
            .map_err(|error| {
                // The URL may carry credentials of the target; keep it out of logs.
                let error = error.without_url();
                if error.is_timeout() {
                    TargetError::Timeout
                } else if error.is_connect() {
                    TargetError::Connection(error.to_string())
                } else {
                    TargetError::Request(error.to_string())
                }
            })?;
        Ok(response.status().as_u16())
    }
}
