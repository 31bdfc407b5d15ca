//! Search (RFC 4511 §4.5): the RootDSE, a minimal subschema, and each tenant's tree (the base
//! entry, `ou=people`, `ou=groups`, users and groups) with scopes base/one/sub/children, size
//! and time limits, attribute selection and the Simple Paged Results control (RFC 2696).
//!
//! Users and groups are read in keyset pages on their insertion sequence (`seq`, which never
//! changes): the SQL of the translated filter ([`super::filter::to_scim`]) selects candidates
//! through the SCIM filter indexes, [`super::filter::matches`] decides on each built entry,
//! and entries are sent as they are built, so memory holds one chunk, never the directory.
//! A paged search's cookie is (phase, last seq): a walk over pages returns every entry that
//! exists throughout exactly once, however SCIM writes interleave.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapFilter, LdapMsg, LdapOp, LdapPartialAttribute, LdapResult, LdapResultCode,
    LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
};

use super::dn::{Dn, Rdn};
use super::entries::{Entry, Tree};
use super::filter::{self, DnIds, Kind, Term};
use super::handler::{Bound, Session, result};
use crate::config::DeactivatedUsers;
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::schema::{GROUP, USER};
use crate::service::ldap::{self, Directory};
use crate::store::filter_sql::{self, SqlWhere};

use super::handler::Conn;

/// Rows read per query: one chunk in memory at a time.
const CHUNK: u64 = 256;
/// The Simple Paged Results control (RFC 2696).
pub const OID_PAGED: &str = "1.2.840.113556.1.4.319";

/// The part of a tree a search walks, in order.
enum Phase {
    Fixed(Vec<Entry>),
    Users { pin: Option<String> },
    Groups { pin: Option<String> },
}

/// Answers one search; `false` when the connection is gone.
pub async fn search(
    s: &mut Session,
    msgid: i32,
    req: LdapSearchRequest,
    ctrl: &[LdapControl],
    conn: &mut Conn,
) -> bool {
    let started = Instant::now();
    let mut paged = None;
    for c in ctrl {
        match c {
            LdapControl::SimplePagedResults { size, cookie } => {
                paged = Some((*size, cookie.clone()));
            }
            LdapControl::Unknown {
                oid,
                criticality: true,
                ..
            } => {
                let msg = format!("control {oid} is not supported");
                return done(
                    s,
                    conn,
                    msgid,
                    result(LdapResultCode::UnavailableCriticalExtension, &msg),
                    None,
                )
                .await;
            }
            _ => {}
        }
    }
    let outcome = run(s, msgid, &req, paged, &mut Out::Conn(conn), started).await;
    let (res, cookie) = match outcome {
        Ok(Answer { res, cookie }) => (res, cookie),
        Err(Closed) => return false,
    };
    if res.code != LdapResultCode::Success {
        let tenant = s.bound.directory().map(|d| d.slug.clone());
        let status = match res.code {
            LdapResultCode::NoSuchObject => 404,
            LdapResultCode::InsufficentAccessRights => 403,
            LdapResultCode::SizeLimitExceeded | LdapResultCode::TimeLimitExceeded => 413,
            LdapResultCode::OperationsError | LdapResultCode::Other => 500,
            _ => 400,
        };
        let detail = format!(
            "search base \"{}\" filter {}: {}",
            req.base,
            filter_text(&req.filter),
            res.message
        );
        s.record_failure(
            "SEARCH",
            tenant.as_deref(),
            s.bound.dn(),
            status,
            &detail,
            started,
        );
    }
    done(s, conn, msgid, res, cookie).await
}

async fn done(
    s: &Session,
    conn: &mut Conn,
    msgid: i32,
    res: LdapResult,
    cookie: Option<Vec<u8>>,
) -> bool {
    s.count("search", &res.code);
    let ctrl = cookie
        .map(|cookie| vec![LdapControl::SimplePagedResults { size: 0, cookie }])
        .unwrap_or_default();
    conn.send(LdapMsg {
        msgid,
        op: LdapOp::SearchResultDone(res),
        ctrl,
    })
    .await
    .is_ok()
}

/// The connection closed while entries were being sent.
struct Closed;

struct Answer {
    res: LdapResult,
    /// The paged results cookie to return (empty when the walk is over).
    cookie: Option<Vec<u8>>,
}

fn answer(code: LdapResultCode, message: &str) -> Result<Answer, Closed> {
    Ok(Answer {
        res: result(code, message),
        cookie: None,
    })
}

async fn run(
    s: &mut Session,
    msgid: i32,
    req: &LdapSearchRequest,
    paged: Option<(i64, Vec<u8>)>,
    conn: &mut Out<'_>,
    started: Instant,
) -> Result<Answer, Closed> {
    let select = Selection::new(&req.attrs, req.typesonly);
    let Some(base) = Dn::parse(&req.base) else {
        return answer(
            LdapResultCode::InvalidDNSyntax,
            "the search base is not a valid DN (RFC 4514)",
        );
    };
    // The RootDSE and the subschema are readable by anyone (RFC 4512 §5.1).
    if base.0.is_empty() && req.scope == LdapSearchScope::Base {
        let e = root_dse(s).await;
        if filter::matches(&req.filter, &e) {
            conn.entry(msgid, &e, &select).await?;
        }
        return answer(LdapResultCode::Success, "");
    }
    if base.same(&subschema_dn()) {
        let e = subschema();
        if req.scope != LdapSearchScope::OneLevel && filter::matches(&req.filter, &e) {
            conn.entry(msgid, &e, &select).await?;
        }
        return answer(LdapResultCode::Success, "");
    }
    if let Err(message) = still_bound(s).await {
        s.bound = Bound::Anonymous;
        return answer(LdapResultCode::InsufficentAccessRights, &message);
    }
    let dir = match s.bound.directory() {
        Some(d) => d.clone(),
        None if s.ctx.config.allow_anonymous => match anonymous_directory(s, &base).await {
            Some(d) => d,
            None => {
                return answer(
                    LdapResultCode::NoSuchObject,
                    "no tenant's base DN contains the search base",
                );
            }
        },
        None => {
            return answer(
                LdapResultCode::InsufficentAccessRights,
                "bind first: anonymous searches are off (ldap.allow_anonymous); bind as a service account",
            );
        }
    };
    let Some(tree) = Tree::new(&dir.base_dn) else {
        return answer(
            LdapResultCode::Other,
            "the tenant's base DN is not a valid DN",
        );
    };
    let phases = match plan(&tree, &base, &req.scope) {
        Ok(p) => p,
        Err(message) => {
            let mut res = result(LdapResultCode::NoSuchObject, &message);
            if base.is_under(&tree.base) {
                res.matcheddn = tree.base_text.clone();
            }
            return Ok(Answer { res, cookie: None });
        }
    };
    let config = &s.ctx.config;
    let time_limit = match u64::try_from(req.timelimit) {
        Ok(t) if t > 0 => Duration::from_secs(t.min(config.time_limit_secs)),
        _ => Duration::from_secs(config.time_limit_secs),
    };
    let deadline = started + time_limit;
    // Where to start and how much to send.
    let (mut phase_at, mut after, page) = match &paged {
        Some((size, cookie)) => {
            let Some((p, a)) = decode_cookie(cookie) else {
                return answer(
                    LdapResultCode::UnwillingToPerform,
                    "the paged results cookie is not one this server issued; start the search again without a cookie",
                );
            };
            if *size <= 0 {
                // RFC 2696 §3: size 0 abandons the paged search.
                return Ok(Answer {
                    res: result(LdapResultCode::Success, ""),
                    cookie: Some(Vec::new()),
                });
            }
            let size = u64::try_from(*size).unwrap_or(u64::MAX);
            (p, a, Some(size.min(u64::from(config.max_page_size))))
        }
        None => (0, 0, None),
    };
    let (size_limit, client_limit) = match u64::try_from(req.sizelimit) {
        Ok(n) if n > 0 && n < u64::from(config.size_limit) => (n, true),
        _ => (u64::from(config.size_limit), false),
    };
    let want = page.unwrap_or(size_limit);
    let needs = needs(&select, &req.filter, s.ctx.config.nested_groups);
    let queries = match Queries::new(s, &dir, &tree, &req.filter, needs).await {
        Ok(q) => q,
        Err(e) => return answer(LdapResultCode::OperationsError, &e),
    };
    let mut sent = 0u64;
    while phase_at < phases.len() {
        if Instant::now() > deadline {
            return answer(
                LdapResultCode::TimeLimitExceeded,
                &format!(
                    "the search ran longer than {}s (ldap.time_limit_secs or the client's time limit)",
                    time_limit.as_secs()
                ),
            );
        }
        let chunk: Vec<(i64, Entry)> = match &phases[phase_at] {
            Phase::Fixed(entries) => entries
                .iter()
                .enumerate()
                .skip(usize::try_from(after).unwrap_or(usize::MAX))
                .map(|(i, e)| (i64::try_from(i).unwrap_or(i64::MAX) + 1, e.clone()))
                .collect(),
            Phase::Users { pin } => {
                match queries.users(s, &dir, &tree, pin.as_deref(), after).await {
                    Ok(c) => c,
                    Err(e) => return answer(LdapResultCode::OperationsError, &e),
                }
            }
            Phase::Groups { pin } => {
                match queries.groups(s, &dir, &tree, pin.as_deref(), after).await {
                    Ok(c) => c,
                    Err(e) => return answer(LdapResultCode::OperationsError, &e),
                }
            }
        };
        let exhausted = match &phases[phase_at] {
            Phase::Fixed(_) => true,
            _ => (chunk.len() as u64) < CHUNK,
        };
        for (key, entry) in chunk {
            if !filter::matches(&req.filter, &entry) {
                after = key;
                continue;
            }
            if sent == want {
                // One more match exists beyond what may be sent.
                return Ok(match page {
                    Some(_) => Answer {
                        res: result(LdapResultCode::Success, ""),
                        cookie: Some(encode_cookie(phase_at, after)),
                    },
                    None => Answer {
                        res: result(
                            LdapResultCode::SizeLimitExceeded,
                            &if client_limit {
                                format!(
                                    "more than the {size_limit} entries the client's size limit allows match"
                                )
                            } else {
                                format!(
                                    "more than {size_limit} entries match (ldap.size_limit); use the paged results control or a narrower filter"
                                )
                            },
                        ),
                        cookie: None,
                    },
                });
            }
            conn.entry(msgid, &entry, &select).await?;
            sent += 1;
            after = key;
        }
        if exhausted {
            phase_at += 1;
            after = 0;
        }
    }
    // A search based at one user or group that matched nothing: does that entry exist at all?
    if sent == 0
        && let [Phase::Users { pin: Some(name) }] | [Phase::Groups { pin: Some(name) }] =
            phases.as_slice()
    {
        let kind = if matches!(phases[0], Phase::Users { .. }) {
            "User"
        } else {
            "Group"
        };
        let found = match ldap::ids_by_name(&s.ctx.store, dir.tenant_id, vec![(kind, name.clone())])
            .await
        {
            Ok(f) => f,
            Err(e) => {
                return answer(
                    LdapResultCode::OperationsError,
                    &format!("store error: {e}"),
                );
            }
        };
        if found.is_empty() {
            let mut res = result(
                LdapResultCode::NoSuchObject,
                "no such entry in this tenant's tree",
            );
            res.matcheddn = if kind == "User" {
                tree.people()
            } else {
                tree.groups()
            };
            return Ok(Answer { res, cookie: None });
        }
    }
    Ok(Answer {
        res: result(LdapResultCode::Success, ""),
        cookie: page.map(|_| Vec::new()),
    })
}

/// A bound session's identity still holds: its account was not removed, its user not
/// deactivated or deleted.
async fn still_bound(s: &Session) -> Result<(), String> {
    let store = &s.ctx.store;
    match &s.bound {
        Bound::Anonymous => Ok(()),
        Bound::Account { dir, name, .. } => {
            match ldap::account_exists(store, dir.tenant_id, name).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(format!(
                    "the service account \"{name}\" was removed; bind again"
                )),
                Err(e) => Err(format!("store error: {e}")),
            }
        }
        Bound::User {
            dir, user_name, id, ..
        } => match ldap::user_still_valid(store, dir.tenant_id, user_name, id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the bound user was deactivated or deleted; bind again".into()),
            Err(e) => Err(format!("store error: {e}")),
        },
    }
}

async fn anonymous_directory(s: &Session, base: &Dn) -> Option<Directory> {
    let dirs = ldap::directories(&s.ctx.store).await.ok()?;
    dirs.into_iter()
        .filter_map(|d| {
            let b = Dn::parse(&d.base_dn)?;
            base.is_under(&b).then_some((b.0.len(), d))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, d)| d)
}

fn is(rdn: &Rdn, attr: &str, value: &str) -> bool {
    rdn.attr == attr && rdn.value.eq_ignore_ascii_case(value)
}

/// The phases a search of `base` with `scope` walks; `Err` names what does not exist.
fn plan(tree: &Tree, base: &Dn, scope: &LdapSearchScope) -> Result<Vec<Phase>, String> {
    use LdapSearchScope::{Base, Children, OneLevel, Subtree};
    let [root, people, groups] = tree.fixed();
    let all_below = || vec![Phase::Users { pin: None }, Phase::Groups { pin: None }];
    // A base above the tenant's (`dc=scimd`): the tenant's tree is what it holds for this
    // session.
    if tree.base.is_under(base) && !tree.base.same(base) {
        return Ok(match scope {
            Subtree | Children => {
                let mut p = vec![Phase::Fixed(vec![root, people, groups])];
                p.extend(all_below());
                p
            }
            _ => Vec::new(),
        });
    }
    let Some(rel) = base.relative_to(&tree.base) else {
        return Err("the search base is outside this tenant's tree".into());
    };
    Ok(match rel {
        [] => match scope {
            Base => vec![Phase::Fixed(vec![root])],
            OneLevel => vec![Phase::Fixed(vec![people, groups])],
            Subtree => {
                let mut p = vec![Phase::Fixed(vec![root, people, groups])];
                p.extend(all_below());
                p
            }
            Children => {
                let mut p = vec![Phase::Fixed(vec![people, groups])];
                p.extend(all_below());
                p
            }
        },
        [ou] if is(ou, "ou", "people") => match scope {
            Base => vec![Phase::Fixed(vec![people])],
            OneLevel | Children => vec![Phase::Users { pin: None }],
            Subtree => vec![Phase::Fixed(vec![people]), Phase::Users { pin: None }],
        },
        [ou] if is(ou, "ou", "groups") => match scope {
            Base => vec![Phase::Fixed(vec![groups])],
            OneLevel | Children => vec![Phase::Groups { pin: None }],
            Subtree => vec![Phase::Fixed(vec![groups]), Phase::Groups { pin: None }],
        },
        [leaf, ou] if is(ou, "ou", "people") && leaf.attr == "uid" => match scope {
            Base | Subtree => vec![Phase::Users {
                pin: Some(leaf.value.clone()),
            }],
            OneLevel | Children => Vec::new(),
        },
        [leaf, ou] if is(ou, "ou", "groups") && leaf.attr == "cn" => match scope {
            Base | Subtree => vec![Phase::Groups {
                pin: Some(leaf.value.clone()),
            }],
            OneLevel | Children => Vec::new(),
        },
        _ => return Err("no such entry in this tenant's tree".into()),
    })
}

/// The translated filter of a search, per kind of entry.
struct Queries {
    users: Option<Filter>,
    groups: Option<Filter>,
    /// The SQL translation failed: select by the hiding condition only (the exact check
    /// still applies to every entry).
    hide: Option<Filter>,
    needs: ldap::Needs,
}

/// What related data the selected attributes and the filter read.
fn needs(select: &Selection, f: &LdapFilter, nested: bool) -> ldap::Needs {
    let any = |names: &[&str]| {
        names
            .iter()
            .any(|n| select.wants(n, false) || filter::mentions(f, n))
    };
    ldap::Needs {
        groups: any(&["memberOf"]),
        nested,
        number: any(&["uidNumber", "gidNumber"]),
        manager: any(&["manager"]),
        members: any(&["member", "uniqueMember", "memberUid"]),
    }
}

fn compare(name: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare {
        attr: AttrPath {
            urn: None,
            name: name.to_owned(),
            sub_attr: None,
        },
        op,
        value,
    }
}

/// `id pr`: every resource (the SQL of an unrestricted walk).
fn everything() -> Filter {
    Filter::Present(AttrPath {
        urn: None,
        name: "id".into(),
        sub_attr: None,
    })
}

fn and(a: Option<Filter>, b: Filter) -> Filter {
    match a {
        Some(a) => Filter::And(Box::new(a), Box::new(b)),
        None => b,
    }
}

impl Queries {
    async fn new(
        s: &Session,
        dir: &Directory,
        tree: &Tree,
        f: &LdapFilter,
        needs: ldap::Needs,
    ) -> Result<Self, String> {
        let mut dns = Vec::new();
        filter::dn_values(f, &mut dns);
        let mut names = Vec::new();
        for dn in &dns {
            match dn.relative_to(&tree.base) {
                Some([leaf, ou]) if is(ou, "ou", "people") && leaf.attr == "uid" => {
                    names.push(("User", leaf.value.clone()));
                }
                Some([leaf, ou]) if is(ou, "ou", "groups") && leaf.attr == "cn" => {
                    names.push(("Group", leaf.value.clone()));
                }
                _ => {}
            }
        }
        let found = ldap::ids_by_name(&s.ctx.store, dir.tenant_id, names)
            .await
            .map_err(|e| format!("store error: {e}"))?;
        let mut ids = DnIds::new();
        for dn in &dns {
            let key = match dn.relative_to(&tree.base) {
                Some([leaf, _]) if leaf.attr == "uid" => ("User", leaf.value.clone()),
                Some([leaf, _]) => ("Group", leaf.value.clone()),
                _ => continue,
            };
            if let Some(id) = found.get(&key) {
                ids.insert(dn.normal(), id.clone());
            }
        }
        let nested = s.ctx.config.nested_groups;
        let term = |kind| match filter::to_scim(f, kind, &ids, nested).0 {
            Term::Const(false) => None,
            Term::Const(true) => Some(None),
            Term::Scim(f) => Some(Some(f)),
        };
        let hide = (s.ctx.config.deactivated == DeactivatedUsers::Hidden).then(|| {
            Filter::Not(Box::new(compare(
                "active",
                CompareOp::Eq,
                CompValue::Bool(false),
            )))
        });
        Ok(Queries {
            users: term(Kind::User).map(|f| match (f, hide.clone()) {
                (Some(f), Some(h)) => Filter::And(Box::new(f), Box::new(h)),
                (Some(f), None) => f,
                (None, Some(h)) => h,
                (None, None) => everything(),
            }),
            groups: term(Kind::Group).map(|f| f.unwrap_or_else(everything)),
            hide,
            needs,
        })
    }

    fn sql(
        rt: &crate::scim::schema::ResourceType,
        f: &Filter,
        fallback: Option<&Filter>,
    ) -> SqlWhere {
        filter_sql::translate(rt, f)
            .or_else(|_| match fallback {
                Some(h) => filter_sql::translate(rt, h),
                None => Ok(SqlWhere::all()),
            })
            .unwrap_or_else(|_| SqlWhere::all())
    }

    async fn users(
        &self,
        s: &Session,
        dir: &Directory,
        tree: &Tree,
        pin: Option<&str>,
        after: i64,
    ) -> Result<Vec<(i64, Entry)>, String> {
        let Some(f) = &self.users else {
            return Ok(Vec::new());
        };
        let f = pinned(f, "userName", pin);
        let rt = dir.schemas.get(&USER);
        let sql = Self::sql(rt, &f, self.hide.as_ref());
        let rows = ldap::users_after(&s.ctx.store, dir.tenant_id, sql, after, CHUNK, self.needs)
            .await
            .map_err(|e| format!("store error: {e}"))?;
        Ok(rows.iter().map(|u| (u.row.seq, tree.user(u))).collect())
    }

    async fn groups(
        &self,
        s: &Session,
        dir: &Directory,
        tree: &Tree,
        pin: Option<&str>,
        after: i64,
    ) -> Result<Vec<(i64, Entry)>, String> {
        let Some(f) = &self.groups else {
            return Ok(Vec::new());
        };
        let f = pinned(f, "displayName", pin);
        let rt = dir.schemas.get(&GROUP);
        let sql = Self::sql(rt, &f, None);
        let rows = ldap::groups_after(&s.ctx.store, dir.tenant_id, sql, after, CHUNK, self.needs)
            .await
            .map_err(|e| format!("store error: {e}"))?;
        Ok(rows.iter().map(|g| (g.row.seq, tree.group(g))).collect())
    }
}

fn encode_cookie(phase: usize, after: i64) -> Vec<u8> {
    let mut c = vec![u8::try_from(phase).unwrap_or(u8::MAX)];
    c.extend_from_slice(&after.to_be_bytes());
    c
}

fn decode_cookie(c: &[u8]) -> Option<(usize, i64)> {
    match c {
        [] => Some((0, 0)),
        [phase, rest @ ..] => {
            let seq = i64::from_be_bytes(rest.try_into().ok()?);
            (seq >= 0 && *phase < 8).then_some((usize::from(*phase), seq))
        }
    }
}

/// Which attributes a search returns (RFC 4511 §4.5.1.8).
struct Selection {
    all_user: bool,
    all_operational: bool,
    names: Vec<String>,
    types_only: bool,
}

impl Selection {
    fn new(attrs: &[String], types_only: bool) -> Self {
        let names: Vec<String> = attrs.iter().map(|a| a.to_ascii_lowercase()).collect();
        let none = names.len() == 1 && names[0] == "1.1";
        Selection {
            all_user: !none && (names.is_empty() || names.iter().any(|n| n == "*")),
            all_operational: names.iter().any(|n| n == "+"),
            names,
            types_only,
        }
    }

    fn wants(&self, name: &str, operational: bool) -> bool {
        let named = self.names.iter().any(|n| n.eq_ignore_ascii_case(name));
        named
            || if operational {
                self.all_operational
            } else {
                self.all_user
            }
    }
}

/// Where a search's entries go: the client, or a list (Compare looks at one entry).
pub enum Out<'a> {
    Conn(&'a mut Conn),
    Collect(Vec<Entry>),
}

impl Out<'_> {
    async fn entry(&mut self, msgid: i32, e: &Entry, select: &Selection) -> Result<(), Closed> {
        match self {
            Out::Conn(conn) => send(conn, msgid, e, select).await,
            Out::Collect(list) => {
                list.push(e.clone());
                Ok(())
            }
        }
    }
}

/// Compare (RFC 4511 §4.10): whether the entry at `dn` holds `attr=value`, with the access
/// and matching rules of a search based at that entry.
pub async fn compare_entry(s: &mut Session, dn: &str, attr: &str, value: &str) -> LdapResult {
    let req = LdapSearchRequest {
        base: dn.to_owned(),
        scope: LdapSearchScope::Base,
        aliases: ldap3_proto::proto::LdapDerefAliases::Never,
        sizelimit: 1,
        timelimit: 0,
        typesonly: false,
        filter: LdapFilter::Present("objectClass".into()),
        attrs: Vec::new(),
    };
    let mut out = Out::Collect(Vec::new());
    let answer = run(s, 0, &req, None, &mut out, Instant::now()).await;
    let res = match answer {
        Ok(a) => a.res,
        Err(Closed) => return result(LdapResultCode::Other, "the entry could not be read"),
    };
    if res.code != LdapResultCode::Success {
        return res;
    }
    let Out::Collect(entries) = out else {
        return result(LdapResultCode::Other, "");
    };
    let Some(entry) = entries.first() else {
        return result(LdapResultCode::NoSuchObject, "no such entry");
    };
    let assertion = LdapFilter::Equality(attr.to_owned(), value.to_owned());
    if filter::matches(&assertion, entry) {
        result(LdapResultCode::CompareTrue, "")
    } else {
        result(LdapResultCode::CompareFalse, "")
    }
}

async fn send(conn: &mut Conn, msgid: i32, e: &Entry, select: &Selection) -> Result<(), Closed> {
    let attributes = e
        .attrs
        .iter()
        .filter(|a| select.wants(a.name, a.operational))
        .map(|a| LdapPartialAttribute {
            atype: a.name.to_owned(),
            vals: if select.types_only {
                Vec::new()
            } else {
                a.values.iter().map(|v| v.clone().into_bytes()).collect()
            },
        })
        .collect();
    conn.feed(LdapMsg {
        msgid,
        op: LdapOp::SearchResultEntry(LdapSearchResultEntry {
            dn: e.dn.clone(),
            attributes,
        }),
        ctrl: Vec::new(),
    })
    .await
    .map_err(|_| Closed)
}

fn subschema_dn() -> Dn {
    Dn::parse("cn=subschema").unwrap_or_default()
}

fn attr(name: &'static str, values: Vec<String>) -> super::entries::Attr {
    super::entries::Attr {
        name,
        values,
        operational: false,
        dn_valued: false,
    }
}

fn owned(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| (*s).to_owned()).collect()
}

async fn root_dse(s: &Session) -> Entry {
    let contexts = match s.bound.directory() {
        Some(d) => vec![d.base_dn.clone()],
        None if s.ctx.config.allow_anonymous => ldap::directories(&s.ctx.store)
            .await
            .map(|ds| ds.into_iter().map(|d| d.base_dn).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut extensions = vec![super::handler::OID_WHOAMI.to_owned()];
    if s.ctx.tls.is_some() {
        extensions.push(super::handler::OID_STARTTLS.to_owned());
    }
    let mut attrs = vec![
        attr("objectClass", owned(&["top"])),
        attr("supportedLDAPVersion", owned(&["3"])),
        attr("supportedControl", owned(&[OID_PAGED])),
        attr("supportedExtension", extensions),
        attr("subschemaSubentry", owned(&["cn=subschema"])),
        attr("vendorName", owned(&["scimd"])),
        attr("vendorVersion", vec![env!("CARGO_PKG_VERSION").to_owned()]),
    ];
    if !contexts.is_empty() {
        attrs.push(attr("namingContexts", contexts));
    }
    Entry {
        dn: String::new(),
        attrs,
    }
}

/// The attribute types and object classes scimd serves, in RFC 4512 form.
fn subschema() -> Entry {
    let types = [
        "( 2.5.4.0 NAME 'objectClass' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
        "( 2.5.4.11 NAME 'ou' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 2.5.4.10 NAME 'o' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 0.9.2342.19200300.100.1.25 NAME 'dc' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
        "( 1.3.6.1.1.20 NAME 'entryDN' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
        "( 0.9.2342.19200300.100.1.1 NAME 'uid' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 2.5.4.3 NAME 'cn' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 2.5.4.4 NAME 'sn' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 2.5.4.42 NAME 'givenName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 2.16.840.1.113730.3.1.241 NAME 'displayName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
        "( 0.9.2342.19200300.100.1.3 NAME 'mail' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
        "( 2.5.4.20 NAME 'telephoneNumber' EQUALITY telephoneNumberMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
        "( 2.5.4.12 NAME 'title' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 2.16.840.1.113730.3.1.3 NAME 'employeeNumber' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
        "( 2.16.840.1.113730.3.1.4 NAME 'employeeType' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 2.16.840.1.113730.3.1.2 NAME 'departmentNumber' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
        "( 0.9.2342.19200300.100.1.10 NAME 'manager' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
        "( 1.2.840.113556.1.2.102 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 NO-USER-MODIFICATION )",
        "( 2.5.4.31 NAME 'member' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
        "( 2.5.4.50 NAME 'uniqueMember' EQUALITY uniqueMemberMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.34 )",
        "( 1.3.6.1.1.1.1.0 NAME 'uidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
        "( 1.3.6.1.1.1.1.1 NAME 'gidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
        "( 1.3.6.1.1.1.1.3 NAME 'homeDirectory' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
        "( 1.3.6.1.1.1.1.12 NAME 'memberUid' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
        "( 1.3.6.1.1.16.4 NAME 'entryUUID' EQUALITY UUIDMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
        "( 2.5.18.1 NAME 'createTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
        "( 2.5.18.2 NAME 'modifyTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
        "( 1.3.6.1.4.1.99999.1.1 NAME 'scimdActive' DESC 'scimd: the SCIM active flag' EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE NO-USER-MODIFICATION )",
    ];
    let classes = [
        "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
        "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( telephoneNumber ) )",
        "( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL MAY ( title ) )",
        "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL MAY ( displayName $ employeeNumber $ employeeType $ departmentNumber $ givenName $ mail $ manager $ uid ) )",
        "( 1.3.6.1.1.1.2.0 NAME 'posixAccount' SUP top AUXILIARY MUST ( cn $ uid $ uidNumber $ gidNumber $ homeDirectory ) )",
        "( 1.3.6.1.1.1.2.2 NAME 'posixGroup' SUP top AUXILIARY MUST ( cn $ gidNumber ) MAY ( memberUid ) )",
        "( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST ( cn ) MAY ( member ) )",
        "( 2.5.6.17 NAME 'groupOfUniqueNames' SUP top STRUCTURAL MUST ( cn ) MAY ( uniqueMember ) )",
        "( 2.5.6.5 NAME 'organizationalUnit' SUP top STRUCTURAL MUST ou )",
        "( 0.9.2342.19200300.100.4.13 NAME 'domain' SUP top STRUCTURAL MUST dc )",
        "( 2.5.6.4 NAME 'organization' SUP top STRUCTURAL MUST o )",
    ];
    Entry {
        dn: "cn=subschema".into(),
        attrs: vec![
            attr("objectClass", owned(&["top", "subschema"])),
            attr("cn", owned(&["subschema"])),
            attr("attributeTypes", owned(&types)),
            attr("objectClasses", owned(&classes)),
        ],
    }
}

/// A filter in RFC 4515 text, for the request log.
fn filter_text(f: &LdapFilter) -> String {
    let mut out = String::new();
    write_filter(f, &mut out, 0);
    out
}

fn write_filter(f: &LdapFilter, out: &mut String, depth: usize) {
    if out.len() > 512 || depth > 32 {
        out.push('…');
        return;
    }
    match f {
        LdapFilter::And(items) | LdapFilter::Or(items) => {
            out.push('(');
            out.push(if matches!(f, LdapFilter::And(_)) {
                '&'
            } else {
                '|'
            });
            for i in items {
                write_filter(i, out, depth + 1);
            }
            out.push(')');
        }
        LdapFilter::Not(inner) => {
            out.push_str("(!");
            write_filter(inner, out, depth + 1);
            out.push(')');
        }
        LdapFilter::Equality(a, v) => out.push_str(&format!("({a}={v})")),
        LdapFilter::Approx(a, v) => out.push_str(&format!("({a}~={v})")),
        LdapFilter::GreaterOrEqual(a, v) => out.push_str(&format!("({a}>={v})")),
        LdapFilter::LessOrEqual(a, v) => out.push_str(&format!("({a}<={v})")),
        LdapFilter::Present(a) => out.push_str(&format!("({a}=*)")),
        LdapFilter::Substring(a, s) => {
            let mut v = s.initial.clone().unwrap_or_default();
            for any in &s.any {
                v.push('*');
                v.push_str(any);
            }
            v.push('*');
            v.push_str(s.final_.as_deref().unwrap_or_default());
            out.push_str(&format!("({a}={v})"));
        }
        LdapFilter::Extensible(_) => out.push_str("(extensible)"),
    }
}

/// `f`, narrowed to the one entry a search based at it names (`naming` equal to `pin`).
fn pinned(f: &Filter, naming: &str, pin: Option<&str>) -> Filter {
    match pin {
        Some(name) => and(
            Some(f.clone()),
            compare(naming, CompareOp::Eq, CompValue::String(name.to_owned())),
        ),
        None => f.clone(),
    }
}
