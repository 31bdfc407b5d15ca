//! `ScimJson`: the request body guard. Accepts `application/scim+json` and `application/json`
//! (with any parameters, e.g. charset), enforces `limits.max_body_bytes`, and turns every
//! failure into the SCIM error a client can act on (415, 413, 400 invalidSyntax with the line
//! and column of the JSON error).

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
    let limit = req
        .rocket()
        .state::<App>()
        .map_or(1_048_576, |a| a.config.limits.max_body_bytes);
    let bytes = data.open(limit.bytes()).into_bytes().await.map_err(|e| {
        tracing::warn!("reading request body failed: {e}");
        ScimError::invalid_syntax(
            "the request body could not be read completely; resend the request",
        )
    })?;
    if !bytes.is_complete() {
        return Err(too_large(limit));
    }
    let bytes = bytes::Bytes::from(bytes.into_inner());
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
