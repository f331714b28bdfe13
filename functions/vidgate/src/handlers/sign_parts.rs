//! `POST /v1/uploads/{videoId}/part-urls`: presigned `PUT` URLs for parts.

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::app::Objects;
use crate::domain::Owner;
use crate::domain::time::{self, Timestamp};
use crate::http::ApiError;
use crate::http::request::{json_response, required_json_body, video_id};
use crate::uploads::{self, PartLengths, SignedParts, owned};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignRequest {
    part_numbers: Vec<u32>,
    /// Each part's length, in the order of `part_numbers`: required when the upload declared
    /// no size, checked against the plan when it did.
    part_sizes: Option<Vec<u64>>,
    /// Each part's checksum (base64, of the upload's `checksumAlgorithm`), in the same order:
    /// required when the upload declared an algorithm.
    part_checksums: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartUrl {
    part_number: u32,
    url: String,
    method: &'static str,
    /// Headers the `PUT` must send as given (they are signed): the part's checksum, if any.
    headers: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Signed {
    urls: Vec<PartUrl>,
    #[serde(with = "time")]
    expires_at: Timestamp,
}

pub(super) async fn handle(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let id = video_id(req)?;
    let request: SignRequest = required_json_body(req)?;
    let video = owned(app, owner, &id).await?;
    let SignedParts { urls, expires_at } = uploads::sign_parts(
        app,
        &video,
        request.part_numbers,
        request.part_sizes.map_or(PartLengths::Unstated, PartLengths::Stated),
        request.part_checksums,
    )
    .await?;
    let urls = urls
        .into_iter()
        .map(|part| PartUrl {
            part_number: part.part_number,
            url: part.url,
            method: "PUT",
            headers: part.headers,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Signed { urls, expires_at }))
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
