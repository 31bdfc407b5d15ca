//! `ScimJson`: the request body guard. Accepts `application/scim+json` and `application/json`
//! (with any parameters, e.g. charset), enforces `limits.max_body_bytes` and
//! `limits.body_timeout_secs`, and turns every failure into the SCIM error a client can act on
//! (415, 413, 408, 400 invalidSyntax with the line and column of the JSON error).

use std::time::Duration;

use rocket::data::{Data, FromData, Outcome, ToByteUnit};
use rocket::http::Status;
use rocket::request::Request;
use serde_json::Value;

use super::{App, stash};
use crate::scim::ScimError;

/// A parsed JSON request body.
pub struct ScimJson(pub Value);

#[rocket::async_trait]
impl<'r> FromData<'r> for ScimJson {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        match read(req, data).await {
            Ok(v) => Outcome::Success(Self(v)),
            Err(e) => {
                let status = Status::from_code(e.status).unwrap_or(Status::BadRequest);
                stash(req, e);
                Outcome::Error((status, ()))
            }
        }
    }
}

async fn read(req: &Request<'_>, data: Data<'_>) -> Result<Value, ScimError> {
    if let Some(ct) = req.content_type() {
        // UncasedStr compares case-insensitively.
        let acceptable =
            ct.top() == "application" && (ct.sub() == "scim+json" || ct.sub() == "json");
        if !acceptable {
            return Err(ScimError::new(
                415,
                format!(
                    "Content-Type {ct} is not accepted; send the body as application/scim+json (or application/json)"
                ),
            ));
        }
    }
    let limits = req.rocket().state::<App>().map(|a| &a.config.limits);
    let limit = limits.map_or(1_048_576, |l| l.max_body_bytes);
    let timeout = limits.map_or(30, |l| l.body_timeout_secs);
    let bytes = read_bounded(data, limit, timeout).await?;
    super::request_log::keep_body(req, &bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; this operation needs a JSON object",
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::invalid_syntax(format!(
            "the request body is not valid JSON: {} at line {}, column {}",
            describe_json_error(&e),
            e.line(),
            e.column()
        ))
    })
}

/// The whole body, at most `limit` bytes, received within `timeout_secs`: a client that sends
/// its body slowly (or stops) holds a connection and a buffer, so it gets 408 instead.
pub(super) async fn read_bounded(
    data: Data<'_>,
    limit: u64,
    timeout_secs: u64,
) -> Result<bytes::Bytes, ScimError> {
    let read = data.open(limit.bytes()).into_bytes();
    let bytes = rocket::tokio::time::timeout(Duration::from_secs(timeout_secs), read)
        .await
        .map_err(|_| too_slow(timeout_secs))?
        .map_err(|e| {
            tracing::warn!("reading request body failed: {e}");
            ScimError::invalid_syntax(
                "the request body could not be read completely; resend the request",
            )
        })?;
    if !bytes.is_complete() {
        return Err(too_large(limit));
    }
    Ok(bytes::Bytes::from(bytes.into_inner()))
}

/// 408 naming the time limit and the setting that raises it.
pub fn too_slow(secs: u64) -> ScimError {
    ScimError::new(
        408,
        format!(
            "the request body did not arrive within {secs} s (limits.body_timeout_secs); send it at once, or raise the limit for slow links"
        ),
    )
}

/// 413 naming the limit and the setting that raises it.
pub fn too_large(limit: u64) -> ScimError {
    ScimError::new(
        413,
        format!(
            "the request body is larger than {limit} bytes (limits.max_body_bytes); send fewer changes per request or raise the limit"
        ),
    )
}

/// serde_json's message without its own " at line … column …" suffix (we add ours).
fn describe_json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    msg.split(" at line ").next().unwrap_or(&msg).to_owned()
}
