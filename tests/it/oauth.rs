//! OAuth 2.0 client credentials (issue 28): the token endpoint with client secrets and
//! `private_key_jwt`, access tokens on SCIM requests, their refusals and diagnoses, RFC 8414
//! metadata, clients' lifecycle. The Python `authlib` acceptance test is tests/oauth/.

use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use scimd::service::oauth::{self, NewClient, Registered, Rotation};
use scimd::store::oauth::Method;

use crate::common::{Reply, TestApp};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oauth");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn add(app: &TestApp, tenant: &str, name: &str) -> Registered {
    oauth::add(
        &app.app().store,
        &NewClient {
            tenant_slug: tenant,
            name,
            method: Method::ClientSecret,
            public_keys: None,
            jwks_uri: None,
            redirect_uris: &[],
        },
        &app.app().config.oauth,
    )
    .expect("client")
}

fn add_keyed(app: &TestApp, name: &str, keys: &str) -> Registered {
    oauth::add(
        &app.app().store,
        &NewClient {
            tenant_slug: "default",
            name,
            method: Method::PrivateKeyJwt,
            public_keys: Some(keys),
            jwks_uri: None,
            redirect_uris: &[],
        },
        &app.app().config.oauth,
    )
    .expect("keyed client")
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn token_request(app: &TestApp, path: &str, form: &str, auth: Option<&str>) -> Reply {
    let mut headers = vec![FORM];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    app.send_raw("POST", path, Some(form), &headers).await
}

async fn secret_token(app: &TestApp, path: &str, r: &Registered) -> String {
    let secret = r.client_secret.as_deref().expect("secret");
    let got = token_request(
        app,
        path,
        "grant_type=client_credentials&scope=scim",
        Some(&basic(&r.client.client_id, secret)),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.raw);
    got.body["access_token"].as_str().expect("token").to_owned()
}

async fn scim_get(app: &TestApp, path: &str, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    app.send_with("GET", path, None, &[("Authorization", &bearer)])
        .await
}

#[track_caller]
fn oauth_error(r: &Reply, status: u16, error: &str) -> String {
    assert_eq!(r.status, status, "{}", r.raw);
    assert_eq!(r.body["error"], json!(error), "{}", r.raw);
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    r.body["error_description"]
        .as_str()
        .expect("description")
        .to_owned()
}

/// Claims of a well-formed assertion for `client_id` at `aud`.
fn claims(client_id: &str, aud: &str, jti: &str) -> Value {
    let now = scimd::clock::now().unix_timestamp();
    json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 120, "jti": jti})
}

fn sign(alg: Algorithm, key_file: &str, kid: Option<&str>, claims: &Value) -> String {
    let pem = fixture(key_file);
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .expect("key");
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

fn assertion_form(jwt: &str) -> String {
    format!(
        "grant_type=client_credentials&scope=scim&client_assertion_type={}&client_assertion={jwt}",
        crate::common::enc(oauth::ASSERTION_TYPE)
    )
}

const TOKEN_URL: &str = "http://localhost/oauth/token";

// profile-row: IPSIE-AUTH-1
// profile-row: IPSIE-AUTH-8
#[rocket::async_test]
async fn a_client_secret_by_basic_or_in_the_form_gets_a_short_lived_token_that_works_on_scim() {
    let app = TestApp::new().await;
    let r = add(&app, "default", "entra");
    let secret = r.client_secret.clone().expect("secret");
    assert!(secret.starts_with("scimcs_"));
    let got = token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials&scope=scim",
        Some(&basic(&r.client.client_id, &secret)),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_eq!(got.body["token_type"], "Bearer");
    assert_eq!(got.body["expires_in"], 3600);
    assert_eq!(got.body["scope"], "scim");
    assert_eq!(got.header("Cache-Control"), Some("no-store"));
    let token = got.body["access_token"].as_str().expect("token");
    assert_eq!(scim_get(&app, "/scim/v2/Users", token).await.status, 200);
    // client_secret_post, scope left out.
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={secret}",
        r.client.client_id
    );
    let post = token_request(&app, "/oauth/token", &form, None).await;
    assert_eq!(post.status, 200, "{}", post.raw);
    let created = app
        .send_with(
            "POST",
            "/scim/v2/Users",
            Some(crate::common::okta_user("oauth@example.com")),
            &[(
                "Authorization",
                &format!("Bearer {}", post.body["access_token"].as_str().expect("t")),
            )],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    // Every kind of SCIM operation takes the access token.
    let bearer = format!("Bearer {}", post.body["access_token"].as_str().expect("t"));
    let auth = [("Authorization", bearer.as_str())];
    let id = created.body["id"].as_str().expect("id").to_owned();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "members": [{"value": id}]});
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"oauth@example.com\""});
    for (method, path, body, want) in [
        ("PATCH", format!("/scim/v2/Users/{id}"), Some(patch), 200),
        ("POST", "/scim/v2/Groups".to_owned(), Some(group), 201),
        (
            "POST",
            "/scim/v2/Users/.search".to_owned(),
            Some(search),
            200,
        ),
        ("GET", format!("/scim/v2/Users/{id}"), None, 200),
        ("DELETE", format!("/scim/v2/Users/{id}"), None, 204),
    ] {
        let r = app.send_with(method, &path, body, &auth).await;
        assert_eq!(r.status, want, "{method} {path}: {}", r.raw);
    }
    // Only the hash is stored.
    assert_eq!(
        app.sql_int(&format!(
            "SELECT COUNT(*) FROM oauth_tokens WHERE hash = x'{}'",
            hex::encode(scimd::service::tokens::hash_secret(token))
        )),
        1
    );
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM oauth_clients WHERE secret_hash IS NOT NULL"),
        1
    );
}

// profile-row: IPSIE-AUTH-5
#[rocket::async_test]
async fn every_malformed_token_request_gets_its_rfc_6749_error() {
    let app = TestApp::new().await;
    let r = add(&app, "default", "entra");
    let secret = r.client_secret.clone().expect("secret");
    let good = basic(&r.client.client_id, &secret);
    let wrong = token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials",
        Some(&basic(&r.client.client_id, "scimcs_nope")),
    )
    .await;
    let d = oauth_error(&wrong, 401, "invalid_client");
    assert!(d.contains("secret is wrong") && d.contains("entra"), "{d}");
    assert_eq!(
        wrong.header("WWW-Authenticate"),
        Some("Basic realm=\"scimd\"")
    );
    assert!(!wrong.raw.contains("scimcs_nope"));
    let none = token_request(&app, "/oauth/token", "grant_type=client_credentials", None).await;
    assert!(oauth_error(&none, 401, "invalid_client").contains("no client authentication"));
    let unknown = token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials",
        Some(&basic("nobody", "x")),
    )
    .await;
    assert!(oauth_error(&unknown, 401, "invalid_client").contains("not known"));
    let grant = token_request(&app, "/oauth/token", "grant_type=password", Some(&good)).await;
    assert!(oauth_error(&grant, 400, "unsupported_grant_type").contains("client_credentials"));
    let missing = token_request(&app, "/oauth/token", "scope=scim", Some(&good)).await;
    assert!(oauth_error(&missing, 400, "invalid_request").contains("grant_type"));
    let scope = token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials&scope=admin",
        Some(&good),
    )
    .await;
    assert!(oauth_error(&scope, 400, "invalid_scope").contains("\"scim\""));
    let twice = format!(
        "grant_type=client_credentials&client_id={}&client_secret={secret}",
        r.client.client_id
    );
    let both = token_request(&app, "/oauth/token", &twice, Some(&good)).await;
    assert!(oauth_error(&both, 400, "invalid_request").contains("more than one way"));
    let json_body = app
        .send_raw(
            "POST",
            "/oauth/token",
            Some("{}"),
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &good),
            ],
        )
        .await;
    assert!(oauth_error(&json_body, 400, "invalid_request").contains("x-www-form-urlencoded"));
    let huge = format!(
        "grant_type=client_credentials&scope={}",
        "s".repeat(2 << 20)
    );
    let cut = token_request(&app, "/oauth/token", &huge, Some(&good)).await;
    assert!(oauth_error(&cut, 400, "invalid_request").contains("limits.max_body_bytes"));
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_tokens"), 0);
}

// profile-row: IPSIE-AUTH-2
// profile-row: IPSIE-AUTH-3
// profile-row: IPSIE-AUTH-9
// profile-row: IPSIE-AUTH-10
#[rocket::async_test]
async fn private_key_jwt_with_registered_pem_and_jwk_keys_and_each_assertion_only_once() {
    let app = TestApp::new().await;
    let rsa = add_keyed(&app, "rsa-client", &fixture("test-only-rsa.pub.pem"));
    let ec = add_keyed(&app, "ec-client", &fixture("test-only.jwks.json"));
    assert!(rsa.client_secret.is_none());
    for (alg, key, kid, client) in [
        (Algorithm::RS256, "test-only-rsa.pem", None, &rsa),
        (Algorithm::PS256, "test-only-rsa.pem", None, &rsa),
        (Algorithm::ES256, "test-only-ec.pem", Some("ec-1"), &ec),
        (Algorithm::RS256, "test-only-rsa.pem", Some("rsa-1"), &ec),
    ] {
        let jwt = sign(
            alg,
            key,
            kid,
            &claims(
                &client.client.client_id,
                TOKEN_URL,
                &format!("{alg:?}-{kid:?}"),
            ),
        );
        let got = token_request(&app, "/oauth/token", &assertion_form(&jwt), None).await;
        assert_eq!(got.status, 200, "{alg:?}: {}", got.raw);
        let token = got.body["access_token"].as_str().expect("token");
        assert_eq!(scim_get(&app, "/scim/v2/Groups", token).await.status, 200);
    }
    // The issuer is an accepted audience too.
    let jwt = sign(
        Algorithm::RS256,
        "test-only-rsa.pem",
        None,
        &claims(&rsa.client.client_id, "http://localhost/oauth", "by-issuer"),
    );
    assert_eq!(
        token_request(&app, "/oauth/token", &assertion_form(&jwt), None)
            .await
            .status,
        200
    );
    // The same assertion again: replayed.
    let replay = token_request(&app, "/oauth/token", &assertion_form(&jwt), None).await;
    let d = oauth_error(&replay, 401, "invalid_client");
    assert!(d.contains("replayed") && d.contains("by-issuer"), "{d}");
    // RFC 7523 §2.1: the same JWT as the grant itself, used once too.
    let jwt = sign(
        Algorithm::ES256,
        "test-only-ec.pem",
        Some("ec-1"),
        &claims(&ec.client.client_id, TOKEN_URL, "grant-1"),
    );
    let form = format!(
        "grant_type={}&assertion={jwt}",
        crate::common::enc(oauth::JWT_BEARER_GRANT)
    );
    let got = token_request(&app, "/oauth/token", &form, None).await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_eq!(
        scim_get(
            &app,
            "/scim/v2/Users",
            got.body["access_token"].as_str().expect("t")
        )
        .await
        .status,
        200
    );
    let again = token_request(&app, "/oauth/token", &form, None).await;
    assert!(oauth_error(&again, 401, "invalid_client").contains("replayed"));
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_assertions"), 6);
}

// profile-row: IPSIE-AUTH-2
// profile-row: IPSIE-AUTH-4
#[rocket::async_test]
async fn a_bad_assertion_is_refused_with_what_is_wrong_and_uses_up_nothing() {
    let app = TestApp::new().await;
    let c = add_keyed(&app, "rsa-client", &fixture("test-only-rsa.pub.pem"));
    let id = c.client.client_id.clone();
    let try_claims = |claims: Value, key: &'static str| {
        let jwt = sign(Algorithm::RS256, key, None, &claims);
        let app = &app;
        async move { token_request(app, "/oauth/token", &assertion_form(&jwt), None).await }
    };
    let aud = try_claims(
        claims(&id, "https://elsewhere.example/token", "a"),
        "test-only-rsa.pem",
    )
    .await;
    let d = oauth_error(&aud, 401, "invalid_client");
    assert!(d.contains("wrong audience") && d.contains(TOKEN_URL), "{d}");
    let other_key = try_claims(claims(&id, TOKEN_URL, "b"), "test-only-other-rsa.pem").await;
    assert!(oauth_error(&other_key, 401, "invalid_client").contains("signature does not verify"));
    let mut no_jti = claims(&id, TOKEN_URL, "c");
    no_jti.as_object_mut().expect("obj").remove("jti");
    assert!(
        oauth_error(
            &try_claims(no_jti, "test-only-rsa.pem").await,
            401,
            "invalid_client"
        )
        .contains("no jti")
    );
    let mut long = claims(&id, TOKEN_URL, "d");
    long["exp"] = json!(scimd::clock::now().unix_timestamp() + 7200);
    assert!(
        oauth_error(
            &try_claims(long, "test-only-rsa.pem").await,
            401,
            "invalid_client"
        )
        .contains("max_assertion_lifetime_secs")
    );
    let mut expired = claims(&id, TOKEN_URL, "e");
    expired["exp"] = json!(scimd::clock::now().unix_timestamp() - 600);
    expired["iat"] = json!(scimd::clock::now().unix_timestamp() - 700);
    assert!(
        oauth_error(
            &try_claims(expired, "test-only-rsa.pem").await,
            401,
            "invalid_client"
        )
        .contains("expired")
    );
    let mut sub = claims(&id, TOKEN_URL, "f");
    sub["sub"] = json!("someone-else");
    assert!(
        oauth_error(
            &try_claims(sub, "test-only-rsa.pem").await,
            401,
            "invalid_client"
        )
        .contains("sub")
    );
    // An HMAC "assertion" keyed with anything public is never accepted.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&id, TOKEN_URL, "g"),
        &EncodingKey::from_secret(b"k"),
    )
    .expect("hs");
    let d = oauth_error(
        &token_request(&app, "/oauth/token", &assertion_form(&hs), None).await,
        401,
        "invalid_client",
    );
    assert!(d.contains("HS256"), "{d}");
    // A secret client cannot use an assertion, nor a key client a secret.
    let s = add(&app, "default", "entra");
    let jwt = sign(
        Algorithm::RS256,
        "test-only-rsa.pem",
        None,
        &claims(&s.client.client_id, TOKEN_URL, "h"),
    );
    assert!(
        oauth_error(
            &token_request(&app, "/oauth/token", &assertion_form(&jwt), None).await,
            401,
            "invalid_client"
        )
        .contains("client secret")
    );
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_assertions"), 0);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_tokens"), 0);
}

// profile-row: IPSIE-AUTH-5
// profile-row: IPSIE-AUTH-9
#[rocket::async_test]
async fn expired_revoked_and_other_tenant_access_tokens_each_get_their_diagnosis() {
    let app = TestApp::new().await;
    scimd::service::tenants::create(&app.app().store, "acme", None).expect("tenant");
    let r = add(&app, "default", "entra");
    let token = secret_token(&app, "/oauth/token", &r).await;
    // Another tenant's URL.
    let other = scim_get(&app, "/t/acme/scim/v2/Users", &token).await;
    let d = other.assert_error(401, None);
    assert!(
        d.contains("issued to client \"entra\" of tenant \"default\"")
            && d.contains("/t/acme/oauth/token"),
        "{d}"
    );
    // Its own tenant's client works on acme.
    let a = add(&app, "acme", "okta");
    let acme_token = secret_token(&app, "/t/acme/oauth/token", &a).await;
    assert_eq!(
        scim_get(&app, "/t/acme/scim/v2/Users", &acme_token)
            .await
            .status,
        200
    );
    // A client of acme at the default tenant's endpoint.
    let wrong_endpoint = token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials",
        Some(&basic(
            &a.client.client_id,
            a.client_secret.as_deref().expect("s"),
        )),
    )
    .await;
    assert!(
        oauth_error(&wrong_endpoint, 401, "invalid_client").contains("belongs to tenant \"acme\"")
    );
    // Expired (moved into the past in the store before its first use here: no waiting).
    app.app()
        .store
        .write_blocking(|c| {
            Ok(c.execute(
                "UPDATE oauth_tokens SET expires = '2020-01-01T00:00:00.000Z'",
                [],
            )?)
        })
        .expect("expire");
    let d = scim_get(&app, "/scim/v2/Users", &token)
        .await
        .assert_error(401, None);
    assert!(
        d.contains("expired on 2020-01-01") && d.contains("request a new token"),
        "{d}"
    );
    // Revoked: a live, cached token stops at the next request.
    let fresh = secret_token(&app, "/t/acme/oauth/token", &a).await;
    assert_eq!(
        scim_get(&app, "/t/acme/scim/v2/Users", &fresh).await.status,
        200
    );
    oauth::revoke(&app.app().store, Some("acme"), "okta").expect("revoke");
    let d = scim_get(&app, "/t/acme/scim/v2/Users", &fresh)
        .await
        .assert_error(401, None);
    assert!(d.contains("OAuth client \"okta\" was revoked"), "{d}");
    let again = token_request(
        &app,
        "/t/acme/oauth/token",
        "grant_type=client_credentials",
        Some(&basic(
            &a.client.client_id,
            a.client_secret.as_deref().expect("s"),
        )),
    )
    .await;
    assert!(oauth_error(&again, 401, "invalid_client").contains("was revoked"));
    let unknown = scim_get(
        &app,
        "/scim/v2/Users",
        &format!("scimat_{}", "0".repeat(64)),
    )
    .await;
    assert!(unknown.assert_error(401, None).contains("not known"));
}

#[rocket::async_test]
async fn rotating_a_secret_keeps_the_old_one_for_the_overlap_only() {
    let app = TestApp::new().await;
    let r = add(&app, "default", "entra");
    let old = r.client_secret.clone().expect("s");
    let rotate = |overlap| {
        oauth::rotate(
            &app.app().store,
            &Rotation {
                tenant_slug: None,
                wanted: "entra",
                overlap,
                public_keys: None,
                jwks_uri: None,
            },
            &app.app().config.oauth,
        )
        .expect("rotate")
    };
    let new = rotate(Duration::from_secs(3600))
        .client_secret
        .expect("new");
    let id = r.client.client_id.clone();
    for s in [&old, &new] {
        let got = token_request(
            &app,
            "/oauth/token",
            "grant_type=client_credentials",
            Some(&basic(&id, s)),
        )
        .await;
        assert_eq!(got.status, 200, "{}", got.raw);
    }
    let newest = rotate(Duration::ZERO).client_secret.expect("newest");
    let stale = token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials",
        Some(&basic(&id, &new)),
    )
    .await;
    assert!(oauth_error(&stale, 401, "invalid_client").contains("was rotated"));
    let got = token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials",
        Some(&basic(&id, &newest)),
    )
    .await;
    assert_eq!(got.status, 200);
}

// profile-row: IPSIE-AUTH-4
// profile-row: IPSIE-AUTH-6
#[rocket::async_test]
async fn rfc_8414_metadata_is_at_the_well_known_path_of_each_issuer() {
    let app = TestApp::new().await;
    scimd::service::tenants::create(&app.app().store, "acme", None).expect("tenant");
    let m = app
        .get("/.well-known/oauth-authorization-server/oauth")
        .await;
    assert_eq!(m.status, 200, "{}", m.raw);
    assert_eq!(m.body["issuer"], "http://localhost/oauth");
    assert_eq!(m.body["token_endpoint"], TOKEN_URL);
    assert_eq!(
        m.body["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            oauth::JWT_BEARER_GRANT
        ])
    );
    assert_eq!(
        m.body["authorization_endpoint"],
        "http://localhost/oauth/authorize"
    );
    assert_eq!(m.body["response_types_supported"], json!(["code"]));
    assert_eq!(m.body["code_challenge_methods_supported"], json!(["S256"]));
    assert!(
        m.body["token_endpoint_auth_methods_supported"]
            .as_array()
            .expect("a")
            .contains(&json!("private_key_jwt"))
    );
    assert!(
        m.body["token_endpoint_auth_signing_alg_values_supported"]
            .as_array()
            .expect("a")
            .contains(&json!("ES256"))
    );
    let t = app
        .get("/.well-known/oauth-authorization-server/t/acme/oauth")
        .await;
    assert_eq!(t.body["issuer"], "http://localhost/t/acme/oauth");
    assert_eq!(
        t.body["token_endpoint"],
        "http://localhost/t/acme/oauth/token"
    );
    assert_eq!(
        app.get("/.well-known/oauth-authorization-server/t/nope/oauth")
            .await
            .status,
        404
    );
}

#[rocket::async_test]
async fn token_requests_are_logged_with_the_client_and_diagnosis_but_never_the_token() {
    let app = TestApp::new().await;
    let r = add(&app, "default", "entra");
    let token = secret_token(&app, "/oauth/token", &r).await;
    let id = r.client.client_id.clone();
    token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials",
        Some(&basic(&id, "scimcs_wrong")),
    )
    .await;
    assert_eq!(scim_get(&app, "/scim/v2/Users", &token).await.status, 200);
    oauth::revoke(&app.app().store, None, "entra").expect("revoke");
    scim_get(&app, "/scim/v2/Users", &token).await;
    let log = app.state::<std::sync::Arc<scimd::service::request_log::RequestLog>>();
    log.flush(&app.app().store).await;
    let rows = app.app().store.read_blocking(|c| {
        let mut s = c.prepare("SELECT path, status, COALESCE(token_name, ''), COALESCE(detail, ''), COALESCE(response_body, ''), COALESCE(request_body, '') FROM log.request_log ORDER BY id")?;
        let rows = s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }).expect("log");
    let oauth_rows: Vec<_> = rows.iter().filter(|r| r.0 == "/oauth/token").collect();
    assert_eq!(oauth_rows.len(), 2, "{rows:?}");
    assert_eq!((oauth_rows[0].1, oauth_rows[0].2.as_str()), (200, "entra"));
    assert_eq!((oauth_rows[1].1, oauth_rows[1].2.as_str()), (401, "entra"));
    assert!(oauth_rows[1].3.contains("secret is wrong"), "{rows:?}");
    let revoked = rows.last().expect("last");
    assert_eq!((revoked.1, revoked.2.as_str()), (401, "entra"), "{rows:?}");
    assert!(revoked.3.contains("was revoked"));
    let all = format!("{rows:?}");
    assert!(!all.contains(&token) && !all.contains("scimcs_"), "{all}");
    // The diagnosis the UI and `scimd log` show.
    let diag = scimd::scim::diagnosis::diagnose(&scimd::scim::diagnosis::Observed {
        status: 401,
        detail: Some(&revoked.3),
        method: "GET",
        path: "/scim/v2/Users",
        idp: "entra",
        ..Default::default()
    })
    .expect("diagnosis");
    assert_eq!(diag.title, "OAuth client revoked");
}

/// Serves `body` as a JWK Set at `http://127.0.0.1:<port>/jwks.json` on a thread, counting the
/// requests (a client's JWKS URL, which scimd fetches through `src/outbound.rs`).
fn serve_jwks(body: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/jwk-set+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (url, hits)
}

// profile-row: IPSIE-AUTH-7
#[rocket::async_test]
async fn private_key_jwt_with_keys_fetched_from_the_clients_jwks_url_cached() {
    let app = TestApp::with(|c| c.oauth.allow_http_jwks = true).await;
    let (url, hits) = serve_jwks(fixture("test-only.jwks.json"));
    let c = oauth::add(
        &app.app().store,
        &NewClient {
            tenant_slug: "default",
            name: "svc",
            method: Method::PrivateKeyJwt,
            public_keys: None,
            jwks_uri: Some(&url),
            redirect_uris: &[],
        },
        &app.app().config.oauth,
    )
    .expect("client");
    for jti in ["j1", "j2"] {
        let jwt = sign(
            Algorithm::ES256,
            "test-only-ec.pem",
            Some("ec-1"),
            &claims(&c.client.client_id, TOKEN_URL, jti),
        );
        let got = token_request(&app, "/oauth/token", &assertion_form(&jwt), None).await;
        assert_eq!(got.status, 200, "{}", got.raw);
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the JWKS is fetched once, then cached"
    );
    // A kid the cached set lacks would make scimd fetch once more before refusing, but at
    // most once per 10 s per URL.
    let jwt = sign(
        Algorithm::ES256,
        "test-only-ec.pem",
        Some("ec-9"),
        &claims(&c.client.client_id, TOKEN_URL, "j3"),
    );
    let d = oauth_error(
        &token_request(&app, "/oauth/token", &assertion_form(&jwt), None).await,
        401,
        "invalid_client",
    );
    assert!(d.contains("no key") && d.contains("ec-9"), "{d}");
    // The first refetch came at once? Not within 10 s of the first fetch: the cached set is
    // reused, so a stream of bogus kids costs the client's server nothing.
    let jwt = sign(
        Algorithm::ES256,
        "test-only-ec.pem",
        Some("ec-8"),
        &claims(&c.client.client_id, TOKEN_URL, "j4"),
    );
    oauth_error(
        &token_request(&app, "/oauth/token", &assertion_form(&jwt), None).await,
        401,
        "invalid_client",
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "no refetch within 10 s"
    );
    // Plain http is refused unless allowed.
    let strict = TestApp::new().await;
    let refused = oauth::add(
        &strict.app().store,
        &NewClient {
            tenant_slug: "default",
            name: "svc",
            method: Method::PrivateKeyJwt,
            public_keys: None,
            jwks_uri: Some(&url),
            redirect_uris: &[],
        },
        &strict.app().config.oauth,
    )
    .expect_err("http refused");
    assert!(
        refused.to_string().contains("oauth.allow_http_jwks"),
        "{refused}"
    );
}

#[rocket::async_test]
async fn the_admin_api_registers_lists_rotates_and_revokes_clients_and_health_counts_their_use() {
    use crate::admin_api::{api, sign_in};
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let made = api(
        &app,
        "POST",
        "/api/tenants/default/oauth-clients",
        Some(json!({"name": "entra"})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.raw);
    assert_eq!(made.body["token_endpoint"], TOKEN_URL);
    assert_eq!(made.body["scope"], "scim");
    let id = made.body["client"]["id"].as_str().expect("id").to_owned();
    let client_id = made.body["client"]["client_id"]
        .as_str()
        .expect("cid")
        .to_owned();
    let secret = made.body["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(made.body["client"].get("secret_hash").is_none());
    let bad = api(
        &app,
        "POST",
        "/api/tenants/default/oauth-clients",
        Some(json!({"name": "k", "method": "private_key_jwt"})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(bad.assert_error(400).contains("public key"));
    // A token and a SCIM call: the client's use is counted in integration health.
    let got = token_request(
        &app,
        "/oauth/token",
        "grant_type=client_credentials",
        Some(&basic(&client_id, &secret)),
    )
    .await;
    let token = got.body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(scim_get(&app, "/scim/v2/Users", &token).await.status, 200);
    let log = app.state::<std::sync::Arc<scimd::service::request_log::RequestLog>>();
    log.flush(&app.app().store).await;
    let health = api(&app, "GET", "/api/health?tenant=default", None, None, None).await;
    let entry = health.body["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["name"] == "entra")
        .cloned()
        .expect("entra in health");
    assert!(entry["last_success"].is_string(), "{entry}");
    let listed = api(
        &app,
        "GET",
        "/api/tenants/default/oauth-clients",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(listed.body["token_endpoint"], TOKEN_URL);
    assert_eq!(listed.body["clients"][0]["live_tokens"], 1);
    assert!(!listed.raw.contains(&secret));
    let rotated = api(
        &app,
        "POST",
        &format!("/api/tenants/default/oauth-clients/{id}/rotate"),
        Some(json!({"overlap": "1h"})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.raw);
    assert_ne!(
        rotated.body["client_secret"].as_str(),
        Some(secret.as_str())
    );
    let revoked = api(
        &app,
        "DELETE",
        &format!("/api/tenants/default/oauth-clients/{id}"),
        None,
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.raw);
    assert!(
        scim_get(&app, "/scim/v2/Users", &token)
            .await
            .assert_error(401, None)
            .contains("revoked")
    );
}

#[test]
fn the_cli_registers_a_client_prints_its_credentials_once_and_revokes_it() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |args: &[&str]| {
        let out = crate::server::scimd(dir.path())
            .args(args)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (stdout, _) = run(&["oauth", "client", "add", "--name", "entra"]);
    let shown: Value = serde_json::from_str(&stdout).expect("json on stdout");
    assert!(
        shown["client_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("scimcs_"))
    );
    assert!(
        shown["token_endpoint"]
            .as_str()
            .is_some_and(|u| u.ends_with("/oauth/token"))
    );
    let (listing, _) = run(&["oauth", "client", "list"]);
    assert!(
        listing.contains("entra") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(shown["client_secret"].as_str().expect("s")));
    let (rotated, err) = run(&["oauth", "client", "rotate", "entra", "--overlap", "1h"]);
    assert!(err.contains("previous secret works until"), "{err}");
    assert_ne!(
        serde_json::from_str::<Value>(&rotated).expect("json")["client_secret"],
        shown["client_secret"]
    );
    let (_, err) = run(&["oauth", "client", "revoke", "entra"]);
    assert!(err.contains("revoked OAuth client \"entra\""), "{err}");
    let (listing, _) = run(&["oauth", "client", "list", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&listing).expect("json")[0]["status"],
        "revoked"
    );
}

#[rocket::async_test]
async fn token_requests_count_against_the_clients_rate_limit() {
    let app = TestApp::with(|c| c.limits.requests_per_second = Some(1)).await;
    let r = add(&app, "default", "entra");
    let auth = basic(&r.client.client_id, r.client_secret.as_deref().expect("s"));
    let mut limited = None;
    for _ in 0..5 {
        let got = token_request(
            &app,
            "/oauth/token",
            "grant_type=client_credentials",
            Some(&auth),
        )
        .await;
        if got.status == 429 {
            limited = Some(got);
            break;
        }
        assert_eq!(got.status, 200, "{}", got.raw);
    }
    let got = limited.expect("a burst over 1 request per second is limited");
    assert!(
        oauth_error(&got, 429, "temporarily_unavailable").contains("limits.requests_per_second")
    );
    assert!(
        got.header("Retry-After")
            .is_some_and(|s| s.parse::<u64>().is_ok())
    );
}

// The optional point: JWT access tokens of an external authorization server the tenant trusts.
// profile-row: IPSIE-AUTH-7
#[rocket::async_test]
async fn jwt_access_tokens_of_a_trusted_issuer_are_checked_against_its_jwks() {
    use scimd::service::oauth_external as external;
    let app = TestApp::with(|c| c.oauth.allow_http_jwks = true).await;
    scimd::service::tenants::create(&app.app().store, "acme", None).expect("tenant");
    let (url, _) = serve_jwks(fixture("test-only.jwks.json"));
    let cfg = app.app().config.oauth.clone();
    external::add(
        &app.app().store,
        &cfg,
        ("default", "corp-idp"),
        ("https://idp.example", &url, None),
    )
    .expect("issuer");
    let now = scimd::clock::now().unix_timestamp();
    let token = |claims: Value| {
        sign(
            Algorithm::RS256,
            "test-only-rsa.pem",
            Some("rsa-1"),
            &claims,
        )
    };
    let good = json!({"iss": "https://idp.example", "aud": "http://localhost/scim/v2", "sub": "provisioner", "exp": now + 300, "scope": "scim"});
    assert_eq!(
        scim_get(&app, "/scim/v2/Users", &token(good.clone()))
            .await
            .status,
        200
    );
    let mut scp = good.clone();
    scp.as_object_mut().expect("o").remove("scope");
    scp["scp"] = json!(["scim", "openid"]);
    assert_eq!(
        scim_get(&app, "/scim/v2/Users", &token(scp)).await.status,
        200
    );
    let refused = |claims: Value| {
        let t = token(claims);
        let app = &app;
        async move {
            scim_get(app, "/scim/v2/Users", &t)
                .await
                .assert_error(401, None)
        }
    };
    let mut v = good.clone();
    v["scope"] = json!("openid profile");
    assert!(refused(v).await.contains("lacks the \"scim\" scope"));
    let mut v = good.clone();
    v["aud"] = json!("https://other.example");
    assert!(refused(v).await.contains("wrong audience"));
    let mut v = good.clone();
    v["exp"] = json!(now - 600);
    assert!(refused(v).await.contains("expired"));
    let mut v = good.clone();
    v["iss"] = json!("https://rogue.example");
    assert!(
        refused(v)
            .await
            .contains("not trusted by tenant \"default\"")
    );
    let forged = sign(
        Algorithm::RS256,
        "test-only-other-rsa.pem",
        Some("rsa-1"),
        &good,
    );
    assert!(
        scim_get(&app, "/scim/v2/Users", &forged)
            .await
            .assert_error(401, None)
            .contains("does not verify")
    );
    let acme = scim_get(&app, "/t/acme/scim/v2/Users", &token(good.clone()))
        .await
        .assert_error(401, None);
    assert!(
        acme.contains("trusted by tenant \"default\", not \"acme\""),
        "{acme}"
    );
    external::remove(&app.app().store, None, "corp-idp").expect("remove");
    assert!(refused(good).await.contains("not trusted"));
}

#[rocket::async_test]
async fn the_admin_api_manages_trusted_issuers() {
    use crate::admin_api::{api, sign_in};
    let app = TestApp::new().await;
    let s = sign_in(&app).await;
    let body = json!({"name": "corp", "issuer": "https://idp.example", "jwks_uri": "https://idp.example/jwks.json"});
    let made = api(
        &app,
        "POST",
        "/api/tenants/default/oauth-issuers",
        Some(body),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.raw);
    let plain = json!({"name": "lab", "issuer": "https://lab.example", "jwks_uri": "http://lab.example/jwks.json"});
    let refused = api(
        &app,
        "POST",
        "/api/tenants/default/oauth-issuers",
        Some(plain),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(refused.assert_error(400).contains("oauth.allow_http_jwks"));
    let listed = api(
        &app,
        "GET",
        "/api/tenants/default/oauth-issuers",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(listed.body[0]["issuer"], "https://idp.example");
    let gone = api(
        &app,
        "DELETE",
        "/api/tenants/default/oauth-issuers/corp",
        None,
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(gone.status, 200, "{}", gone.raw);
    let listed = api(
        &app,
        "GET",
        "/api/tenants/default/oauth-issuers",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(listed.body, json!([]));
}

/// IPSIE as a server guarantee: a tenant set to `require_oauth` refuses its SCIM tokens (an
/// events token still reads the feed), and one set to `require_private_key_jwt` refuses client
/// secrets at its token endpoint while signed assertions still get tokens; each refusal names
/// the setting.
// profile-row: IPSIE-AUTH-8
// profile-row: IPSIE-AUTH-10
#[rocket::async_test]
async fn a_tenant_can_take_only_oauth_and_only_signed_assertions() {
    let app = TestApp::new().await;
    let secret_client = add(&app, "default", "entra");
    let keyed = add_keyed(&app, "keyed", &fixture("test-only-rsa.pub.pem"));
    let events = app.issue_events_token("default", "hr-app");
    let set = |key: &str, on: bool| {
        let changes = serde_json::Map::from_iter([(key.to_owned(), json!(on))]);
        scimd::service::settings::set(&app.app().store, "default", changes).expect("setting");
    };

    set("require_oauth", true);
    let refused = app.get("/scim/v2/Users").await;
    let detail = refused.assert_error(401, None);
    assert!(detail.contains("require_oauth"), "{detail}");
    let token = secret_token(&app, "/oauth/token", &secret_client).await;
    assert_eq!(scim_get(&app, "/scim/v2/Users", &token).await.status, 200);
    assert_eq!(scim_get(&app, "/events?after=0", &events).await.status, 200);

    set("require_private_key_jwt", true);
    let form = "grant_type=client_credentials&scope=scim";
    let secret = secret_client.client_secret.as_deref().expect("secret");
    let got = token_request(
        &app,
        "/oauth/token",
        form,
        Some(&basic(&secret_client.client.client_id, secret)),
    )
    .await;
    let why = oauth_error(&got, 401, "invalid_client");
    assert!(why.contains("require_private_key_jwt"), "{why}");
    let jwt = sign(
        Algorithm::RS256,
        "test-only-rsa.pem",
        None,
        &claims(&keyed.client.client_id, TOKEN_URL, "only-signed-1"),
    );
    let signed = token_request(&app, "/oauth/token", &assertion_form(&jwt), None).await;
    assert_eq!(signed.status, 200, "{}", signed.raw);

    // Off again, the SCIM token works: the setting, not the token, refused it.
    set("require_oauth", false);
    assert_eq!(app.get("/scim/v2/Users").await.status, 200);
}

// ---- the authorization code grant: Okta's "OAuth 2" mode ----

const OKTA_CALLBACK: &str = "https://acme.okta.com/admin/app/cpc/scimd_1/oauth/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn add_code_client(app: &TestApp, tenant: &str, name: &str, uris: &[&str]) -> Registered {
    let uris: Vec<String> = uris.iter().map(|u| (*u).to_owned()).collect();
    oauth::add(
        &app.app().store,
        &NewClient {
            tenant_slug: tenant,
            name,
            method: Method::ClientSecret,
            public_keys: None,
            jwks_uri: None,
            redirect_uris: &uris,
        },
        &app.app().config.oauth,
    )
    .expect("code client")
}

fn authorize_query(client_id: &str, extra: &str) -> String {
    format!(
        "response_type=code&client_id={client_id}&redirect_uri={}&state=st%26ate&scope=scim{extra}",
        crate::common::enc(OKTA_CALLBACK)
    )
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The authorize endpoint, then the consent the UI's page makes as the signed-in admin;
/// returns the URL the browser is sent to.
async fn consent_with(app: &TestApp, csrf: &str, authorize: &str, allow: bool) -> String {
    use crate::admin_api::api;
    let sent = app.send_raw("GET", authorize, None, &[]).await;
    assert_eq!(sent.status, 303, "{}", sent.raw);
    let to = sent.header("Location").expect("location").to_owned();
    assert!(to.starts_with("/ui/consent?tenant="), "{to}");
    let params = query_of(&to);
    let request: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().filter(|(k, _)| *k != "tenant"))
        .finish();
    let tenant = &params["tenant"];
    let shown = api(
        app,
        "GET",
        &format!("/api/tenants/{tenant}/oauth-consent?{request}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(shown.status, 200, "{}", shown.raw);
    let answer = api(
        app,
        "POST",
        &format!("/api/tenants/{tenant}/oauth-consent"),
        Some(json!({"request": request, "allow": allow})),
        Some(csrf),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.raw);
    answer.body["redirect"]
        .as_str()
        .expect("redirect")
        .to_owned()
}

async fn code_for(app: &TestApp, csrf: &str, client_id: &str, extra: &str) -> String {
    let to = consent_with(
        app,
        csrf,
        &format!("/oauth/authorize?{}", authorize_query(client_id, extra)),
        true,
    )
    .await;
    assert!(
        to.starts_with(&format!("{OKTA_CALLBACK}?code=scimac_")),
        "{to}"
    );
    query_of(&to)["code"].clone()
}

fn code_form(code: &str, verifier: Option<&str>) -> String {
    let mut f = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        crate::common::enc(OKTA_CALLBACK)
    );
    if let Some(v) = verifier {
        f.push_str(&format!("&code_verifier={v}"));
    }
    f
}

fn diagnosis_of(detail: &str, path: &str, status: u16) -> String {
    scimd::scim::diagnosis::diagnose(&scimd::scim::diagnosis::Observed {
        status,
        detail: Some(detail),
        method: "POST",
        path,
        idp: "okta",
        ..Default::default()
    })
    .expect("diagnosis")
    .title
}

#[rocket::async_test]
async fn okta_authorization_code_with_pkce_then_refresh_tokens_work_on_scim() {
    let app = TestApp::new().await;
    let s = crate::admin_api::sign_in(&app).await;
    let r = add_code_client(&app, "default", "okta", &[OKTA_CALLBACK]);
    let (id, secret) = (
        r.client.client_id.clone(),
        r.client_secret.clone().expect("secret"),
    );
    let extra = format!(
        "&code_challenge={}&code_challenge_method=S256",
        challenge(VERIFIER)
    );
    let to = consent_with(
        &app,
        &s.csrf,
        &format!("/oauth/authorize?{}", authorize_query(&id, &extra)),
        true,
    )
    .await;
    let q = query_of(&to);
    assert_eq!(q["state"], "st&ate");
    assert_eq!(q["iss"], "http://localhost/oauth");
    let got = token_request(
        &app,
        "/oauth/token",
        &code_form(&q["code"], Some(VERIFIER)),
        Some(&basic(&id, &secret)),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_eq!(got.header("Cache-Control"), Some("no-store"));
    let access = got.body["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let refresh = got.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert!(access.starts_with("scimat_") && refresh.starts_with("scimrt_"));
    assert_eq!(got.body["token_type"], "Bearer");
    assert_eq!(scim_get(&app, "/scim/v2/Users", &access).await.status, 200);
    // Refresh with client_secret_post: a new pair, and the old refresh token is used up.
    let form = format!(
        "grant_type=refresh_token&refresh_token={refresh}&client_id={id}&client_secret={secret}"
    );
    let next = token_request(&app, "/oauth/token", &form, None).await;
    assert_eq!(next.status, 200, "{}", next.raw);
    let access2 = next.body["access_token"].as_str().expect("access2");
    let refresh2 = next.body["refresh_token"].as_str().expect("refresh2");
    assert_ne!(refresh2, refresh);
    assert_eq!(scim_get(&app, "/scim/v2/Users", access2).await.status, 200);
    // Only hashes are stored.
    let stored = app.sql_int(&format!(
        "SELECT COUNT(*) FROM oauth_refresh_tokens WHERE hash = x'{}'",
        hex::encode(scimd::service::tokens::hash_secret(refresh2))
    ));
    assert_eq!(stored, 1);
    assert_eq!(
        app.sql_int("SELECT COUNT(*) FROM oauth_codes WHERE used IS NOT NULL"),
        1
    );
    // A tenant's client: the flow works under /t/{slug}/oauth as well.
    crate::admin_api::create_tenant(&app, "acme");
    let t = add_code_client(&app, "acme", "okta", &[OKTA_CALLBACK]);
    let sent = app
        .send_raw(
            "GET",
            &format!(
                "/t/acme/oauth/authorize?{}",
                authorize_query(&t.client.client_id, "")
            ),
            None,
            &[],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.raw);
    assert!(
        sent.header("Location")
            .expect("loc")
            .starts_with("/ui/consent?tenant=acme&"),
        "{:?}",
        sent.header("Location")
    );
}

#[rocket::async_test]
async fn an_unknown_client_or_unregistered_redirect_uri_gets_a_page_never_a_redirect() {
    let app = TestApp::new().await;
    let r = add_code_client(&app, "default", "okta", &[OKTA_CALLBACK]);
    let plain = add(&app, "default", "entra");
    crate::admin_api::create_tenant(&app, "acme");
    let id = r.client.client_id.clone();
    let evil = crate::common::enc("https://evil.example/cb");
    let cases = [
        (
            format!("response_type=code&client_id=scimd-nobody&redirect_uri={evil}&state=x"),
            "is not known",
        ),
        (
            format!("response_type=code&client_id={id}&redirect_uri={evil}&state=x"),
            "is not registered",
        ),
        (
            // Exact match only: a longer path is another URI.
            format!(
                "response_type=code&client_id={id}&redirect_uri={}&state=x",
                crate::common::enc(&format!("{OKTA_CALLBACK}/x"))
            ),
            "is not registered",
        ),
        (
            format!("response_type=code&redirect_uri={evil}&state=x"),
            "has no client_id",
        ),
        (
            format!(
                "response_type=code&client_id={}&redirect_uri={evil}",
                plain.client.client_id
            ),
            "has no redirect URI",
        ),
        (
            format!("response_type=token&client_id={id}&client_id=x&redirect_uri={evil}"),
            "twice",
        ),
    ];
    for (query, says) in cases {
        let got = app
            .send_raw("GET", &format!("/oauth/authorize?{query}"), None, &[])
            .await;
        assert_eq!(got.status, 400, "{query}: {}", got.raw);
        assert!(got.header("Location").is_none(), "{query}");
        assert!(got.raw.contains(says), "{query}: {}", got.raw);
        assert!(got.raw.contains("scimd cannot authorize this request"));
    }
    // Another tenant's client, and an unknown tenant.
    let other = app
        .send_raw(
            "GET",
            &format!("/t/acme/oauth/authorize?{}", authorize_query(&id, "")),
            None,
            &[],
        )
        .await;
    assert_eq!(other.status, 400);
    assert!(other.raw.contains("belongs to tenant"), "{}", other.raw);
    let nowhere = app
        .send_raw(
            "GET",
            &format!("/t/nope/oauth/authorize?{}", authorize_query(&id, "")),
            None,
            &[],
        )
        .await;
    assert_eq!(nowhere.status, 404);
    assert!(nowhere.header("Location").is_none());
    // Markup in the request is shown as text.
    let xss = app
        .send_raw(
            "GET",
            "/oauth/authorize?response_type=code&client_id=%3Cscript%3E",
            None,
            &[],
        )
        .await;
    assert!(!xss.raw.contains("<script>") && xss.raw.contains("&lt;script&gt;"));
}

#[rocket::async_test]
async fn other_authorization_errors_go_back_to_the_redirect_uri_with_the_state() {
    let app = TestApp::new().await;
    let r = add_code_client(&app, "default", "okta", &[OKTA_CALLBACK]);
    let id = r.client.client_id.clone();
    let c = challenge(VERIFIER);
    let base = |rt: &str, extra: &str| {
        format!(
            "/oauth/authorize?response_type={rt}&client_id={id}&redirect_uri={}&state=s1{extra}",
            crate::common::enc(OKTA_CALLBACK)
        )
    };
    let cases = [
        (base("token", ""), "unsupported_response_type"),
        (base("code", "&scope=scim%20admin"), "invalid_scope"),
        (
            base(
                "code",
                &format!("&code_challenge={c}&code_challenge_method=plain"),
            ),
            "invalid_request",
        ),
        (
            base("code", &format!("&code_challenge={c}")),
            "invalid_request",
        ),
        (
            base("code", "&code_challenge_method=S256"),
            "invalid_request",
        ),
        (
            base("code", "&code_challenge=short&code_challenge_method=S256"),
            "invalid_request",
        ),
        (base("code", "&state=again"), "invalid_request"),
    ];
    for (path, error) in cases {
        let got = app.send_raw("GET", &path, None, &[]).await;
        assert_eq!(got.status, 303, "{path}: {}", got.raw);
        let to = got.header("Location").expect("location");
        assert!(to.starts_with(&format!("{OKTA_CALLBACK}?error=")), "{to}");
        let q = query_of(to);
        assert_eq!(q["error"], error, "{path}");
        assert_eq!(q["state"], "s1", "{path}");
        assert!(!q["error_description"].is_empty());
    }
    let plain = app
        .send_raw(
            "GET",
            &base(
                "code",
                &format!("&code_challenge={c}&code_challenge_method=plain"),
            ),
            None,
            &[],
        )
        .await;
    assert!(query_of(plain.header("Location").expect("l"))["error_description"].contains("S256"));
    // Without a redirect_uri, the one registered URI is used.
    let omitted = app
        .send_raw(
            "GET",
            &format!("/oauth/authorize?response_type=code&client_id={id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(omitted.status, 303);
    assert!(
        omitted
            .header("Location")
            .expect("l")
            .starts_with("/ui/consent?")
    );
}

#[rocket::async_test]
async fn consent_needs_a_signed_in_admin_with_csrf_and_deny_sends_access_denied() {
    use crate::admin_api::api;
    let app = TestApp::new().await;
    let r = add_code_client(&app, "default", "okta", &[OKTA_CALLBACK]);
    let request = authorize_query(&r.client.client_id, "");
    let anonymous = api(
        &app,
        "GET",
        &format!("/api/tenants/default/oauth-consent?{request}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(anonymous.status, 401);
    let s = crate::admin_api::sign_in(&app).await;
    let shown = api(
        &app,
        "GET",
        &format!("/api/tenants/default/oauth-consent?{request}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(shown.status, 200, "{}", shown.raw);
    assert_eq!(shown.body["client_name"], "okta");
    assert_eq!(shown.body["tenant"], "default");
    assert_eq!(shown.body["scope"], "scim");
    assert_eq!(shown.body["redirect_uri"], OKTA_CALLBACK);
    let no_csrf = api(
        &app,
        "POST",
        "/api/tenants/default/oauth-consent",
        Some(json!({"request": request, "allow": true})),
        None,
        None,
    )
    .await;
    assert_eq!(no_csrf.status, 403);
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_codes"), 0);
    let forged = api(
        &app,
        "POST",
        "/api/tenants/default/oauth-consent",
        Some(json!({"request": request.replace("okta", "evil"), "allow": true})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(forged.assert_error(400).contains("is not registered"));
    let denied = consent_with(&app, &s.csrf, &format!("/oauth/authorize?{request}"), false).await;
    let q = query_of(&denied);
    assert!(denied.starts_with(OKTA_CALLBACK));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st&ate");
    assert!(!q.contains_key("code"));
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_codes"), 0);
}

#[rocket::async_test]
async fn a_reused_code_is_refused_and_revokes_the_tokens_issued_from_it() {
    let app = TestApp::new().await;
    let s = crate::admin_api::sign_in(&app).await;
    let r = add_code_client(&app, "default", "okta", &[OKTA_CALLBACK]);
    let auth = basic(&r.client.client_id, r.client_secret.as_deref().expect("s"));
    let code = code_for(&app, &s.csrf, &r.client.client_id, "").await;
    let first = token_request(&app, "/oauth/token", &code_form(&code, None), Some(&auth)).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    let access = first.body["access_token"].as_str().expect("a").to_owned();
    let refresh = first.body["refresh_token"].as_str().expect("r").to_owned();
    assert_eq!(scim_get(&app, "/scim/v2/Users", &access).await.status, 200);
    let again = token_request(&app, "/oauth/token", &code_form(&code, None), Some(&auth)).await;
    let d = oauth_error(&again, 400, "invalid_grant");
    assert!(d.contains("already used") && d.contains("revoked"), "{d}");
    assert_eq!(
        diagnosis_of(&d, "/oauth/token", 400),
        "Authorization code used twice"
    );
    let refused = scim_get(&app, "/scim/v2/Users", &access).await;
    let detail = refused.assert_error(401, None);
    assert!(detail.contains("was revoked"), "{detail}");
    assert_eq!(
        diagnosis_of(&detail, "/scim/v2/Users", 401),
        "OAuth authorization revoked"
    );
    let form = format!("grant_type=refresh_token&refresh_token={refresh}");
    let d = oauth_error(
        &token_request(&app, "/oauth/token", &form, Some(&auth)).await,
        400,
        "invalid_grant",
    );
    assert!(d.contains("was revoked"), "{d}");
    assert_eq!(
        diagnosis_of(&d, "/oauth/token", 400),
        "Revoked authorization"
    );
    // A code made up, and one of another client.
    let d = oauth_error(
        &token_request(
            &app,
            "/oauth/token",
            &code_form("scimac_00", None),
            Some(&auth),
        )
        .await,
        400,
        "invalid_grant",
    );
    assert!(d.contains("not known"), "{d}");
    let other = add_code_client(&app, "default", "okta2", &[OKTA_CALLBACK]);
    let code = code_for(&app, &s.csrf, &r.client.client_id, "").await;
    let d = oauth_error(
        &token_request(
            &app,
            "/oauth/token",
            &code_form(&code, None),
            Some(&basic(
                &other.client.client_id,
                other.client_secret.as_deref().expect("s"),
            )),
        )
        .await,
        400,
        "invalid_grant",
    );
    assert!(d.contains("another OAuth client"), "{d}");
    // The request log has the refusals, never a code or a token.
    let log = app.state::<std::sync::Arc<scimd::service::request_log::RequestLog>>();
    log.flush(&app.app().store).await;
    let all = app.app().store.read_blocking(|c| {
        let mut s = c.prepare("SELECT COALESCE(path, '') || COALESCE(query, '') || COALESCE(detail, '') || COALESCE(request_body, '') || COALESCE(response_body, '') FROM log.request_log")?;
        let rows = s.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }).expect("log").join("\n");
    assert!(all.contains("already used"), "{all}");
    for secret in [
        code.as_str(),
        access.as_str(),
        refresh.as_str(),
        "scimac_",
        "scimrt_",
        "scimat_",
    ] {
        assert!(!all.contains(secret), "{secret} in the log: {all}");
    }
}

#[rocket::async_test]
async fn expired_codes_redirect_uri_mismatches_and_pkce_failures_are_invalid_grant() {
    let app = TestApp::new().await;
    let s = crate::admin_api::sign_in(&app).await;
    let r = add_code_client(
        &app,
        "default",
        "okta",
        &[OKTA_CALLBACK, "http://127.0.0.1:9/cb"],
    );
    let id = r.client.client_id.clone();
    let auth = basic(&id, r.client_secret.as_deref().expect("s"));
    let pkce = format!(
        "&code_challenge={}&code_challenge_method=S256",
        challenge(VERIFIER)
    );
    let exchange = |form: String| {
        let auth = auth.clone();
        let app = &app;
        async move { token_request(app, "/oauth/token", &form, Some(&auth)).await }
    };
    // Expired: the code's expiry is moved into the past.
    let code = code_for(&app, &s.csrf, &id, "").await;
    app.app()
        .store
        .write_blocking(|c| {
            c.execute(
                "UPDATE oauth_codes SET expires = '2020-01-01T00:00:00.000Z'",
                [],
            )?;
            Ok(())
        })
        .expect("expire");
    let d = oauth_error(
        &exchange(code_form(&code, None)).await,
        400,
        "invalid_grant",
    );
    assert!(
        d.contains("expired") && d.contains("oauth.code_lifetime_secs"),
        "{d}"
    );
    assert_eq!(
        diagnosis_of(&d, "/oauth/token", 400),
        "Expired authorization code"
    );
    // redirect_uri: another registered one, or none, differs from the authorize one.
    let code = code_for(&app, &s.csrf, &id, "").await;
    let other = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        crate::common::enc("http://127.0.0.1:9/cb")
    );
    let d = oauth_error(&exchange(other).await, 400, "invalid_grant");
    assert!(d.contains("differs from the redirect_uri"), "{d}");
    assert_eq!(
        diagnosis_of(&d, "/oauth/token", 400),
        "redirect_uri mismatch"
    );
    let none = format!("grant_type=authorization_code&code={code}");
    oauth_error(&exchange(none).await, 400, "invalid_grant");
    // The refusals did not use the code up.
    assert_eq!(exchange(code_form(&code, None)).await.status, 200);
    // PKCE: missing or wrong verifier; a verifier nobody asked for.
    let code = code_for(&app, &s.csrf, &id, &pkce).await;
    let d = oauth_error(
        &exchange(code_form(&code, None)).await,
        400,
        "invalid_grant",
    );
    assert!(d.contains("code_verifier"), "{d}");
    let wrong = "x".repeat(43);
    let d = oauth_error(
        &exchange(code_form(&code, Some(&wrong))).await,
        400,
        "invalid_grant",
    );
    assert!(d.contains("does not match"), "{d}");
    assert_eq!(diagnosis_of(&d, "/oauth/token", 400), "PKCE check failed");
    assert_eq!(exchange(code_form(&code, Some(VERIFIER))).await.status, 200);
    let code = code_for(&app, &s.csrf, &id, "").await;
    let d = oauth_error(
        &exchange(code_form(&code, Some(VERIFIER))).await,
        400,
        "invalid_grant",
    );
    assert!(d.contains("no code_challenge"), "{d}");
    // A missing code.
    oauth_error(
        &exchange("grant_type=authorization_code".into()).await,
        400,
        "invalid_request",
    );
}

#[rocket::async_test]
async fn a_reused_refresh_token_revokes_the_grant_and_revoking_the_client_ends_every_grant() {
    let app = TestApp::new().await;
    let s = crate::admin_api::sign_in(&app).await;
    let r = add_code_client(&app, "default", "okta", &[OKTA_CALLBACK]);
    let id = r.client.client_id.clone();
    let auth = basic(&id, r.client_secret.as_deref().expect("s"));
    let tokens = |code: String| {
        let (auth, app) = (auth.clone(), &app);
        async move {
            let got =
                token_request(app, "/oauth/token", &code_form(&code, None), Some(&auth)).await;
            assert_eq!(got.status, 200, "{}", got.raw);
            (
                got.body["access_token"].as_str().expect("a").to_owned(),
                got.body["refresh_token"].as_str().expect("r").to_owned(),
            )
        }
    };
    let refresh = |rt: String| {
        let (auth, app) = (auth.clone(), &app);
        async move {
            token_request(
                app,
                "/oauth/token",
                &format!("grant_type=refresh_token&refresh_token={rt}"),
                Some(&auth),
            )
            .await
        }
    };
    let (_, first) = tokens(code_for(&app, &s.csrf, &id, "").await).await;
    let renewed = refresh(first.clone()).await;
    assert_eq!(renewed.status, 200, "{}", renewed.raw);
    let access2 = renewed.body["access_token"].as_str().expect("a").to_owned();
    let second = renewed.body["refresh_token"]
        .as_str()
        .expect("r")
        .to_owned();
    let d = oauth_error(&refresh(first).await, 400, "invalid_grant");
    assert!(d.contains("already used"), "{d}");
    assert_eq!(
        diagnosis_of(&d, "/oauth/token", 400),
        "Refresh token used twice"
    );
    // The whole family ended: the newer refresh token and its access token too.
    let d = oauth_error(&refresh(second).await, 400, "invalid_grant");
    assert!(d.contains("was revoked"), "{d}");
    assert_eq!(scim_get(&app, "/scim/v2/Users", &access2).await.status, 401);
    // A wrong scope on refresh.
    let (_, rt) = tokens(code_for(&app, &s.csrf, &id, "").await).await;
    let form = format!("grant_type=refresh_token&refresh_token={rt}&scope=admin");
    oauth_error(
        &token_request(&app, "/oauth/token", &form, Some(&auth)).await,
        400,
        "invalid_scope",
    );
    // An expired refresh token.
    let hash = hex::encode(scimd::service::tokens::hash_secret(&rt));
    app.app()
        .store
        .write_blocking(move |c| {
            c.execute(
                &format!("UPDATE oauth_refresh_tokens SET expires = '2020-01-01T00:00:00.000Z' WHERE hash = x'{hash}'"),
                [],
            )?;
            Ok(())
        })
        .expect("expire");
    let d = oauth_error(&refresh(rt).await, 400, "invalid_grant");
    assert!(
        d.contains("refresh token expired") && d.contains("oauth.refresh_token_lifetime_secs"),
        "{d}"
    );
    assert_eq!(
        diagnosis_of(&d, "/oauth/token", 400),
        "Expired refresh token"
    );
    // Revoking the client ends every grant at once.
    let (access_a, rt_a) = tokens(code_for(&app, &s.csrf, &id, "").await).await;
    let (access_b, _) = tokens(code_for(&app, &s.csrf, &id, "").await).await;
    let listed = oauth::list(&app.app().store, None).expect("list");
    assert_eq!(
        listed[0].live_grants, 2,
        "revoked and expired grants are not live"
    );
    assert_eq!(
        scim_get(&app, "/scim/v2/Users", &access_a).await.status,
        200
    );
    oauth::revoke(&app.app().store, None, "okta").expect("revoke");
    for a in [&access_a, &access_b] {
        assert_eq!(scim_get(&app, "/scim/v2/Users", a).await.status, 401);
    }
    oauth_error(&refresh(rt_a).await, 401, "invalid_client");
}

#[rocket::async_test]
async fn outstanding_codes_per_client_are_capped() {
    use crate::admin_api::api;
    let app = TestApp::with(|c| c.oauth.max_codes_per_client = 2).await;
    let s = crate::admin_api::sign_in(&app).await;
    let r = add_code_client(&app, "default", "okta", &[OKTA_CALLBACK]);
    let request = authorize_query(&r.client.client_id, "");
    let allow = || {
        api(
            &app,
            "POST",
            "/api/tenants/default/oauth-consent",
            Some(json!({"request": request, "allow": true})),
            Some(&s.csrf),
            None,
        )
    };
    assert_eq!(allow().await.status, 200);
    let code = query_of(allow().await.body["redirect"].as_str().expect("r"))["code"].clone();
    let over = allow().await;
    assert!(
        over.assert_error(409)
            .contains("oauth.max_codes_per_client = 2"),
        "{}",
        over.raw
    );
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_codes"), 2);
    // An exchanged code no longer counts.
    let auth = basic(&r.client.client_id, r.client_secret.as_deref().expect("s"));
    let got = token_request(&app, "/oauth/token", &code_form(&code, None), Some(&auth)).await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_eq!(allow().await.status, 200);
}

#[rocket::async_test]
async fn redirect_uris_are_checked_and_decide_the_clients_grant_types() {
    use crate::admin_api::api;
    let app = TestApp::with(|c| c.oauth.max_redirect_uris = 2).await;
    let s = crate::admin_api::sign_in(&app).await;
    for (uri, says) in [
        ("http://example.com/cb", "plain http"),
        ("https://acme.okta.com/cb#frag", "fragment"),
        (
            "https://<org>.okta.com/admin/app/cpc/<app>/oauth/callback",
            "placeholder",
        ),
        ("/relative", "absolute URL"),
        ("javascript:alert(1)", "scheme"),
    ] {
        let made = api(
            &app,
            "POST",
            "/api/tenants/default/oauth-clients",
            Some(json!({"name": "okta", "redirect_uris": [uri]})),
            Some(&s.csrf),
            None,
        )
        .await;
        assert!(made.assert_error(400).contains(says), "{uri}: {}", made.raw);
    }
    let three = api(
        &app,
        "POST",
        "/api/tenants/default/oauth-clients",
        Some(json!({"name": "okta", "redirect_uris": [
            "https://a.okta.com/cb", "https://b.okta.com/cb", "https://c.okta.com/cb"
        ]})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert!(
        three
            .assert_error(400)
            .contains("oauth.max_redirect_uris = 2")
    );
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_clients"), 0);
    let made = api(
        &app,
        "POST",
        "/api/tenants/default/oauth-clients",
        Some(json!({"name": "okta", "redirect_uris": [OKTA_CALLBACK, "http://localhost:8000/cb"]})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.raw);
    assert_eq!(
        made.body["authorization_endpoint"],
        "http://localhost/oauth/authorize"
    );
    assert_eq!(
        made.body["client"]["redirect_uris"],
        json!([OKTA_CALLBACK, "http://localhost:8000/cb"])
    );
    let id = made.body["client"]["client_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let secret = made.body["client_secret"].as_str().expect("s").to_owned();
    // A code client cannot skip the consent with client credentials.
    let d = oauth_error(
        &token_request(
            &app,
            "/oauth/token",
            "grant_type=client_credentials",
            Some(&basic(&id, &secret)),
        )
        .await,
        400,
        "unauthorized_client",
    );
    assert!(d.contains("redirect URIs"), "{d}");
    let listed = api(
        &app,
        "GET",
        "/api/tenants/default/oauth-clients",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        listed.body["clients"][0]["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    // Clearing its redirect URIs makes it a client credentials client again, and back.
    let path = format!(
        "/api/tenants/default/oauth-clients/{}/redirect-uris",
        made.body["client"]["id"].as_str().expect("id")
    );
    let cleared = api(
        &app,
        "PUT",
        &path,
        Some(json!({"redirect_uris": []})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(cleared.status, 200, "{}", cleared.raw);
    assert_eq!(
        secret_token(
            &app,
            "/oauth/token",
            &Registered {
                client: oauth::list(&app.app().store, None).expect("l")[0]
                    .client
                    .clone(),
                client_secret: Some(secret.clone()),
            }
        )
        .await
        .len(),
        71
    );
    let d = oauth_error(
        &token_request(
            &app,
            "/oauth/token",
            &code_form("scimac_00", None),
            Some(&basic(&id, &secret)),
        )
        .await,
        400,
        "unauthorized_client",
    );
    assert!(d.contains("registered redirect URI"), "{d}");
    let bad = api(
        &app,
        "PUT",
        &path,
        Some(json!({"redirect_uris": ["ftp://x/"]})),
        Some(&s.csrf),
        None,
    )
    .await;
    bad.assert_error(400);
    let set = api(
        &app,
        "PUT",
        &path,
        Some(json!({"redirect_uris": [OKTA_CALLBACK]})),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(set.body["redirect_uris"], json!([OKTA_CALLBACK]));
}

/// `scimd oauth client add --name okta --redirect-uri <Okta's callback>`: what it printed.
fn okta_client_by_cli(dir: &std::path::Path) -> Value {
    let out = crate::server::scimd(dir)
        .args([
            "oauth",
            "client",
            "add",
            "--name",
            "okta",
            "--redirect-uri",
            OKTA_CALLBACK,
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn the_cli_registers_an_authorization_code_client_with_its_redirect_uris() {
    let dir = tempfile::tempdir().expect("dir");
    let shown = okta_client_by_cli(dir.path());
    assert_eq!(shown["redirect_uris"], json!([OKTA_CALLBACK]));
    assert!(
        shown["authorization_endpoint"]
            .as_str()
            .expect("a")
            .ends_with("/oauth/authorize")
    );
    let bad = crate::server::scimd(dir.path())
        .args([
            "oauth",
            "client",
            "redirect-uris",
            "okta",
            "--redirect-uri",
            "http://example.com/cb",
        ])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("plain http"));
    let cleared = crate::server::scimd(dir.path())
        .args(["oauth", "client", "redirect-uris", "okta"])
        .output()
        .expect("run");
    assert!(cleared.status.success());
    assert!(String::from_utf8_lossy(&cleared.stderr).contains("client credentials"));
}

/// With `[admin]`, the authorize endpoint is on the public listener and the consent page on
/// the admin listener: the browser is sent across, and the code is redeemed on the public one.
#[test]
fn with_a_separate_admin_listener_authorize_sends_the_browser_to_its_consent_page() {
    let dir = tempfile::tempdir().expect("dir");
    let shown = okta_client_by_cli(dir.path());
    let (id, secret) = (
        shown["client_id"].as_str().expect("id").to_owned(),
        shown["client_secret"].as_str().expect("s").to_owned(),
    );
    let (server, admin) = crate::server::start_split(dir.path(), &[]);
    let password = crate::server::reset_password(dir.path(), "admin");
    let browser = ureq::AgentBuilder::new().redirects(0).build();
    let query = authorize_query(&id, "");
    let sent = browser
        .get(&format!("{}/oauth/authorize?{query}", server.base))
        .call()
        .expect("authorize");
    assert_eq!(sent.status(), 303);
    let to = sent.header("Location").expect("location").to_owned();
    assert!(
        to.starts_with(&format!("{admin}/ui/consent?tenant=default&")),
        "{to}"
    );
    // The admin listener serves the page; the public one has no authorize on the admin side.
    assert_eq!(browser.get(&to).call().expect("page").status(), 200);
    let on_admin = browser
        .get(&format!("{admin}/oauth/authorize?{query}"))
        .call();
    assert!(matches!(on_admin, Err(ureq::Error::Status(404, _))));
    let json_of = |r: ureq::Response| -> Value {
        serde_json::from_str(&r.into_string().expect("body")).expect("json")
    };
    let signed = browser
        .post(&format!("{admin}/api/session"))
        .set("Content-Type", "application/json")
        .send_string(&json!({"username": "admin", "password": password}).to_string())
        .expect("sign in");
    let cookie = signed
        .header("Set-Cookie")
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();
    let session = json_of(signed);
    let request: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query_of(&to).iter().filter(|(k, _)| *k != "tenant"))
        .finish();
    let answer = json_of(
        browser
            .post(&format!("{admin}/api/tenants/default/oauth-consent"))
            .set(
                "X-CSRF-Token",
                session["csrf_token"].as_str().expect("csrf"),
            )
            .set("Cookie", &cookie)
            .set("Content-Type", "application/json")
            .send_string(&json!({"request": request, "allow": true}).to_string())
            .expect("consent"),
    );
    let code = query_of(answer["redirect"].as_str().expect("redirect"))["code"].clone();
    let token = json_of(
        browser
            .post(&format!("{}/oauth/token", server.base))
            .set("Authorization", &basic(&id, &secret))
            .send_form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", OKTA_CALLBACK),
            ])
            .expect("token"),
    );
    let access = token["access_token"].as_str().expect("access");
    let users = browser
        .get(&format!("{}/scim/v2/Users", server.base))
        .set("Authorization", &format!("Bearer {access}"))
        .call()
        .expect("users");
    assert_eq!(users.status(), 200);
}

#[rocket::async_test]
async fn grants_whose_tokens_are_all_forgotten_are_forgotten_too() {
    let app = TestApp::new().await;
    let s = crate::admin_api::sign_in(&app).await;
    let r = add_code_client(&app, "default", "okta", &[OKTA_CALLBACK]);
    let auth = basic(&r.client.client_id, r.client_secret.as_deref().expect("s"));
    let exchange = |code: String| {
        let (auth, app) = (auth.clone(), &app);
        async move {
            let got =
                token_request(app, "/oauth/token", &code_form(&code, None), Some(&auth)).await;
            assert_eq!(got.status, 200, "{}", got.raw);
        }
    };
    for _ in 0..3 {
        exchange(code_for(&app, &s.csrf, &r.client.client_id, "").await).await;
    }
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_grants"), 3);
    // Long ago: every token of those grants expired.
    app.app()
        .store
        .write_blocking(|c| {
            c.execute_batch(
                "UPDATE oauth_refresh_tokens SET expires = '2020-01-01T00:00:00.000Z';
                 UPDATE oauth_tokens SET expires = '2020-01-01T00:00:00.000Z';",
            )?;
            Ok(())
        })
        .expect("age");
    // The next exchange forgets the expired tokens, the one after their empty grants.
    exchange(code_for(&app, &s.csrf, &r.client.client_id, "").await).await;
    exchange(code_for(&app, &s.csrf, &r.client.client_id, "").await).await;
    assert_eq!(app.sql_int("SELECT COUNT(*) FROM oauth_grants"), 2);
    let listed = oauth::list(&app.app().store, None).expect("list");
    assert_eq!(listed[0].live_grants, 2);
}
