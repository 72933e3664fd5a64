//! The IAM actions each adapter's AWS calls need.
//!
//! A function's handler type names its adapters, so the actions its role
//! needs follow from that type (see each function's `iam_actions`), and
//! `tests/tests/template.rs` holds the template's policies to exactly them.

use crate::certificates::HttpsCertificateSource;
use crate::cloudformation::ResponseUploader;
use crate::delivery_status::DynamoDbDeliveryStatus;
use crate::destination_resources::AwsDestinationResources;
use crate::dynamodb::DynamoDbEventStore;
use crate::eventbridge::EventBridgePublisher;
use crate::sns::HttpsSubscriptionConfirmer;
use crate::ssm::SsmSecretStore;
use crate::webhook_target::HttpWebhookTarget;

/// What an adapter may call in AWS, as IAM actions (`service:Action`).
pub trait IamActions {
    fn iam_actions() -> Vec<&'static str>;
}

impl IamActions for EventBridgePublisher {
    fn iam_actions() -> Vec<&'static str> {
        vec!["events:PutEvents"]
    }
}

impl<C> IamActions for SsmSecretStore<C> {
    /// `GetParameter` with decryption of a SecureString: SSM calls KMS on
    /// the caller's behalf.
    fn iam_actions() -> Vec<&'static str> {
        vec!["ssm:GetParameter", "kms:Decrypt"]
    }
}

impl IamActions for DynamoDbEventStore {
    /// The conditional PutItem and the Puts inside TransactWriteItems.
    fn iam_actions() -> Vec<&'static str> {
        vec!["dynamodb:PutItem"]
    }
}

impl<C> IamActions for DynamoDbDeliveryStatus<C> {
    /// What recording an attempt calls (the read of the item, the index's
    /// UpdateItem, the conditional PutItem). Reading an event's records
    /// (`hookbridge status --aws`, the operator's credentials) needs
    /// `dynamodb:GetItem` and `dynamodb:BatchGetItem`; no function does it.
    fn iam_actions() -> Vec<&'static str> {
        vec![
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
        ]
    }
}

/// Plain HTTPS to SNS's public certificate URLs: no IAM.
impl IamActions for HttpsCertificateSource {
    fn iam_actions() -> Vec<&'static str> {
        Vec::new()
    }
}

/// The SubscribeURL is a presigned GET: no IAM.
impl IamActions for HttpsSubscriptionConfirmer {
    fn iam_actions() -> Vec<&'static str> {
        Vec::new()
    }
}

/// The target is outside AWS's authorisation: no IAM.
impl IamActions for HttpWebhookTarget {
    fn iam_actions() -> Vec<&'static str> {
        Vec::new()
    }
}

impl IamActions for AwsDestinationResources {
    /// Queues are found by name (GetQueueUrl) before they are deleted.
    fn iam_actions() -> Vec<&'static str> {
        vec![
            "sns:ListSubscriptionsByTopic",
            "sns:Subscribe",
            "sns:SetSubscriptionAttributes",
            "sns:Unsubscribe",
            "sqs:CreateQueue",
            "sqs:SetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:DeleteQueue",
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "lambda:ListEventSourceMappings",
            "lambda:CreateEventSourceMapping",
            "lambda:DeleteEventSourceMapping",
        ]
    }
}

/// The response URL is a presigned S3 PUT: no IAM.
impl IamActions for ResponseUploader {
    fn iam_actions() -> Vec<&'static str> {
        Vec::new()
    }
}
