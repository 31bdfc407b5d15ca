//! `Cache-Control: no-store` on every admin API response: they carry new token secrets, CSRF
//! tokens and private data, none of which a browser or a proxy may keep. One rule for the
//! whole of `/api` so a new route cannot forget it.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

pub(crate) struct NoStoreApi;

#[rocket::async_trait]
impl Fairing for NoStoreApi {
    fn info(&self) -> Info {
        Info {
            name: "no-store on /api",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let path = req.uri().path();
        if path == "/api" || path.starts_with("/api/") {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
    }
}
