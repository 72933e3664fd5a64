//! Confirming an SNS subscription by visiting its `SubscribeURL`.

use hookbridge_core::ports::{ConfirmError, SubscriptionConfirmer};
use hookbridge_core::sns::SnsUrl;

/// Confirms by GET on the subscribe URL, which the core has already checked
/// to be on an SNS endpoint (so no request ever goes to another host).
#[derive(Debug, Clone)]
pub struct HttpsSubscriptionConfirmer {
    client: reqwest::Client,
}

impl HttpsSubscriptionConfirmer {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl SubscriptionConfirmer for HttpsSubscriptionConfirmer {
    async fn confirm(&self, subscribe_url: &SnsUrl) -> Result<(), ConfirmError> {
        let response = self
            .client
            .get(subscribe_url.as_str())
            .send()
            .await
            .map_err(|error| ConfirmError(error.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(ConfirmError(format!(
                "SNS answered HTTP {}",
                status.as_u16()
            )))
        }
    }
}
