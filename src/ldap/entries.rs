//! The one mapping from SCIM users and groups to LDAP entries (docs/ldap.md documents it):
//! the DNs of a tenant's tree, and every attribute of a user, a group and the fixed entries
//! (the base, `ou=people`, `ou=groups`). Pure: the store's reads arrive as
//! [`crate::service::ldap::UserData`] / [`crate::service::ldap::GroupData`].

use serde_json::Value;

use super::dn::{Dn, escape};
use crate::scim::fold;
use crate::service::ldap::{GroupData, UserData};

/// The enterprise User extension, where employeeNumber, department and manager live.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// objectClass values of each kind of entry.
pub const USER_CLASSES: &[&str] = &[
    "top",
    "person",
    "organizationalPerson",
    "inetOrgPerson",
    "posixAccount",
];
pub const GROUP_CLASSES: &[&str] = &["top", "groupOfNames", "groupOfUniqueNames", "posixGroup"];

/// One attribute of an entry; operational ones are returned only when asked for (`+` or by
/// name, RFC 4511 §4.5.1.8).
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub name: &'static str,
    pub values: Vec<String>,
    pub operational: bool,
    /// Values are DNs: compared in their normal form.
    pub dn_valued: bool,
}

/// An entry as searches see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub dn: String,
    pub attrs: Vec<Attr>,
}

impl Entry {
    /// The attribute named `name`, in any case.
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn push(&mut self, name: &'static str, values: Vec<String>) {
        if !values.is_empty() {
            self.attrs.push(Attr {
                name,
                values,
                operational: false,
                dn_valued: false,
            });
        }
    }

    fn push_dns(&mut self, name: &'static str, values: Vec<String>) {
        if !values.is_empty() {
            self.attrs.push(Attr {
                name,
                values,
                operational: false,
                dn_valued: true,
            });
        }
    }

    fn push_operational(&mut self, name: &'static str, value: Option<String>) {
        if let Some(v) = value {
            self.attrs.push(Attr {
                name,
                values: vec![v],
                operational: true,
                dn_valued: false,
            });
        }
    }
}

/// The DNs of one tenant's tree.
#[derive(Debug, Clone)]
pub struct Tree {
    pub base: Dn,
    pub base_text: String,
}

impl Tree {
    pub fn new(base_text: &str) -> Option<Tree> {
        Some(Tree {
            base: Dn::parse(base_text)?,
            base_text: base_text.to_owned(),
        })
    }

    pub fn people(&self) -> String {
        format!("ou=people,{}", self.base_text)
    }

    pub fn groups(&self) -> String {
        format!("ou=groups,{}", self.base_text)
    }

    pub fn services(&self) -> String {
        format!("ou=services,{}", self.base_text)
    }

    pub fn user_dn(&self, user_name: &str) -> String {
        format!("uid={},{}", escape(user_name), self.people())
    }

    pub fn group_dn(&self, display_name: &str) -> String {
        format!("cn={},{}", escape(display_name), self.groups())
    }

    pub fn account_dn(&self, name: &str) -> String {
        format!("cn={},{}", escape(name), self.services())
    }

    /// The base entry, `ou=people` and `ou=groups`.
    pub fn fixed(&self) -> [Entry; 3] {
        let first = self.base.0.first();
        let mut base = Entry {
            dn: self.base_text.clone(),
            attrs: Vec::new(),
        };
        let classes = match first.map(|r| r.attr.as_str()) {
            Some("dc") => vec!["top", "domain"],
            Some("o") => vec!["top", "organization"],
            _ => vec!["top", "organizationalUnit"],
        };
        base.push("objectClass", strings(&classes));
        if let Some(r) = first {
            let name = match r.attr.as_str() {
                "dc" => "dc",
                "o" => "o",
                _ => "ou",
            };
            base.push(name, vec![r.value.clone()]);
        }
        let ou = |dn: String, name: &str| {
            let mut e = Entry {
                dn,
                attrs: Vec::new(),
            };
            e.push("objectClass", strings(&["top", "organizationalUnit"]));
            e.push("ou", vec![name.to_owned()]);
            e
        };
        [
            base,
            ou(self.people(), "people"),
            ou(self.groups(), "groups"),
        ]
    }

    /// A user as an inetOrgPerson + posixAccount entry.
    pub fn user(&self, u: &UserData) -> Entry {
        let doc = &u.row.doc;
        let user_name = text(doc, &["userName"]).unwrap_or_default();
        let mut e = Entry {
            dn: self.user_dn(&user_name),
            attrs: Vec::new(),
        };
        e.push("objectClass", strings(USER_CLASSES));
        e.push("uid", vec![user_name.clone()]);
        let cn = text(doc, &["displayName"])
            .or_else(|| text(doc, &["name", "formatted"]))
            .unwrap_or_else(|| user_name.clone());
        e.push("cn", vec![cn]);
        let sn = text(doc, &["name", "familyName"]).unwrap_or_else(|| user_name.clone());
        e.push("sn", vec![sn]);
        e.push("givenName", opt(text(doc, &["name", "givenName"])));
        e.push("displayName", opt(text(doc, &["displayName"])));
        e.push("mail", multi_values(doc.get("emails")));
        e.push("telephoneNumber", multi_values(doc.get("phoneNumbers")));
        e.push("title", opt(text(doc, &["title"])));
        e.push("employeeType", opt(text(doc, &["userType"])));
        let ent = doc.get(ENTERPRISE);
        let ent_text = |name: &str| ent.and_then(|v| v.get(name)).and_then(scalar);
        e.push("employeeNumber", opt(ent_text("employeeNumber")));
        e.push("departmentNumber", opt(ent_text("department")));
        e.push("o", opt(ent_text("organization")));
        e.push_dns(
            "manager",
            opt(u.manager.as_deref().map(|m| self.user_dn(m))),
        );
        if let Some(n) = u.number {
            e.push("uidNumber", vec![n.to_string()]);
            // Each user's primary group is its own (user private groups), numbered alike.
            e.push("gidNumber", vec![n.to_string()]);
        }
        e.push("homeDirectory", vec![format!("/home/{user_name}")]);
        e.push_dns(
            "memberOf",
            u.groups.iter().map(|g| self.group_dn(g)).collect(),
        );
        let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
        e.push(
            "scimdActive",
            vec![if active { "TRUE" } else { "FALSE" }.to_owned()],
        );
        operational(&mut e, &u.row);
        e
    }

    /// A group as a groupOfNames + groupOfUniqueNames + posixGroup entry.
    pub fn group(&self, g: &GroupData) -> Entry {
        let doc = &g.row.doc;
        let name = text(doc, &["displayName"]).unwrap_or_default();
        let mut e = Entry {
            dn: self.group_dn(&name),
            attrs: Vec::new(),
        };
        e.push("objectClass", strings(GROUP_CLASSES));
        e.push("cn", vec![name.clone()]);
        e.push("displayName", vec![name]);
        let member_dns: Vec<String> = g
            .members
            .iter()
            .map(|(kind, n)| {
                if kind == "Group" {
                    self.group_dn(n)
                } else {
                    self.user_dn(n)
                }
            })
            .collect();
        e.push_dns("member", member_dns.clone());
        e.push_dns("uniqueMember", member_dns);
        e.push(
            "memberUid",
            g.members
                .iter()
                .filter(|(kind, _)| kind == "User")
                .map(|(_, n)| n.clone())
                .collect(),
        );
        if let Some(n) = g.number {
            e.push("gidNumber", vec![n.to_string()]);
        }
        e.push_dns(
            "memberOf",
            g.groups.iter().map(|n| self.group_dn(n)).collect(),
        );
        operational(&mut e, &g.row);
        e
    }
}

fn operational(e: &mut Entry, row: &crate::store::resources::ResourceRow) {
    e.push_operational("entryUUID", Some(row.id.clone()));
    e.push_operational("createTimestamp", generalized_time(&row.created));
    e.push_operational("modifyTimestamp", generalized_time(&row.last_modified));
    e.push_operational("entryDN", Some(e.dn.clone()));
}

/// RFC 3339 → GeneralizedTime (`20261207123456Z`), the syntax of the timestamps.
pub fn generalized_time(rfc3339: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
    let t = t.to_offset(time::UtcOffset::UTC);
    Some(format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| (*s).to_owned()).collect()
}

fn opt(v: Option<String>) -> Vec<String> {
    v.into_iter().filter(|s| !s.is_empty()).collect()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn text(doc: &crate::scim::resource::Document, path: &[&str]) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let mut v = doc.get(*first)?;
    for p in rest {
        v = v.get(*p)?;
    }
    scalar(v).filter(|s| !s.is_empty())
}

/// The `value`s of a multi-valued attribute, the primary one first.
fn multi_values(v: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    let mut out: Vec<(bool, String)> = items
        .iter()
        .filter_map(|i| {
            let value = i.get("value").and_then(scalar)?;
            let primary = i.get("primary").and_then(Value::as_bool).unwrap_or(false);
            Some((primary, value))
        })
        .collect();
    out.sort_by_key(|(primary, _)| !primary);
    let mut seen = std::collections::HashSet::new();
    out.into_iter()
        .map(|(_, v)| v)
        .filter(|v| seen.insert(fold(v)))
        .collect()
}
