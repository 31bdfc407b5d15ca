//! Redaction of request and response bodies before they are logged: every attribute the
//! schemas mark `returned: never` (today `password`) is replaced by [`REDACTED`], wherever it
//! appears: as a key (POST/PUT bodies, PATCH values, extension blocks) or as the target of a
//! PATCH operation, decided by the PATCH engine's own reading of the target; a PATCH value whose
//! target the engine cannot resolve to a shown attribute is withheld too. A body that cannot be parsed is kept only if it cannot hold such
//! a value, since a broken body cannot be walked safely.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use serde_json::Value;

use super::patch::{self, Writes};
use super::schema::{ALL_SCHEMAS, AttrDef, Returned};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Names (lowercased) of every `returned: never` attribute and sub-attribute.
static NEVER: LazyLock<Vec<String>> = LazyLock::new(|| {
    fn walk(attrs: &[AttrDef], out: &mut Vec<String>) {
        for a in attrs {
            if a.returned == Returned::Never {
                out.push(a.name.to_ascii_lowercase());
            }
            walk(&a.sub_attributes, out);
        }
    }
    let mut out = Vec::new();
    for s in ALL_SCHEMAS {
        walk(&s.attributes, &mut out);
    }
    out.sort();
    out.dedup();
    out
});

/// Whether `key` (possibly URN-qualified, e.g. `urn:…:User:password`) names a
/// `returned: never` attribute. Surrounding whitespace is ignored, as the PATCH path parser
/// ignores it.
pub fn is_secret(key: &str) -> bool {
    is_secret_in(key, &[])
}

/// [`is_secret`], also counting `extra` (lowercased names a tenant declared `returned: never`).
fn is_secret_in(key: &str, extra: &[String]) -> bool {
    let key = key.trim();
    let last = key.rsplit(':').next().unwrap_or(key);
    let last = last.split('[').next().unwrap_or(last);
    let last = last
        .rsplit('.')
        .next()
        .unwrap_or(last)
        .trim()
        .to_ascii_lowercase();
    NEVER.contains(&last) || extra.contains(&last)
}

/// Redacts a JSON body in place. The operations of a PATCH body are judged by the PATCH
/// engine's own reading of their targets ([`patch::classify_target`]): a value is kept only
/// when its target resolves to an attribute that is shown. Every other object member named
/// like a secret attribute is withheld wherever it appears.
pub fn redact_json(v: &mut Value) {
    redact_json_in(v, &[]);
}

/// [`redact_json`], also withholding the attributes named in `extra` (a tenant's own
/// `returned: never` extension attributes).
fn redact_json_in(v: &mut Value, extra: &[String]) {
    match v {
        Value::Object(map) => {
            for (key, val) in map.iter_mut() {
                if is_secret_in(key, extra) {
                    *val = Value::String(REDACTED.to_owned());
                } else if key.eq_ignore_ascii_case("Operations")
                    && let Value::Array(ops) = val
                {
                    ops.iter_mut().for_each(|op| redact_operation(op, extra));
                } else {
                    redact_json_in(val, extra);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact_json_in(i, extra)),
        _ => {}
    }
}

/// One PATCH operation. The engine picks its `path` and `value` members ignoring case
/// (preferring an exact match); every member spelled so is judged here, so that whichever
/// one the engine reads is covered.
fn redact_operation(op: &mut Value, extra: &[String]) {
    let Value::Object(op) = op else {
        redact_json_in(op, extra);
        return;
    };
    let paths: Vec<Option<Writes>> = op
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("path"))
        .map(|(_, p)| match p {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(patch::classify_target(s)),
            _ => Some(Writes::Unknown),
        })
        .collect();
    let pathless = paths.is_empty() || paths.contains(&None);
    let verdict = paths.into_iter().flatten().fold(Writes::Shown, worst);
    for (key, val) in op.iter_mut() {
        let is_value = key.eq_ignore_ascii_case("value");
        if is_value && verdict != Writes::Shown {
            *val = Value::String(REDACTED.to_owned());
        } else if is_value && pathless {
            redact_pathless(val, extra);
        } else if is_secret_in(key, extra) {
            *val = Value::String(REDACTED.to_owned());
        } else {
            redact_json_in(val, extra);
        }
    }
}

/// A path-less operation's value: each key is a target, read as the engine reads it.
fn redact_pathless(value: &mut Value, extra: &[String]) {
    let Value::Object(entries) = value else {
        // The engine refuses anything but an object here.
        *value = Value::String(REDACTED.to_owned());
        return;
    };
    for (key, val) in entries.iter_mut() {
        if patch::classify_target(key) == Writes::Shown && !is_secret_in(key, extra) {
            redact_json_in(val, extra);
        } else {
            *val = Value::String(REDACTED.to_owned());
        }
    }
}

fn worst(a: Writes, b: Writes) -> Writes {
    match (a, b) {
        (Writes::Secret, _) | (_, Writes::Secret) => Writes::Secret,
        (Writes::Unknown, _) | (_, Writes::Unknown) => Writes::Unknown,
        _ => Writes::Shown,
    }
}

/// A body as it may be stored: redacted, at most `cap` bytes (cut on a character boundary).
/// Returns the text and whether it was cut. `complete` is false when only a prefix of the body
/// was captured. A body without secrets is borrowed, not copied: SQLite copies it as it binds.
pub fn redact_body(bytes: &[u8], complete: bool, cap: usize) -> (Option<Cow<'_, str>>, bool) {
    redact_body_in(bytes, complete, cap, &[])
}

/// [`redact_body`] for a tenant that declared extension attributes `returned: never`
/// (`extra`, lowercased names): those are withheld too.
pub fn redact_body_in<'b>(
    bytes: &'b [u8],
    complete: bool,
    cap: usize,
    extra: &[String],
) -> (Option<Cow<'b, str>>, bool) {
    if bytes.is_empty() {
        return (None, !complete);
    }
    if !may_hold_secret(bytes) && !mentions_any(bytes, extra) {
        // Most bodies: kept as sent, without the cost of parsing and re-serialising them.
        // `from_utf8` checks a valid body several times faster than `from_utf8_lossy` does.
        let text = std::str::from_utf8(bytes)
            .map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed);
        return cut(text, complete, cap);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) if complete => {
            redact_json_in(&mut v, extra);
            cut(Cow::Owned(v.to_string()), complete, cap)
        }
        // It may hold a secret and cannot be walked safely.
        _ => (
            Some(Cow::Owned(format!(
                "[withheld: {} bytes that are not complete JSON and may hold a password]",
                bytes.len()
            ))),
            !complete,
        ),
    }
}

/// Whether the body mentions one of `names` (lowercased), in any case. Tenants declare few,
/// if any, so a plain search per name does.
fn mentions_any(bytes: &[u8], names: &[String]) -> bool {
    if names.is_empty() {
        return false;
    }
    let lower = bytes.to_ascii_lowercase();
    names
        .iter()
        .filter(|n| !n.is_empty())
        .any(|n| lower.windows(n.len()).any(|w| w == n.as_bytes()))
}

/// Whether a body might carry a `returned: never` attribute: it mentions one, in any case, or
/// holds a `\u` escape, which could spell one (`"passw\u006frd"`).
fn may_hold_secret(bytes: &[u8]) -> bool {
    SECRET_MENTION.is_match(bytes)
}

/// Finds any secret attribute name or a `\u` escape, ignoring ASCII case, in one pass.
static SECRET_MENTION: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let needles = NEVER.iter().map(String::as_str).chain(["\\u"]);
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(needles)
        .expect("secret attribute names are valid patterns")
});

/// `text` cut to at most `cap` bytes on a character boundary, and whether it is incomplete.
fn cut(text: Cow<'_, str>, complete: bool, cap: usize) -> (Option<Cow<'_, str>>, bool) {
    if text.len() <= cap {
        return (Some(text), !complete);
    }
    let end = text.floor_char_boundary(cap);
    let text = match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[..end]),
        Cow::Owned(mut s) => {
            s.truncate(end);
            Cow::Owned(s)
        }
    };
    (Some(text), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_redacted_everywhere() {
        let mut v = json!({"userName":"a","password":"s3cret","Operations":[
            {"op":"replace","path":"password","value":"p2"},
            {"op":"replace","value":{"PassWord":"p3"}},
            {"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:password","value":"p4"}]});
        redact_json(&mut v);
        let s = v.to_string();
        for secret in ["s3cret", "p2", "p3", "p4"] {
            assert!(!s.contains(secret), "{s}");
        }
        assert!(s.contains("\"userName\":\"a\""));
    }

    /// Review item 8: each of these was applied as a password change and logged in clear.
    #[test]
    fn operations_are_judged_as_the_patch_engine_reads_them() {
        let bodies = [
            json!({"Operations":[{"op":"replace","path":"password ","value":"c1"}]}),
            json!({"Operations":[{"op":"replace","path":" password","value":"c2"}]}),
            json!({"Operations":[{"op":"replace","PATH":"displayName","path":"password","value":"c3"}]}),
            json!({"Operations":[{"op":"replace","path":"displayName","PATH":"password","value":"c4"}]}),
            json!({"Operations":[{"op":"replace","value":{" password ":"c5"}}]}),
            json!({"operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:PASSWORD","Value":"c6"}]}),
            json!({"Operations":[{"op":"replace","path":"nosuchattribute","value":"c7"}]}),
            json!({"Operations":[{"op":"replace","path":42,"value":"c8"}]}),
            json!({"Operations":[{"op":"replace","value":"c9"}]}),
        ];
        for (i, mut body) in bodies.into_iter().enumerate() {
            redact_json(&mut body);
            let text = body.to_string();
            assert!(!text.contains(&format!("c{}", i + 1)), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
    }

    #[test]
    fn values_of_shown_attributes_are_kept() {
        let mut body = json!({"Operations":[
            {"op":"replace","path":"displayName","value":"Babs"},
            {"op":"Replace","path":"emails[type eq \"work\"].value","value":"b@x.test"},
            {"op":"add","value":{"name.givenName":"B","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7"}}},
            {"op":"add","path":"members","value":[{"value":"u1"}]}]});
        let before = body.clone();
        redact_json(&mut body);
        assert_eq!(body, before);
    }

    #[test]
    fn escaped_attribute_names_are_caught() {
        let body = br#"{"userName":"a","passw\u006frd":"s3cret"}"#;
        let (t, _) = redact_body(body, true, 1000);
        let t = t.expect("text");
        assert!(!t.contains("s3cret"), "{t}");
        let (t, _) = redact_body(br#"{"passw\u006frd":"s3cret", oops"#, true, 1000);
        assert!(t.expect("text").starts_with("[withheld"));
    }

    #[test]
    fn bodies_without_secrets_are_kept_as_sent() {
        let body = br#"{ "userName" : "a",  "active": true }"#;
        let (t, cut) = redact_body(body, true, 1000);
        assert_eq!(
            t.as_deref(),
            Some(r#"{ "userName" : "a",  "active": true }"#)
        );
        assert!(matches!(t, Some(Cow::Borrowed(_))), "not copied");
        assert!(!cut);
    }

    #[test]
    fn broken_bodies_with_a_password_are_withheld() {
        let (t, _) = redact_body(br#"{"password":"x", oops"#, true, 1000);
        assert!(t.expect("text").starts_with("[withheld"));
        let (t, _) = redact_body(b"{oops", true, 1000);
        assert_eq!(t.as_deref(), Some("{oops"));
    }

    #[test]
    fn long_bodies_are_cut() {
        let (t, cut) = redact_body(br#"{"userName":"aaaaaaaaaaaaaaaa"}"#, true, 10);
        assert_eq!(t.expect("text").len(), 10);
        assert!(cut);
        // Never inside a character: "ü" is bytes 12 and 13.
        let (t, cut) = redact_body(r#"{"userName":"ü"}"#.as_bytes(), true, 13);
        assert_eq!(t.as_deref(), Some(r#"{"userName":""#));
        assert!(cut);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_kept_readable() {
        let (t, cut) = redact_body(b"{\"userName\":\"a\xff\"}", true, 1000);
        assert_eq!(t.as_deref(), Some("{\"userName\":\"a\u{fffd}\"}"));
        assert!(!cut);
    }
}
