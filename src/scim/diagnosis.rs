//! The troubleshooting catalogue: what a logged request's outcome means for the admin and what
//! to change, in plain words. Pure: it reads the status, scimType and detail scimd sent, the
//! method and path, the IdP, and what the caller looked up (a deletion in the history), and
//! never does I/O. It runs when the log is read, not when it is written, so improving an entry
//! also explains requests logged before the improvement.
//!
//! Entries recognise scimd's own error details (see `service::tokens::authenticate`,
//! `scim::resource`, `scim::filter`); every entry has an integration test that triggers it with
//! a real request, so a reworded detail that no longer matches fails a test.

use serde::Serialize;

use super::quirks::Quirk;

/// An explanation and a fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub title: String,
    pub explanation: String,
    pub fix: String,
}

/// A deletion found in the resource history.
#[derive(Debug, Clone, Default)]
pub struct Deletion<'a> {
    pub time: &'a str,
    pub token_name: Option<&'a str>,
    pub idp: Option<&'a str>,
}

/// What is known about one logged request.
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    pub status: u16,
    pub scim_type: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    /// `okta`, `entra`, … as identified from the User-Agent.
    pub idp: &'a str,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    /// The redacted request body, for IdP quirk notes.
    pub request_body: Option<&'a str>,
    /// Set by the caller for a 404 on a resource the history saw deleted.
    pub deleted: Option<Deletion<'a>>,
    /// The token's name, to name the sender when the User-Agent does not.
    pub token_name: Option<&'a str>,
    /// The dialect normalisations scimd applied (issue 21).
    pub quirks: &'a [Quirk],
    /// Attributes no schema defines that scimd ignored.
    pub ignored: &'a [String],
}

fn d(title: &str, explanation: impl Into<String>, fix: impl Into<String>) -> Diagnosis {
    Diagnosis {
        title: title.to_owned(),
        explanation: explanation.into(),
        fix: fix.into(),
    }
}

/// The catalogue entry for a request, or `None` for a success with nothing to note.
pub fn diagnose(o: &Observed<'_>) -> Option<Diagnosis> {
    let detail = o.detail.unwrap_or_default();
    if o.status >= 400 && o.path.ends_with("/oauth/token") {
        return Some(oauth_refusal(o, detail));
    }
    match o.status {
        200..=399 => quirk(o),
        401 => Some(unauthorized(o, detail)),
        403 if detail.contains("is read-only") => Some(d(
            "Read-only token used for a write",
            format!(
                "The token was created with --read-only, so scimd refused {} {}. Read-only tokens may only GET and POST /.search.",
                o.method, o.path
            ),
            "Create a token without --read-only (`scimd token create --name <idp>`) and put it in the IdP's provisioning settings.",
        )),
        403 if detail.contains("may be used only from") => Some(d(
            "Token used from an address it is not allowed from",
            format!(
                "The token is valid, but its address allowlist does not include the address this request came from. {detail}"
            ),
            "If the address is your IdP's, add its published range to the token (`scimd token addresses <token> --set …`, or Tokens in the web UI: Okta and Microsoft publish their provisioning ranges). If it is not, someone else holds the token: revoke it and create a new one.",
        )),
        404 => Some(not_found(o, detail)),
        409 => Some(conflict(o, detail)),
        400 => Some(bad_request(o, detail)),
        412 => Some(d(
            "Version mismatch (If-Match)",
            "The request carried an If-Match ETag that is no longer the resource's current version: it was changed by another request since the IdP read it.",
            "Nothing to change if the IdP retries (it re-reads and resends). If it keeps failing, two integrations are writing the same resource; give each resource one owner.",
        )),
        413 => Some(d(
            "Request body too large",
            format!("The body exceeded the limit scimd accepts. {detail}"),
            "Lower the IdP's batch size (e.g. fewer group members per PATCH), or raise [limits] max_body_bytes in scimd.toml.",
        )),
        415 => Some(d(
            "Wrong Content-Type",
            format!("scimd accepts only JSON bodies. {detail}"),
            "Configure the client to send Content-Type: application/scim+json (or application/json). Every supported IdP does this by default; a custom script usually forgot the header.",
        )),
        429 => Some(d(
            "Rate limited",
            "The client sent more requests than scimd allows for this token; scimd answered 429 with Retry-After.",
            "IdPs back off and retry on their own; if provisioning falls behind, lower the IdP's concurrency or raise the rate limit in scimd.toml.",
        )),
        405 => Some(d(
            "Method not allowed",
            format!("{} is not supported on {}.", o.method, o.path),
            "Check the IdP's endpoint configuration: users live under /Users, groups under /Groups, and searches are POST …/.search.",
        )),
        501 => Some(not_supported(o, detail)),
        500..=599 => Some(d(
            "Server error",
            "scimd failed while handling the request; the server's own log has the cause.",
            "The IdP will retry. If the error repeats, check the scimd service log (journalctl -u scimd) around this time.",
        )),
        _ => Some(d(
            "Request refused",
            detail.to_owned(),
            "Read the detail above; it names the problem and the fix.",
        )),
    }
}

/// A 501: an optional SCIM feature scimd does not implement. Retrying cannot help.
fn not_supported(o: &Observed<'_>, detail: &str) -> Diagnosis {
    let idp = idp_name(o.idp);
    let fix = if o.path.contains("/Bulk") {
        format!(
            "Turn off bulk operations in {idp}'s SCIM settings (scimd advertises bulk.supported = false in /ServiceProviderConfig); {idp} then sends one request per change."
        )
    } else if o.path.contains("/Me") {
        "Nothing to change in scimd: /Me is for a signed-in user, and scimd tokens belong to integrations. Address users by id under /Users instead.".to_owned()
    } else {
        "Use the per-type endpoint named in the detail instead.".to_owned()
    };
    d(
        "Not supported",
        format!(
            "scimd does not implement this optional SCIM feature, so retrying will not help. {detail}"
        ),
        fix,
    )
}

/// A refusal of the OAuth token endpoint (RFC 6749 §5.2), by its description.
fn oauth_refusal(o: &Observed<'_>, detail: &str) -> Diagnosis {
    let idp = idp_name(o.idp);
    if let Some(d) = code_grant_refusal(idp, detail) {
        return d;
    }
    let (title, fix) = if detail.contains("was replayed") {
        (
            "Replayed client assertion",
            format!(
                "{idp} (or someone holding a copy) sent a private_key_jwt assertion a second time. Each assertion must carry a new jti; if it is not {idp}, rotate the client's keys."
            ),
        )
    } else if detail.contains("wrong audience") {
        (
            "Client assertion for another audience",
            format!(
                "Set the audience (token endpoint URL) in {idp}'s OAuth settings to the URL named in the detail."
            ),
        )
    } else if detail.contains("was revoked on") {
        (
            "Revoked OAuth client",
            format!(
                "Register a new OAuth client (`scimd oauth client add`) and put its client id and secret into {idp}."
            ),
        )
    } else if detail.contains("belongs to tenant") {
        (
            "OAuth client used on another tenant's token endpoint",
            format!("Set {idp}'s token endpoint to the URL named in the detail."),
        )
    } else if detail.contains("secret is wrong") || detail.contains("previous secret stopped") {
        (
            "Wrong client secret",
            format!(
                "Paste the client secret from `scimd oauth client add` or `rotate` into {idp}."
            ),
        )
    } else if detail.contains("assertion") {
        (
            "Client assertion refused",
            "Fix the client's assertion as the detail says (iss and sub = client id, aud = token endpoint, short exp, a new jti, signed with a registered key).".to_owned(),
        )
    } else if detail.contains("is not known") {
        (
            "Unknown OAuth client",
            format!(
                "Copy the client id of a client of this tenant (`scimd oauth client list`) into {idp}."
            ),
        )
    } else {
        (
            "Token request refused",
            "Read the detail: it names the parameter and the fix.".to_owned(),
        )
    };
    d(title, detail.to_owned(), fix)
}

/// A refusal of the authorization code grant (`service::oauth_code`): Okta's "OAuth 2".
fn code_grant_refusal(idp: &str, detail: &str) -> Option<Diagnosis> {
    let again = format!(
        "In {idp}, authenticate with scimd again (Okta: Provisioning > Integration > \"Authenticate with …\"), signed in to scimd as an admin."
    );
    let (title, fix) = if detail.contains("authorization code was already used") {
        (
            "Authorization code used twice",
            format!(
                "scimd revoked the tokens issued from that code, as RFC 6749 requires. If {idp} did not retry the exchange itself, someone else saw the code: check who can read {idp}'s callback URLs, then: {again}"
            ),
        )
    } else if detail.contains("refresh token was already used") {
        (
            "Refresh token used twice",
            format!(
                "scimd revoked the whole authorization, since a refresh token is good once and a second use means a copy exists. If {idp} restored an old configuration, that explains it; otherwise treat the client secret as leaked (`scimd oauth client rotate`). Then: {again}"
            ),
        )
    } else if detail.contains("authorization code expired") {
        (
            "Expired authorization code",
            format!(
                "{idp} exchanged the code after oauth.code_lifetime_secs; check the clocks and {idp}'s reach to the token endpoint, then: {again}"
            ),
        )
    } else if detail.contains("refresh token expired") {
        (
            "Expired refresh token",
            format!(
                "{idp} did not refresh within oauth.refresh_token_lifetime_secs (raise it if provisioning is idle for long). {again}"
            ),
        )
    } else if detail.contains("differs from the redirect_uri of the authorization request") {
        (
            "redirect_uri mismatch",
            format!(
                "{idp} must send the same redirect_uri to the token endpoint as to the authorization endpoint; check its OAuth settings and the client's registered redirect URIs."
            ),
        )
    } else if detail.contains("code_verifier") {
        (
            "PKCE check failed",
            "The client must send the code_verifier whose S256 hash it sent as code_challenge, and send both or neither.".to_owned(),
        )
    } else if detail.contains("belongs to was revoked") {
        ("Revoked authorization", again)
    } else if detail.contains("authorization code is not known")
        || detail.contains("refresh token is not known")
    {
        ("Unknown authorization code or refresh token", again)
    } else {
        return None;
    };
    Some(d(title, detail.to_owned(), fix))
}

/// A SCIM 401 for an OAuth access token (`service::oauth`).
fn access_token_refused(idp: &str, detail: &str) -> Diagnosis {
    let (title, fix) = if detail.contains("with its authorization") {
        (
            "OAuth authorization revoked",
            format!(
                "The access token's authorization code or refresh token was used twice, so scimd revoked everything issued from it. Authenticate {idp} with scimd again (Okta: \"Authenticate with …\" on the Provisioning page)."
            ),
        )
    } else if detail.contains("was revoked on") {
        (
            "OAuth client revoked",
            format!(
                "Register a new OAuth client and put its credentials into {idp}; the revoked client's tokens ended at once."
            ),
        )
    } else if detail.contains("expired on") {
        (
            "Expired OAuth access token",
            format!(
                "{idp} should request a new access token when the old one expires; check its token endpoint and client credentials, or raise oauth.access_token_lifetime_secs."
            ),
        )
    } else if detail.contains("issued to client") {
        (
            "OAuth access token of another tenant",
            format!(
                "Point {idp} at the SCIM URL named in the detail, or use the token endpoint of this tenant."
            ),
        )
    } else {
        (
            "Unknown OAuth access token",
            format!("Let {idp} request a new token from this tenant's token endpoint."),
        )
    };
    d(title, detail.to_owned(), fix)
}

/// A SCIM 401 for a JWT access token of an external issuer (`service::oauth_external`).
fn external_token_refused(idp: &str, detail: &str) -> Diagnosis {
    let (title, fix) = if detail.contains("not trusted") {
        ("JWT from an untrusted issuer", "Trust the issuer for this tenant (`scimd oauth issuer add`), or point the IdP at the tenant that trusts it.".to_owned())
    } else if detail.contains("expired") {
        (
            "Expired JWT access token",
            format!(
                "{idp} should request a new access token from its authorization server before the old one expires."
            ),
        )
    } else if detail.contains("wrong audience") {
        ("JWT access token for another audience", "Configure the authorization server to issue tokens for the audience named in the detail, or set --audience on the trusted issuer.".to_owned())
    } else if detail.contains("scope") {
        (
            "JWT access token without the scim scope",
            format!("Have {idp} request the scim scope."),
        )
    } else {
        (
            "JWT access token refused",
            "Read the detail: it names the claim or key at fault.".to_owned(),
        )
    };
    d(title, detail.to_owned(), fix)
}

fn unauthorized(o: &Observed<'_>, detail: &str) -> Diagnosis {
    let idp = idp_name(o.idp);
    if detail.contains("OAuth access token") || detail.starts_with("OAuth client") {
        return access_token_refused(idp, detail);
    }
    if detail.contains("JWT access token") {
        return external_token_refused(idp, detail);
    }
    if detail.contains("require_oauth") {
        d(
            "SCIM token on a tenant that takes only OAuth",
            format!(
                "{idp} sent a SCIM bearer token, and this tenant takes only OAuth access tokens. {detail}"
            ),
            format!(
                "In {idp}'s provisioning settings choose OAuth client credentials with the values on the Setup page, or set the tenant's require_oauth setting to false."
            ),
        )
    } else if detail.contains("has no Authorization header") {
        d(
            "No token sent",
            "The request carried no Authorization header, so scimd cannot tell which integration sent it.",
            format!(
                "In {idp}'s provisioning settings choose HTTP header / bearer token authentication and paste a token from `scimd token create`."
            ),
        )
    } else if detail.contains("has no scheme") {
        d(
            "Token sent without the Bearer prefix",
            "The Authorization header carried a value without a scheme; scimd expects \"Bearer \" followed by the token.",
            format!(
                "In {idp}'s provisioning settings, put \"Bearer \" before the token if the field takes the whole header value, or choose bearer-token authentication so {idp} adds it."
            ),
        )
    } else if detail.contains("scheme") && detail.contains("accepts only") {
        d(
            "Wrong authentication scheme",
            "The Authorization header uses a scheme other than Bearer (often Basic, or OAuth client credentials).",
            format!(
                "In {idp}, select bearer-token (HTTP header) authentication and paste the token alone."
            ),
        )
    } else if detail.contains("is malformed") {
        d(
            "Token pasted incorrectly",
            "The bearer value is not a whole scimd token: a character is missing, or quotes or a second \"Bearer\" were pasted with it.",
            format!(
                "Copy the token again from `scimd token create` output and paste only the scim_… value into {idp}."
            ),
        )
    } else if detail.contains("is not known to this server") {
        d(
            "Unknown token",
            "The token is well-formed but no token with it exists here: it was deleted, or it belongs to another scimd instance or environment.",
            format!(
                "Check that {idp} points at this server, or create a new token (`scimd token create --name <idp>`) and update {idp}."
            ),
        )
    } else if detail.contains("was revoked on") {
        d(
            "Revoked token",
            format!("An admin revoked this token; {idp} is still using it. {detail}"),
            format!(
                "Create a new token and paste it into {idp}'s provisioning settings, then run its connection test."
            ),
        )
    } else if detail.contains("was rotated on") {
        d(
            "Rotated token still in use",
            format!(
                "The token was replaced by a rotation and its overlap period is over, but {idp} still sends the old one. {detail}"
            ),
            format!(
                "Paste the new token (named in the detail) into {idp}; next time update the IdP before the overlap ends."
            ),
        )
    } else if detail.contains("expired on") {
        d(
            "Expired token",
            format!("The token's lifetime ended. {detail}"),
            format!(
                "Create a new token (`scimd token create --name <idp> --expires-in 90d`) or rotate the old one, and update {idp} before it expires next time."
            ),
        )
    } else if detail.contains("belongs to tenant") {
        let url = detail
            .split("point the IdP at ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("the tenant's SCIM URL");
        d(
            "Token used on the wrong tenant",
            format!(
                "The token is valid but belongs to another tenant than the URL addresses. {detail}"
            ),
            format!("Set {idp}'s SCIM base URL to {url}, or use a token created for this tenant."),
        )
    } else {
        d(
            "Not authenticated",
            detail.to_owned(),
            format!("Check the token configured in {idp}."),
        )
    }
}

fn not_found(o: &Observed<'_>, detail: &str) -> Diagnosis {
    if detail.contains("there is no tenant") {
        return d(
            "Unknown tenant in the URL",
            detail.to_owned(),
            "Fix the SCIM base URL in the IdP: /scim/v2 for the default tenant, /t/<slug>/scim/v2 for another (`scimd tenant list`).",
        );
    }
    if detail.contains("is not an endpoint") {
        return d(
            "Wrong URL",
            detail.to_owned(),
            "The SCIM base URL in the IdP should end in /scim/v2 (or /t/<slug>/scim/v2); resources are below it as /Users and /Groups.",
        );
    }
    let what = o.resource_type.unwrap_or("resource");
    let id = o.resource_id.unwrap_or("?");
    match &o.deleted {
        Some(del) => d(
            "Resource was deleted",
            format!(
                "{what} {id} was deleted on {} by token {} ({}); the IdP still holds its old id.",
                del.time,
                del.token_name
                    .map_or_else(|| "unknown".to_owned(), |n| format!("\"{n}\"")),
                idp_name(del.idp.unwrap_or("other"))
            ),
            "If the deletion was intended, unassign the user or group in the IdP. Otherwise re-push it from the IdP (Okta: \"Push now\"; Entra: \"Provision on demand\"), which creates it anew; find who deleted it from the token named above.",
        ),
        None => d(
            "Resource does not exist",
            format!(
                "{what} {id} is not in this tenant and the history has no record of it here: it was never created on this server or tenant, or the IdP has a stale id from another environment."
            ),
            "Check the IdP's SCIM base URL and tenant; then clear the IdP's stale link (unassign and reassign the user or group) so it creates the resource again.",
        ),
    }
}

fn conflict(o: &Observed<'_>, detail: &str) -> Diagnosis {
    if o.scim_type == Some("uniqueness") {
        let attr = if detail.starts_with("displayName") {
            "displayName"
        } else {
            "userName"
        };
        let link = detail
            .split('(')
            .nth(1)
            .and_then(|s| s.split(')').next())
            .filter(|s| s.starts_with("http"))
            .map_or_else(String::new, |l| format!(" The existing resource is {l}."));
        return d(
            &format!("{attr} already taken"),
            format!(
                "Another resource in this tenant already has this {attr} (compared case-insensitively).{link}"
            ),
            format!(
                "Let the IdP link to the existing resource (Okta: enable \"match on userName\" import matching; Entra: match on {attr}), or delete the stale one, or change the {attr} in the IdP."
            ),
        );
    }
    d(
        "Conflicting concurrent change",
        detail.to_owned(),
        "Retry the request; if it repeats, two integrations are writing the same resource at once.",
    )
}

fn bad_request(o: &Observed<'_>, detail: &str) -> Diagnosis {
    match o.scim_type {
        Some("invalidFilter") => {
            let position = detail
                .split("at position ")
                .nth(1)
                .and_then(|s| s.split(':').next())
                .map_or_else(String::new, |p| format!(" at character {p}"));
            d(
                "Filter not understood",
                format!("The filter in the request has a syntax error{position}. {detail}"),
                "scimd supports the RFC 7644 filter grammar (eq, ne, co, sw, ew, pr, gt, ge, lt, le, and, or, not, [ ]); fix the filter expression in the IdP's matching or import settings, or report the IdP's query if it came from the IdP itself.",
            )
        }
        _ if detail.starts_with("members:") && detail.contains("Provision the member first") => d(
            "Group member not provisioned",
            format!("The group names a member that does not exist in this tenant. {detail}"),
            format!(
                "Assign the member to the application in {} so it is provisioned before the group push, or remove it from the group; the IdP retries the group once the member exists.",
                idp_name(o.idp)
            ),
        ),
        _ if detail.contains("tenant setting interop_profile") => d(
            "Refused by the SCIM Interoperability Profile",
            format!(
                "{} sent what the SCIM 2.0 Interoperability Profile does not allow, and this tenant is in profile mode, so scimd refused the whole request. {detail}",
                sender(o)
            ),
            format!(
                "Configure {} to follow the profile as the detail says, or turn the tenant's interop_profile setting off: scimd then accepts the request and records the deviation as a quirk.",
                idp_name(o.idp)
            ),
        ),
        _ if detail.contains("accept_password") => d(
            "Password refused",
            format!(
                "{} sent a password, and this tenant does not accept them. {detail}",
                sender(o)
            ),
            format!(
                "Turn off password sync in {}'s provisioning settings, or set the tenant's accept_password setting to true if its users bind over LDAP.",
                idp_name(o.idp)
            ),
        ),
        _ if detail.contains("tenant setting strict") => d(
            "Undeclared attribute refused (strict tenant)",
            format!(
                "{} sent an attribute or schema that no schema of this tenant defines, and the tenant is strict, so scimd refused the whole request. {detail}",
                sender(o)
            ),
            format!(
                "Fix the attribute mapping in {}, or declare an extension that defines the attribute; or turn the tenant's strict setting off so that scimd ignores such attributes and reports them here instead.",
                idp_name(o.idp)
            ),
        ),
        _ if detail.contains("is not an attribute") || detail.contains("has no attribute") => d(
            "Unknown attribute",
            format!("The request names an attribute the schema does not define. {detail}"),
            "Fix the attribute mapping in the IdP: map to an attribute listed in /Schemas (custom attributes belong in the enterprise extension or must be removed).",
        ),
        Some("invalidSyntax") => d(
            "Body is not valid SCIM JSON",
            detail.to_owned(),
            "The client sent a body that is not the JSON message the operation expects; check a custom integration's request builder.",
        ),
        Some("mutability") => d(
            "Read-only attribute changed",
            detail.to_owned(),
            "Remove the mapping to the read-only attribute (e.g. id, meta, groups) in the IdP.",
        ),
        _ => d(
            "Invalid value",
            detail.to_owned(),
            "Correct the IdP's attribute mapping for the attribute named in the detail.",
        ),
    }
}

/// Who sent a request, for sentences: the IdP's name from the User-Agent, else the token's.
fn sender(o: &Observed<'_>) -> String {
    match (idp_name(o.idp), o.token_name) {
        ("the IdP", Some(token)) => format!("The integration \"{token}\""),
        ("the IdP", None) => "The IdP".to_owned(),
        (name, _) => name.to_owned(),
    }
}

/// `a`, `b` and `c` for a sentence.
fn listed(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Notes on successes where the IdP deviated from the RFC and scimd tolerated it.
fn quirk(o: &Observed<'_>) -> Option<Diagnosis> {
    if !o.ignored.is_empty() {
        return Some(d(
            "Undeclared attributes ignored",
            format!(
                "{} sent {}, which no schema of this tenant defines: scimd accepted the request without {} (not stored) and answered with the resource as stored.",
                sender(o),
                listed(o.ignored),
                if o.ignored.len() == 1 { "it" } else { "them" }
            ),
            format!(
                "Fix the attribute mapping in {} or declare an extension that defines {}. A tenant set to strict refuses such requests instead.",
                idp_name(o.idp),
                if o.ignored.len() == 1 { "it" } else { "them" }
            ),
        ));
    }
    if !o.quirks.is_empty() && o.request_body.is_none() {
        return Some(dialect(o));
    }
    let body = o.request_body?;
    if o.idp == "entra"
        && o.method == "PATCH"
        && ["\"False\"", "\"True\"", "\"false\"", "\"true\""]
            .iter()
            .any(|s| body.contains(s))
    {
        return Some(d(
            "Entra sent booleans as strings (accepted)",
            "Microsoft Entra ID sends boolean values such as active as the strings \"True\"/\"False\" in PATCH operations, which RFC 7643 does not allow. scimd accepted them as booleans.",
            "Nothing to do. To make Entra send real booleans, add the feature flag ?aadOptscim062020 to the tenant URL in Entra.",
        ));
    }
    (!o.quirks.is_empty()).then(|| dialect(o))
}

/// The note for a success that needed the IdP's dialect normalised.
fn dialect(o: &Observed<'_>) -> Diagnosis {
    let labels: Vec<&str> = o.quirks.iter().map(|q| q.label()).collect();
    let explained: Vec<&str> = o.quirks.iter().map(|q| q.explanation()).collect();
    d(
        "IdP dialect accepted",
        format!(
            "{} sends {} (accepted). {}",
            sender(o),
            labels.join(", "),
            explained.join(" ")
        ),
        "Nothing to do: scimd reads this dialect as the IdP means it. The integration's quirk profile (Dashboard, integration health) lists what it sends.",
    )
}

/// The IdP's product name for sentences.
pub fn idp_name(idp: &str) -> &'static str {
    match idp {
        "okta" => "Okta",
        "entra" => "Microsoft Entra ID",
        "onelogin" => "OneLogin",
        "jumpcloud" => "JumpCloud",
        "google" => "Google Workspace",
        _ => "the IdP",
    }
}

/// Longest User-Agent scimd keeps (request log, token usage); IdPs send short ones, anything
/// longer is noise or abuse.
pub const MAX_AGENT_CHARS: usize = 200;

/// The part of a User-Agent that scimd keeps: its first [`MAX_AGENT_CHARS`] characters.
pub fn kept_user_agent(agent: &str) -> &str {
    first_chars(agent, MAX_AGENT_CHARS)
}

/// The first `max` characters of `s`.
fn first_chars(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(end, _)| &s[..end])
}

/// Identifies the IdP from a User-Agent. Okta's agents are documented ("Okta SCIM Client …",
/// "OKTA SCIM Integration"); the others are matched on the vendor's name, case-insensitively,
/// which covers every agent string they are known to send without depending on versions.
pub fn idp_from_user_agent(agent: Option<&str>) -> &'static str {
    let Some(agent) = agent else {
        return "other";
    };
    let a = agent.to_ascii_lowercase();
    if a.contains("okta") {
        "okta"
    } else if a.contains("azure")
        || a.contains("microsoft")
        || a.contains("entra")
        || a.contains("aad")
    {
        "entra"
    } else if a.contains("onelogin") {
        "onelogin"
    } else if a.contains("jumpcloud") {
        "jumpcloud"
    } else if a.contains("google") {
        "google"
    } else {
        "other"
    }
}

/// The IdP names the log uses.
pub const IDPS: [&str; 6] = ["okta", "entra", "onelogin", "jumpcloud", "google", "other"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_refusals_get_their_own_diagnoses() {
        let title = |status, path: &str, detail: &str| {
            diagnose(&Observed {
                status,
                path,
                detail: Some(detail),
                method: "POST",
                idp: "entra",
                ..Observed::default()
            })
            .map(|d| d.title)
            .unwrap_or_default()
        };
        assert_eq!(
            title(
                401,
                "/oauth/token",
                "the client assertion was replayed: its jti \"x\""
            ),
            "Replayed client assertion"
        );
        assert_eq!(
            title(
                401,
                "/t/a/oauth/token",
                "wrong audience: the assertion's aud"
            ),
            "Client assertion for another audience"
        );
        assert_eq!(
            title(
                401,
                "/scim/v2/Users",
                "the OAuth access token of client \"e\" expired on 2020"
            ),
            "Expired OAuth access token"
        );
        assert_eq!(
            title(
                401,
                "/scim/v2/Users",
                "the OAuth access token was issued to client \"e\" of tenant \"a\""
            ),
            "OAuth access token of another tenant"
        );
        assert_eq!(
            title(
                401,
                "/scim/v2/Users",
                "the JWT access token's issuer \"x\" is not trusted"
            ),
            "JWT from an untrusted issuer"
        );
    }

    #[test]
    fn user_agents() {
        assert_eq!(idp_from_user_agent(Some("Okta SCIM Client 1.0.0")), "okta");
        assert_eq!(idp_from_user_agent(Some("OKTA SCIM Integration")), "okta");
        assert_eq!(idp_from_user_agent(Some("Azure AD SCIM Client")), "entra");
        assert_eq!(
            idp_from_user_agent(Some("Microsoft.AAD.Provisioning")),
            "entra"
        );
        assert_eq!(idp_from_user_agent(Some("OneLogin-SCIM")), "onelogin");
        assert_eq!(idp_from_user_agent(Some("JumpCloud SCIM")), "jumpcloud");
        assert_eq!(idp_from_user_agent(Some("Google-Workspace")), "google");
        assert_eq!(idp_from_user_agent(Some("curl/8.0")), "other");
        assert_eq!(idp_from_user_agent(None), "other");
    }

    #[test]
    fn successes_have_no_diagnosis_unless_a_quirk() {
        let o = Observed {
            status: 200,
            method: "PATCH",
            idp: "entra",
            request_body: Some(
                r#"{"Operations":[{"op":"Replace","path":"active","value":"False"}]}"#,
            ),
            ..Observed::default()
        };
        assert!(diagnose(&o).is_some_and(|d| d.title.contains("strings")));
        let plain = Observed {
            status: 200,
            method: "GET",
            idp: "okta",
            ..Observed::default()
        };
        assert_eq!(diagnose(&plain), None);
    }

    #[test]
    fn ignored_attributes_name_the_sender_and_the_fix() {
        let ignored = ["costCentre".to_owned()];
        let o = Observed {
            status: 201,
            method: "POST",
            idp: "okta",
            ignored: &ignored,
            quirks: &[Quirk::IgnoredAttributes],
            ..Observed::default()
        };
        let got = diagnose(&o).expect("noted");
        assert!(
            got.explanation
                .starts_with("Okta sent `costCentre`, which no schema of this tenant defines"),
            "{got:?}"
        );
        assert!(
            got.fix
                .starts_with("Fix the attribute mapping in Okta or declare an extension"),
            "{got:?}"
        );
        let two = ["a".to_owned(), "b".to_owned()];
        let by_token = Observed {
            idp: "other",
            token_name: Some("hr-sync"),
            ignored: &two,
            ..o
        };
        let got = diagnose(&by_token).expect("noted");
        assert!(
            got.explanation
                .starts_with("The integration \"hr-sync\" sent `a` and `b`, which"),
            "{got:?}"
        );
    }

    #[test]
    fn profile_and_password_refusals_name_the_setting() {
        let profile = Observed {
            status: 400,
            scim_type: Some("invalidSyntax"),
            detail: Some(
                "Operations[0] (replace) has no \"path\"; this tenant follows the SCIM Interoperability Profile (tenant setting interop_profile), …",
            ),
            method: "PATCH",
            idp: "okta",
            ..Observed::default()
        };
        let got = diagnose(&profile).expect("diagnosed");
        assert_eq!(got.title, "Refused by the SCIM Interoperability Profile");
        assert!(got.explanation.starts_with("Okta sent"), "{got:?}");
        assert!(got.fix.contains("interop_profile"), "{got:?}");
        let password = Observed {
            status: 400,
            scim_type: Some("invalidValue"),
            detail: Some(
                "this tenant does not accept passwords (tenant setting accept_password = false, …)",
            ),
            method: "POST",
            idp: "entra",
            ..Observed::default()
        };
        let got = diagnose(&password).expect("diagnosed");
        assert_eq!(got.title, "Password refused");
        assert!(got.fix.contains("accept_password"), "{got:?}");
    }

    #[test]
    fn strict_refusals_and_dialects_are_explained() {
        let refused = Observed {
            status: 400,
            scim_type: Some("invalidSyntax"),
            detail: Some(
                "\"costCentre\" is not an attribute of the User schema (…); this tenant refuses attributes no schema defines (tenant setting strict). Fix …",
            ),
            method: "POST",
            idp: "entra",
            ..Observed::default()
        };
        let got = diagnose(&refused).expect("diagnosed");
        assert_eq!(got.title, "Undeclared attribute refused (strict tenant)");
        assert!(got.fix.contains("Microsoft Entra ID"), "{got:?}");
        let dialect = Observed {
            status: 200,
            method: "PATCH",
            idp: "entra",
            quirks: &[Quirk::StringBoolean, Quirk::CapitalisedOp],
            ..Observed::default()
        };
        let got = diagnose(&dialect).expect("noted");
        assert!(
            got.explanation.starts_with(
                "Microsoft Entra ID sends string booleans, capitalised PATCH operation names (accepted)."
            ),
            "{got:?}"
        );
    }

    #[test]
    fn agents_are_cut_on_a_character() {
        assert_eq!(first_chars("Okta", 200), "Okta");
        assert_eq!(first_chars("äöü", 2), "äö");
        assert_eq!(first_chars("", 2), "");
        let long = "x".repeat(MAX_AGENT_CHARS + 1);
        assert_eq!(kept_user_agent(&long).len(), MAX_AGENT_CHARS);
    }
}
