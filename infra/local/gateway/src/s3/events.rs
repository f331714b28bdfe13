//! Bucket notifications, as S3 sends them: an `ObjectCreated` record (event version 2.1) to
//! each SQS queue whose configuration matches the event and the key's prefix and suffix, and an
//! `s3:TestEvent` to each queue when notifications are configured.

use std::collections::HashMap;
use std::sync::Mutex;

use s3s::dto::QueueConfiguration;
use s3s::{S3Result, s3_error};

/// Sends notifications to queues in the SQS the local stack runs (moto's).
#[derive(Debug)]
pub struct Notifier {
    sqs: aws_sdk_sqs::Client,
    urls: Mutex<HashMap<String, String>>,
}

impl Notifier {
    pub fn new(sqs: aws_sdk_sqs::Client) -> Self {
        Self { sqs, urls: Mutex::default() }
    }

    /// `arn:aws:sqs:<region>:<account>:<name>` → the queue's URL.
    async fn url(&self, arn: &str) -> Option<String> {
        if let Some(url) = self.urls.lock().ok()?.get(arn) {
            return Some(url.clone());
        }
        let name = arn.strip_prefix("arn:aws:sqs:")?.rsplit(':').next()?;
        let url = self.sqs.get_queue_url().queue_name(name).send().await.ok()?.queue_url?;
        self.urls.lock().ok()?.insert(arn.to_owned(), url.clone());
        Some(url)
    }

    /// What S3 does on PutBucketNotificationConfiguration: every destination must exist, and
    /// each gets a test event.
    pub async fn validate(&self, queues: &[QueueConfiguration], bucket: &str) -> S3Result<()> {
        for queue in queues {
            let Some(url) = self.url(&queue.queue_arn).await else {
                return Err(s3_error!(
                    InvalidArgument,
                    "Unable to validate the following destination configurations"
                ));
            };
            let test = serde_json::json!({
                "Service": "Amazon S3",
                "Event": "s3:TestEvent",
                "Time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "Bucket": bucket,
                "RequestId": uuid::Uuid::now_v7().simple().to_string(),
                "HostId": "vidgate-local",
            });
            self.sqs.send_message().queue_url(url).message_body(test.to_string()).send().await.map_err(
                |e| {
                    s3_error!(
                        InvalidArgument,
                        "Unable to validate the following destination configurations: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                },
            )?;
        }
        Ok(())
    }

    /// Queues the `ObjectCreated` record for every matching configuration; sending happens in the
    /// background, as S3's delivery does (at least once, after the request has been answered).
    pub fn object_created(&self, queues: &[QueueConfiguration], created: &Created<'_>) {
        let matching: Vec<QueueConfiguration> =
            queues.iter().filter(|q| matches(q, created.event, created.key)).cloned().collect();
        if matching.is_empty() {
            return;
        }
        let sqs = self.sqs.clone();
        let urls: Vec<(String, Option<String>)> =
            matching.iter().map(|q| (q.queue_arn.clone(), q.id.clone())).collect();
        let record = |configuration: Option<String>| record(created, configuration);
        let messages: Vec<(String, String)> = urls
            .into_iter()
            .map(|(arn, id)| (arn, serde_json::json!({"Records": [record(id)]}).to_string()))
            .collect();
        let this = self.urls.lock().map(|u| u.clone()).unwrap_or_default();
        tokio::spawn(async move {
            for (arn, body) in messages {
                let url = match this.get(&arn) {
                    Some(url) => url.clone(),
                    None => {
                        let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
                        match sqs.get_queue_url().queue_name(name).send().await.ok().and_then(|o| o.queue_url)
                        {
                            Some(url) => url,
                            None => {
                                tracing::error!(queue = %arn, "the notification's queue is gone; the event is lost");
                                continue;
                            }
                        }
                    }
                };
                if let Err(e) = sqs.send_message().queue_url(&url).message_body(body).send().await {
                    tracing::error!(queue = %arn, error = %aws_sdk_sqs::error::DisplayErrorContext(e), "sending an S3 notification");
                }
            }
        });
    }
}

/// Does `configuration` ask for `event` (`ObjectCreated:Put`) on `key`?
fn matches(configuration: &QueueConfiguration, event: &str, key: &str) -> bool {
    let wanted = configuration.events.iter().any(|e| {
        let e = e.as_ref().strip_prefix("s3:").unwrap_or(e.as_ref());
        e == event || e.strip_suffix('*').is_some_and(|family| event.starts_with(family))
    });
    let rules =
        configuration.filter.as_ref().and_then(|f| f.key.as_ref()).and_then(|k| k.filter_rules.as_ref());
    wanted
        && rules.is_none_or(|rules| {
            rules.iter().all(|rule| {
                let value = rule.value.as_deref().unwrap_or_default();
                match rule.name.as_ref().map(|n| n.as_str().to_ascii_lowercase()) {
                    Some(n) if n == "prefix" => key.starts_with(value),
                    Some(n) if n == "suffix" => key.ends_with(value),
                    _ => true,
                }
            })
        })
}

/// One event record as S3 writes it; the key is URL-encoded the way S3 encodes it (`+` for a space).
/// What an `ObjectCreated` notification says of the object.
pub struct Created<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub event: &'static str,
    pub size: u64,
    pub etag: &'a str,
    /// Its version, in a bucket that keeps versions.
    pub version: Option<&'a str>,
}

fn record(created: &Created<'_>, configuration: Option<String>) -> serde_json::Value {
    let Created { bucket, key, event, size, etag, version } = *created;
    let encoded: String =
        form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>().replace("%2F", "/");
    let mut object = serde_json::json!({"key": encoded, "size": size, "eTag": etag, "sequencer": format!("{:016X}", chrono::Utc::now().timestamp_micros())});
    if let Some(version) = version {
        // S3 names the version in the event of a versioned bucket's object.
        object["versionId"] = serde_json::json!(version);
    }
    serde_json::json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": crate::bootstrap::REGION,
        "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventName": event,
        "userIdentity": {"principalId": "vidgate-local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid::Uuid::now_v7().simple().to_string(), "x-amz-id-2": "vidgate-local"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration.unwrap_or_default(),
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "vidgate-local"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": object,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::{Event, FilterRule, FilterRuleName, NotificationConfigurationFilter, S3KeyFilter};

    fn queue(events: &[&str], prefix: Option<&str>) -> QueueConfiguration {
        QueueConfiguration {
            events: events.iter().map(|e| Event::from((*e).to_owned())).collect(),
            filter: prefix.map(|p| NotificationConfigurationFilter {
                key: Some(S3KeyFilter {
                    filter_rules: Some(vec![FilterRule {
                        name: Some(FilterRuleName::from_static(FilterRuleName::PREFIX)),
                        value: Some(p.to_owned()),
                    }]),
                }),
            }),
            id: None,
            queue_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        }
    }

    #[test]
    fn configurations_match_by_event_family_and_key_prefix() {
        assert!(matches(&queue(&["s3:ObjectCreated:*"], None), "ObjectCreated:Put", "a"));
        assert!(matches(
            &queue(&["s3:ObjectCreated:CompleteMultipartUpload"], None),
            "ObjectCreated:CompleteMultipartUpload",
            "a"
        ));
        assert!(!matches(
            &queue(&["s3:ObjectCreated:Put"], None),
            "ObjectCreated:CompleteMultipartUpload",
            "a"
        ));
        assert!(!matches(&queue(&["s3:ObjectRemoved:*"], None), "ObjectCreated:Put", "a"));
        assert!(matches(&queue(&["s3:ObjectCreated:*"], Some("videos/")), "ObjectCreated:Put", "videos/x"));
        assert!(!matches(&queue(&["s3:ObjectCreated:*"], Some("videos/")), "ObjectCreated:Put", "other/x"));
    }

    #[test]
    fn records_parse_as_the_lambda_event_type_and_encode_keys_as_s3_does() {
        let body = serde_json::json!({"Records": [record(
            &Created { bucket: "b", key: "videos/a b+c.mp4", event: "ObjectCreated:Put", size: 7, etag: "e", version: None },
            None,
        )]});
        let event: aws_lambda_events::event::s3::S3Event = serde_json::from_value(body).unwrap();
        assert_eq!(event.records[0].s3.object.key.as_deref(), Some("videos/a+b%2Bc.mp4"));
        assert_eq!(event.records[0].s3.object.size, Some(7));
    }
}
