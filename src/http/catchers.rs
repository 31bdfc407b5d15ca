//! Catchers: every error Rocket produces itself (a failed guard, 404, 413, 422, 500…) leaves as
//! a SCIM Error with a detail, never an HTML page or an empty body (Okta asserts on the body of
//! a 401, S35).

use rocket::http::Status;
use rocket::{Catcher, Request, catch, catchers};

use super::stashed;
use crate::scim::ScimError;

pub(crate) fn catchers() -> Vec<Catcher> {
    catchers![any_error]
}

#[catch(default)]
fn any_error(status: Status, req: &Request<'_>) -> ScimError {
    if let Some(e) = stashed(req) {
        return e;
    }
    let detail = match status.code {
        400 => "the request is malformed".to_owned(),
        401 => "authentication is required: send \"Authorization: Bearer <token>\"".to_owned(),
        404 => format!("{} is not an endpoint of this server", req.uri().path()),
        413 => {
            super::body::too_large(
                req.rocket()
                    .state::<super::App>()
                    .map_or(1_048_576, |a| a.config.limits.max_body_bytes),
            )
            .detail
        }
        422 => "the request body could not be processed; send a SCIM JSON object".to_owned(),
        500 => return ScimError::internal(),
        code => format!("the request failed with HTTP status {code}"),
    };
    ScimError::new(status.code, detail)
}
