//! `limits.max_url_bytes`: a request target (path and query) longer than the limit is answered
//! with a SCIM 414 before routing. hyper itself refuses targets past
//! [`HYPER_MAX_URI_BYTES`](crate::config::HYPER_MAX_URI_BYTES) with an empty-bodied 414 that
//! scimd never sees; the limit is validated to stay below that, so every refusal a client can
//! reach with a URL scimd parses is a SCIM error. (A request head over hyper's read buffer,
//! 417,792 bytes, likewise gets hyper's empty 431.)

use rocket::http::uri::Origin;
use rocket::request::Request;

use super::{App, stash};
use crate::scim::ScimError;

/// A path no route serves: the request is routed there, falls to the catcher, and the
/// catcher renders the stashed 414.
const REFUSED: &str = "/scimd-refused-request";

/// Refuses a request whose target is longer than `limits.max_url_bytes`: stashes the 414 and
/// reroutes the request to a path no route serves, so the catcher renders it. Called first by
/// the request fairing that already rewrites tenant URLs before routing (one fairing call per
/// request rather than two). Returns whether the request was refused.
pub(super) fn refuse_too_long(req: &mut Request<'_>) -> bool {
    let Some(limit) = req
        .rocket()
        .state::<App>()
        .map(|a| a.config.limits.max_url_bytes)
    else {
        return false;
    };
    let uri = req.uri();
    let len = uri.path().as_str().len() + uri.query().map_or(0, |q| q.as_str().len() + 1);
    if len <= limit {
        return false;
    }
    stash(
        req,
        ScimError::new(
            414,
            format!(
                "the URL is {len} bytes, longer than {limit} bytes (limits.max_url_bytes); send a shorter filter in a POST to .search, or raise the limit"
            ),
        ),
    );
    if let Ok(refused) = Origin::parse(REFUSED) {
        req.set_uri(refused);
    }
    true
}
