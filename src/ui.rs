//! The embedded web UI: `ui/` compiled into the binary with rust-embed and served at `/` and
//! `/ui/…`.
//!
//! There is no build step, so fingerprinting is done here: every asset is reachable under
//! `/ui/<version>/<path>`, where `<version>` is a hash over all embedded files. `index.html`
//! names its script and stylesheet through that prefix (the `{{version}}` placeholder), and ES
//! module imports are relative, so the whole module graph inherits it. Versioned URLs are
//! cached for a year as immutable; `index.html` is `no-cache` (revalidated by `ETag`, answered
//! `304` when unchanged), so a new binary is picked up on the next page load.
//!
//! Every UI response carries a strict CSP (no inline script or style); `X-Frame-Options: DENY`
//! and `nosniff` come from the Shield scimd configures for every response (`crate::rocket`).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::OnceLock;

use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::{Route, get, routes};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

/// The files under `ui/`. `debug-embed` makes debug builds embed too, so tests serve exactly
/// what a release serves, whatever the working directory.
#[derive(RustEmbed)]
#[folder = "ui/"]
struct Assets;

/// Content-Security-Policy of every UI response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub fn routes() -> Vec<Route> {
    routes![index, ui_root, instance, asset]
}

/// A hash over every embedded file's path and content: the fingerprint in asset URLs.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut names: Vec<_> = Assets::iter().collect();
        names.sort();
        let mut h = Sha256::new();
        for name in names {
            if let Some(f) = Assets::get(&name) {
                h.update(name.as_bytes());
                h.update(f.metadata.sha256_hash());
            }
        }
        hex::encode(&h.finalize()[..6])
    })
}

/// `index.html` with the fingerprint filled in, and its ETag.
fn index_html() -> &'static (Vec<u8>, String) {
    static INDEX: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    INDEX.get_or_init(|| {
        let raw = Assets::get("index.html").map_or(Cow::Borrowed(&b""[..]), |f| f.data);
        let html = String::from_utf8_lossy(&raw).replace("{{version}}", version());
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(html.as_bytes())));
        (html.into_bytes(), etag)
    })
}

/// The `If-None-Match` header, if any.
pub struct IfNoneMatch(Option<String>);

impl IfNoneMatch {
    /// Whether the client's copy is `etag` (weak comparison, RFC 9110 §13.1.2).
    fn matches(&self, etag: &str) -> bool {
        self.0.as_deref().is_some_and(|h| {
            h.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == etag)
        })
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for IfNoneMatch {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Self(
            req.headers().get_one("If-None-Match").map(str::to_owned),
        ))
    }
}

/// One UI response: the body (absent for 304), its type, ETag and cache policy.
pub struct UiFile {
    body: Option<Cow<'static, [u8]>>,
    content_type: ContentType,
    etag: String,
    cache: &'static str,
}

impl UiFile {
    fn new(
        body: Cow<'static, [u8]>,
        content_type: ContentType,
        etag: String,
        cache: &'static str,
        inm: &IfNoneMatch,
    ) -> Self {
        let body = (!inm.matches(&etag)).then_some(body);
        Self {
            body,
            content_type,
            etag,
            cache,
        }
    }
}

impl<'r> Responder<'r, 'static> for UiFile {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut res = Response::build();
        res.header(Header::new("ETag", self.etag))
            .header(Header::new("Cache-Control", self.cache))
            .header(Header::new("Content-Security-Policy", CSP))
            .header(Header::new("Referrer-Policy", "no-referrer"));
        match self.body {
            Some(body) => {
                res.header(self.content_type)
                    .sized_body(body.len(), std::io::Cursor::new(body));
            }
            None => {
                res.status(Status::NotModified);
            }
        }
        res.ok()
    }
}

fn index_file(inm: &IfNoneMatch) -> UiFile {
    let (html, etag) = index_html();
    UiFile::new(
        Cow::Borrowed(html.as_slice()),
        ContentType::HTML,
        etag.clone(),
        REVALIDATE,
        inm,
    )
}

#[get("/")]
fn index(inm: IfNoneMatch) -> UiFile {
    index_file(&inm)
}

#[get("/ui")]
fn ui_root(inm: IfNoneMatch) -> UiFile {
    index_file(&inm)
}

/// What the UI cannot know by itself: the address IdPs must use (`public_url`, else this
/// request's origin) and the versions. Not secret, so no session is needed.
#[get("/ui/instance.json")]
fn instance(origin: RequestOrigin, inm: IfNoneMatch) -> UiFile {
    let body = serde_json::json!({
        "origin": origin.0,
        "version": env!("CARGO_PKG_VERSION"),
        "ui_version": version(),
    })
    .to_string()
    .into_bytes();
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&body)));
    UiFile::new(Cow::Owned(body), ContentType::JSON, etag, REVALIDATE, &inm)
}

/// [`crate::http::origin`] of the request.
pub struct RequestOrigin(String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RequestOrigin {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Self(crate::http::origin(req)))
    }
}

/// `/ui/<version>/<file>` (immutable), `/ui/<file>` (revalidated), or, for an extensionless
/// path that is no file, `index.html`: the client-side router owns every page URL under `/ui`.
#[get("/ui/<path..>", rank = 20)]
fn asset(path: PathBuf, inm: IfNoneMatch) -> Option<UiFile> {
    let parts: Vec<&str> = path.iter().filter_map(|s| s.to_str()).collect();
    let (name, cache) = match parts.split_first() {
        Some((first, rest)) if *first == version() && !rest.is_empty() => {
            (rest.join("/"), IMMUTABLE)
        }
        _ => (parts.join("/"), REVALIDATE),
    };
    if let Some(file) = Assets::get(&name).filter(|_| name != "index.html") {
        let content_type = name
            .rsplit_once('.')
            .and_then(|(_, ext)| ContentType::from_extension(ext))
            .unwrap_or(ContentType::Binary);
        let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
        return Some(UiFile::new(file.data, content_type, etag, cache, &inm));
    }
    let last = parts.last().copied().unwrap_or_default();
    (!last.contains('.')).then(|| index_file(&inm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let m = |h: &str| IfNoneMatch(Some(h.to_owned()));
        assert!(m("\"a\", \"b\"").matches("\"b\""));
        assert!(m("W/\"b\"").matches("\"b\""));
        assert!(m("*").matches("\"b\""));
        assert!(!m("\"a\"").matches("\"b\""));
        assert!(!IfNoneMatch(None).matches("\"b\""));
    }

    #[test]
    fn index_names_fingerprinted_assets_that_exist() {
        let (html, _) = index_html();
        let html = String::from_utf8_lossy(html);
        let prefix = format!("/ui/{}/", version());
        assert!(html.contains(&format!("{prefix}app.js")), "{html}");
        assert!(!html.contains("{{version}}"));
        assert!(Assets::get("app.js").is_some() && Assets::get("app.css").is_some());
    }
}
