//! `GET /scim/v2/_doctor/<nonce>`: what `scimd doctor` calls through `public_url` to learn
//! whether that URL reaches *this* scimd (the nonce it just wrote into this database), whether
//! the `Authorization` header arrives as sent and whether the query string arrives unchanged
//! (reverse proxies drop the first and re-encode the second). It needs no token, since
//! checking that the token arrives is its point, and it answers nothing secret: whether the
//! nonce is known, and what this request carried.

use rocket::http::uri::Origin;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};

use super::App;
use super::admin::blocking;
use crate::service::doctor::{self, ProbeAnswer};

pub(crate) fn routes() -> Vec<Route> {
    routes![probe]
}

/// The raw `Authorization` header, if any: compared, never logged or stored.
pub struct RawAuthorization(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RawAuthorization {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Self(
            req.headers().get_one("Authorization").map(str::to_owned),
        ))
    }
}

#[get("/_doctor/<nonce>")]
async fn probe(
    nonce: &str,
    origin: &Origin<'_>,
    authorization: RawAuthorization,
    app: &State<App>,
) -> Result<Json<ProbeAnswer>, super::admin::ApiError> {
    let store = app.store.clone();
    let (nonce, query) = (
        nonce.to_owned(),
        origin.query().map(|q| q.as_str().to_owned()),
    );
    Ok(Json(
        blocking(move || Ok(doctor::answer_probe(&store, &nonce, authorization.0, query))).await?,
    ))
}
