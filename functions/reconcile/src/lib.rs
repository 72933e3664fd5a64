//! The reconcile function: a CloudFormation custom resource that gives every
//! declared destination its own SNS subscription of the delivery topic (its
//! filter, delivery policy and throttle), tier-2 queue mapped to the
//! redeliver function, final dead-letter queue and alarm, and removes those
//! of destinations no longer declared.
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
#[cfg(feature = "aws")]
mod lambda;
mod request;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use hookbridge_aws::dead_letters::tier2_queue_name;
use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{
    DestinationResources, QueueMapping, ResourceError, TopicSubscription,
};

pub use desired::{
    DESTINATION_QUERY, Desired, MAX_QUEUE_NAME_LENGTH, Properties, PropertiesError,
    TIER2_MAX_RECEIVE_COUNT, alarm_name, destination_of, failure_alarm_name, queue_name,
};
#[cfg(feature = "aws")]
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

    /// Create or Update: every declared destination gets its queues, alarm,
    /// mapping and subscription; then what the previous properties (or the
    /// topic, or the function's mappings) have beyond them goes. Additions
    /// come first, so a failure half-way leaves extra resources, never
    /// missing ones; each queue exists before anything redrives to it.
    async fn apply(&self, request: &CustomResourceRequest) -> Result<(), ReconcileError> {
        let desired = Properties::parse(request.resource_properties.clone())?.desired()?;
        let subscriptions = self.resources.subscriptions(&desired.topic_arn).await?;
        let mappings = match &desired.redeliver_function_arn {
            Some(function_arn) => self.resources.queue_mappings(function_arn).await?,
            None => Vec::new(),
        };
        let mut endpoints = BTreeSet::new();
        let mut mapped_queues = BTreeSet::new();
        for destination in desired.destinations.iter() {
            let name = &destination.name;
            self.resources
                .put_queue(&desired.queue_name(name), &desired.queue_attributes(name))
                .await?;
            self.resources.put_alarm(&desired.alarm(name)).await?;
            self.resources
                .put_failure_rate_alarm(&desired.failure_rate_alarm(name))
                .await?;
            if let Some(function_arn) = &desired.redeliver_function_arn {
                self.resources
                    .put_queue(
                        &desired.tier2_queue_name(name),
                        &desired.tier2_queue_attributes(name),
                    )
                    .await?;
                let queue_arn = desired.queue_arn(&desired.tier2_queue_name(name));
                if !mappings
                    .iter()
                    .any(|mapping| mapping.queue_arn == queue_arn)
                {
                    self.resources.map_queue(function_arn, &queue_arn).await?;
                    tracing::info!(request_id = %request.request_id, destination = %name, queue_arn, "tier-2 queue mapped to redeliver");
                }
                mapped_queues.insert(queue_arn);
            }
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
        self.unmap_all_but(request, &mappings, &mapped_queues)
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
        let function_arn = properties.redeliver_function_arn.trim();
        if !function_arn.is_empty() {
            let mappings = self.resources.queue_mappings(function_arn).await?;
            self.unmap_all_but(request, &mappings, &BTreeSet::new())
                .await?;
        }
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

    /// Deletes every mapping of the redeliver function whose queue is not in
    /// `keep` (removed destinations, or queues of a previous name prefix).
    /// Before the queues go: a mapping never outlives its queue.
    async fn unmap_all_but(
        &self,
        request: &CustomResourceRequest,
        mappings: &[QueueMapping],
        keep: &BTreeSet<String>,
    ) -> Result<(), ResourceError> {
        for mapping in mappings.iter().filter(|m| !keep.contains(&m.queue_arn)) {
            self.resources.unmap_queue(&mapping.uuid).await?;
            tracing::info!(request_id = %request.request_id, queue_arn = mapping.queue_arn, "tier-2 queue unmapped");
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

    /// The alarms first, so no alarm is left watching a missing queue; the
    /// tier-2 queue before the final one it redrives to.
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
            .delete_queue(&tier2_queue_name(name_prefix, name))
            .await?;
        self.resources
            .delete_queue(&queue_name(name_prefix, name))
            .await?;
        tracing::info!(
            request_id = %request.request_id,
            destination = %name,
            queue = queue_name(name_prefix, name),
            "destination removed with its tier-2 and dead-letter queues"
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
