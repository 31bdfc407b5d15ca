//! `limits.max_url_bytes`: a request target (path and query) longer than the limit is answered
//! with a SCIM 414 before routing. hyper itself refuses targets past
//! [`HYPER_MAX_URI_BYTES`](crate::config::HYPER_MAX_URI_BYTES) with an empty-bodied 414 that
//! scimd never sees; the limit is validated to stay below that, so every refusal a client can
//! reach with a URL scimd parses is a SCIM error. (A request head over hyper's read buffer,
//! 417,792 bytes, likewise gets hyper's empty 431.)

use rocket::Data;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::request::Request;

use super::{App, stash};
use crate::scim::ScimError;

/// A path no route serves: the request is routed there, falls to the catcher, and the
/// catcher renders the stashed 414.
const REFUSED: &str = "/scimd-refused-request";

pub(crate) struct UrlLimit;

#[rocket::async_trait]
impl Fairing for UrlLimit {
    fn info(&self) -> Info {
        Info {
            name: "URL length limit",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let Some(limit) = req
            .rocket()
            .state::<App>()
            .map(|a| a.config.limits.max_url_bytes)
        else {
            return;
        };
        let uri = req.uri();
        let len = uri.path().as_str().len() + uri.query().map_or(0, |q| q.as_str().len() + 1);
        if len <= limit {
            return;
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
    }
}
