//! Nothing lost when a function fails: S3 events go through an SQS queue to on-object-created, a
//! failed one comes back, and after the receive limit it waits in the dead-letter queue until a
//! redrive delivers it — on the local stack, with the same queue rules as the template.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::{Delivery, MIB, Stack, bytes};

async fn waiting(stack: &Stack, queue: &str) -> u64 {
    let sqs = aws_sdk_sqs::Client::new(stack.sdk());
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = out.attributes.unwrap_or_default();
    let n = |name: QueueAttributeName| attributes.get(&name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(QueueAttributeName::ApproximateNumberOfMessages)
        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

async fn video(stack: &Stack, id: &str) -> Value {
    let (status, video) = stack.call("GET", &format!("/v1/videos/{id}"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{video}");
    video
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_event_is_retried_then_dead_lettered_and_a_redrive_delivers_it() {
    let mut stack = Stack::start().await;
    let delivery = Delivery { max_receives: 2, visibility: Duration::from_secs(1) };
    // The table is unreachable for on-object-created: every delivery fails.
    let broken = stack.app_without_dynamodb().await;
    let queues = stack.deliver_s3_events_to(broken, delivery).await;

    // A single-PUT upload: only its S3 event can mark it uploaded.
    let source = bytes(MIB, 81);
    let body = json!({"filename": "a.mp4", "method": "put", "size": source.len()});
    let (status, created) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["videoId"].as_str().unwrap().to_owned();
    let put = &created["put"];
    let response = stack
        .http
        .put(put["url"].as_str().unwrap())
        .header("content-type", put["headers"]["content-type"].as_str().unwrap())
        .header("if-none-match", put["headers"]["if-none-match"].as_str().unwrap())
        .body(source)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let started = Instant::now();
    while waiting(&stack, &queues.dead_letters).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the event never reached the dead-letter queue");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // It was delivered (and failed) max_receives times first, a visibility timeout apart.
    assert!(started.elapsed() >= Duration::from_secs(1), "dead-lettered without a retry");
    let sqs = aws_sdk_sqs::Client::new(stack.sdk());
    let peek = sqs
        .receive_message()
        .queue_url(&queues.dead_letters)
        .visibility_timeout(0)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap();
    let letter = &peek.messages.unwrap()[0];
    let receives: u32 =
        letter.attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount].parse().unwrap();
    assert!(receives >= 2, "{receives} deliveries");
    assert!(letter.body().unwrap().contains(created["key"].as_str().unwrap()));
    assert_eq!(waiting(&stack, &queues.events).await, 0);
    assert_eq!(video(&stack, &id).await["status"], "uploading");

    // The cause is fixed; the operator replays the dead letters.
    let app = stack.app().clone();
    stack.deliver_s3_events_to(app, delivery).await;
    assert_eq!(vidgate_local::notifications::redrive(stack.sdk(), &queues).await.unwrap(), 1);
    let started = Instant::now();
    while video(&stack, &id).await["status"] == "uploading" {
        assert!(started.elapsed() < Duration::from_secs(20), "the replayed event was not handled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(video(&stack, &id).await["status"], "uploaded");
    assert_eq!(waiting(&stack, &queues.dead_letters).await, 0);
}
