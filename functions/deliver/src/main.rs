//! Lambda entry point: settings, the HTTP client and the SSM client are built
//! once per container, then every invocation goes to [`deliver::Deliver::handle`].

use std::convert::Infallible;
use std::time::Duration;

use aws_config::BehaviorVersion;
use deliver::{Deliver, Settings, SnsSignatures};
use hookbridge_aws::certificates::HttpsCertificateSource;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::sns::HttpsSubscriptionConfirmer;
use hookbridge_aws::ssm::{SsmSecretStore, TTL_VARIABLE};
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use lambda_http::{Error, Request, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_lookup(|name| std::env::var(name).ok());
    if let Err(missing) = &settings {
        tracing::error!(%missing, "every request is answered 503 until configured");
    }
    let http = hookbridge_aws::http::client()?;
    let aws = aws_config::defaults(BehaviorVersion::latest()).load().await;
    // OUTBOUND_SECRET_PARAMETER is the parameter's full name: no prefix.
    let mut secrets = SsmSecretStore::new(aws_sdk_ssm::Client::new(&aws), "", SystemClock);
    if let Ok(ttl) = std::env::var(TTL_VARIABLE) {
        secrets = secrets.with_ttl(Duration::from_secs(ttl.trim().parse()?));
    }
    let deliver = Deliver::new(
        settings,
        SnsSignatures(HttpsCertificateSource::new(http.clone())),
        HttpsSubscriptionConfirmer::new(http.clone()),
        HttpWebhookTarget::new(http),
        secrets,
        SystemClock,
    );
    let deliver = &deliver;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(deliver.handle(request).await)
    }))
    .await
}
