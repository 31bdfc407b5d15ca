//! `scimd doctor`'s end-to-end self-test (issue 26): the Okta and Entra flows of
//! idp-requirements.md replayed through `public_url`, as those IdPs send them, against a
//! throwaway tenant the run creates (`ephemeral`: no tombstones, no alarm, no events) and
//! removes, so real data is never touched. Each step checks what the IdP checks; the first
//! failure of a flow is reported with what came back.

use serde_json::{Value, json};

use super::doctor::Check;
use crate::outbound::{Client, Method};
use crate::service::{settings, tenants, tokens};
use crate::store::Store;
use crate::store::tokens::TokenKind;

/// One request of a flow and what makes its answer acceptable.
struct Step {
    /// The scenario of idp-requirements.md, e.g. "S06 create user".
    label: &'static str,
    method: Method,
    /// Relative to the tenant's SCIM base; `{user}` and `{group}` are the ids created so far.
    path: String,
    body: Option<Value>,
    expect: &'static [u16],
    /// The answer's body must pass this too (a reason when it does not).
    check: fn(&Value) -> Result<(), String>,
    /// Remember the answer's `id` as `{user}` or `{group}`.
    keeps: Option<&'static str>,
}

fn step(label: &'static str, method: Method, path: &str, expect: &'static [u16]) -> Step {
    Step {
        label,
        method,
        path: path.to_owned(),
        body: None,
        expect,
        check: |_| Ok(()),
        keeps: None,
    }
}

impl Step {
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn check(mut self, check: fn(&Value) -> Result<(), String>) -> Self {
        self.check = check;
        self
    }
    fn keeps(mut self, name: &'static str) -> Self {
        self.keeps = Some(name);
        self
    }
}

/// S01/S04: a ListResponse with integer paging fields and a `Resources` array ("No results for
/// users returned" in Okta otherwise).
fn empty_list(v: &Value) -> Result<(), String> {
    if !v["startIndex"].is_u64() || !v["totalResults"].is_u64() || !v["Resources"].is_array() {
        return Err(
            "not a ListResponse with integer startIndex, totalResults and a Resources array".into(),
        );
    }
    if v["totalResults"] != 0 {
        return Err(format!(
            "totalResults is {} in an empty tenant",
            v["totalResults"]
        ));
    }
    Ok(())
}

fn list(v: &Value) -> Result<(), String> {
    if v["startIndex"].is_u64() && v["Resources"].is_array() {
        Ok(())
    } else {
        Err("not a ListResponse with an integer startIndex and a Resources array".into())
    }
}

/// S06/S46: the created resource with a string `id` and no password echoed.
fn created(v: &Value) -> Result<(), String> {
    if !v["id"].is_string() {
        return Err(
            "the answer has no string id (Okta: \"Create new user returned empty user\")".into(),
        );
    }
    if v.get("password").is_some() {
        return Err("the answer echoes the password".into());
    }
    Ok(())
}

fn inactive(v: &Value) -> Result<(), String> {
    // 204 has no body: nothing to check.
    if v.is_null() || v["active"] == false {
        Ok(())
    } else {
        Err(format!("active is {} after deactivation", v["active"]))
    }
}

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn okta(tag: &str) -> Vec<Step> {
    let user = format!("doctor.okta.{tag}@example.com");
    vec![
        step("S01 test connection", Method::Get, "/Users?startIndex=1&count=2", &[200]).check(list),
        step(
            "S04 pre-check",
            Method::Get,
            &format!("/Users?filter=userName%20eq%20%22{}%22&startIndex=1&count=100", user.replace('@', "%40")),
            &[200],
        )
        .check(empty_list),
        step("S06 create user", Method::Post, "/Users", &[201])
            .body(json!({"schemas": [USER], "userName": user,
                "name": {"givenName": "Doctor", "familyName": "Okta"},
                "emails": [{"primary": true, "value": user, "type": "work"}],
                "displayName": "Doctor Okta", "locale": "en-US", "externalId": format!("00u{tag}"),
                "groups": [], "password": "1mz050nq", "active": true}))
            .check(created)
            .keeps("user"),
        step("S09 read user", Method::Get, "/Users/{user}", &[200]),
        step("S11 deactivate (PATCH without path)", Method::Patch, "/Users/{user}", &[200, 204])
            .body(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]}))
            .check(inactive),
        step("S17 push group", Method::Post, "/Groups", &[201])
            .body(json!({"schemas": [GROUP], "displayName": format!("doctor-okta-{tag}"), "members": []}))
            .check(created)
            .keeps("group"),
        step("S20 add member", Method::Patch, "/Groups/{group}", &[200, 204]).body(json!({
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "{user}", "display": user}]}]})),
        step("S23 delete group", Method::Delete, "/Groups/{group}", &[204]),
    ]
}

fn entra(tag: &str) -> Vec<Step> {
    let user = format!("doctor.entra.{tag}@example.com");
    vec![
        step(
            "S40 test connection",
            Method::Get,
            &format!("/Users?filter=userName+eq+%22{tag}-absent%22"),
            &[200],
        )
        .check(empty_list),
        step("S46 create user", Method::Post, "/Users", &[201])
            .body(json!({"schemas": [USER, ENTERPRISE], "externalId": format!("entra-{tag}"),
                "userName": user, "active": true, "displayName": "Doctor Entra",
                "emails": [{"primary": true, "type": "work", "value": user}],
                "name": {"formatted": "Doctor Entra", "familyName": "Entra", "givenName": "Doctor"},
                ENTERPRISE: {"department": "IT"}}))
            .check(created)
            .keeps("user"),
        step("S54 disable (boolean as string)", Method::Patch, "/Users/{user}", &[200, 204])
            .body(json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}))
            .check(inactive),
        step("S60 delete user", Method::Delete, "/Users/{user}", &[204]),
    ]
}

/// Runs both flows through `base` (public_url) in a throwaway tenant, then removes it.
pub fn run(store: &Store, base: &str, client: &Client) -> Vec<Check> {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let slug = format!("scimd-doctor-{tag}");
    let secret = match prepare(store, &slug) {
        Ok(secret) => secret,
        Err(e) => {
            return vec![Check::fail(
                "self-test",
                format!("could not create the self-test tenant: {e}"),
                "see the database check",
            )];
        }
    };
    let scim = format!("{base}/t/{slug}/scim/v2");
    let checks = vec![
        flow(
            "self-test okta",
            &scim,
            &secret,
            okta(&tag),
            client,
            "Okta SCIM Client 1.0.0",
        ),
        flow(
            "self-test entra",
            &scim,
            &secret,
            entra(&tag),
            client,
            "Azure AD SCIM Client",
        ),
    ];
    if let Err(e) = tenants::remove_ephemeral(store, &slug) {
        tracing::warn!("the self-test tenant {slug} could not be removed: {e}");
    }
    checks
}

fn prepare(store: &Store, slug: &str) -> Result<String, super::OpError> {
    tenants::create(store, slug, Some("scimd doctor self-test"))?;
    let ephemeral = serde_json::Map::from_iter([("ephemeral".to_owned(), json!(true))]);
    settings::set(store, slug, ephemeral)?;
    let issued = tokens::issue(
        store,
        &tokens::NewToken {
            tenant_slug: slug,
            name: "scimd-doctor",
            read_only: false,
            kind: TokenKind::Scim,
            expires_in: Some(std::time::Duration::from_secs(600)),
            allowed_addresses: Vec::new(),
        },
    )?;
    Ok(issued.secret)
}

fn flow(
    name: &str,
    scim: &str,
    secret: &str,
    steps: Vec<Step>,
    client: &Client,
    agent: &str,
) -> Check {
    let mut ids: Vec<(&str, String)> = Vec::new();
    let authorization = format!("Bearer {secret}");
    let count = steps.len();
    for step in steps {
        let fill = |s: &str| {
            ids.iter()
                .fold(s.to_owned(), |s, (k, v)| s.replace(&format!("{{{k}}}"), v))
        };
        let path = fill(&step.path);
        let body = step.body.as_ref().map(|b| fill(&b.to_string()));
        let headers = [
            ("Authorization", authorization.as_str()),
            ("Content-Type", "application/scim+json; charset=utf-8"),
            ("Accept", "application/scim+json"),
            ("User-Agent", agent),
        ];
        let request = format!("{} {path}", step.method.as_str());
        let answer = match client.send(
            step.method,
            &format!("{scim}{path}"),
            &headers,
            body.as_deref().unwrap_or("").as_bytes(),
        ) {
            Ok(a) => a,
            Err(f) => {
                return Check::fail(
                    name,
                    format!("{}: {request} got no answer: {}", step.label, f.message),
                    "see the public_url reach check",
                );
            }
        };
        let parsed: Value = serde_json::from_str(&answer.excerpt).unwrap_or(Value::Null);
        let verdict = if step.expect.contains(&answer.status) {
            (step.check)(&parsed)
        } else {
            Err(format!(
                "answered {} (expected {:?})",
                answer.status, step.expect
            ))
        };
        if let Err(why) = verdict {
            let detail = parsed["detail"].as_str().map_or_else(
                || answer.excerpt.chars().take(200).collect::<String>(),
                str::to_owned,
            );
            return Check::fail(
                name,
                format!("{}: {request} {why}: {detail}", step.label),
                "this is what the IdP would get: fix what the detail names (a proxy rule, a body size limit, a setting), then run `scimd doctor` again",
            );
        }
        if let (Some(key), Some(id)) = (step.keeps, parsed["id"].as_str()) {
            ids.push((key, id.to_owned()));
        }
    }
    Check::pass(
        name,
        format!("{count} requests answered as the IdP expects"),
    )
}
