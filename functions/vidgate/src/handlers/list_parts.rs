//! `GET /v1/uploads/{videoId}/parts`: what S3 holds so far, to resume an upload.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::app::Objects;
use crate::domain::Owner;
use crate::http::ApiError;
use crate::http::request::{json_response, video_id};
use crate::uploads::{self, owned};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    part_number: u32,
    etag: &'a str,
    size: u64,
    /// The part's checksum (the upload's algorithm), when it declared one.
    checksum: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Parts<'a> {
    parts: Vec<Part<'a>>,
    uploaded_bytes: u64,
}

pub(super) async fn handle(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = owned(app, owner, &video_id(req)?).await?;
    let parts = uploads::list_parts(app, &video).await?;
    let body = Parts {
        uploaded_bytes: parts.iter().map(|p| p.size).sum(),
        parts: parts
            .iter()
            .map(|p| Part {
                part_number: p.part_number,
                etag: &p.etag,
                size: p.size,
                checksum: p.checksum.as_deref(),
            })
            .collect(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    #[tokio::test]
    async fn lists_uploaded_parts_with_total_bytes() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let upload_id = created["uploadId"].as_str().unwrap();
        let etag = h.objects.put_part(upload_id, 2, 5 * MIB).unwrap();
        h.objects.put_part(upload_id, 1, 5 * MIB).unwrap();
        let path = format!("/v1/uploads/{}/parts", created["videoId"].as_str().unwrap());
        let (status, body) = call(&h.app, HttpFunction::ListParts, h.get(&path)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["uploadedBytes"], 10 * MIB);
        assert_eq!(body["parts"][0]["partNumber"], 1);
        assert_eq!(
            body["parts"][1],
            json!({"partNumber": 2, "etag": etag, "size": 5 * MIB, "checksum": null})
        );
    }

    #[tokio::test]
    async fn s3_down_is_503() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        h.objects.set_unavailable(true);
        let path = format!("/v1/uploads/{}/parts", created["videoId"].as_str().unwrap());
        let (status, body) = call(&h.app, HttpFunction::ListParts, h.get(&path)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (503, Some("service_unavailable")));
    }
}
