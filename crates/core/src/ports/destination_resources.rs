//! What giving each destination its own delivery in AWS needs: the delivery
//! topic's subscriptions, a tier-2 queue and a final dead-letter queue per
//! destination, an alarm on the final one, and the mapping of each tier-2
//! queue to the redeliver function. The reconcile function converges them
//! on every deploy.

use std::collections::BTreeMap;
use std::future::Future;

/// One subscription of the delivery topic, as SNS lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSubscription {
    /// `None` while the endpoint has not confirmed it (SNS lists
    /// `PendingConfirmation` instead of an ARN).
    pub arn: Option<String>,
    pub endpoint: String,
}

/// An alarm on the share of one destination's delivery attempts that
/// failed, computed from deliver's own metrics ([`crate::metrics`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRateAlarm {
    pub name: String,
    pub description: String,
    /// The `Stack` dimension of the metrics.
    pub stack: String,
    /// The `Destination` dimension of the metrics.
    pub destination: String,
    /// Fires above this percentage of failed attempts…
    pub threshold_percent: u32,
    /// …with a period of fewer attempts counted as this many…
    pub minimum_attempts: u32,
    /// …per period of this many seconds…
    pub period_seconds: u32,
    /// …for this many periods in a row.
    pub evaluation_periods: u32,
    pub notify_topic_arn: String,
}

/// An alarm on a dead-letter queue holding any message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAlarm {
    pub name: String,
    pub queue_name: String,
    pub description: String,
    /// The SNS topic notified when the alarm fires and clears.
    pub notify_topic_arn: String,
}

/// One SQS event source mapping of a function: the function is invoked with
/// the queue's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMapping {
    pub uuid: String,
    pub queue_arn: String,
}

/// An AWS call failed; the message names the call and the resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResourceError(pub String);

/// The AWS resources of the destinations (SNS, SQS, CloudWatch, Lambda).
/// Subscription, queue and alarm attributes are SNS's, SQS's own names.
pub trait DestinationResources: Send + Sync {
    /// Every subscription of the topic.
    fn subscriptions(
        &self,
        topic_arn: &str,
    ) -> impl Future<Output = Result<Vec<TopicSubscription>, ResourceError>> + Send;

    /// Subscribes `endpoint` (its scheme is the protocol) with `attributes`
    /// and returns the subscription's ARN, also while it awaits
    /// confirmation. SNS keeps one subscription per topic and endpoint: for
    /// one that exists, call this without attributes to learn its ARN.
    fn subscribe(
        &self,
        topic_arn: &str,
        endpoint: &str,
        attributes: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String, ResourceError>> + Send;

    fn set_subscription_attribute(
        &self,
        subscription_arn: &str,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    fn unsubscribe(
        &self,
        subscription_arn: &str,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Creates the queue or, when it exists, sets `attributes` on it.
    fn put_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Deletes the queue and what it holds; a queue that does not exist is
    /// not an error.
    fn delete_queue(&self, name: &str) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Creates or replaces the alarm.
    fn put_alarm(
        &self,
        alarm: &QueueAlarm,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Creates or replaces the alarm.
    fn put_failure_rate_alarm(
        &self,
        alarm: &FailureRateAlarm,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Deletes the alarms; names that do not exist are not an error.
    fn delete_alarms(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Every SQS event source mapping of the function.
    fn queue_mappings(
        &self,
        function_arn: &str,
    ) -> impl Future<Output = Result<Vec<QueueMapping>, ResourceError>> + Send;

    /// Maps the queue to the function: one message per invocation, each
    /// failure reported by the function for its message alone
    /// (`ReportBatchItemFailures`).
    fn map_queue(
        &self,
        function_arn: &str,
        queue_arn: &str,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Deletes the mapping; one that does not exist is not an error.
    fn unmap_queue(&self, uuid: &str) -> impl Future<Output = Result<(), ResourceError>> + Send;
}
