//! Responders: every SCIM answer, success or error, is `application/scim+json` with the
//! headers RFC 7644 asks for (Location on create, ETag on single resources,
//! WWW-Authenticate on 401).

use std::io::Cursor;

use bytes::Bytes;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};

use crate::scim::ScimError;
use crate::service::resources::Rendered;
use crate::service::verbatim::Body;

/// `application/scim+json` (RFC 7644 §8.1).
pub fn scim_json() -> ContentType {
    ContentType::new("application", "scim+json")
}

/// A SCIM success response.
#[derive(Debug)]
pub struct ScimResponse {
    status: Status,
    body: Option<Body>,
    location: Option<String>,
    etag: Option<String>,
}

impl ScimResponse {
    /// 200 with a body and no resource headers (lists, discovery).
    pub fn ok(body: impl Into<Body>) -> Self {
        Self {
            status: Status::Ok,
            body: Some(body.into()),
            location: None,
            etag: None,
        }
    }

    /// 200 with one resource: ETag and Location describe it.
    pub fn resource(r: Rendered) -> Self {
        Self {
            status: Status::Ok,
            etag: Some(r.etag),
            location: Some(r.location),
            body: Some(r.body),
        }
    }

    /// 201 Created with the new resource.
    pub fn created(r: Rendered) -> Self {
        Self {
            status: Status::Created,
            ..Self::resource(r)
        }
    }

    /// 204 with no body.
    pub fn no_content() -> Self {
        Self {
            status: Status::NoContent,
            body: None,
            location: None,
            etag: None,
        }
    }

    /// 304: the client's copy (If-None-Match) is current.
    pub fn not_modified(etag: String) -> Self {
        Self {
            status: Status::NotModified,
            body: None,
            location: None,
            etag: Some(etag),
        }
    }
}

impl<'r> Responder<'r, 'static> for ScimResponse {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut res = Response::build();
        res.status(self.status);
        if let Some(body) = self.body {
            let json = body.into_bytes().map_err(|_| Status::InternalServerError)?;
            let bytes = logged(req, Bytes::from(json));
            res.header(scim_json())
                .sized_body(bytes.len(), Cursor::new(bytes));
        }
        if let Some(loc) = self.location {
            res.header(Header::new("Location", loc));
        }
        if let Some(tag) = self.etag {
            res.header(Header::new("ETag", tag));
        }
        res.ok()
    }
}

/// The JSON bytes of a response, shared with the request log.
fn logged(req: &Request<'_>, bytes: Bytes) -> Bytes {
    super::request_log::keep_response_body(req, &bytes);
    bytes
}

/// The `Retry-After` seconds a guard computed for this request's 429 (the rate limiter),
/// kept in the request's local cache for whichever responder renders the error.
pub(crate) struct RetryAfter(pub Option<u64>);

impl<'r> Responder<'r, 'static> for ScimError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        // 501 answers a client asking for an optional feature scimd does not have (Bulk, /Me):
        // the client's concern, not a fault of the server.
        if self.status >= 500 && self.status != 501 {
            tracing::error!(status = self.status, detail = %self.detail, "request failed");
        } else {
            tracing::debug!(status = self.status, detail = %self.detail, "request rejected");
        }
        let json = serde_json::to_vec(&self.to_json()).map_err(|_| Status::InternalServerError)?;
        let bytes = logged(req, Bytes::from(json));
        let mut res = Response::build();
        res.status(Status::from_code(self.status).unwrap_or(Status::InternalServerError))
            .header(scim_json())
            .sized_body(bytes.len(), Cursor::new(bytes));
        if self.status == 401 {
            res.header(Header::new("WWW-Authenticate", "Bearer realm=\"scimd\""));
        }
        if self.status == 429 || self.status == 503 {
            let secs = req.local_cache(|| RetryAfter(None)).0.unwrap_or(5);
            res.header(Header::new("Retry-After", secs.to_string()));
        }
        res.ok()
    }
}
