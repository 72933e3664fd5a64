//! Ports: what the domain needs from the outside world, as traits, each with
//! the error it reports. The AWS adapters (hookbridge-aws) and the local ones
//! (the CLI) implement them; hookbridge-testkit holds in-memory doubles for
//! tests. Each port has one name, `hookbridge_core::ports::<Trait>`: the
//! files below only group them by what they reach.

mod bus;
mod clock;
mod dead_letters;
mod delivery_status;
mod destination_resources;
mod event_store;
mod metrics;
mod payload_store;
mod retry_queue;
mod secrets;
mod sns;
mod webhook_target;

pub use bus::{BusEvent, EventPublisher, PublishError};
pub use clock::Clock;
pub use dead_letters::{DeadLetterError, FinalDeadLetters};
pub use delivery_status::{DeliveryStatusError, DeliveryStatusStore};
pub use destination_resources::{
    DestinationResources, FailureRateAlarm, QueueAlarm, QueueMapping, ResourceError,
    TopicSubscription,
};
pub use event_store::{EventStore, EventStoreError};
pub use metrics::MetricsRecorder;
pub use payload_store::{PayloadStore, PayloadStoreError};
pub use retry_queue::{RetryQueue, RetryQueueError};
pub use secrets::{SecretStore, SecretStoreError};
pub use sns::{
    Authenticator, CertificateError, CertificateSource, ConfirmError, SubscriptionConfirmer,
    Unauthenticated,
};
pub use webhook_target::{TargetAnswer, TargetError, WebhookTarget};
