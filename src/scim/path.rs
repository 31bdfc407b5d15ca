//! PATCH operation paths (RFC 7644 §3.5.2): `attrPath [valFilter] [.subAttr]`, e.g.
//! `emails[type eq "work"].value` or `urn:…:enterprise:2.0:User:manager.value`.
//! Tokenizing, attribute-path and bracket-filter parsing are shared with
//! [`super::filter`], so both report [`FilterError`]s with the same positions and wording.

use std::fmt;

use super::filter::{AttrPath, Filter, FilterError, Parser};

/// A parsed PATCH `path`.
///
/// Shapes produced by [`parse_path`]: `name.familyName` puts `familyName` in
/// `attr.sub_attr` (no filter); `emails[…].value` has `attr.sub_attr == None`, a filter,
/// and `sub_attr == Some("value")`. `sub_attr` is only ever set together with `filter`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The targeted attribute (with its sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// Value filter selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// Sub-attribute of the selected elements, written after `]`.
    pub sub_attr: Option<String>,
}

/// Parses a PATCH operation `path` (RFC 7644 §3.5.2). Surrounding whitespace is ignored;
/// anything else that is not a valid path is a [`FilterError`] (callers answer with
/// `scimType` `invalidPath`).
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(input, "path")?;
    p.skip_ws();
    if p.at_end() {
        return Err(p.error(p.pos, "an attribute path", Some("the path is empty")));
    }
    let attr = p.parse_attr_path()?;
    let mut filter = None;
    let mut sub_attr = None;
    if p.peek() == Some('[') {
        filter = Some(p.parse_value_filter(&attr)?);
        if p.peek() == Some('.') {
            sub_attr = Some(p.parse_dot_sub_attr()?);
        }
    }
    p.skip_ws();
    if !p.at_end() {
        let expected = match (&filter, &attr.sub_attr) {
            (None, None) => "a value filter \"[…]\", a \".\" and sub-attribute, or end of path",
            (Some(_), None) if sub_attr.is_none() => "a \".\" and sub-attribute, or end of path",
            _ => "end of path",
        };
        return Err(p.error(p.pos, expected, None));
    }
    Ok(PatchPath {
        attr,
        filter,
        sub_attr,
    })
}

/// Canonical text that [`parse_path`] reads back to an equal value (for the shapes
/// `parse_path` produces).
impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::tests::{any_filter, attr_path, element_filter};
    use crate::scim::filter::{CompValue, CompareOp, MAX_DEPTH, MAX_LEN, parse_filter};
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn ap(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(Into::into),
            name: name.into(),
            sub_attr: sub.map(Into::into),
        }
    }
    fn f(text: &str) -> Filter {
        parse_filter(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }
    fn check(input: &str, want: PatchPath) {
        let got = parse_path(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got, want, "input {input:?}");
        let text = got.to_string();
        assert_eq!(parse_path(&text).as_ref(), Ok(&want), "canonical {text:?}");
    }
    fn plain(attr: AttrPath) -> PatchPath {
        PatchPath {
            attr,
            filter: None,
            sub_attr: None,
        }
    }

    #[test]
    fn rfc_paths() {
        check("active", plain(ap(None, "active", None)));
        check(
            "name.familyName",
            plain(ap(None, "name", Some("familyName"))),
        );
        check("members", plain(ap(None, "members", None)));
        check("members.$ref", plain(ap(None, "members", Some("$ref"))));
        check(
            r#"members[value eq "abc"]"#,
            PatchPath {
                attr: ap(None, "members", None),
                filter: Some(f(r#"value eq "abc""#)),
                sub_attr: None,
            },
        );
        check(
            r#"members[value eq"2819c223-7f76-453a-919d-413861904646"]"#,
            PatchPath {
                attr: ap(None, "members", None),
                filter: Some(Filter::Compare {
                    attr: ap(None, "value", None),
                    op: CompareOp::Eq,
                    value: CompValue::String("2819c223-7f76-453a-919d-413861904646".into()),
                }),
                sub_attr: None,
            },
        );
        check(
            r#"emails[type eq "work"].value"#,
            PatchPath {
                attr: ap(None, "emails", None),
                filter: Some(f(r#"type eq "work""#)),
                sub_attr: Some("value".into()),
            },
        );
        check(
            r#"addresses[type eq "work"].streetAddress"#,
            PatchPath {
                attr: ap(None, "addresses", None),
                filter: Some(f(r#"type eq "work""#)),
                sub_attr: Some("streetAddress".into()),
            },
        );
        check(
            r#"emails[type eq "work" and not (primary eq false)]"#,
            PatchPath {
                attr: ap(None, "emails", None),
                filter: Some(f(r#"type eq "work" and not (primary eq false)"#)),
                sub_attr: None,
            },
        );
        check(
            &format!("{ENTERPRISE}:manager"),
            plain(ap(Some(ENTERPRISE), "manager", None)),
        );
        check(
            &format!("{ENTERPRISE}:manager.value"),
            plain(ap(Some(ENTERPRISE), "manager", Some("value"))),
        );
        check(
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            plain(ap(
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                "name",
                Some("givenName"),
            )),
        );
        check(
            &format!("{ENTERPRISE}:emails[type pr].value"),
            PatchPath {
                attr: ap(Some(ENTERPRISE), "emails", None),
                filter: Some(f("type pr")),
                sub_attr: Some("value".into()),
            },
        );
        check(" \tactive\t ", plain(ap(None, "active", None)));
        check(
            "emails[ type pr ]",
            PatchPath {
                attr: ap(None, "emails", None),
                filter: Some(f("type pr")),
                sub_attr: None,
            },
        );
    }

    #[test]
    fn canonical_text() {
        let p = parse_path(r#"  emails[TYPE EQ "work" AND primary eq TRUE].value "#).expect("path");
        assert_eq!(
            p.to_string(),
            r#"emails[TYPE eq "work" and primary eq true].value"#
        );
    }

    /// (input, 1-based position, substring of the message)
    const ERRORS: &[(&str, usize, &str)] = &[
        ("", 1, "the path is empty"),
        ("  ", 3, "the path is empty"),
        ("1abc", 1, "expected an attribute name"),
        ("active extra", 8, r#"or end of path, found "extra""#),
        ("name.familyName.x", 16, "end of path"),
        ("name.", 6, "expected a sub-attribute name"),
        ("name.familyName[type pr]", 16, "not a sub-attribute"),
        (
            "emails[type pr",
            15,
            r#"or "]" to close the "[" at position 7"#,
        ),
        ("emails[]", 8, "expected an attribute path"),
        (
            "emails[type]",
            12,
            "expected a space and then a comparison operator",
        ),
        ("emails[type eq work]", 16, "double quotes"),
        ("emails[a[b pr]]", 9, "cannot be nested"),
        ("emails[type pr].", 17, "expected a sub-attribute name"),
        ("emails[type pr]x", 16, r#"a ".""#),
        ("emails[type pr].value.x", 22, "end of path"),
        ("emails[type pr][value pr]", 16, "end of path"),
        ("emails[type pr].value eq \"x\"", 23, "end of path"),
        ("urn:x", 1, "a schema URN"),
        ("(active)", 1, "expected an attribute name"),
        ("é", 1, r#"found "é""#),
        ("ü.x y", 1, r#"found "ü.x""#),
        ("a b", 3, r#"found "b""#),
    ];

    #[test]
    fn error_classes_and_positions() {
        for &(input, position, needle) in ERRORS {
            let e = match parse_path(input) {
                Ok(p) => panic!("{input:?} parsed as {p:?}"),
                Err(e) => e,
            };
            assert_eq!(e.position, position, "{input:?}: {}", e.message);
            assert!(
                e.message.contains(needle),
                "{input:?}: {:?} lacks {needle:?}",
                e.message
            );
            assert!(e.message.starts_with(&format!("at position {position}: ")));
        }
    }

    #[test]
    fn limits() {
        let e = parse_path(&"a".repeat(MAX_LEN + 1)).expect_err("too long");
        assert_eq!(e.position, MAX_LEN + 1);
        assert!(e.message.contains("the path is too long"), "{}", e.message);
        assert!(parse_path(&"a".repeat(MAX_LEN)).is_ok());
        let deep = format!(
            "x[{}a pr{}]",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_path(&deep).is_ok());
        let deep = format!("x[{}a pr{}]", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        let e = parse_path(&deep).expect_err("too deep");
        assert!(
            e.message.contains("the path nests too deeply"),
            "{}",
            e.message
        );
    }

    /// Shapes `parse_path` produces: a plain attribute (maybe with sub-attribute), or a
    /// multi-valued attribute with a value filter and optional trailing sub-attribute.
    fn patch_path() -> impl Strategy<Value = PatchPath> {
        prop_oneof![
            attr_path(true).prop_map(plain),
            (
                attr_path(false),
                element_filter(),
                prop::option::of("[a-zA-Z][a-zA-Z0-9_-]{0,8}|\\$ref")
            )
                .prop_map(|(attr, filter, sub_attr)| PatchPath {
                    attr,
                    filter: Some(filter),
                    sub_attr,
                }),
        ]
    }

    fn assert_sane(input: &str) {
        let started = Instant::now();
        let result = parse_path(input);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "slow parse of {input:?}"
        );
        match result {
            Ok(p) => assert_eq!(parse_path(&p.to_string()), Ok(p), "input {input:?}"),
            Err(e) => {
                assert!(
                    e.position >= 1 && e.position <= input.chars().count() + 1,
                    "{e:?}"
                );
                assert!(e.message.starts_with("at position "), "{e:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(p in patch_path()) {
            let text = p.to_string();
            prop_assert_eq!(parse_path(&text), Ok(p), "text {:?}", text);
        }

        #[test]
        fn arbitrary_strings_never_panic(input in any::<String>()) {
            assert_sane(&input);
        }

        #[test]
        fn path_like_strings_never_panic(input in r#"[a-z()\[\]" .:$\\0-9-]{0,60}"#) {
            assert_sane(&input);
        }

        /// Any filter, placed inside brackets, is either a valid path or a clean error.
        #[test]
        fn bracketed_filters_never_panic(filter in any_filter(), sub in "(\\.[a-z]{1,4})?") {
            assert_sane(&format!("emails[{filter}]{sub}"));
        }
    }
}
