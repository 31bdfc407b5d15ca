//! hello-JSON on Rocket 0.5 at 127.0.0.1:$PORT (default 8091), logging off, keep-alive, no
//! fairings. Benchmark baseline only (benches/run.sh): what one Rocket route costs before any
//! application work. Served at /bench/hello, the path of scimd's own hello route, so one wrk
//! script drives both.
use rocket::http::ContentType;
use rocket::{get, routes};

#[get("/bench/hello")]
fn hello() -> (ContentType, &'static str) {
    (ContentType::JSON, r#"{"message":"hello"}"#)
}

#[rocket::launch]
fn rocket() -> _ {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8091);
    let figment = rocket::Config::figment()
        .merge(("port", port))
        .merge(("address", "127.0.0.1"))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    rocket::custom(figment).mount("/", routes![hello])
}
