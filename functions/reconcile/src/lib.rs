//! The reconcile function: a CloudFormation custom resource that gives every
//! declared destination its own SNS subscription of the delivery topic (its
//! filter, delivery policy and throttle), dead-letter queue and alarm, and
//! removes those of destinations no longer declared.
//!
//! CloudFormation cannot loop over the `Destinations` JSON parameter, so
//! this function does, on every deploy that changes it
//! (docs/architecture.md, "Destinations in AWS"). Every step converges
//! (creating what exists changes nothing), so a retried or rolled-back
//! deploy ends where its properties say. Subscriptions are found by listing
//! the topic, keyed by endpoint, so there is never a second one for a
//! destination; queues and alarms by their names, which derive from the
//! stack's name and the destination's.

mod desired;
mod lambda;
mod request;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{DestinationResources, ResourceError, TopicSubscription};

pub use desired::{
    DESTINATION_QUERY, Desired, MAX_QUEUE_NAME_LENGTH, Properties, PropertiesError, alarm_name,
    destination_of, failure_alarm_name, queue_name,
};
pub use lambda::{AwsReconciler, respond_before};
pub use request::{CustomResourceRequest, CustomResourceResponse, RequestType, ResponseStatus};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Properties(#[from] PropertiesError),
    #[error("destination `{destination}`: {reason}")]
    Destination {
        destination: DestinationName,
        reason: String,
    },
    #[error(transparent)]
    Resource(#[from] ResourceError),
}

/// The custom resource's handler, over the AWS resources it manages.
#[derive(Debug, Clone)]
pub struct Reconciler<R> {
    resources: R,
}

impl<R: DestinationResources> Reconciler<R> {
    pub fn new(resources: R) -> Self {
        Self { resources }
    }

    /// Carries out the request and says how it went; CloudFormation reads
    /// the answer from the response URL (see [`respond_before`]).
    pub async fn handle(&self, request: &CustomResourceRequest) -> CustomResourceResponse {
        let outcome = match request.request_type {
            RequestType::Create | RequestType::Update => self.apply(request).await,
            RequestType::Delete => self.remove(request).await,
        };
        match outcome {
            Ok(()) => {
                tracing::info!(
                    request_id = %request.request_id,
                    request_type = ?request.request_type,
                    "destinations reconciled"
                );
                request.response(ResponseStatus::Success, None)
            }
            Err(error) => {
                tracing::error!(
                    request_id = %request.request_id,
                    request_type = ?request.request_type,
                    %error,
                    "destinations not reconciled; CloudFormation rolls the deploy back"
                );
                request.response(ResponseStatus::Failed, Some(error.to_string()))
            }
        }
    }

    /// Create or Update: every declared destination gets its queue, alarm and
    /// subscription; then what the previous properties (or the topic) have
    /// beyond them goes. Additions come first, so a failure half-way leaves
    /// extra resources, never missing ones.
    async fn apply(&self, request: &CustomResourceRequest) -> Result<(), ReconcileError> {
        let desired = Properties::parse(request.resource_properties.clone())?.desired()?;
        let subscriptions = self.resources.subscriptions(&desired.topic_arn).await?;
        let mut endpoints = BTreeSet::new();
        for destination in desired.destinations.iter() {
            let name = &destination.name;
            self.resources
                .put_queue(&desired.queue_name(name), &desired.queue_attributes(name))
                .await?;
            self.resources.put_alarm(&desired.alarm(name)).await?;
            self.resources
                .put_failure_rate_alarm(&desired.failure_rate_alarm(name))
                .await?;
            let attributes = desired
                .subscription_attributes(destination)
                .map_err(|error| ReconcileError::Destination {
                    destination: name.clone(),
                    reason: format!("its delivery policy is invalid: {error}"),
                })?;
            let endpoint = desired.endpoint_of(name);
            self.subscribe(request, &desired, &subscriptions, &endpoint, &attributes)
                .await?;
            tracing::info!(
                request_id = %request.request_id,
                destination = %name,
                queue = desired.queue_name(name),
                "destination in place"
            );
            endpoints.insert(endpoint);
        }
        self.unsubscribe_all_but(request, &desired.topic_arn, &subscriptions, &endpoints)
            .await?;

        // Queues and alarms of destinations the previous deploy declared.
        // Unreadable previous properties (the failed deploy being rolled
        // back) created nothing.
        if let Some(previous) = request
            .old_resource_properties
            .clone()
            .and_then(|old| Properties::parse(old).ok())
        {
            let previous_names = declared_names(&previous);
            for name in previous_names.iter().filter(|name| {
                desired.destinations.get(name.as_str()).is_none()
                    || previous.name_prefix != desired.name_prefix
            }) {
                self.delete_queue_and_alarm(request, &previous.name_prefix, name)
                    .await?;
            }
        }
        Ok(())
    }

    /// Delete (the stack, or a Create that failed): every subscription this
    /// resource manages on the topic, and the queue and alarm of every
    /// destination its properties declare.
    async fn remove(&self, request: &CustomResourceRequest) -> Result<(), ReconcileError> {
        let Ok(properties) = Properties::parse(request.resource_properties.clone()) else {
            tracing::warn!(
                request_id = %request.request_id,
                "properties unreadable: the failed Create made nothing to delete"
            );
            return Ok(());
        };
        let subscriptions = self.resources.subscriptions(&properties.topic_arn).await?;
        self.unsubscribe_all_but(
            request,
            &properties.topic_arn,
            &subscriptions,
            &BTreeSet::new(),
        )
        .await?;
        for name in declared_names(&properties) {
            self.delete_queue_and_alarm(request, &properties.name_prefix, &name)
                .await?;
        }
        Ok(())
    }

    /// Subscribes the endpoint, or brings its existing subscription's
    /// attributes up to date.
    async fn subscribe(
        &self,
        request: &CustomResourceRequest,
        desired: &Desired,
        subscriptions: &[TopicSubscription],
        endpoint: &str,
        attributes: &[(String, String)],
    ) -> Result<(), ResourceError> {
        let Some(existing) = subscriptions.iter().find(|s| s.endpoint == endpoint) else {
            let attributes: BTreeMap<String, String> = attributes.iter().cloned().collect();
            let arn = self
                .resources
                .subscribe(&desired.topic_arn, endpoint, &attributes)
                .await?;
            tracing::info!(request_id = %request.request_id, endpoint, subscription_arn = arn, "subscribed");
            return Ok(());
        };
        let arn = self.arn_of(&desired.topic_arn, existing).await?;
        for (name, value) in attributes {
            self.resources
                .set_subscription_attribute(&arn, name, value)
                .await?;
        }
        tracing::info!(request_id = %request.request_id, endpoint, subscription_arn = arn, "subscription updated");
        Ok(())
    }

    /// Unsubscribes every managed subscription (one with a destination
    /// query) whose endpoint is not in `keep`: removed destinations, and
    /// those of a previous function URL.
    async fn unsubscribe_all_but(
        &self,
        request: &CustomResourceRequest,
        topic_arn: &str,
        subscriptions: &[TopicSubscription],
        keep: &BTreeSet<String>,
    ) -> Result<(), ResourceError> {
        for subscription in subscriptions {
            if destination_of(&subscription.endpoint).is_none()
                || keep.contains(&subscription.endpoint)
            {
                continue;
            }
            let arn = self.arn_of(topic_arn, subscription).await?;
            self.resources.unsubscribe(&arn).await?;
            tracing::info!(
                request_id = %request.request_id,
                endpoint = subscription.endpoint,
                subscription_arn = arn,
                "unsubscribed"
            );
        }
        Ok(())
    }

    /// A listed subscription's ARN; SNS lists an unconfirmed one without
    /// it, and subscribing its endpoint again (no attributes) returns it.
    async fn arn_of(
        &self,
        topic_arn: &str,
        subscription: &TopicSubscription,
    ) -> Result<String, ResourceError> {
        match &subscription.arn {
            Some(arn) => Ok(arn.clone()),
            None => {
                self.resources
                    .subscribe(topic_arn, &subscription.endpoint, &BTreeMap::new())
                    .await
            }
        }
    }

    /// The alarms first, so no alarm is left watching a missing queue.
    async fn delete_queue_and_alarm(
        &self,
        request: &CustomResourceRequest,
        name_prefix: &str,
        name: &DestinationName,
    ) -> Result<(), ResourceError> {
        self.resources
            .delete_alarms(&[
                alarm_name(name_prefix, name),
                failure_alarm_name(name_prefix, name),
            ])
            .await?;
        self.resources
            .delete_queue(&queue_name(name_prefix, name))
            .await?;
        tracing::info!(
            request_id = %request.request_id,
            destination = %name,
            queue = queue_name(name_prefix, name),
            "destination removed with its dead-letter queue"
        );
        Ok(())
    }
}

/// The destination names a set of properties declares; none when they do
/// not parse (then nothing was made for them).
fn declared_names(properties: &Properties) -> Vec<DestinationName> {
    properties
        .destinations()
        .map(|destinations| {
            destinations
                .iter()
                .map(|destination| destination.name.clone())
                .collect()
        })
        .unwrap_or_default()
}
