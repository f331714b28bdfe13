//! Lifecycle events on the local stack, along the template's path: the table's stream (moto's) →
//! `publish-events` → an EventBridge bus (moto's) → a rule → a webhook receiver this test starts
//! on 127.0.0.1, with the API destination's retries and dead-letter queue. Every event received
//! is checked against `schemas/lifecycle-event.schema.json`, and every delivery's signature with
//! the Standard Webhooks spec's own library.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate::domain::{Change, Status, time};
use vidgate_tests::receiver::{Receiver, key_of};
use vidgate_tests::{MIB, Stack, TABLE, bytes, noise};

fn schema() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/lifecycle-event.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, event: &Value) {
    let errors: Vec<String> =
        validator.iter_errors(event).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{event:#}\ndoes not match the schema: {errors:#?}");
}

async fn create(stack: &Stack, sub: &str, body: Value) -> Value {
    let (status, created) = stack.call("POST", "/v1/uploads", Some(sub), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_change_reaches_the_webhook_once_retried_and_as_the_schema_says() {
    let mut stack = Stack::start().await;
    // The receiver fails its first two requests (a 503, then a 429): both are retried.
    let receiver = Receiver::start(vec![503, 429], None).await;
    stack.publish_lifecycle_events(Some(receiver.webhook(5))).await.unwrap();
    let mut wanted = BTreeSet::new();
    let mut want = |id: &str, types: &[&str]| {
        for t in types {
            wanted.insert((id.to_owned(), (*t).to_owned()));
        }
    };

    // Uploaded, then deleted.
    let video = stack.upload("alice", "a.mp4", &bytes(MIB, 31)).await;
    let uploaded = video["id"].as_str().unwrap().to_owned();
    let (status, _) = stack.call("DELETE", &format!("/v1/videos/{uploaded}"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    want(&uploaded, &["Video Upload Started", "Video Uploaded", "Video Deleted"]);

    // Aborted.
    let aborted =
        create(&stack, "alice", json!({"filename": "b.mp4"})).await["videoId"].as_str().unwrap().to_owned();
    let (status, _) = stack.call("DELETE", &format!("/v1/uploads/{aborted}"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    want(&aborted, &["Video Upload Started", "Video Upload Aborted"]);

    // Rejected: the bytes are no video.
    let created = create(&stack, "alice", json!({"filename": "c.mp4", "size": MIB})).await;
    let rejected = created["videoId"].as_str().unwrap().to_owned();
    let (_, signed) = stack
        .call(
            "POST",
            &format!("/v1/uploads/{rejected}/part-urls"),
            Some("alice"),
            Some(&json!({"partNumbers": [1]})),
        )
        .await;
    stack.put_part(signed["urls"][0]["url"].as_str().unwrap(), noise(MIB, 32)).await;
    let (status, body) =
        stack.call("POST", &format!("/v1/uploads/{rejected}/complete"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    want(&rejected, &["Video Upload Started", "Video Rejected"]);

    // Expired: back-dated, then swept.
    let expired =
        create(&stack, "bob", json!({"filename": "d.mp4"})).await["videoId"].as_str().unwrap().to_owned();
    stack
        .dynamodb
        .update_item()
        .table_name(TABLE)
        .key("id", AttributeValue::S(expired.clone()))
        .update_expression("SET expiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::S("2026-01-01T00:00:00.000Z".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(vidgate::events::expire_uploads(stack.app()).await.unwrap().expired, 1);
    want(&expired, &["Video Upload Started", "Video Upload Expired"]);

    let events = receiver.wait_for(&wanted).await;
    let validator = schema();
    for event in &events {
        assert_valid(&validator, event);
    }
    let types: BTreeSet<&str> = events.iter().filter_map(|e| e["detail-type"].as_str()).collect();
    let every: BTreeSet<&str> =
        vidgate::domain::lifecycle::Lifecycle::ALL.iter().map(|l| l.detail_type()).collect();
    assert_eq!(types, every, "every detail-type");

    // The envelope is EventBridge's, with exactly its fields.
    let first = events.iter().find(|e| key_of(e) == (uploaded.clone(), "Video Uploaded".into())).unwrap();
    let fields: BTreeSet<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail"
        ])
    );
    assert_eq!(first["detail"]["owner"], "alice");
    assert_eq!(first["detail"]["previousStatus"], "uploading");
    assert_eq!(first["detail"]["size"], MIB);
    assert_eq!(
        first["resources"][0],
        format!("arn:aws:s3:::{}/{}", vidgate_tests::BUCKET, video["key"].as_str().unwrap())
    );
    let deleted = events.iter().find(|e| key_of(e) == (uploaded.clone(), "Video Deleted".into())).unwrap();
    assert_eq!(
        (deleted["detail"]["filename"].as_str(), deleted["detail"]["previousStatus"].as_str()),
        (Some(""), Some("uploaded"))
    );
    // Nothing secret: no credentials, tokens or URLs anywhere in an event.
    for event in &events {
        let text = event.to_string();
        for secret in ["X-Amz-Signature", "secretAccessKey", "sessionToken", "http://", "https://"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    let state = receiver.state.lock().unwrap();
    // Every delivery verifies with the spec's library; a retry is the same webhook-id again.
    assert!(state.unverified.is_empty(), "{:?}", state.unverified);
    assert_eq!(state.verified, state.requests);
    let distinct: BTreeSet<&String> = state.ids.iter().collect();
    assert!(distinct.len() < state.ids.len(), "the retried deliveries repeat their ids: {:?}", state.ids);
    for event in &events {
        assert!(state.ids.iter().any(|id| event["id"] == id.as_str()), "webhook-id is the event's id");
    }
    assert!(
        state.requests >= events.len() + 2,
        "the two failed deliveries were retried: {} requests",
        state.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_dies_right_after_its_write_still_leads_to_the_event() {
    let mut stack = Stack::start().await;
    let created = create(&stack, "alice", json!({"filename": "e.mp4"})).await;
    let id = created["videoId"].as_str().unwrap().to_owned();
    let video = stack.app().videos.get(&id.parse().unwrap()).await.unwrap().unwrap();
    // The abort's one DynamoDB write, and then nothing: no code of ours runs after it, and the
    // publisher isn't even running yet (down, or deploying).
    let written = stack.app().videos.transition(&video, &Change::Abort, time::now()).await.unwrap();
    assert_eq!(written.status, Status::Aborted);

    let receiver = Receiver::start(Vec::new(), None).await;
    stack.publish_lifecycle_events(Some(receiver.webhook(5))).await.unwrap();
    let wanted = BTreeSet::from([
        (id.clone(), "Video Upload Started".to_owned()),
        (id.clone(), "Video Upload Aborted".to_owned()),
    ]);
    let events = receiver.wait_for(&wanted).await;
    let validator = schema();
    events.iter().for_each(|e| assert_valid(&validator, e));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_a_webhook_keeps_refusing_wait_in_the_dead_letter_queue() {
    let mut stack = Stack::start().await;
    // 400 is not retried; the dead-letter queue gets the event after one delivery.
    let refusing = Receiver::start(Vec::new(), Some(400)).await;
    let queues = stack.publish_lifecycle_events(Some(refusing.webhook(3))).await.unwrap();
    let id =
        create(&stack, "alice", json!({"filename": "f.mp4"})).await["videoId"].as_str().unwrap().to_owned();
    let sqs = aws_sdk_sqs::Client::new(stack.sdk());
    let deadline = Instant::now() + Duration::from_secs(60);
    let dead = loop {
        let out = sqs
            .receive_message()
            .queue_url(&queues.dead_letters)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(message) = out.messages.unwrap_or_default().into_iter().next() {
            break message;
        }
        assert!(Instant::now() < deadline, "nothing reached the dead-letter queue");
    };
    let event: Value = serde_json::from_str(dead.body().unwrap()).unwrap();
    assert_eq!(key_of(&event), (id, "Video Upload Started".to_owned()));
    assert_eq!(refusing.state.lock().unwrap().requests, 1, "a 400 is not retried");
    assert!(refusing.events().is_empty());
}

/// deliver-webhooks as deployed: its secret read from Secrets Manager (moto's), its queue SQS, its
/// receiver over HTTP. A delivery verifies with the secret stored there; an unusable secret posts
/// nothing and the message comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_function_signs_with_the_secret_in_secrets_manager() {
    use vidgate::aws::webhook::{HttpReceiver, ManagedSecrets, SqsDeliveryQueue};
    use vidgate::uploads::webhooks::{RetryPolicy, Webhook};
    let stack = Stack::start().await;
    let secrets = aws_sdk_secretsmanager::Client::new(stack.sdk());
    let secret = vidgate_tests::receiver::SECRET;
    secrets.create_secret().name("vidgate/webhook").secret_string(secret).send().await.unwrap();
    secrets.create_secret().name("vidgate/not-a-secret").secret_string("hello").send().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(stack.sdk());
    let mut urls = Vec::new();
    for name in ["deployed-webhook", "deployed-webhook-dead"] {
        urls.push(sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap());
    }
    let receiver = Receiver::start(Vec::new(), None).await;
    let envelope = json!({"version": "0", "id": "9c7e0a4e-1f4b-4f7e-9f6a-2b1d3c4e5f60", "detail-type": "Video Uploaded",
        "source": "vidgate", "account": "123456789012", "time": time::now(), "region": "us-east-1",
        "resources": [], "detail": {"id": "0193a5e2-7c4f-7d2a-9b1e-3f6c2a8d4e10", "status": "uploaded"}});
    let batch = |id: &str| -> aws_lambda_events::event::sqs::SqsEvent {
        serde_json::from_value(
            json!({"Records": [{"messageId": id, "receiptHandle": "r", "body": envelope.to_string(),
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}}]}),
        )
        .unwrap()
    };
    let deployed = |name: &str| Webhook {
        receiver: HttpReceiver::new(&receiver.url).unwrap(),
        secrets: ManagedSecrets::new(stack.sdk(), name),
        queue: SqsDeliveryQueue::new(stack.sdk(), &urls[0], &urls[1]),
        retry: RetryPolicy::default(),
    };
    let reply = vidgate::events::deliver_webhooks(&deployed("vidgate/webhook"), batch("m1")).await;
    assert!(reply.batch_item_failures.is_empty());
    {
        let state = receiver.state.lock().unwrap();
        assert_eq!((state.verified, &state.unverified), (1, &Vec::<String>::new()));
        assert_eq!(state.ids, ["9c7e0a4e-1f4b-4f7e-9f6a-2b1d3c4e5f60"]);
        assert_eq!(state.events[0], envelope, "the body is the event as queued");
    }
    for name in ["vidgate/not-a-secret", "vidgate/no-such-secret"] {
        let reply = vidgate::events::deliver_webhooks(&deployed(name), batch("m2")).await;
        let failed: Vec<&str> =
            reply.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["m2"], "{name}");
    }
    assert_eq!(receiver.state.lock().unwrap().requests, 1, "nothing is posted unsigned");
}
