//! `GET /bench/hello`: the smallest JSON answer this Rocket build can give, through the same
//! fairings and runtime as the SCIM API. Only compiled with the `bench-hello` feature, where
//! benches/run.sh uses it as the HTTP ceiling the SCIM scenarios are divided by.

use rocket::serde::json::Json;
use rocket::{Route, get, routes};
use serde_json::{Value, json};

pub(crate) fn routes() -> Vec<Route> {
    routes![hello]
}

#[get("/hello")]
fn hello() -> Json<Value> {
    Json(json!({"hello": "world"}))
}
