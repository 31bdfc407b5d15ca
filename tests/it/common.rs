//! Test harness: `TestApp` builds `scimd::rocket` on a fresh database and sends requests the
//! way IdPs do, returning status, headers and the parsed body.

use rocket::http::{ContentType, Header};
use rocket::local::asynchronous::{Client, LocalResponse};
use serde_json::{Value, json};

use scimd::config::Config;
use scimd::http::App;
use scimd::service::tokens::{self, NewToken};

/// A running scimd on a private database, with one token for the `default` tenant.
pub struct TestApp {
    pub client: Client,
    pub token: String,
    /// Keeps the database directory alive as long as the app.
    _dir: tempfile::TempDir,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub raw: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a SCIM error with this status (and scimType, when given) and returns the detail.
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) -> String {
        assert_eq!(self.status, status, "body: {}", self.raw);
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/scim+json"),
            "{}",
            self.raw
        );
        assert_eq!(
            self.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
            "{}",
            self.raw
        );
        assert_eq!(
            self.body["status"],
            json!(status.to_string()),
            "{}",
            self.raw
        );
        assert_eq!(
            self.body.get("scimType").and_then(Value::as_str),
            scim_type,
            "{}",
            self.raw
        );
        let detail = self.body["detail"].as_str().unwrap_or_default().to_owned();
        assert!(!detail.is_empty(), "error without detail: {}", self.raw);
        detail
    }

    /// Asserts 200/201 and returns the body.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            matches!(self.status, 200 | 201),
            "status {}: {}",
            self.status,
            self.raw
        );
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/scim+json"),
            "{}",
            self.raw
        );
        &self.body
    }
}

/// Okta's headers on reads (idp-requirements.md §A).
pub const OKTA_UA: &str = "Okta SCIM Client 1.0.0";

impl TestApp {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            database: dir.path().join("scimd.db"),
            ..Config::default()
        };
        // Tests send requests as fast as they can; a new install's per-token rate limit
        // (service::secure_defaults) has its own tests, which set this back to None.
        config.limits.requests_per_second = Some(0);
        adjust(&mut config);
        let client = Client::tracked(scimd::rocket(config))
            .await
            .expect("rocket ignites");
        let token = issue(&client, "default", "okta", false, None);
        Self {
            client,
            token,
            _dir: dir,
        }
    }

    pub fn app(&self) -> &App {
        self.state::<App>()
    }

    /// A piece of state the server manages (the request log, the usage tracker, …).
    pub fn state<T: Send + Sync + 'static>(&self) -> &T {
        self.client
            .rocket()
            .state::<T>()
            .unwrap_or_else(|| panic!("{} is managed", std::any::type_name::<T>()))
    }

    pub fn issue_token(
        &self,
        tenant: &str,
        name: &str,
        read_only: bool,
        expires_in: Option<std::time::Duration>,
    ) -> String {
        issue(&self.client, tenant, name, read_only, expires_in)
    }

    /// An events token (reads the tenant's events feed and nothing else).
    pub fn issue_events_token(&self, tenant: &str, name: &str) -> String {
        let app = self.app();
        tokens::issue(
            &app.store,
            &NewToken {
                tenant_slug: tenant,
                name,
                read_only: false,
                kind: scimd::store::tokens::TokenKind::Events,
                expires_in: None,
                allowed_addresses: Vec::new(),
            },
        )
        .expect("events token")
        .secret
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// A request with Okta's headers and this app's token.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.send_with(method, path, body, &[("Authorization", &self.bearer())])
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send("PUT", path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send("PATCH", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None).await
    }

    /// A request with explicit headers; Okta's Accept/Content-Type/User-Agent are added unless given.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let raw = body.map(|b| b.to_string());
        self.send_raw(method, path, raw.as_deref(), headers).await
    }

    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = match method {
            "GET" => self.client.get(path.to_owned()),
            "POST" => self.client.post(path.to_owned()),
            "PUT" => self.client.put(path.to_owned()),
            "PATCH" => self.client.patch(path.to_owned()),
            "DELETE" => self.client.delete(path.to_owned()),
            other => panic!("unsupported method {other}"),
        };
        let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        if !has("Accept") {
            req = req.header(Header::new("Accept", "application/scim+json"));
        }
        if !has("User-Agent") {
            req = req.header(Header::new("User-Agent", OKTA_UA));
        }
        if !has("Content-Type") {
            req = req.header(
                ContentType::new("application", "scim+json").with_params(("charset", "utf-8")),
            );
        }
        for (k, v) in headers {
            if k.eq_ignore_ascii_case("Content-Type") {
                req = req.header(ContentType::parse_flexible(v).unwrap_or(ContentType::Plain));
            } else {
                req = req.header(Header::new(k.to_string(), v.to_string()));
            }
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        reply(req.dispatch().await).await
    }

    /// Creates a user with a typical Okta body and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let r = self.post("/scim/v2/Users", okta_user(user_name)).await;
        assert_eq!(r.status, 201, "{}", r.raw);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group and returns its id.
    pub async fn create_group(&self, name: &str) -> String {
        let r = self
            .post("/scim/v2/Groups", json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":name,"members":[]}))
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// An integer straight from SQL (e.g. a COUNT).
    pub fn sql_int(&self, sql: &str) -> i64 {
        self.app()
            .store
            .read_blocking(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .expect("count")
    }

    /// A text value straight from SQL.
    pub fn sql_text(&self, sql: &str) -> String {
        self.app()
            .store
            .read_blocking(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .expect("text")
    }
}

fn issue(
    client: &Client,
    tenant: &str,
    name: &str,
    read_only: bool,
    expires_in: Option<std::time::Duration>,
) -> String {
    let app = client.rocket().state::<App>().expect("App");
    tokens::issue(
        &app.store,
        &NewToken {
            tenant_slug: tenant,
            name,
            read_only,
            kind: Default::default(),
            expires_in,
            allowed_addresses: Vec::new(),
        },
    )
    .expect("token")
    .secret
}

async fn reply(res: LocalResponse<'_>) -> Reply {
    let status = res.status().code;
    let content_type = res
        .content_type()
        .map(|c| format!("{}/{}", c.top(), c.sub()));
    let headers = res
        .headers()
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect();
    let raw = res.into_string().await.unwrap_or_default();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&raw).unwrap_or(Value::Null)
    };
    Reply {
        status,
        content_type,
        headers,
        body,
        raw,
    }
}

/// Okta's create body (S06).
pub fn okta_user(user_name: &str) -> Value {
    json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
           "userName": user_name,
           "name":{"givenName":"Test","familyName":"User"},
           "emails":[{"primary":true,"value": user_name,"type":"work"}],
           "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
           "groups":[],"password":"1mz050nq","active":true})
}

/// Percent-encodes a filter the way Okta does.
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
