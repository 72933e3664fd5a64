//! The destinations' AWS resources: subscriptions of the delivery topic
//! (SNS), tier-2 and dead-letter queues (SQS), alarms (CloudWatch) and the
//! tier-2 queues' event source mappings (Lambda).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, Statistic,
};
use aws_sdk_lambda::types::FunctionResponseType;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use hookbridge_core::metrics::{self, NAMESPACE};
use hookbridge_core::ports::{
    DestinationResources, FailureRateAlarm, QueueAlarm, QueueMapping, ResourceError,
    TopicSubscription,
};

/// SNS lists an unconfirmed subscription with this instead of an ARN.
const PENDING_CONFIRMATION: &str = "PendingConfirmation";
/// SQS refuses to create a queue for 60 s after one of its name was deleted
/// (a destination removed, then restored by a rollback): wait it out.
const RECREATE_PAUSE: Duration = Duration::from_secs(10);
const RECREATE_ATTEMPTS: u32 = 8;
/// An alarm looks at the queue every five minutes.
const ALARM_PERIOD_SECONDS: i32 = 300;
/// One tier-2 message per invocation: each is one attempt, and a slow target
/// never holds another destination's message back.
const MAPPING_BATCH_SIZE: i32 = 1;

#[derive(Debug, Clone)]
pub struct AwsDestinationResources {
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    lambda: aws_sdk_lambda::Client,
}

impl AwsDestinationResources {
    pub fn new(
        sns: aws_sdk_sns::Client,
        sqs: aws_sdk_sqs::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        lambda: aws_sdk_lambda::Client,
    ) -> Self {
        Self {
            sns,
            sqs,
            cloudwatch,
            lambda,
        }
    }

    async fn queue_url(&self, name: &str) -> Result<Option<String>, ResourceError> {
        match self.sqs.get_queue_url().queue_name(name).send().await {
            Ok(found) => Ok(found.queue_url),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_queue_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(error) => Err(failed("sqs:GetQueueUrl", name, &error)),
        }
    }

    async fn create_queue(&self, name: &str) -> Result<String, ResourceError> {
        let mut attempt = 1;
        loop {
            match self.sqs.create_queue().queue_name(name).send().await {
                Ok(created) => return Ok(created.queue_url.unwrap_or_default()),
                Err(error)
                    if attempt < RECREATE_ATTEMPTS
                        && error
                            .as_service_error()
                            .is_some_and(|error| error.is_queue_deleted_recently()) =>
                {
                    tracing::info!(
                        queue = name,
                        "queue deleted less than 60 s ago; waiting to create it again"
                    );
                    attempt += 1;
                    tokio::time::sleep(RECREATE_PAUSE).await;
                }
                Err(error) => return Err(failed("sqs:CreateQueue", name, &error)),
            }
        }
    }
}

fn failed<E: std::error::Error>(call: &str, resource: &str, error: &E) -> ResourceError {
    ResourceError(format!(
        "{call} on {resource} failed: {}",
        DisplayErrorContext(error)
    ))
}

impl DestinationResources for AwsDestinationResources {
    async fn subscriptions(
        &self,
        topic_arn: &str,
    ) -> Result<Vec<TopicSubscription>, ResourceError> {
        let subscriptions = self
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| failed("sns:ListSubscriptionsByTopic", topic_arn, &error))?;
        Ok(subscriptions
            .into_iter()
            .map(|subscription| TopicSubscription {
                arn: subscription
                    .subscription_arn
                    .filter(|arn| arn != PENDING_CONFIRMATION),
                endpoint: subscription.endpoint.unwrap_or_default(),
            })
            .collect())
    }

    async fn subscribe(
        &self,
        topic_arn: &str,
        endpoint: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, ResourceError> {
        let protocol = endpoint
            .split_once("://")
            .map_or("https", |(scheme, _)| scheme);
        let attributes: HashMap<String, String> = attributes.clone().into_iter().collect();
        let subscribed = self
            .sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol(protocol)
            .endpoint(endpoint)
            .set_attributes((!attributes.is_empty()).then_some(attributes))
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|error| failed("sns:Subscribe", endpoint, &error))?;
        Ok(subscribed.subscription_arn.unwrap_or_default())
    }

    async fn set_subscription_attribute(
        &self,
        subscription_arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ResourceError> {
        self.sns
            .set_subscription_attributes()
            .subscription_arn(subscription_arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .map_err(|error| failed("sns:SetSubscriptionAttributes", subscription_arn, &error))?;
        Ok(())
    }

    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), ResourceError> {
        self.sns
            .unsubscribe()
            .subscription_arn(subscription_arn)
            .send()
            .await
            .map_err(|error| failed("sns:Unsubscribe", subscription_arn, &error))?;
        Ok(())
    }

    async fn put_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), ResourceError> {
        // Created bare, then given its attributes: CreateQueue refuses an
        // existing queue whose attributes differ from the ones passed.
        let url = self.create_queue(name).await?;
        self.sqs
            .set_queue_attributes()
            .queue_url(&url)
            .set_attributes(Some(
                attributes
                    .iter()
                    .map(|(name, value)| (QueueAttributeName::from(name.as_str()), value.clone()))
                    .collect(),
            ))
            .send()
            .await
            .map_err(|error| failed("sqs:SetQueueAttributes", name, &error))?;
        Ok(())
    }

    async fn delete_queue(&self, name: &str) -> Result<(), ResourceError> {
        let Some(url) = self.queue_url(name).await? else {
            return Ok(());
        };
        match self.sqs.delete_queue().queue_url(&url).send().await {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_queue_does_not_exist()) =>
            {
                Ok(())
            }
            Err(error) => Err(failed("sqs:DeleteQueue", name, &error)),
        }
    }

    async fn put_alarm(&self, alarm: &QueueAlarm) -> Result<(), ResourceError> {
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(&alarm.name)
            .alarm_description(&alarm.description)
            .namespace("AWS/SQS")
            .metric_name("ApproximateNumberOfMessagesVisible")
            .dimensions(
                Dimension::builder()
                    .name("QueueName")
                    .value(&alarm.queue_name)
                    .build(),
            )
            .statistic(Statistic::Maximum)
            .period(ALARM_PERIOD_SECONDS)
            .evaluation_periods(1)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(0.0)
            // No data point is an empty queue: nothing is wrong.
            .treat_missing_data("notBreaching")
            .alarm_actions(&alarm.notify_topic_arn)
            .ok_actions(&alarm.notify_topic_arn)
            .send()
            .await
            .map_err(|error| failed("cloudwatch:PutMetricAlarm", &alarm.name, &error))?;
        Ok(())
    }

    async fn put_failure_rate_alarm(&self, alarm: &FailureRateAlarm) -> Result<(), ResourceError> {
        let sum_of = |id: &str, metric: metrics::Metric| {
            let dimensions = [
                (metrics::Dimension::Stack, &alarm.stack),
                (metrics::Dimension::Destination, &alarm.destination),
            ]
            .map(|(dimension, value)| {
                Dimension::builder()
                    .name(dimension.name())
                    .value(value)
                    .build()
            });
            MetricDataQuery::builder()
                .id(id)
                .return_data(false)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(NAMESPACE)
                                .metric_name(metric.name())
                                .set_dimensions(Some(dimensions.to_vec()))
                                .build(),
                        )
                        .period(alarm.period_seconds as i32)
                        .stat("Sum")
                        .build(),
                )
                .build()
        };
        let rate = MetricDataQuery::builder()
            .id("rate")
            .label("failed attempts (%)")
            .return_data(true)
            .expression(metrics::failure_rate_expression(alarm.minimum_attempts))
            .build();
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(&alarm.name)
            .alarm_description(&alarm.description)
            .metrics(sum_of("attempts", metrics::Metric::DeliveryAttempts))
            .metrics(sum_of("delivered", metrics::Metric::Delivered))
            .metrics(rate)
            .evaluation_periods(alarm.evaluation_periods as i32)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(f64::from(alarm.threshold_percent))
            // No attempt is no failure.
            .treat_missing_data("notBreaching")
            .alarm_actions(&alarm.notify_topic_arn)
            .ok_actions(&alarm.notify_topic_arn)
            .send()
            .await
            .map_err(|error| failed("cloudwatch:PutMetricAlarm", &alarm.name, &error))?;
        Ok(())
    }

    async fn delete_alarms(&self, names: &[String]) -> Result<(), ResourceError> {
        match self
            .cloudwatch
            .delete_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Reported when a named alarm does not exist (already deleted).
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_resource_not_found()) =>
            {
                Ok(())
            }
            Err(error) => Err(failed("cloudwatch:DeleteAlarms", &names.join(", "), &error)),
        }
    }

    async fn queue_mappings(&self, function_arn: &str) -> Result<Vec<QueueMapping>, ResourceError> {
        let mappings = self
            .lambda
            .list_event_source_mappings()
            .function_name(function_arn)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| failed("lambda:ListEventSourceMappings", function_arn, &error))?;
        Ok(mappings
            .into_iter()
            .filter_map(|mapping| {
                Some(QueueMapping {
                    uuid: mapping.uuid?,
                    queue_arn: mapping.event_source_arn?,
                })
            })
            .collect())
    }

    async fn map_queue(&self, function_arn: &str, queue_arn: &str) -> Result<(), ResourceError> {
        self.lambda
            .create_event_source_mapping()
            .function_name(function_arn)
            .event_source_arn(queue_arn)
            .batch_size(MAPPING_BATCH_SIZE)
            .function_response_types(FunctionResponseType::ReportBatchItemFailures)
            .enabled(true)
            .send()
            .await
            .map_err(|error| failed("lambda:CreateEventSourceMapping", queue_arn, &error))?;
        Ok(())
    }

    async fn unmap_queue(&self, uuid: &str) -> Result<(), ResourceError> {
        match self
            .lambda
            .delete_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(failed("lambda:DeleteEventSourceMapping", uuid, &error)),
        }
    }
}
