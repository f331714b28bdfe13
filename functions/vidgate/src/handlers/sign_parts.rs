//! `POST /v1/uploads/{videoId}/part-urls`: presigned `PUT` URLs for parts.

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::app::Objects;
use crate::domain::time::{self, Timestamp};
use crate::domain::{Owner, Video};
use crate::http::ApiError;
use crate::http::request::{json_response, required_json_body, video_id};
use crate::uploads::{self, PartChoice, PartLengths, SignedParts, owned};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignRequest {
    /// These parts, in this order.
    part_numbers: Option<Vec<u32>>,
    /// Or the plan from this part number on, up to 1,000 parts (declared-size uploads).
    from: Option<u32>,
    /// Each part's length, in the order of the parts: required when the upload declared no
    /// size, checked against the plan when it did.
    part_sizes: Option<Vec<u64>>,
    /// Each part's checksum (base64, of the upload's `checksumAlgorithm`), in the same order:
    /// required when the upload declared an algorithm.
    part_checksums: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartUrl {
    part_number: u32,
    /// Where the part starts in the file, and its length (`null` when the upload declared no
    /// size): the bytes its `PUT` sends.
    offset: Option<u64>,
    length: Option<u64>,
    /// Whether S3 holds this part already (at this length): then there is no URL to `PUT`.
    arrived: bool,
    /// The part's ETag when it arrived.
    etag: Option<String>,
    url: Option<String>,
    method: Option<&'static str>,
    /// Headers the `PUT` must send as given (they are signed): the part's checksum, if any.
    headers: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Signed {
    urls: Vec<PartUrl>,
    /// When the URLs stop working: their TTL, or sooner if the credentials that signed them
    /// expire sooner.
    #[serde(with = "time")]
    expires_at: Timestamp,
    /// The `from` that signs the rest of the plan (`null`: nothing left).
    next: Option<u32>,
}

pub(super) async fn handle(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = owned(app, owner, &video_id(req)?).await?;
    sign(app, &video, req).await
}

/// Signs parts of `video`, the caller's (or its upload link's) own.
pub(super) async fn sign(
    app: &impl Objects,
    video: &Video,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let request: SignRequest = required_json_body(req)?;
    let choice = match (request.part_numbers, request.from) {
        (Some(numbers), None) => PartChoice::Numbers(numbers),
        (None, Some(from)) => PartChoice::From(from),
        _ => {
            return Err(ApiError::invalid(
                "invalid_body",
                "give either partNumbers (these parts) or from (the plan from this part on)",
            ));
        }
    };
    let lengths = request.part_sizes.map_or(PartLengths::Unstated, PartLengths::Stated);
    let SignedParts { urls, expires_at, next } =
        uploads::sign_parts(app, video, choice, lengths, request.part_checksums, true).await?;
    let urls = urls
        .into_iter()
        .map(|part| PartUrl {
            part_number: part.part_number,
            offset: part.range.map(|(offset, _)| offset),
            length: part.range.map(|(_, length)| length),
            arrived: part.arrived.is_some(),
            etag: part.arrived,
            method: part.url.is_some().then_some("PUT"),
            url: part.url,
            headers: part.headers,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Signed { urls, expires_at, next }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    #[tokio::test]
    async fn given_an_upload_when_signing_then_one_put_url_per_part_in_order() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4", "size": 23 * MIB, "partSize": 5 * MIB})).await;
        let id = created["videoId"].as_str().unwrap();
        let (status, body) = call(
            &h.app,
            HttpFunction::SignParts,
            h.post(&format!("/v1/uploads/{id}/part-urls"), json!({"partNumbers": [3, 1, 5]})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let urls = body["urls"].as_array().unwrap();
        assert_eq!(urls.iter().map(|u| u["partNumber"].as_u64().unwrap()).collect::<Vec<_>>(), [3, 1, 5]);
        assert!(urls.iter().all(|u| u["method"] == "PUT"));
        assert!(urls[0]["url"].as_str().unwrap().contains("partNumber=3"));
        assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'));
    }

    #[tokio::test]
    async fn the_plan_from_a_part_on_answers_ranges_arrivals_and_where_the_rest_starts() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4", "size": 12 * MIB, "partSize": 5 * MIB})).await;
        let id = created["videoId"].as_str().unwrap();
        let upload_id = created["uploadId"].as_str().unwrap();
        h.objects.put_part_bytes(upload_id, 2, vec![7; 5 * MIB as usize]).unwrap();
        let path = format!("/v1/uploads/{id}/part-urls");
        let (status, body) = call(&h.app, HttpFunction::SignParts, h.post(&path, json!({"from": 1}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next"], serde_json::Value::Null);
        let parts: Vec<_> = body["urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (u["partNumber"].as_u64(), u["offset"].as_u64(), u["length"].as_u64(), u["arrived"].as_bool())
            })
            .collect();
        let (five, ten) = (5 * MIB, 10 * MIB);
        assert_eq!(
            parts,
            [
                (Some(1), Some(0), Some(five), Some(false)),
                (Some(2), Some(five), Some(five), Some(true)),
                (Some(3), Some(ten), Some(2 * MIB), Some(false))
            ]
        );
        let arrived = &body["urls"][1];
        assert_eq!(
            (&arrived["url"], &arrived["method"]),
            (&serde_json::Value::Null, &serde_json::Value::Null)
        );
        assert!(arrived["etag"].as_str().is_some_and(|e| !e.is_empty()));
        assert_eq!(body["urls"][0]["method"], "PUT");
        // One of the two, not both.
        let both = json!({"from": 1, "partNumbers": [1]});
        let (status, reply) = call(&h.app, HttpFunction::SignParts, h.post(&path, both)).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("invalid_body")), "{reply}");
    }

    #[tokio::test]
    async fn given_bad_part_numbers_then_400_with_a_code() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4", "size": 23 * MIB, "partSize": 5 * MIB})).await;
        let path = format!("/v1/uploads/{}/part-urls", created["videoId"].as_str().unwrap());
        let too_many: Vec<u32> = (1..=1001).collect();
        for (body, code) in [
            (json!({"partNumbers": []}), "invalid_part_numbers"),
            (json!({"partNumbers": too_many}), "invalid_part_numbers"),
            (json!({"partNumbers": [0]}), "part_number_out_of_range"),
            (json!({"partNumbers": [6]}), "part_number_out_of_range"),
            (json!({"partNumbers": [1, 1]}), "duplicate_part_number"),
            (json!({"partNumbers": [-1]}), "invalid_body"),
            (json!({"partNumbers": "1"}), "invalid_body"),
            (json!({}), "invalid_body"),
        ] {
            let (status, reply) = call(&h.app, HttpFunction::SignParts, h.post(&path, body.clone())).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some(code)), "{body} → {reply}");
        }
    }

    #[tokio::test]
    async fn unknown_size_states_each_parts_size_and_stays_within_the_maximum_video_size() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let path = format!("/v1/uploads/{}/part-urls", created["videoId"].as_str().unwrap());
        // 32 GiB at 8 MiB a part: 4,096 part numbers.
        let max = created["maxParts"].as_u64().unwrap();
        assert_eq!(max, 4096);
        let sign = |body| call(&h.app, HttpFunction::SignParts, h.post(&path, body));
        let (status, body) = sign(json!({"partNumbers": [4096], "partSizes": [8 * MIB]})).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["urls"][0]["url"].as_str().unwrap().contains(&format!("content-length={}", 8 * MIB)));
        for (request, code) in [
            (json!({"partNumbers": [4097], "partSizes": [1]}), "part_number_out_of_range"),
            (json!({"partNumbers": [1]}), "part_sizes_required"),
            (json!({"partNumbers": [1, 2], "partSizes": [1]}), "invalid_part_sizes"),
            (json!({"partNumbers": [1], "partSizes": [8 * MIB + 1]}), "invalid_part_size"),
        ] {
            let (status, reply) = sign(request.clone()).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some(code)), "{request} → {reply}");
        }
    }

    #[tokio::test]
    async fn someone_elses_or_a_malformed_id_is_404() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let path = format!("/v1/uploads/{}/part-urls", created["videoId"].as_str().unwrap());
        let req = h.request("POST", &path, r#"{"partNumbers":[1]}"#, Some("bob"));
        let (status, body) = call(&h.app, HttpFunction::SignParts, req).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("video_not_found")));
        let (status, _) = call(
            &h.app,
            HttpFunction::SignParts,
            h.post("/v1/uploads/nope/part-urls", json!({"partNumbers": [1]})),
        )
        .await;
        assert_eq!(status, 404);
    }
}
