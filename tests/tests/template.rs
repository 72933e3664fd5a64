//! template.yaml gives every function what its code assumes: each
//! environment variable the function's settings loader reads is set (and its
//! value, resolved from the parameter defaults, is accepted by the loader),
//! and its inline policy allows exactly the AWS calls its adapters make, on
//! the resources its variables name. The reconcile function, a custom
//! resource configured by its properties rather than variables, gets exactly
//! what those properties describe, and its policy reaches only the
//! subscriptions, queues and alarms it manages. The file is only read: no
//! emulator is needed.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use hookbridge_aws::iam::IamActions;
use hookbridge_aws::ssm::TTL_VARIABLE;
use hookbridge_core::delivery_policy::DeliveryPolicy;
use serde_yaml::Value;

const TEMPLATE: &str = include_str!("../../template.yaml");

/// Variables a function reads but may leave unset: the code has a default.
const OPTIONAL_VARIABLES: &[&str] = &[TTL_VARIABLE];

/// Parameters as a deploy with several destinations sets them; every other
/// parameter keeps its default.
const DEPLOYED_PARAMETERS: &[(&str, &str)] = &[(
    "Destinations",
    r#"{"billing":{"url":"https://billing.example/hooks","sources":["stripe"],"types":["invoice.*"],"rate_per_second":20},"crm":{"url":"https://crm.example/hooks","types":["customer.*"]}}"#,
)];

/// SSM parameter ARNs as the template writes them, before the parameter's
/// own name (which starts with `/`).
const SSM_PARAMETER_ARN: &str =
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter";
const ACCOUNT_KMS_KEYS: &str = "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*";
const SSM_SERVICE: &str = "ssm.${AWS::Region}.amazonaws.com";

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE).expect("template.yaml is YAML (short tags become tagged values)")
}

/// A short-tag value as its source text (`!Ref EventBus`), `None` for
/// anything else.
fn tag_text(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => Some(format!("{} {}", tagged.tag, tagged.value.as_str()?)),
        _ => None,
    }
}

/// The logical id in a `!Ref Name` value.
fn ref_target(value: &Value) -> Option<String> {
    tag_text(value)?.strip_prefix("!Ref ").map(str::to_owned)
}

/// A function's environment as deployed with [`DEPLOYED_PARAMETERS`]: the
/// Globals merged with its own variables, a `!Ref` to a parameter resolved to
/// the deployed value or the parameter's default, a conditional (`!If`)
/// value left out. Every
/// other value (a resource's name, a parameter without default) is whatever
/// the deploy supplies: a placeholder. Records each name the code asks for.
struct DeployedEnvironment {
    variables: BTreeMap<String, String>,
    own: BTreeSet<String>,
    requested: RefCell<BTreeSet<String>>,
}

impl DeployedEnvironment {
    fn of(template: &Value, function: &str) -> Self {
        let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
        let own = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert!(
            own.is_mapping(),
            "{function} sets its own environment variables"
        );
        let mut variables = BTreeMap::new();
        for (name, value) in globals
            .as_mapping()
            .into_iter()
            .chain(own.as_mapping())
            .flatten()
        {
            // Set only under a condition (the emulator endpoint of local
            // runs): not something the code may count on.
            if matches!(value, Value::Tagged(tagged) if tagged.tag == "If") {
                continue;
            }
            let name = name
                .as_str()
                .expect("variable names are strings")
                .to_owned();
            variables.insert(name, resolve(template, value));
        }
        Self {
            variables,
            own: own
                .as_mapping()
                .into_iter()
                .flatten()
                .map(|(name, _)| name.as_str().expect("variable name").to_owned())
                .collect(),
            requested: RefCell::default(),
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.requested.borrow_mut().insert(name.to_owned());
        self.variables.get(name).cloned()
    }

    /// Every variable the code asked for is set, unless it is optional;
    /// every variable set for this function alone is read.
    fn assert_matches_what_the_code_read(&self, function: &str) {
        let requested = self.requested.borrow();
        for name in requested.iter() {
            assert!(
                self.variables.contains_key(name) || OPTIONAL_VARIABLES.contains(&name.as_str()),
                "{function} reads {name}, which the template does not set"
            );
        }
        for name in &self.own {
            assert!(
                requested.contains(name),
                "the template sets {name} for {function}, which its code never reads"
            );
        }
    }
}

fn resolve(template: &Value, value: &Value) -> String {
    // Before `as_str`, which sees through tags.
    if let Some(name) = ref_target(value) {
        if let Some((_, deployed)) = DEPLOYED_PARAMETERS.iter().find(|(p, _)| *p == name) {
            return (*deployed).to_owned();
        }
        let default = &template["Parameters"][name.as_str()]["Default"];
        if let Some(text) = default.as_str() {
            return text.to_owned();
        }
        if let Some(number) = default.as_u64() {
            return number.to_string();
        }
        return format!("deployed-value-of-{name}");
    }
    match value {
        Value::String(text) => text.clone(),
        other => format!("deployed-value-of-{other:?}"),
    }
}

/// How a statement's resource follows from the function's variable.
enum Grant {
    /// The resource the variable `!Ref`s, by `!GetAtt <Resource>.Arn`.
    ResourceArn(&'static str),
    /// Every SSM parameter under the prefix the variable names.
    ParametersUnder(&'static str),
    /// The payload objects (`payloads/…`) of the bucket the variable `!Ref`s.
    PayloadObjects(&'static str),
    /// The final dead-letter queues (`<prefix><destination>-dlq`) of the
    /// stack, the variable being the stack's queue prefix.
    FinalDeadLetterQueues(&'static str),
    /// The tier-2 queues (`<prefix><destination>-retry`), likewise.
    Tier2Queues(&'static str),
    /// Both, likewise.
    DestinationQueues(&'static str),
}

/// The stack's queue prefix, as every function and the reconciler write it.
const QUEUE_PREFIX: &str = "!Sub ${AWS::StackName}_";
/// Every destination's final dead-letter queue, and nothing else.
const FINAL_DEAD_LETTER_QUEUES: &str =
    "!Sub arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}_*-dlq";
/// Every destination's tier-2 queue, and nothing else.
const TIER2_QUEUES: &str =
    "!Sub arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}_*-retry";

/// One permission a function needs, and the variable naming what it is for.
struct Call {
    action: &'static str,
    on: Grant,
}

/// A function, the AWS calls its code makes and what they are made on.
struct Wiring {
    function: &'static str,
    /// The IAM actions of the adapters its Lambda handler is built with.
    iam_actions: fn() -> Vec<&'static str>,
    calls: &'static [Call],
}

const WIRING: &[Wiring] = &[
    Wiring {
        function: "IngestFunction",
        iam_actions: ingest::AwsIngest::iam_actions,
        calls: &[
            Call {
                action: "events:PutEvents",
                on: Grant::ResourceArn("EVENT_BUS_NAME"),
            },
            Call {
                action: "ssm:GetParameter",
                on: Grant::ParametersUnder("HOOKBRIDGE_SECRETS_PREFIX"),
            },
            // GetParameter WithDecryption of a SecureString.
            Call {
                action: "kms:Decrypt",
                on: Grant::ParametersUnder("HOOKBRIDGE_SECRETS_PREFIX"),
            },
            Call {
                action: "s3:PutObject",
                on: Grant::PayloadObjects("PAYLOAD_BUCKET"),
            },
        ],
    },
    Wiring {
        function: "ConsumeFunction",
        iam_actions: consume::AwsConsumer::iam_actions,
        // The conditional PutItem and the Puts of TransactWriteItems.
        calls: &[
            Call {
                action: "dynamodb:PutItem",
                on: Grant::ResourceArn("TABLE_NAME"),
            },
            Call {
                action: "s3:GetObject",
                on: Grant::PayloadObjects("PAYLOAD_BUCKET"),
            },
        ],
    },
    Wiring {
        function: "DeliverFunction",
        iam_actions: deliver::AwsDeliver::iam_actions,
        calls: &[
            Call {
                action: "ssm:GetParameter",
                on: Grant::ParametersUnder("HOOKBRIDGE_OUTBOUND_PREFIX"),
            },
            Call {
                action: "kms:Decrypt",
                on: Grant::ParametersUnder("HOOKBRIDGE_OUTBOUND_PREFIX"),
            },
            // The delivery status of each (event, destination).
            Call {
                action: "dynamodb:GetItem",
                on: Grant::ResourceArn("TABLE_NAME"),
            },
            Call {
                action: "dynamodb:UpdateItem",
                on: Grant::ResourceArn("TABLE_NAME"),
            },
            Call {
                action: "dynamodb:PutItem",
                on: Grant::ResourceArn("TABLE_NAME"),
            },
            Call {
                action: "s3:GetObject",
                on: Grant::PayloadObjects("PAYLOAD_BUCKET"),
            },
            // A 410 goes to the destination's final dead-letter queue.
            Call {
                action: "sqs:GetQueueUrl",
                on: Grant::FinalDeadLetterQueues("HOOKBRIDGE_QUEUE_PREFIX"),
            },
            Call {
                action: "sqs:SendMessage",
                on: Grant::FinalDeadLetterQueues("HOOKBRIDGE_QUEUE_PREFIX"),
            },
        ],
    },
    Wiring {
        function: "RedeliverFunction",
        iam_actions: redeliver::AwsRedeliver::iam_actions,
        calls: &[
            Call {
                action: "ssm:GetParameter",
                on: Grant::ParametersUnder("HOOKBRIDGE_OUTBOUND_PREFIX"),
            },
            Call {
                action: "kms:Decrypt",
                on: Grant::ParametersUnder("HOOKBRIDGE_OUTBOUND_PREFIX"),
            },
            Call {
                action: "dynamodb:GetItem",
                on: Grant::ResourceArn("TABLE_NAME"),
            },
            Call {
                action: "dynamodb:UpdateItem",
                on: Grant::ResourceArn("TABLE_NAME"),
            },
            Call {
                action: "dynamodb:PutItem",
                on: Grant::ResourceArn("TABLE_NAME"),
            },
            Call {
                action: "s3:GetObject",
                on: Grant::PayloadObjects("PAYLOAD_BUCKET"),
            },
            Call {
                action: "sqs:GetQueueUrl",
                on: Grant::DestinationQueues("HOOKBRIDGE_QUEUE_PREFIX"),
            },
            Call {
                action: "sqs:SendMessage",
                on: Grant::FinalDeadLetterQueues("HOOKBRIDGE_QUEUE_PREFIX"),
            },
            Call {
                action: "sqs:ChangeMessageVisibility",
                on: Grant::Tier2Queues("HOOKBRIDGE_QUEUE_PREFIX"),
            },
            // The event source mapping's poller, with the function's role.
            Call {
                action: "sqs:ReceiveMessage",
                on: Grant::Tier2Queues("HOOKBRIDGE_QUEUE_PREFIX"),
            },
            Call {
                action: "sqs:DeleteMessage",
                on: Grant::Tier2Queues("HOOKBRIDGE_QUEUE_PREFIX"),
            },
            Call {
                action: "sqs:GetQueueAttributes",
                on: Grant::Tier2Queues("HOOKBRIDGE_QUEUE_PREFIX"),
            },
        ],
    },
];

#[test]
fn ingest_reads_only_variables_the_template_sets_and_accepts_their_values() {
    let template = template();
    let environment = DeployedEnvironment::of(&template, "IngestFunction");

    ingest::Settings::from_lookup(|name| environment.lookup(name))
        .expect("ingest's settings accept the template's values");

    environment.assert_matches_what_the_code_read("IngestFunction");
}

#[test]
fn consume_reads_only_variables_the_template_sets_and_accepts_their_values() {
    let template = template();
    let environment = DeployedEnvironment::of(&template, "ConsumeFunction");

    consume::Settings::from_lookup(|name| environment.lookup(name))
        .expect("consume's settings accept the template's values");

    environment.assert_matches_what_the_code_read("ConsumeFunction");
}

#[test]
fn deliver_reads_only_variables_the_template_sets_and_accepts_their_values() {
    let template = template();
    let environment = DeployedEnvironment::of(&template, "DeliverFunction");

    deliver::Settings::from_lookup(|name| environment.lookup(name))
        .expect("deliver's settings accept the template's values");

    environment.assert_matches_what_the_code_read("DeliverFunction");
}

#[test]
fn redeliver_reads_only_variables_the_template_sets_and_accepts_their_values() {
    let template = template();
    let environment = DeployedEnvironment::of(&template, "RedeliverFunction");

    redeliver::Settings::from_lookup(|name| environment.lookup(name))
        .expect("redeliver's settings accept the template's values");

    environment.assert_matches_what_the_code_read("RedeliverFunction");
}

#[test]
fn every_function_calls_through_its_adapters_exactly_what_its_policy_lists() {
    for wiring in WIRING {
        let made: BTreeSet<&str> = (wiring.iam_actions)().into_iter().collect();
        let listed: BTreeSet<&str> = wiring.calls.iter().map(|call| call.action).collect();
        assert_eq!(
            made, listed,
            "{}: the adapters its handler is built with make exactly the calls listed here",
            wiring.function
        );
    }
}

#[test]
fn every_function_policy_allows_exactly_its_calls_on_exactly_its_resources() {
    let template = template();
    for wiring in WIRING {
        let function = &template["Resources"][wiring.function]["Properties"];
        let statements = inline_statements(wiring.function, &function["Policies"]);

        let granted: BTreeSet<&str> = statements
            .iter()
            .flat_map(|statement| actions(statement))
            .collect();
        let needed: BTreeSet<&str> = wiring.calls.iter().map(|call| call.action).collect();
        assert_eq!(
            granted, needed,
            "{}: its policy allows exactly the calls it makes",
            wiring.function
        );

        let variables = &function["Environment"]["Variables"];
        for call in wiring.calls {
            let statement = statements
                .iter()
                .find(|statement| actions(statement).contains(&call.action))
                .expect("granted above");
            assert_eq!(
                actions(statement),
                [call.action],
                "{}: one action per statement, so each has its own resource",
                wiring.function
            );
            assert_grant(&template, wiring.function, variables, call, statement);
        }
    }
}

/// The statements of a function's inline policies; SAM policy templates and
/// managed policies are refused, since they grant more than the code uses.
fn inline_statements<'a>(function: &str, policies: &'a Value) -> Vec<&'a Value> {
    let policies = policies
        .as_sequence()
        .unwrap_or_else(|| panic!("{function} has a list of policies"));
    policies
        .iter()
        .flat_map(|policy| {
            policy["Statement"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{function}: every policy is an inline statement list"))
        })
        .inspect(|statement| {
            assert_eq!(
                statement["Effect"].as_str(),
                Some("Allow"),
                "{function}: only Allow statements"
            );
        })
        .collect()
}

fn actions(statement: &Value) -> Vec<&str> {
    let action = &statement["Action"];
    let actions: Vec<&str> = match action.as_sequence() {
        Some(list) => list.iter().filter_map(Value::as_str).collect(),
        None => action.as_str().into_iter().collect(),
    };
    assert!(!actions.is_empty(), "a statement names its actions");
    for action in &actions {
        assert!(!action.contains('*'), "no wildcard action: {action}");
    }
    actions
}

/// A grant on destination queues: the variable is the stack's queue
/// prefix, and the statement names `queues` and nothing else.
fn assert_queues_grant(
    function: &str,
    variables: &Value,
    variable: &str,
    call: &Call,
    statement: &Value,
    queues: &[&str],
) {
    assert_eq!(
        tag_text(&variables[variable]).as_deref(),
        Some(QUEUE_PREFIX),
        "{function}: {variable} is the stack's queue prefix"
    );
    let resources: Vec<String> = match statement["Resource"].as_sequence() {
        Some(list) => list.iter().filter_map(tag_text).collect(),
        None => tag_text(&statement["Resource"]).into_iter().collect(),
    };
    assert_eq!(
        resources, queues,
        "{function}: {} only on these destination queues",
        call.action
    );
}

fn assert_grant(
    template: &Value,
    function: &str,
    variables: &Value,
    call: &Call,
    statement: &Value,
) {
    let variable = match call.on {
        Grant::FinalDeadLetterQueues(variable) => {
            let queues = [FINAL_DEAD_LETTER_QUEUES];
            return assert_queues_grant(function, variables, variable, call, statement, &queues);
        }
        Grant::Tier2Queues(variable) => {
            let queues = [TIER2_QUEUES];
            return assert_queues_grant(function, variables, variable, call, statement, &queues);
        }
        Grant::DestinationQueues(variable) => {
            let queues = [TIER2_QUEUES, FINAL_DEAD_LETTER_QUEUES];
            return assert_queues_grant(function, variables, variable, call, statement, &queues);
        }
        Grant::ResourceArn(variable)
        | Grant::ParametersUnder(variable)
        | Grant::PayloadObjects(variable) => variable,
    };
    let target = ref_target(&variables[variable])
        .unwrap_or_else(|| panic!("{function}: {variable} is a !Ref"));
    let resource = tag_text(&statement["Resource"])
        .unwrap_or_else(|| panic!("{function}: {} names one resource by a tag", call.action));
    let context = format!(
        "{function}: {} is allowed on what {variable} names",
        call.action
    );

    let parameters = match call.on {
        Grant::ResourceArn(_) => {
            assert!(
                template["Resources"][target.as_str()].is_mapping(),
                "{context}: {variable} refers to a resource of the stack"
            );
            assert_eq!(resource, format!("!GetAtt {target}.Arn"), "{context}");
            return;
        }
        Grant::PayloadObjects(_) => {
            assert_eq!(target, "PayloadBucket", "{context}");
            assert_eq!(
                resource,
                format!("!Sub ${{{target}.Arn}}/payloads/*"),
                "{context}: only the payload keys"
            );
            return;
        }
        Grant::ParametersUnder(_) => format!("{SSM_PARAMETER_ARN}${{{target}}}*"),
        Grant::FinalDeadLetterQueues(_) | Grant::Tier2Queues(_) | Grant::DestinationQueues(_) => {
            unreachable!("checked above")
        }
    };
    assert!(
        template["Parameters"][target.as_str()].is_mapping(),
        "{context}: {variable} is a template parameter"
    );
    if call.action.starts_with("kms:") {
        // The key of a SecureString is not known in advance: any key of the
        // account, but only through SSM and only for these parameters.
        assert_eq!(resource, format!("!Sub {ACCOUNT_KMS_KEYS}"), "{context}");
        let condition = &statement["Condition"];
        assert_eq!(
            tag_text(&condition["StringEquals"]["kms:ViaService"]),
            Some(format!("!Sub {SSM_SERVICE}")),
            "{context}: decryption only through SSM"
        );
        // A `*` is a wildcard only for StringLike.
        let operator = if parameters.ends_with('*') {
            "StringLike"
        } else {
            "StringEquals"
        };
        assert_eq!(
            tag_text(&condition[operator]["kms:EncryptionContext:PARAMETER_ARN"]),
            Some(format!("!Sub {parameters}")),
            "{context}: decryption only of these parameters"
        );
    } else {
        assert_eq!(resource, format!("!Sub {parameters}"), "{context}");
    }
}

#[test]
fn the_payload_bucket_is_encrypted_private_tls_only_and_expires_with_the_events() {
    let template = template();
    let bucket = &template["Resources"]["PayloadBucket"]["Properties"];
    let encryption = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"].as_str(),
        Some("AES256")
    );
    for block in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][block].as_bool(),
            Some(true),
            "{block}"
        );
    }
    let rules = bucket["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .expect("lifecycle rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["Status"].as_str(), Some("Enabled"));
    assert_eq!(
        ref_target(&rules[0]["ExpirationInDays"]).as_deref(),
        Some("RetentionDays"),
        "payloads expire with the event items (consume's RETENTION_DAYS)"
    );

    let policy = &template["Resources"]["PayloadBucketPolicy"]["Properties"];
    assert_eq!(
        ref_target(&policy["Bucket"]).as_deref(),
        Some("PayloadBucket")
    );
    let statements = policy["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements");
    let tls_only = statements
        .iter()
        .find(|statement| statement["Effect"].as_str() == Some("Deny"))
        .expect("a deny statement");
    assert_eq!(tls_only["Action"].as_str(), Some("s3:*"));
    assert_eq!(
        tls_only["Condition"]["Bool"]["aws:SecureTransport"].as_str(),
        Some("false")
    );
    let resources: Vec<String> = tls_only["Resource"]
        .as_sequence()
        .expect("bucket and objects")
        .iter()
        .filter_map(tag_text)
        .collect();
    assert_eq!(
        resources,
        ["!GetAtt PayloadBucket.Arn", "!Sub ${PayloadBucket.Arn}/*"]
    );
}

#[test]
fn every_dead_letter_queue_function_and_the_api_raise_an_alarm_on_the_alarm_topic() {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("resources");
    let of_type = |kind: &str| -> Vec<String> {
        resources
            .iter()
            .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
            .map(|(id, _)| id.as_str().expect("logical id").to_owned())
            .collect()
    };
    let alarms: Vec<&Value> = resources
        .values()
        .filter(|resource| resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|alarm| &alarm["Properties"])
        .collect();
    for alarm in &alarms {
        let actions: Vec<Option<String>> = alarm["AlarmActions"]
            .as_sequence()
            .expect("alarm actions")
            .iter()
            .map(tag_text)
            .collect();
        assert_eq!(actions, [Some("!Ref AlarmTopic".to_owned())]);
    }
    let raised_on = |namespace: &str, metric: &str, dimension: &str, value: String| {
        alarms.iter().any(|alarm| {
            alarm["Namespace"].as_str() == Some(namespace)
                && alarm["MetricName"].as_str() == Some(metric)
                && alarm["ComparisonOperator"].as_str() == Some("GreaterThanThreshold")
                && (alarm["Threshold"].as_u64() == Some(0)
                    || tag_text(&alarm["Threshold"]).as_deref()
                        == Some("!Ref ConsumeFailureThreshold"))
                && alarm["Dimensions"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .any(|d| {
                        d["Name"].as_str() == Some(dimension)
                            && tag_text(&d["Value"]).as_ref() == Some(&value)
                    })
        })
    };

    // The destinations' dead-letter queues and their alarms are the
    // reconcile function's (see its tests and tests/tests/destinations.rs).
    let queues = of_type("AWS::SQS::Queue");
    assert!(!queues.is_empty(), "consume's dead-letter queue");
    for queue in queues {
        assert!(
            raised_on(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                format!("!GetAtt {queue}.QueueName")
            ),
            "a message in {queue} raises an alarm"
        );
    }
    let functions = of_type("AWS::Serverless::Function");
    assert_eq!(functions.len(), 5);
    for function in functions {
        assert!(
            raised_on(
                "AWS/Lambda",
                "Errors",
                "FunctionName",
                format!("!Ref {function}")
            ),
            "{function}'s errors raise an alarm"
        );
    }
    for api in of_type("AWS::Serverless::HttpApi") {
        let rate = alarm_on_rate(&template, "AWS/ApiGateway", "5xx");
        let errors = rate.inputs["5xx"];
        assert_eq!(
            tag_text(&errors["MetricStat"]["Metric"]["Dimensions"][0]["Value"]),
            Some(format!("!Ref {api}")),
            "{api}'s 5xx rate raises an alarm"
        );
    }
    let email = &resources[&Value::from("AlarmEmailSubscription")];
    assert_eq!(email["Condition"].as_str(), Some("HasAlarmEmail"));
    assert_eq!(
        tag_text(&email["Properties"]["Endpoint"]),
        Some("!Ref AlarmEmail".to_owned())
    );
}

/// The values CloudFormation hands the custom resource, placeholders for
/// what only a deploy knows.
fn deployed_properties(template: &Value) -> serde_json::Value {
    let properties = &template["Resources"]["DestinationResources"]["Properties"];
    let placeholders = [
        (
            "!GetAtt ReconcileFunction.Arn",
            "arn:aws:lambda:eu-west-1:123456789012:function:shop-Reconcile",
        ),
        (
            "!Ref DeliveryTopic",
            "arn:aws:sns:eu-west-1:123456789012:shop-DeliveryTopic-X",
        ),
        (
            "!GetAtt DeliverFunctionUrl.FunctionUrl",
            "https://abc.lambda-url.eu-west-1.on.aws/",
        ),
        (
            "!Ref AlarmTopic",
            "arn:aws:sns:eu-west-1:123456789012:shop-AlarmTopic-Y",
        ),
        ("!Sub ${AWS::StackName}_", "shop_"),
        (
            "!GetAtt RedeliverFunction.Arn",
            "arn:aws:lambda:eu-west-1:123456789012:function:shop-Redeliver",
        ),
    ];
    let mut deployed = serde_json::Map::new();
    for (name, value) in properties
        .as_mapping()
        .expect("the custom resource has properties")
    {
        let name = name
            .as_str()
            .expect("property names are strings")
            .to_owned();
        // A group of parameters (DeliveryFailureAlarm): each member resolved.
        if let Value::Mapping(members) = value {
            let members = members.iter().map(|(member, value)| {
                let member = member
                    .as_str()
                    .expect("member names are strings")
                    .to_owned();
                (member, serde_json::Value::String(resolve(template, value)))
            });
            deployed.insert(name, serde_json::Value::Object(members.collect()));
            continue;
        }
        let text = tag_text(value);
        let resolved = match placeholders
            .iter()
            .find(|(tag, _)| text.as_deref() == Some(*tag))
        {
            Some((_, placeholder)) => (*placeholder).to_owned(),
            None if ref_target(value).is_some() => resolve(template, value),
            None => value
                .as_str()
                .unwrap_or_else(|| panic!("{name} is a string, a !Ref or a known attribute"))
                .to_owned(),
        };
        deployed.insert(name, serde_json::Value::String(resolved));
    }
    serde_json::Value::Object(deployed)
}

#[test]
fn the_destinations_resource_is_reconciled_from_the_parameters_and_the_stack_it_names() {
    let template = template();
    let resource = &template["Resources"]["DestinationResources"];
    assert_eq!(resource["Type"].as_str(), Some("Custom::Destinations"));
    let properties = &resource["Properties"];
    for (property, expected) in [
        ("ServiceToken", "!GetAtt ReconcileFunction.Arn"),
        ("TopicArn", "!Ref DeliveryTopic"),
        ("Endpoint", "!GetAtt DeliverFunctionUrl.FunctionUrl"),
        ("Destinations", "!Ref Destinations"),
        ("TargetUrl", "!Ref TargetUrl"),
        ("AlarmTopicArn", "!Ref AlarmTopic"),
        ("NamePrefix", "!Sub ${AWS::StackName}_"),
        ("RedeliverFunctionArn", "!GetAtt RedeliverFunction.Arn"),
    ] {
        assert_eq!(
            tag_text(&properties[property]).as_deref(),
            Some(expected),
            "DestinationResources.{property}"
        );
    }
    let depends_on: Vec<&str> = resource["DependsOn"]
        .as_sequence()
        .expect("DependsOn")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        depends_on,
        [
            "DeliverFunctionUrlPublicPermissions",
            "DeliverFunctionURLInvokeAllowPublicAccess"
        ],
        "SNS confirms a subscription at once: the function URL must be public by then"
    );

    let desired = reconcile::Properties::parse(deployed_properties(&template))
        .expect("the reconciler reads exactly the properties the template sets")
        .desired()
        .expect("and accepts their deployed values");
    assert_eq!(desired.destinations.len(), 2);
    let alarm = &desired.failure_alarm;
    assert_eq!(
        (
            alarm.rate_percent,
            alarm.minimum_attempts,
            alarm.period_seconds,
            alarm.evaluation_periods
        ),
        (20, 10, 300, 3),
        "each destination's failure-rate alarm takes the parameters' defaults"
    );
    let group = &properties["DeliveryFailureAlarm"];
    for (member, expected) in [
        ("Stack", "!Ref AWS::StackName"),
        ("RatePercent", "!Ref DeliveryFailureRatePercent"),
        ("MinimumAttempts", "!Ref DeliveryMinimumAttempts"),
        ("PeriodSeconds", "!Ref AlarmPeriodSeconds"),
        ("EvaluationPeriods", "!Ref AlarmEvaluationPeriods"),
    ] {
        assert_eq!(
            tag_text(&group[member]).as_deref(),
            Some(expected),
            "{member}"
        );
    }
    assert!(
        desired.redeliver_function_arn.is_some(),
        "tier 2 in place: SNS redrives to the tier-2 queues"
    );
}

#[test]
fn every_destination_is_retried_by_the_default_delivery_policy() {
    let properties = deployed_properties(&template());
    let in_template: DeliveryPolicy = serde_json::from_str(
        properties["DeliveryPolicy"]
            .as_str()
            .expect("DeliveryPolicy"),
    )
    .expect("the template's delivery policy is valid");
    assert_eq!(in_template, DeliveryPolicy::default());
    assert!(
        in_template.throttle_policy().is_none(),
        "throttles come from each destination's rate_per_second"
    );
}

#[test]
fn reconcile_may_change_only_the_delivery_topic_the_queues_and_alarms_it_names_and_redeliver_s_mappings()
 {
    let template = template();
    let statements = inline_statements(
        "ReconcileFunction",
        &template["Resources"]["ReconcileFunction"]["Properties"]["Policies"],
    );
    let topic = vec!["!Ref DeliveryTopic".to_owned()];
    let subscriptions = vec![
        "!Ref DeliveryTopic".to_owned(),
        "!Sub ${DeliveryTopic}:*".to_owned(),
    ];
    let queues = vec![
        "!Sub arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}_*"
            .to_owned(),
    ];
    let alarms = vec![
        "!Sub arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}_*"
            .to_owned(),
    ];
    // Lambda names no mapping before it exists, nor a list of them.
    let anything = vec!["*".to_owned()];
    let mappings = vec![
        "!Sub arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:event-source-mapping:*"
            .to_owned(),
    ];
    let expected: BTreeMap<&str, &Vec<String>> = BTreeMap::from([
        ("sns:ListSubscriptionsByTopic", &topic),
        ("sns:Subscribe", &topic),
        ("sns:SetSubscriptionAttributes", &subscriptions),
        ("sns:Unsubscribe", &subscriptions),
        ("sqs:CreateQueue", &queues),
        ("sqs:SetQueueAttributes", &queues),
        ("sqs:GetQueueUrl", &queues),
        ("sqs:DeleteQueue", &queues),
        ("cloudwatch:PutMetricAlarm", &alarms),
        ("cloudwatch:DeleteAlarms", &alarms),
        ("lambda:ListEventSourceMappings", &anything),
        ("lambda:CreateEventSourceMapping", &anything),
        ("lambda:DeleteEventSourceMapping", &mappings),
    ]);

    let made: BTreeSet<&str> = reconcile::AwsReconciler::iam_actions()
        .into_iter()
        .collect();
    assert_eq!(
        made,
        expected.keys().copied().collect(),
        "the adapters reconcile is built with make exactly these calls"
    );
    let mut granted = BTreeMap::new();
    for statement in &statements {
        let actions = actions(statement);
        assert_eq!(actions.len(), 1, "one action per statement: {actions:?}");
        // Creating and deleting a mapping is scoped by its function alone.
        if matches!(
            actions[0],
            "lambda:CreateEventSourceMapping" | "lambda:DeleteEventSourceMapping"
        ) {
            assert_eq!(
                tag_text(&statement["Condition"]["ArnEquals"]["lambda:FunctionArn"]).as_deref(),
                Some("!GetAtt RedeliverFunction.Arn"),
                "{}: only of the redeliver function",
                actions[0]
            );
        } else {
            assert!(
                statement["Condition"].is_null(),
                "no conditions to get wrong"
            );
        }
        let resources: Vec<String> = match statement["Resource"].as_sequence() {
            Some(list) => list.iter().filter_map(tag_text).collect(),
            None => tag_text(&statement["Resource"])
                .or_else(|| statement["Resource"].as_str().map(str::to_owned))
                .into_iter()
                .collect(),
        };
        granted.insert(actions[0], resources);
    }
    let granted: BTreeMap<&str, &Vec<String>> = granted
        .iter()
        .map(|(action, resources)| (*action, resources))
        .collect();
    assert_eq!(granted, expected);

    // The names the reconciler gives start with what the policy allows.
    let prefix = "STACK_";
    let name = hookbridge_core::destinations::DestinationName::parse("crm").unwrap();
    assert!(reconcile::queue_name(prefix, &name).starts_with(prefix));
    assert!(reconcile::alarm_name(prefix, &name).starts_with(prefix));
}

/// An alarm on a rate computed by metric math: its inputs by metric name
/// and its expression.
struct RateAlarm<'a> {
    inputs: BTreeMap<&'a str, &'a Value>,
    expression: String,
    properties: &'a Value,
}

/// The one alarm whose metric math reads `metric` of `namespace`.
fn alarm_on_rate<'a>(template: &'a Value, namespace: &str, metric: &str) -> RateAlarm<'a> {
    let alarms: Vec<RateAlarm<'a>> = template["Resources"]
        .as_mapping()
        .expect("resources")
        .values()
        .filter(|resource| resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .filter_map(|alarm| {
            let properties = &alarm["Properties"];
            let queries = properties["Metrics"].as_sequence()?;
            let inputs: BTreeMap<&str, &Value> = queries
                .iter()
                .filter(|query| {
                    query["MetricStat"]["Metric"]["Namespace"].as_str() == Some(namespace)
                })
                .map(|query| {
                    let name = query["MetricStat"]["Metric"]["MetricName"].as_str();
                    (name.expect("a metric name"), query)
                })
                .collect();
            let expression = queries
                .iter()
                .find(|query| query["ReturnData"].as_bool() == Some(true))
                .and_then(|query| tag_text(&query["Expression"]))?;
            inputs.contains_key(metric).then_some(RateAlarm {
                inputs,
                expression,
                properties,
            })
        })
        .collect();
    assert_eq!(
        alarms.len(),
        1,
        "one alarm on the rate of {namespace} {metric}"
    );
    alarms.into_iter().next().expect("one alarm")
}

/// A rate alarm fires on a share over a parameter, for consecutive periods,
/// with the share of a quiet period taken over a minimum volume: one
/// deliberate 503 among few requests pages nobody.
fn assert_rate_alarm(
    rate: &RateAlarm<'_>,
    numerator: &str,
    denominator: &str,
    parameters: [&str; 2],
) {
    let [threshold, minimum] = parameters;
    let floor = format!("IF({denominator} < ${{{minimum}}}, ${{{minimum}}}, {denominator})");
    assert!(
        rate.expression.contains(numerator) && rate.expression.ends_with(&format!("/ {floor}")),
        "{}",
        rate.expression
    );
    let properties = rate.properties;
    assert_eq!(
        tag_text(&properties["Threshold"]),
        Some(format!("!Ref {threshold}"))
    );
    assert_eq!(
        tag_text(&properties["EvaluationPeriods"]),
        Some("!Ref AlarmEvaluationPeriods".to_owned())
    );
    assert_eq!(properties["TreatMissingData"], "notBreaching");
    for input in rate.inputs.values() {
        assert_eq!(input["ReturnData"].as_bool(), Some(false));
        assert_eq!(input["MetricStat"]["Stat"], "Sum");
        assert_eq!(
            tag_text(&input["MetricStat"]["Period"]),
            Some("!Ref AlarmPeriodSeconds".to_owned())
        );
    }
    let template = template();
    for parameter in [
        threshold,
        minimum,
        "AlarmEvaluationPeriods",
        "AlarmPeriodSeconds",
    ] {
        assert!(
            template["Parameters"][parameter]["Default"].is_number(),
            "{parameter} has a default"
        );
    }
}

#[test]
fn ingest_5xx_alarms_on_its_rate_not_on_one_answer() {
    let template = template();
    let ingest = alarm_on_rate(&template, "AWS/ApiGateway", "5xx");
    assert!(ingest.inputs.contains_key("Count"));
    assert_rate_alarm(
        &ingest,
        "100 * errors",
        "requests",
        ["IngestErrorRatePercent", "IngestMinimumRequests"],
    );
}

/// Every `hookbridge` metric a dashboard widget or an alarm names, with the
/// dimensions it names it by.
fn hookbridge_references(template: &Value) -> Vec<(String, BTreeSet<String>)> {
    let mut references = Vec::new();
    let body = dashboard_body(template);
    for widget in body["widgets"].as_array().expect("widgets") {
        let metrics = widget["properties"]["metrics"].as_array();
        for row in metrics.into_iter().flatten() {
            let row = row.as_array().expect("a metrics row is an array");
            if row[0] == "hookbridge" {
                let names: Vec<&str> = row.iter().filter_map(serde_json::Value::as_str).collect();
                let dimensions = names[2..].iter().step_by(2).map(|d| (*d).to_owned());
                references.push((names[1].to_owned(), dimensions.collect()));
            }
            for expression in row.iter().filter_map(|m| m["expression"].as_str()) {
                references.extend(searched_metric(expression));
            }
        }
    }
    for resource in template["Resources"]
        .as_mapping()
        .expect("resources")
        .values()
    {
        let queries = resource["Properties"]["Metrics"].as_sequence();
        for query in queries.into_iter().flatten() {
            let metric = &query["MetricStat"]["Metric"];
            if metric["Namespace"] == "hookbridge" {
                let dimensions = metric["Dimensions"].as_sequence().expect("dimensions");
                references.push((
                    metric["MetricName"].as_str().expect("name").to_owned(),
                    dimensions
                        .iter()
                        .map(|d| d["Name"].as_str().expect("dimension name").to_owned())
                        .collect(),
                ));
            }
        }
    }
    references
}

/// The dashboard's body as CloudWatch receives it, each `${…}` of the
/// `!Sub` replaced by a placeholder.
fn dashboard_body(template: &Value) -> serde_json::Value {
    let dashboard = &template["Resources"]["Dashboard"];
    assert_eq!(dashboard["Type"], "AWS::CloudWatch::Dashboard");
    let Value::Tagged(body) = &dashboard["Properties"]["DashboardBody"] else {
        panic!("the dashboard body is a !Sub");
    };
    assert_eq!(body.tag, "Sub");
    let mut text = body.value.as_str().expect("the body is text").to_owned();
    while let Some(start) = text.find("${") {
        let end = start + text[start..].find('}').expect("a closed ${");
        text.replace_range(start..=end, "placeholder");
    }
    serde_json::from_str(&text).expect("the dashboard body is JSON")
}

/// `SEARCH('{hookbridge,Stack,Source} MetricName="Accepted" …')`: the
/// metric and its dimension schema.
fn searched_metric(expression: &str) -> Option<(String, BTreeSet<String>)> {
    let schema_start = expression.find("{hookbridge,")? + "{hookbridge,".len();
    let schema_end = schema_start + expression[schema_start..].find('}')?;
    let name_start = expression.find("MetricName=\"")? + "MetricName=\"".len();
    let name_end = name_start + expression[name_start..].find('"')?;
    let dimensions = expression[schema_start..schema_end]
        .split(',')
        .map(str::to_owned)
        .collect();
    Some((expression[name_start..name_end].to_owned(), dimensions))
}

#[test]
fn the_dashboard_and_alarms_name_only_metrics_the_code_emits_by_their_dimensions() {
    use hookbridge_core::metrics::Metric;

    let template = template();
    let references = hookbridge_references(&template);
    for (name, dimensions) in &references {
        let metric = Metric::from_name(name)
            .unwrap_or_else(|| panic!("`{name}` is no metric hookbridge_core::metrics emits"));
        assert!(
            metric.dimension_sets().iter().any(|set| {
                set.iter()
                    .map(|d| d.name().to_owned())
                    .collect::<BTreeSet<_>>()
                    == *dimensions
            }),
            "`{name}` is not emitted by the dimensions {dimensions:?}"
        );
    }
    for metric in Metric::ALL {
        assert!(
            references.iter().any(|(name, _)| name == metric.name()),
            "the dashboard shows {}",
            metric.name()
        );
    }
}

#[test]
fn the_dashboard_has_one_row_per_concern() {
    let body = dashboard_body(&template());
    let rows: Vec<&str> = body["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .filter_map(|widget| widget["properties"]["markdown"].as_str())
        .collect();
    assert_eq!(
        rows,
        [
            "## Inbound by source",
            "## Refusals by reason",
            "## Destinations",
            "## Dead letters and backlog",
            "## Records",
            "## Functions",
        ]
    );
}

#[test]
fn every_function_names_the_stack_its_metrics_are_dimensioned_by() {
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        tag_text(&globals[hookbridge_aws::metrics::STACK_VARIABLE]),
        Some("!Ref AWS::StackName".to_owned())
    );
}
