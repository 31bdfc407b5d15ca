//! Per-token client-address allowlists (issue 27): a token may be limited to CIDR ranges (the
//! ranges Okta and Entra publish for their provisioning services), set when it is created and
//! changed later. The bearer guard calls [`admit`] after authenticating a token; a request
//! from elsewhere gets 403 naming the token, the address and the fix.
//!
//! 403 rather than 401 (RFC 7644 §3.12): the credential is valid and the client proved it
//! holds it; what is refused is using it from this address, "not permitted based on the
//! supplied authorization". A 401 would send the admin to re-paste a token that is fine, and
//! some IdPs treat 401 as "credentials wrong" and stop the whole app.

use std::net::IpAddr;

use ipnet::IpNet;

use super::OpError;
use crate::scim::error::ScimError;
use crate::store::tenants;
use crate::store::tokens::{self as rows, TokenRow};
use crate::store::{Store, StoreError};

/// Parses an allowlist: each entry a CIDR range (`203.0.113.0/24`, `2001:db8::/32`) or a
/// single address (taken as /32 or /128). Entries may also be separated by commas or spaces
/// within one item (as pasted from a provider's list). Host bits are cleared
/// (`10.1.2.3/8` → `10.0.0.0/8`), duplicates dropped. The error names the entry and the fix.
pub fn parse(items: &[String]) -> Result<Vec<IpNet>, String> {
    let mut list: Vec<IpNet> = Vec::new();
    for entry in items
        .iter()
        .flat_map(|i| i.split([',', ' ', '\n', '\t']))
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let net = entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                format!(
                    "\"{entry}\" is not an address range: give CIDR ranges such as 203.0.113.0/24 or 2001:db8::/32, or single addresses"
                )
            })?
            .trunc();
        if !list.contains(&net) {
            list.push(net);
        }
    }
    Ok(list)
}

/// Ok when `token` may be used from `client`: its allowlist is empty or holds the address.
/// An IPv4 client seen as IPv4-mapped IPv6 (`::ffff:203.0.113.9`, a dual-stack listener)
/// matches IPv4 ranges.
pub fn admit(token: &TokenRow, client: Option<IpAddr>) -> Result<(), ScimError> {
    if token.allowed_addresses.is_empty() {
        return Ok(());
    }
    let client = client.map(|ip| ip.to_canonical());
    if client.is_some_and(|ip| token.allowed_addresses.iter().any(|n| n.contains(&ip))) {
        return Ok(());
    }
    let from = client.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
    let ranges = list_text(&token.allowed_addresses);
    let add = client.map_or_else(String::new, |ip| format!(",{ip}"));
    Err(ScimError::new(
        403,
        format!(
            "token \"{}\" may be used only from {ranges}; this request came from {from}. If this is your IdP, add its address range to the token (`scimd token addresses {} --set {ranges_csv}{add}`, or the Tokens page); behind a reverse proxy, set client_ip_header so scimd sees the client's address rather than the proxy's",
            token.name,
            token.name,
            ranges_csv = csv(&token.allowed_addresses),
        ),
    ))
}

/// `a, b and c` for a detail.
pub fn list_text(list: &[IpNet]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn csv(list: &[IpNet]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Replaces the allowlist of a token found by id or name (in one tenant when `tenant_slug` is
/// given); an empty list accepts any address again. Refused for a revoked token.
pub fn set(
    store: &Store,
    tenant_slug: Option<&str>,
    id_or_name: &str,
    list: Vec<IpNet>,
) -> Result<TokenRow, OpError> {
    let (slug, wanted) = (tenant_slug.map(str::to_owned), id_or_name.to_owned());
    let outcome = store.write_blocking(move |tx| {
        let tenant_id = match &slug {
            Some(s) => match tenants::by_slug(tx, s)? {
                Some(t) => Some(t.id),
                None => {
                    return Ok(Err(OpError::NotFound(format!(
                        "there is no tenant \"{s}\"; `scimd tenant list` shows them"
                    ))));
                }
            },
            None => None,
        };
        let token = rows::find(tx, &wanted, tenant_id)?;
        if let Some(at) = &token.revoked {
            return Ok(Err(OpError::Invalid(format!(
                "token \"{}\" was revoked on {at}; its addresses no longer matter",
                token.name
            ))));
        }
        rows::set_allowed_addresses(tx, &token.id, &list)?;
        Ok(Ok(TokenRow {
            allowed_addresses: list,
            ..token
        }))
    });
    match outcome {
        Ok(result) => result,
        Err(StoreError::NotFound) => Err(OpError::NotFound(format!(
            "no token has the id or name \"{id_or_name}\"{} (see `scimd token list`)",
            tenant_slug.map_or_else(String::new, |s| format!(" in tenant \"{s}\""))
        ))),
        Err(StoreError::Conflict { index }) => Err(OpError::Conflict(index)),
        Err(other) => {
            tracing::error!("token store failure: {other}");
            Err(OpError::Internal(format!("the database failed: {other}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(list: &[&str]) -> TokenRow {
        TokenRow {
            id: "id".into(),
            tenant_id: 1,
            name: "okta".into(),
            prefix: "scim_0123456".into(),
            secret_hash: Vec::new(),
            read_only: false,
            kind: crate::store::tokens::TokenKind::Scim,
            created: String::new(),
            expires: None,
            revoked: None,
            rotated: None,
            replaced_by: None,
            overlap_until: None,
            last_used: None,
            last_used_ip: None,
            last_used_agent: None,
            allowed_addresses: parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .expect("valid"),
        }
    }

    #[test]
    fn parse_accepts_ranges_and_addresses_and_names_a_bad_entry() {
        let list = parse(&[
            "10.1.2.3/8, 192.0.2.7".into(),
            "2001:db8::/32 10.0.0.0/8".into(),
        ])
        .expect("valid");
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]);
        let err = parse(&["10.0.0.0/33".into()]).expect_err("bad prefix");
        assert!(err.contains("\"10.0.0.0/33\""), "{err}");
        assert!(parse(&[]).expect("empty").is_empty());
    }

    #[test]
    fn admit_checks_the_client_against_the_list() {
        let any = token(&[]);
        assert!(admit(&any, None).is_ok());
        let t = token(&["203.0.113.0/24", "2001:db8::/32"]);
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        assert!(admit(&t, ip("203.0.113.9")).is_ok());
        assert!(admit(&t, ip("::ffff:203.0.113.9")).is_ok());
        assert!(admit(&t, ip("2001:db8::1")).is_ok());
        let e = admit(&t, ip("198.51.100.4")).expect_err("outside");
        assert_eq!(e.status, 403);
        assert!(e.detail.contains("token \"okta\""), "{}", e.detail);
        assert!(e.detail.contains("198.51.100.4"), "{}", e.detail);
        assert!(
            e.detail.contains(
                "scimd token addresses okta --set 203.0.113.0/24,2001:db8::/32,198.51.100.4"
            ),
            "{}",
            e.detail
        );
        assert!(admit(&t, None).is_err());
    }
}
