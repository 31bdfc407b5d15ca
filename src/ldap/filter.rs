//! LDAP search filters (RFC 4515) in two steps. First, [`to_scim`] translates the filter into
//! the SCIM filter AST of [`crate::scim::filter`], which [`crate::store::filter_sql`] turns into
//! SQL on the same indexes as SCIM filters (`uid=` → `userName eq`, `mail=` → `emails.value
//! eq`, `memberOf=` → the membership index): that selects a superset of the matching entries
//! without reading the whole directory. Then [`matches`] evaluates the filter exactly on each
//! entry built from those rows, so LDAP's own semantics (ordered substrings, DN values,
//! computed attributes such as uidNumber) decide, not SQL's.
//!
//! A translated term is "exact" when its SQL selects exactly the matching rows; only an exact
//! term may be negated (the negation of a superset is a subset, which would lose entries), so
//! `(!x)` of an inexact `x` selects everything and leaves the decision to [`matches`].
//! Unknown attributes are Undefined (RFC 4511 §4.5.1.7), taken as false.

use std::collections::HashMap;

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};

use super::dn::Dn;
use super::entries::{ENTERPRISE, Entry, GROUP_CLASSES, USER_CLASSES};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::fold;

/// Which entries a filter is translated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

/// A translated filter: a constant, or a SCIM filter for SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Const(bool),
    Scim(Filter),
}

/// The SCIM ids of the DNs a filter names (`memberOf=cn=x,ou=groups,…`), by their normal form
/// ([`Dn::normal`]); DNs missing here name nothing.
pub type DnIds = HashMap<String, String>;

/// Where an LDAP attribute comes from, for one kind of entry.
enum Source {
    /// One SCIM attribute path.
    Path(AttrPath),
    /// The first present of several (`cn`: displayName, name.formatted, userName).
    FirstOf(Vec<AttrPath>),
    /// A DN naming another resource whose SCIM id is at this path (`memberOf` → groups.value).
    DnRef(AttrPath),
    ObjectClass(&'static [&'static str]),
    /// Computed here (uidNumber, homeDirectory, timestamps): only [`matches`] can tell.
    Computed,
}

fn path(name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: None,
        name: name.to_owned(),
        sub_attr: sub.map(str::to_owned),
    }
}

fn enterprise(name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: Some(ENTERPRISE.to_owned()),
        ..path(name, sub)
    }
}

fn source(kind: Kind, attr: &str) -> Option<Source> {
    let a = attr.to_ascii_lowercase();
    Some(match (kind, a.as_str()) {
        (_, "objectclass") => Source::ObjectClass(match kind {
            Kind::User => USER_CLASSES,
            Kind::Group => GROUP_CLASSES,
        }),
        (_, "entryuuid") => Source::Path(path("id", None)),
        (Kind::User, "memberof") => Source::DnRef(path("groups", Some("value"))),
        (Kind::Group, "memberof") => Source::Computed,
        (Kind::User, "uid") => Source::Path(path("userName", None)),
        (Kind::User, "cn") => Source::FirstOf(vec![
            path("displayName", None),
            path("name", Some("formatted")),
            path("userName", None),
        ]),
        (Kind::User, "sn") => Source::FirstOf(vec![
            path("name", Some("familyName")),
            path("userName", None),
        ]),
        (Kind::User, "givenname") => Source::Path(path("name", Some("givenName"))),
        (Kind::User, "displayname") => Source::Path(path("displayName", None)),
        (Kind::User, "mail") => Source::Path(path("emails", Some("value"))),
        (Kind::User, "telephonenumber") => Source::Path(path("phoneNumbers", Some("value"))),
        (Kind::User, "title") => Source::Path(path("title", None)),
        (Kind::User, "employeetype") => Source::Path(path("userType", None)),
        (Kind::User, "employeenumber") => Source::Path(enterprise("employeeNumber", None)),
        (Kind::User, "departmentnumber") => Source::Path(enterprise("department", None)),
        (Kind::User, "o") => Source::Path(enterprise("organization", None)),
        (Kind::User, "manager") => Source::DnRef(enterprise("manager", Some("value"))),
        (
            Kind::User,
            "uidnumber" | "gidnumber" | "homedirectory" | "scimdactive" | "createtimestamp"
            | "modifytimestamp" | "entrydn",
        ) => Source::Computed,
        (Kind::Group, "cn" | "displayname") => Source::Path(path("displayName", None)),
        (Kind::Group, "member" | "uniquemember") => Source::DnRef(path("members", Some("value"))),
        (
            Kind::Group,
            "gidnumber" | "memberuid" | "createtimestamp" | "modifytimestamp" | "entrydn",
        ) => Source::Computed,
        _ => return None,
    })
}

/// Translates `f` for entries of `kind`: the term and whether it is exact. `nested`: memberOf
/// includes groups reached through groups (`ldap.nested_groups`), which the membership index
/// does not answer, so memberOf is then left to [`matches`].
pub fn to_scim(f: &LdapFilter, kind: Kind, ids: &DnIds, nested: bool) -> (Term, bool) {
    match f {
        LdapFilter::And(items) => {
            let parts: Vec<(Term, bool)> = items
                .iter()
                .map(|i| to_scim(i, kind, ids, nested))
                .collect();
            let exact = parts.iter().all(|p| p.1);
            if parts.iter().any(|p| p.0 == Term::Const(false)) {
                return (Term::Const(false), true);
            }
            let filters = scim_parts(parts);
            (combine(filters, true), exact)
        }
        LdapFilter::Or(items) => {
            let parts: Vec<(Term, bool)> = items
                .iter()
                .map(|i| to_scim(i, kind, ids, nested))
                .collect();
            if let Some(t) = parts.iter().find(|p| p.0 == Term::Const(true)) {
                return (Term::Const(true), t.1 && parts.iter().all(|p| p.1));
            }
            let exact = parts.iter().all(|p| p.1);
            let filters = scim_parts(parts);
            if filters.is_empty() {
                return (Term::Const(false), true);
            }
            (combine(filters, false), exact)
        }
        LdapFilter::Not(inner) => match to_scim(inner, kind, ids, nested) {
            (Term::Const(b), true) => (Term::Const(!b), true),
            (Term::Scim(s), true) => (Term::Scim(Filter::Not(Box::new(s))), true),
            (_, false) => (Term::Const(true), false),
        },
        LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value) => {
            compare(kind, attr, ids, Assertion::Eq(value), nested)
        }
        LdapFilter::GreaterOrEqual(attr, value) => {
            compare(kind, attr, ids, Assertion::Ge(value), nested)
        }
        LdapFilter::LessOrEqual(attr, value) => {
            compare(kind, attr, ids, Assertion::Le(value), nested)
        }
        LdapFilter::Substring(attr, sub) => compare(kind, attr, ids, Assertion::Sub(sub), nested),
        LdapFilter::Present(attr) => compare(kind, attr, ids, Assertion::Present, nested),
        // Extensible matching is not offered: Undefined.
        LdapFilter::Extensible(_) => (Term::Const(false), true),
    }
}

/// The SCIM filters of the non-constant parts (constants were folded by the caller).
fn scim_parts(parts: Vec<(Term, bool)>) -> Vec<Filter> {
    parts
        .into_iter()
        .filter_map(|(t, _)| match t {
            Term::Scim(f) => Some(f),
            Term::Const(_) => None,
        })
        .collect()
}

/// `and`/`or` of `filters` as a balanced tree, so ten thousand terms nest fourteen deep, not
/// ten thousand (the SQL builder and SQLite recurse on depth). Empty: the identity.
fn combine(mut filters: Vec<Filter>, and: bool) -> Term {
    if filters.is_empty() {
        return Term::Const(and);
    }
    while filters.len() > 1 {
        let mut next = Vec::with_capacity(filters.len().div_ceil(2));
        let mut it = filters.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) if and => Filter::And(Box::new(a), Box::new(b)),
                Some(b) => Filter::Or(Box::new(a), Box::new(b)),
                None => a,
            });
        }
        filters = next;
    }
    filters.pop().map_or(Term::Const(and), Term::Scim)
}

enum Assertion<'a> {
    Eq(&'a str),
    Ge(&'a str),
    Le(&'a str),
    Sub(&'a LdapSubstringFilter),
    Present,
}

fn cmp(attr: &AttrPath, op: CompareOp, value: &str) -> Filter {
    Filter::Compare {
        attr: attr.clone(),
        op,
        value: CompValue::String(value.to_owned()),
    }
}

fn compare(kind: Kind, attr: &str, ids: &DnIds, a: Assertion<'_>, nested: bool) -> (Term, bool) {
    let Some(src) = source(kind, attr) else {
        return (Term::Const(false), true);
    };
    if nested && attr.eq_ignore_ascii_case("memberOf") {
        return (Term::Const(true), false);
    }
    match src {
        Source::Computed => (Term::Const(true), false),
        Source::ObjectClass(classes) => match a {
            Assertion::Present => (Term::Const(true), true),
            Assertion::Eq(v) => (
                Term::Const(classes.iter().any(|c| c.eq_ignore_ascii_case(v))),
                true,
            ),
            _ => (Term::Const(true), false),
        },
        Source::DnRef(p) => match a {
            Assertion::Eq(v) => {
                let id = Dn::parse(v).and_then(|dn| ids.get(&dn.normal()));
                match id {
                    Some(id) => (Term::Scim(cmp(&p, CompareOp::Eq, id)), true),
                    None => (Term::Const(false), true),
                }
            }
            // `memberOf=*` and the like: the membership index answers `groups pr`.
            Assertion::Present if p.urn.is_none() => (
                Term::Scim(Filter::Present(AttrPath {
                    sub_attr: None,
                    ..p
                })),
                false,
            ),
            _ => (Term::Const(true), false),
        },
        Source::Path(p) => single(&p, a),
        Source::FirstOf(paths) => {
            let parts: Vec<Filter> = paths
                .iter()
                .filter_map(|p| match single(p, clone_assertion(&a)) {
                    (Term::Scim(f), _) => Some(f),
                    _ => None,
                })
                .collect();
            match combine(parts, false) {
                Term::Const(false) => (Term::Const(true), false),
                t => (t, false),
            }
        }
    }
}

fn clone_assertion<'a>(a: &Assertion<'a>) -> Assertion<'a> {
    match a {
        Assertion::Eq(v) => Assertion::Eq(v),
        Assertion::Ge(v) => Assertion::Ge(v),
        Assertion::Le(v) => Assertion::Le(v),
        Assertion::Sub(s) => Assertion::Sub(s),
        Assertion::Present => Assertion::Present,
    }
}

/// An assertion on one SCIM attribute. Equality is exact (SCIM compares these attributes
/// case-insensitively, as LDAP's caseIgnoreMatch does); the rest are supersets.
fn single(p: &AttrPath, a: Assertion<'_>) -> (Term, bool) {
    match a {
        Assertion::Eq(v) => (Term::Scim(cmp(p, CompareOp::Eq, v)), true),
        Assertion::Ge(v) => (Term::Scim(cmp(p, CompareOp::Ge, v)), false),
        Assertion::Le(v) => (Term::Scim(cmp(p, CompareOp::Le, v)), false),
        Assertion::Present => (Term::Scim(Filter::Present(p.clone())), false),
        Assertion::Sub(s) => {
            let mut parts = Vec::new();
            if let Some(i) = s.initial.as_deref().filter(|i| !i.is_empty()) {
                parts.push(cmp(p, CompareOp::Sw, i));
            }
            for any in s.any.iter().filter(|a| !a.is_empty()) {
                parts.push(cmp(p, CompareOp::Co, any));
            }
            if let Some(f) = s.final_.as_deref().filter(|f| !f.is_empty()) {
                parts.push(cmp(p, CompareOp::Ew, f));
            }
            if parts.is_empty() {
                return (Term::Scim(Filter::Present(p.clone())), false);
            }
            (combine(parts, true), false)
        }
    }
}

/// The DNs a filter compares DN-valued attributes with (to resolve to SCIM ids first).
pub fn dn_values(f: &LdapFilter, out: &mut Vec<Dn>) {
    match f {
        LdapFilter::And(items) | LdapFilter::Or(items) => {
            for i in items {
                dn_values(i, out);
            }
        }
        LdapFilter::Not(inner) => dn_values(inner, out),
        LdapFilter::Equality(attr, v) | LdapFilter::Approx(attr, v) => {
            let a = attr.to_ascii_lowercase();
            if matches!(
                a.as_str(),
                "memberof" | "member" | "uniquemember" | "manager"
            ) && let Some(dn) = Dn::parse(v)
            {
                out.push(dn);
            }
        }
        _ => {}
    }
}

/// Whether `entry` matches `f` (RFC 4511 §4.5.1.7), Undefined counting as false.
pub fn matches(f: &LdapFilter, entry: &Entry) -> bool {
    match f {
        LdapFilter::And(items) => items.iter().all(|i| matches(i, entry)),
        LdapFilter::Or(items) => items.iter().any(|i| matches(i, entry)),
        LdapFilter::Not(inner) => !matches(inner, entry),
        LdapFilter::Equality(attr, v) | LdapFilter::Approx(attr, v) => {
            values(entry, attr, |x, dn| equal(x, v, dn))
        }
        LdapFilter::GreaterOrEqual(attr, v) => {
            values(entry, attr, |x, _| order(x, v) != std::cmp::Ordering::Less)
        }
        LdapFilter::LessOrEqual(attr, v) => values(entry, attr, |x, _| {
            order(x, v) != std::cmp::Ordering::Greater
        }),
        LdapFilter::Substring(attr, s) => values(entry, attr, |x, _| substring(x, s)),
        LdapFilter::Present(attr) => entry.get(attr).is_some(),
        LdapFilter::Extensible(_) => false,
    }
}

fn values(entry: &Entry, attr: &str, test: impl Fn(&str, bool) -> bool) -> bool {
    entry
        .get(attr)
        .is_some_and(|a| a.values.iter().any(|v| test(v, a.dn_valued)))
}

fn equal(stored: &str, asserted: &str, dn_valued: bool) -> bool {
    if dn_valued {
        return match (Dn::parse(stored), Dn::parse(asserted)) {
            (Some(a), Some(b)) => a.same(&b),
            _ => false,
        };
    }
    fold(stored.trim()) == fold(asserted.trim())
}

/// Integers numerically (uidNumber), everything else as folded text (GeneralizedTime sorts
/// as text).
fn order(stored: &str, asserted: &str) -> std::cmp::Ordering {
    match (stored.trim().parse::<i64>(), asserted.trim().parse::<i64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => fold(stored).cmp(&fold(asserted)),
    }
}

fn substring(stored: &str, s: &LdapSubstringFilter) -> bool {
    let value = fold(stored);
    let mut rest = value.as_str();
    if let Some(i) = &s.initial {
        let i = fold(i);
        let Some(after) = rest.strip_prefix(i.as_str()) else {
            return false;
        };
        rest = after;
    }
    for any in &s.any {
        let any = fold(any);
        let Some(at) = rest.find(any.as_str()) else {
            return false;
        };
        rest = &rest[at + any.len()..];
    }
    match &s.final_ {
        Some(f) => rest.ends_with(fold(f).as_str()),
        None => true,
    }
}

/// Whether `f` tests attribute `name` anywhere.
pub fn mentions(f: &LdapFilter, name: &str) -> bool {
    match f {
        LdapFilter::And(items) | LdapFilter::Or(items) => items.iter().any(|i| mentions(i, name)),
        LdapFilter::Not(inner) => mentions(inner, name),
        LdapFilter::Equality(a, _)
        | LdapFilter::Approx(a, _)
        | LdapFilter::GreaterOrEqual(a, _)
        | LdapFilter::LessOrEqual(a, _)
        | LdapFilter::Substring(a, _)
        | LdapFilter::Present(a) => a.eq_ignore_ascii_case(name),
        // An extensible match may name no attribute: read everything.
        LdapFilter::Extensible(_) => true,
    }
}

/// Nodes of a filter, to refuse one beyond `ldap.max_filter_terms` before any work.
pub fn size(f: &LdapFilter) -> usize {
    match f {
        LdapFilter::And(items) | LdapFilter::Or(items) => 1 + items.iter().map(size).sum::<usize>(),
        LdapFilter::Not(inner) => 1 + size(inner),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;
    use crate::store::filter_sql::translate;
    use ldap3_proto::parse_ldap_filter_str;

    /// RFC 4515 text; `ldap3_proto`'s parser takes no `=` in values (DNs) nor `(&)`, which
    /// clients send in BER anyway, so those are built directly.
    fn parse(s: &str) -> LdapFilter {
        match s {
            "(&)" => LdapFilter::And(Vec::new()),
            "(|)" => LdapFilter::Or(Vec::new()),
            _ => match s.strip_prefix("(memberOf=") {
                Some(dn) => {
                    LdapFilter::Equality("memberOf".into(), dn.trim_end_matches(')').into())
                }
                None => parse_ldap_filter_str(s).expect("filter"),
            },
        }
    }

    fn scim(s: &str) -> (Term, bool) {
        to_scim(&parse(s), Kind::User, &DnIds::new(), false)
    }

    #[test]
    fn indexed_lookups_become_indexed_scim_filters() {
        let (t, exact) = scim("(uid=Alice)");
        assert!(exact);
        let Term::Scim(f) = t else {
            panic!("uid= translates to a SCIM filter")
        };
        let sql = translate(&USER, &f).expect("sql");
        assert_eq!(sql.sql, "(r.name_key = ?3)");
        let Term::Scim(f) = scim("(mail=a@x)").0 else {
            panic!("mail=")
        };
        assert!(
            translate(&USER, &f)
                .expect("sql")
                .sql
                .contains("resource_emails")
        );
        let ids = DnIds::from([("cn=ops,ou=groups,dc=t,dc=scimd".to_owned(), "g1".to_owned())]);
        let (t, _) = to_scim(
            &parse("(memberOf=CN=Ops,ou=groups,dc=t,dc=scimd)"),
            Kind::User,
            &ids,
            false,
        );
        let Term::Scim(f) = t else {
            panic!("memberOf of a known group")
        };
        assert!(
            translate(&USER, &f)
                .expect("sql")
                .sql
                .contains("group_members")
        );
        assert_eq!(
            to_scim(
                &parse("(memberOf=cn=nope,ou=groups,dc=t,dc=scimd)"),
                Kind::User,
                &ids,
                false
            ),
            (Term::Const(false), true)
        );
    }

    #[test]
    fn constants_fold_and_inexact_terms_are_never_negated() {
        assert_eq!(scim("(objectClass=*)"), (Term::Const(true), true));
        assert_eq!(scim("(objectClass=posixGroup)"), (Term::Const(false), true));
        assert_eq!(scim("(noSuchAttr=x)"), (Term::Const(false), true));
        assert_eq!(scim("(!(noSuchAttr=x))"), (Term::Const(true), true));
        assert_eq!(scim("(!(cn=a*b))"), (Term::Const(true), false));
        assert_eq!(scim("(&)"), (Term::Const(true), true));
        assert_eq!(scim("(|)"), (Term::Const(false), true));
        let (t, exact) = scim("(&(objectClass=inetOrgPerson)(!(uid=bob)))");
        assert!(exact);
        assert!(matches!(t, Term::Scim(Filter::Not(_))), "{t:?}");
    }

    #[test]
    fn wide_filters_nest_logarithmically() {
        let wide = format!(
            "(|{})",
            (0..4096).map(|i| format!("(uid=u{i})")).collect::<String>()
        );
        let Term::Scim(f) = scim(&wide).0 else {
            panic!("or of uids")
        };
        fn depth(f: &Filter) -> usize {
            match f {
                Filter::And(a, b) | Filter::Or(a, b) => 1 + depth(a).max(depth(b)),
                Filter::Not(a) => 1 + depth(a),
                _ => 1,
            }
        }
        assert!(depth(&f) <= 13, "{}", depth(&f));
        assert!(translate(&USER, &f).is_ok());
    }

    fn entry() -> Entry {
        use super::super::entries::Attr;
        let a = |name, values: &[&str], dn_valued| Attr {
            name,
            values: values.iter().map(|s| (*s).to_owned()).collect(),
            operational: false,
            dn_valued,
        };
        Entry {
            dn: "uid=alice,ou=people,dc=t,dc=scimd".into(),
            attrs: vec![
                a("objectClass", &["top", "inetOrgPerson"], false),
                a("uid", &["alice"], false),
                a("cn", &["Alice Liddell"], false),
                a("uidNumber", &["10002"], false),
                a("memberOf", &["cn=Ops,ou=groups,dc=t,dc=scimd"], true),
            ],
        }
    }

    #[test]
    fn every_filter_form_is_evaluated_exactly() {
        let e = entry();
        for (f, expected) in [
            ("(uid=ALICE)", true),
            ("(uid~=alice)", true),
            ("(cn=alice*)", true),
            ("(cn=*lid*)", true),
            ("(cn=*ell)", true),
            ("(cn=a*d*l)", true),
            ("(cn=a*ll*dd*)", false),
            ("(cn=*)", true),
            ("(mail=*)", false),
            ("(uidNumber>=10002)", true),
            ("(uidNumber>=9999)", true),
            ("(uidNumber<=9999)", false),
            ("(memberOf=CN=ops, OU=groups,dc=t,dc=scimd)", true),
            ("(&(uid=alice)(!(cn=bob)))", true),
            ("(|(uid=bob)(uid=carol))", false),
            ("(!(objectClass=inetOrgPerson))", false),
            ("(unknown=x)", false),
        ] {
            assert_eq!(matches(&parse(f), &e), expected, "{f}");
        }
    }

    proptest::proptest! {
        /// Whatever the filter, translation and SQL generation finish without a panic.
        #[test]
        fn arbitrary_filters_translate(
            attrs in proptest::collection::vec("(uid|cn|mail|memberOf|objectClass|sn|x)", 1..6),
            ops in proptest::collection::vec(0u8..7, 1..6),
            value in "[a-z*=,]{0,6}",
        ) {
            let mut text = String::from("(|");
            for (a, op) in attrs.iter().zip(ops.iter().cycle()) {
                let v = value.replace('*', "");
                text.push_str(&match op {
                    0 => format!("({a}={v})"),
                    1 => format!("({a}=*)"),
                    2 => format!("({a}>={v})"),
                    3 => format!("({a}<={v})"),
                    4 => format!("({a}=*{v}*)"),
                    5 => format!("(!({a}={v}))"),
                    _ => format!("(&({a}~={v})(objectClass=*))"),
                });
            }
            text.push(')');
            if let Ok(f) = parse_ldap_filter_str(&text) {
                if let (Term::Scim(s), _) = to_scim(&f, Kind::User, &DnIds::new(), false) {
                    let _ = translate(&USER, &s);
                }
                let _ = matches(&f, &entry());
            }
        }
    }
}
