//! Lifecycle events, locally, along the template's path: the table's stream (moto's) → the
//! `publish-events` function, fed by a reader that plays Lambda's DynamoDB event source mapping →
//! `PutEvents` on an EventBridge bus (moto's) → a rule → the webhook.
//!
//! As in AWS, the rule's target is a queue, and [`deliver`] plays the event source mapping of
//! `deliver-webhooks` on it, running the same code: each event signed (Standard Webhooks, with
//! `VIDGATE_EVENTS_WEBHOOK_SECRET`) and POSTed, retried with a doubling wait, dead-lettered when
//! refused or after the last attempt. The envelope (`version, id, detail-type, source, account,
//! time, region, resources, detail`) is EventBridge's once moto's differences are put right.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use vidgate::aws::webhook::{HttpReceiver, SqsDeliveryQueue};
use vidgate::bus::EventBus;
use vidgate::domain::webhook::WebhookSecrets;
use vidgate::uploads::webhooks::RetryPolicy;

use crate::notifications::sqs_error;

/// The rule on the local bus that sends every vidgate event to the webhook's queue.
pub const RULE: &str = "vidgate-local-webhook";
/// The queue the rule fills and [`deliver`] empties, and its dead-letter queue.
pub const QUEUE: &str = "vidgate-local-webhook";
pub const DEAD_LETTER_QUEUE: &str = "vidgate-local-webhook-dead-letters";
/// Where the reader sends what the function failed to publish after its retries (the event
/// source mapping's on-failure destination in the template).
pub const PUBLISH_FAILURES_QUEUE: &str = "vidgate-local-publish-failures";

/// The envelope fields an API destination sends. moto's rule targets add `ingestion-time`, which
/// is not one, and leave out `account`, which is: both are put right before delivery.
const ENVELOPE: [&str; 9] =
    ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"];

/// Where and how events are delivered: `VIDGATE_EVENTS_WEBHOOK*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    /// The active signing secrets, newest first.
    pub secrets: WebhookSecrets,
    /// Deliveries of one event before it moves to the dead-letter queue: the template's
    /// `WebhookMaxAttempts`.
    pub attempts: u32,
    /// The waits between attempts: doubling from 1 s, and locally at most a minute.
    pub retry: RetryPolicy,
}

pub const DEFAULT_ATTEMPTS: u32 = 185;

/// The local stack's signing secret when `VIDGATE_EVENTS_WEBHOOK_SECRET` names none (docs/local-stack.md).
pub const DEFAULT_SECRET: &str = "whsec_dmlkZ2F0ZS1sb2NhbC13ZWJob29rLXNpZ25pbmcta2V5IQ==";

impl Webhook {
    /// `VIDGATE_EVENTS_WEBHOOK` (none: no webhook), `VIDGATE_EVENTS_WEBHOOK_SECRET` (`whsec_…`,
    /// two space-separated during a rotation; [`DEFAULT_SECRET`]), `VIDGATE_EVENTS_WEBHOOK_ATTEMPTS` (185).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let Some(url) = get("VIDGATE_EVENTS_WEBHOOK").map(|u| u.trim().to_owned()).filter(|u| !u.is_empty())
        else {
            return Ok(None);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("VIDGATE_EVENTS_WEBHOOK={url:?} is not an http(s) URL"));
        }
        let secrets = get("VIDGATE_EVENTS_WEBHOOK_SECRET")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SECRET.to_owned());
        let secrets =
            WebhookSecrets::parse(&secrets).map_err(|why| format!("VIDGATE_EVENTS_WEBHOOK_SECRET: {why}"))?;
        let attempts = match get("VIDGATE_EVENTS_WEBHOOK_ATTEMPTS") {
            None => DEFAULT_ATTEMPTS,
            Some(raw) => {
                raw.trim().parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    format!("VIDGATE_EVENTS_WEBHOOK_ATTEMPTS={raw:?} is not within 1..=1000")
                })?
            }
        };
        let retry = RetryPolicy { cap: Duration::from_secs(60), ..RetryPolicy::default() };
        Ok(Some(Self { url, secrets, attempts, retry }))
    }
}

/// The webhook's two queues.
#[derive(Clone, Debug)]
pub struct WebhookQueues {
    pub events: String,
    pub dead_letters: String,
    /// The account the bus is in: moto's rule targets leave `account` out of the envelope.
    pub account: String,
}

/// A queue's URL and ARN.
async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<(String, String), String> {
    let url = crate::notifications::create_queue(sqs, name).await?;
    let arn = crate::notifications::queue_arn(sqs, &url).await?;
    Ok((url, arn))
}

/// Creates the bus, and for a webhook its queues and the rule sending every vidgate event to
/// them. Safe to run again.
pub async fn ensure_bus(
    sdk: &SdkConfig,
    bus: &str,
    webhook: Option<&Webhook>,
) -> Result<Option<WebhookQueues>, String> {
    let events = aws_sdk_eventbridge::Client::new(sdk);
    match events.create_event_bus().name(bus).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_already_exists_exception()) => {}
        Err(e) => {
            return Err(format!(
                "creating bus {bus}: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(e)
            ));
        }
    }
    let Some(webhook) = webhook else { return Ok(None) };
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let (dead_letters, dead_letters_arn) = create_queue(&sqs, DEAD_LETTER_QUEUE).await?;
    let (queue, queue_arn) = create_queue(&sqs, QUEUE).await?;
    let redrive = json!({ "deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": webhook.attempts });
    sqs.set_queue_attributes()
        .queue_url(&queue)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| sqs_error("setting the webhook queue's redrive policy", e))?;
    let pattern = json!({ "source": [vidgate::domain::lifecycle::SOURCE] });
    route_to_queue(&events, bus, RULE, &pattern, "webhook", &queue_arn).await?;
    let account = queue_arn.split(':').nth(4).unwrap_or_default().to_owned();
    Ok(Some(WebhookQueues { events: queue, dead_letters, account }))
}

/// Puts rule `rule` on `bus` with `pattern`, targeting the queue `queue_arn` (target `id`): what
/// the template's rules with SQS targets are. Safe to run again.
pub(crate) async fn route_to_queue(
    events: &aws_sdk_eventbridge::Client,
    bus: &str,
    rule: &str,
    pattern: &Value,
    id: &str,
    queue_arn: &str,
) -> Result<(), String> {
    let put_rule =
        events.put_rule().name(rule).event_bus_name(bus).event_pattern(pattern.to_string()).send().await;
    put_rule.map_err(|e| format!("rule {rule}: {}", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id(id)
        .arn(queue_arn)
        .build()
        .map_err(|e| e.to_string())?;
    events
        .put_targets()
        .rule(rule)
        .event_bus_name(bus)
        .targets(target)
        .send()
        .await
        .map_err(|e| format!("target of {rule}: {}", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// The DynamoDB Streams API of moto, as JSON: the reader hands the function records in the very
/// shape Lambda does, which is the shape `GetRecords` answers.
struct Streams {
    http: reqwest::Client,
    endpoint: String,
}

impl Streams {
    async fn call(&self, operation: &str, body: Value) -> Result<Value, String> {
        let reply = self
            .http
            .post(&self.endpoint)
            .header("x-amz-target", format!("DynamoDBStreams_20120810.{operation}"))
            .header("content-type", "application/x-amz-json-1.0")
            // moto picks the service from the credential scope (and checks no signature).
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=vidgate-local/20260101/us-east-1/dynamodb/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{operation}: {e}"))?;
        let status = reply.status();
        let text = reply.text().await.map_err(|e| format!("{operation}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{operation}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{operation}: {e}"))
    }
}

/// Lambda's DynamoDB event source mapping, as the template sets it up.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    pub batch_size: u32,
    /// Retries of a failing batch before the failed record is skipped and reported to the
    /// on-failure queue (`MaximumRetryAttempts`).
    pub max_retries: u32,
}

impl Default for Mapping {
    fn default() -> Self {
        Self { batch_size: 100, max_retries: vidgate::events::PUBLISH_MAX_RETRIES }
    }
}

/// moto's `ApproximateCreationDateTime` is ISO 8601 text; DynamoDB Streams (and so Lambda) send
/// epoch seconds.
fn as_lambda_record(mut record: Value, stream_arn: &str) -> Value {
    let time = &mut record["dynamodb"]["ApproximateCreationDateTime"];
    if let Some(text) = time.as_str() {
        let parsed = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map(|t| t.and_utc())
            .or_else(|_| chrono::DateTime::parse_from_rfc3339(text).map(|t| t.to_utc()));
        *time = parsed.map_or(json!(0), |t| json!(t.timestamp_millis() as f64 / 1000.0));
    }
    record["eventSourceARN"] = json!(stream_arn);
    record
}

/// Reads the table's stream from its start, forever, and hands each batch to `publish-events`
/// (publishing to `bus`); a batch that names a failed record is retried from it, as Lambda does.
///
/// `endpoint` is the local AWS endpoint's, which runs one DynamoDB request at a time, so the
/// stream is read between writes, never during one.
pub async fn read_stream(
    sdk: SdkConfig,
    endpoint: String,
    table: String,
    bucket: String,
    bus: Arc<dyn EventBus>,
    mapping: Mapping,
) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let streams = Streams { http: reqwest::Client::new(), endpoint };
    let (stream_arn, shard) = loop {
        match stream_of(&dynamodb, &streams, &table).await {
            Ok(found) => break found,
            Err(e) => {
                tracing::warn!(error = e, "finding the table's stream");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    // The sequence number to read from; none: the stream's start.
    let mut from: Option<String> = None;
    let mut retries = 0u32;
    loop {
        let records = match read(&streams, &stream_arn, &shard, from.as_deref(), mapping.batch_size).await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!(error = e, "reading the table's stream");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(last) =
            records.last().map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default().to_owned())
        else {
            // Lambda polls a stream shard four times a second.
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        let records: Vec<Value> = records.into_iter().map(|r| as_lambda_record(r, &stream_arn)).collect();
        let batch: DynamoDbEvent = match serde_json::from_value(json!({ "Records": records })) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "the stream's records are not a Lambda DynamoDB event");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let reply = vidgate::events::publish_events(bus.as_ref(), &bucket, batch).await;
        match reply.batch_item_failures.first().and_then(|f| f.item_identifier.clone()) {
            None => {
                from = Some(next_after(&last));
                retries = 0;
            }
            Some(failed) if retries >= mapping.max_retries => {
                tracing::error!(sequence = failed, "a stream record failed every retry; skipped");
                report_failure(&sdk, &stream_arn, &failed).await;
                from = Some(next_after(&failed));
                retries = 0;
            }
            Some(failed) => {
                retries += 1;
                from = Some(failed);
                tokio::time::sleep(Duration::from_millis(500 * u64::from(retries.min(10)))).await;
            }
        }
    }
}

fn next_after(sequence: &str) -> String {
    sequence.parse::<u128>().map_or_else(|_| sequence.to_owned(), |n| (n + 1).to_string())
}

async fn stream_of(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &Streams,
    table: &str,
) -> Result<(String, String), String> {
    let described = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    let arn = described.table.and_then(|t| t.latest_stream_arn).ok_or("the table has no stream")?;
    let stream = streams.call("DescribeStream", json!({ "StreamArn": arn })).await?;
    let shard =
        stream["StreamDescription"]["Shards"][0]["ShardId"].as_str().ok_or("the stream has no shard")?;
    Ok((arn.clone(), shard.to_owned()))
}

/// Up to `limit` records from `from` (inclusive) on. A fresh iterator every time: moto's
/// iterators keep the shard they were made on, and a failed transaction replaces it.
async fn read(
    streams: &Streams,
    arn: &str,
    shard: &str,
    from: Option<&str>,
    limit: u32,
) -> Result<Vec<Value>, String> {
    let mut request = json!({ "StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" });
    if let Some(from) = from {
        request["ShardIteratorType"] = json!("AT_SEQUENCE_NUMBER");
        request["SequenceNumber"] = json!(from);
    }
    let iterator = streams.call("GetShardIterator", request).await?;
    let iterator = iterator["ShardIterator"].as_str().ok_or("no shard iterator")?;
    let out = streams.call("GetRecords", json!({ "ShardIterator": iterator, "Limit": limit })).await?;
    Ok(out["Records"].as_array().cloned().unwrap_or_default())
}

/// What Lambda sends the on-failure destination of a stream mapping: where the failed record is.
async fn report_failure(sdk: &SdkConfig, stream_arn: &str, sequence: &str) {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let body = json!({
        "requestContext": { "condition": "RetryAttemptsExhausted" },
        "DDBStreamBatchInfo": {
            "streamArn": stream_arn,
            "startSequenceNumber": sequence,
            "endSequenceNumber": sequence,
            "batchSize": 1
        }
    });
    let sent = async {
        let (url, _) = create_queue(&sqs, PUBLISH_FAILURES_QUEUE).await?;
        sqs.send_message()
            .queue_url(url)
            .message_body(body.to_string())
            .send()
            .await
            .map_err(|e| sqs_error("reporting a failed record", e))
    };
    if let Err(e) = sent.await {
        tracing::error!(error = e, "the on-failure queue");
    }
}

/// The envelope as EventBridge's SQS targets deliver it: moto's adds `ingestion-time` and leaves
/// out `account`.
fn as_eventbridge_envelope(body: &str, account: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(fields)) => {
            let mut fields: serde_json::Map<String, Value> =
                fields.into_iter().filter(|(k, _)| ENVELOPE.contains(&k.as_str())).collect();
            fields.entry("account").or_insert_with(|| json!(account));
            Value::Object(fields).to_string()
        }
        _ => body.to_owned(),
    }
}

/// Plays deliver-webhooks' event source mapping on the webhook queue, forever, running the
/// function's code: batches of ten, signed, POSTed, retried and dead-lettered as in AWS.
pub async fn deliver(sdk: SdkConfig, queues: WebhookQueues, webhook: Webhook) {
    let receiver = match HttpReceiver::new(&webhook.url) {
        Ok(receiver) => receiver,
        Err(e) => return tracing::error!(error = e, "the webhook's client; no deliveries"),
    };
    let function = Arc::new(vidgate::uploads::webhooks::Webhook {
        receiver,
        secrets: webhook.secrets,
        queue: SqsDeliveryQueue::new(&sdk, &queues.events, &queues.dead_letters),
        retry: webhook.retry,
    });
    let account = queues.account.clone();
    crate::notifications::consume(sdk, queues.events, 10, move |mut batch| {
        let function = function.clone();
        for message in &mut batch.records {
            message.body = message.body.as_deref().map(|b| as_eventbridge_envelope(b, &account));
        }
        async move { vidgate::events::deliver_webhooks(&function, batch).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_is_read_from_the_environment_or_refused_with_the_variable_named() {
        assert_eq!(Webhook::from_env(|_| None).unwrap(), None);
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        let hook = Webhook::from_env(env(&[("VIDGATE_EVENTS_WEBHOOK", "http://127.0.0.1:9/hook")]))
            .unwrap()
            .unwrap();
        assert_eq!(hook.secrets, WebhookSecrets::parse(DEFAULT_SECRET).unwrap());
        assert_eq!(hook.attempts, DEFAULT_ATTEMPTS);
        let two = format!("{DEFAULT_SECRET} whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([
            ("VIDGATE_EVENTS_WEBHOOK", "http://x"),
            ("VIDGATE_EVENTS_WEBHOOK_SECRET", Box::leak(two.into_boxed_str()) as &str),
        ]));
        assert_eq!(Webhook::from_env(env(pairs)).unwrap().unwrap().secrets.len(), 2);
        let err = Webhook::from_env(env(&[("VIDGATE_EVENTS_WEBHOOK", "ftp://x")])).unwrap_err();
        assert!(err.contains("VIDGATE_EVENTS_WEBHOOK"), "{err}");
        let err = Webhook::from_env(env(&[
            ("VIDGATE_EVENTS_WEBHOOK", "http://x"),
            ("VIDGATE_EVENTS_WEBHOOK_SECRET", "s3cret"),
        ]))
        .unwrap_err();
        assert!(err.contains("VIDGATE_EVENTS_WEBHOOK_SECRET") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn motos_envelope_becomes_eventbridges() {
        let body = r#"{"version":"0","id":"e","ingestion-time":"x","source":"vidgate","detail":{}}"#;
        let envelope: Value = serde_json::from_str(&as_eventbridge_envelope(body, "000000000000")).unwrap();
        assert_eq!(envelope["account"], "000000000000");
        assert!(envelope.get("ingestion-time").is_none());
        assert_eq!(as_eventbridge_envelope("not json", "1"), "not json");
    }

    #[test]
    fn motos_record_time_becomes_epoch_seconds_as_lambda_sends_it() {
        let record = as_lambda_record(
            json!({"dynamodb": {"ApproximateCreationDateTime": "2026-12-04T10:00:00.500000"}}),
            "arn:s",
        );
        assert_eq!(record["dynamodb"]["ApproximateCreationDateTime"], json!(1_796_378_400.5));
        assert_eq!(record["eventSourceARN"], "arn:s");
    }
}
