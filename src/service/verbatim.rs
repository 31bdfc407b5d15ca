//! A stored resource sent as the JSON text it was stored as, without parsing it into a
//! `Value`, projecting it and serialising it again: most reads (a GET, the IdPs' `userName eq`
//! pre-check, a page of a list) ask for no `attributes` or `excludedAttributes`, and then the
//! projection changes nothing in a stored document. Each stored member is copied as it is;
//! only what scimd adds (`schemas`, `id`, the relation, `meta`) is serialised. A resource the
//! projection would change goes the general way ([`super::resources`]'s `render`), and both
//! ways give the same bytes: the tests below compare them.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::scim::list::LIST_RESPONSE;
use crate::scim::projection::Resolver;
use crate::scim::schema::ResourceType;
use crate::service::resources::Meta;
use crate::store::resources::StoredResource;

/// A response document: built as a `Value`, or JSON text ready to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Value(Value),
    /// Serialised already.
    Json(Vec<u8>),
}

impl Body {
    /// The document as a `Value` (the admin UI's browse pages build on it).
    pub fn into_value(self) -> crate::scim::error::Result<Value> {
        match self {
            Self::Value(v) => Ok(v),
            Self::Json(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                tracing::error!("a rendered document is not JSON: {e}");
                crate::scim::ScimError::internal()
            }),
        }
    }

    /// The document as the bytes sent on the wire.
    pub fn into_bytes(self) -> serde_json::Result<Vec<u8>> {
        match self {
            Self::Value(v) => serde_json::to_vec(&v),
            Self::Json(bytes) => Ok(bytes),
        }
    }

    fn write_to(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Self::Value(v) => serde_json::to_writer(out, v),
            Self::Json(bytes) => {
                out.extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

impl From<Value> for Body {
    fn from(v: Value) -> Self {
        Self::Value(v)
    }
}

/// A ListResponse (RFC 7644 §3.4.2) around rendered resources: the same bytes as serialising
/// [`crate::scim::list::list_response`], without turning serialised resources into values.
pub fn list_body(total: u64, start_index: u64, resources: Vec<Body>) -> serde_json::Result<Body> {
    let mut out = format!(
        "{{\"schemas\":[\"{LIST_RESPONSE}\"],\"totalResults\":{total},\"startIndex\":{start_index},\"itemsPerPage\":{},\"Resources\":[",
        resources.len()
    )
    .into_bytes();
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        r.write_to(&mut out)?;
    }
    out.extend_from_slice(b"]}");
    Ok(Body::Json(out))
}

/// The top-level members of a stored document in stored order, their values unparsed.
/// Fails on a key with an escape in it (it cannot be borrowed): the caller then takes the
/// general way.
struct Members<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some(entry) = map.next_entry::<&'de str, &'de RawValue>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// `row` rendered from its stored text, or `None` when `resolver` would change something in
/// it (the caller renders it the general way then). Mirrors `resources::render` member for
/// member: `schemas`, `id`, `externalId`, the stored members in stored order, the relation,
/// `meta`; a stored member of the same name as one added replaces it in place, as inserting
/// into the general way's ordered map does. `related` and `meta` are the general way's own.
pub fn render(
    rt: &ResourceType,
    row: &StoredResource,
    related: Option<(&str, &[Value])>,
    meta: &Meta<'_>,
    resolver: &Resolver<'_>,
) -> Option<Vec<u8>> {
    if !resolver.asks_for_nothing() {
        return None;
    }
    let Members(stored) = serde_json::from_str(&row.doc).ok()?;
    let mut schemas = vec![&*rt.schema.id];
    schemas.extend(
        rt.extensions
            .iter()
            .filter(|e| stored.iter().any(|(k, _)| *k == &*e.id))
            .map(|e| &*e.id),
    );
    let mut out: Vec<(&str, Piece)> = Vec::with_capacity(stored.len() + 4);
    let mut put = |key, piece| match out.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = piece,
        None => out.push((key, piece)),
    };
    put("schemas", Piece::Schemas(schemas));
    put("id", Piece::Id(&row.id));
    if let Some((_, external)) = stored.iter().find(|(k, _)| *k == "externalId") {
        put("externalId", Piece::Stored(external));
    }
    for (key, value) in &stored {
        if *key != "externalId" {
            put(key, Piece::Stored(value));
        }
    }
    if let Some((name, list)) = related
        && (!list.is_empty() || name == "members")
    {
        put(name, Piece::Shown(list));
    }
    put("meta", Piece::Meta(meta));

    let mut text = Vec::with_capacity(row.doc.len() + 256);
    text.push(b'{');
    for (i, (key, piece)) in out.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        serde_json::to_writer(&mut text, key).ok()?;
        text.push(b':');
        let start = text.len();
        match piece {
            Piece::Stored(raw) => text.extend_from_slice(raw.get().as_bytes()),
            Piece::Schemas(urns) => serde_json::to_writer(&mut text, urns).ok()?,
            Piece::Id(id) => serde_json::to_writer(&mut text, id).ok()?,
            Piece::Meta(meta) => serde_json::to_writer(&mut text, meta).ok()?,
            Piece::Shown(list) => serde_json::to_writer(&mut text, list).ok()?,
        }
        if !resolver.leaves_unchanged(key, &text[start..]) {
            return None;
        }
    }
    text.push(b'}');
    Some(text)
}

/// One member of the response: copied from the stored text, or what scimd adds.
enum Piece<'a> {
    Stored(&'a RawValue),
    Schemas(Vec<&'a str>),
    Id(&'a str),
    Meta(&'a Meta<'a>),
    /// The relation (`groups` of a user, `members` of a group).
    Shown(&'a [Value]),
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, json};

    use super::*;
    use crate::scim::projection::Projection;
    use crate::scim::schema::{GROUP, USER};
    use crate::service::Scope;
    use crate::service::resources::{rendered, rendered_stored};

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn scope() -> Scope {
        Scope {
            tenant_id: 1,
            tenant_slug: "default".into(),
            base_url: "https://scim.example.com/scim/v2".into(),
            actor: None,
            history_value_cap: 4096,
            strict: false,
            interop_profile: false,
            accept_password: true,
            schemas: crate::scim::schema::Registry::core(),
            ephemeral: false,
        }
    }

    fn stored(doc: &Map<String, Value>) -> StoredResource {
        StoredResource {
            seq: 7,
            id: "2819c223-7f76-453a-919d-413861904646".into(),
            version: 3,
            created: "2026-12-01T10:00:00Z".into(),
            last_modified: "2026-12-02T11:00:00Z".into(),
            doc: serde_json::to_string(doc).expect("serialise"),
            password_hash: None,
        }
    }

    /// Both ways of rendering `doc`: (from the stored text, parsed and projected).
    fn both(
        rt: &ResourceType,
        doc: &Map<String, Value>,
        related: Option<(&str, Vec<Value>)>,
        projection: &Projection,
    ) -> (Body, Vec<u8>, String, String) {
        let scope = scope();
        let resolver = projection.resolve(rt).expect("resolve");
        let row = stored(doc);
        let parsed = row.clone().parse().expect("parse");
        let general = rendered(rt, &scope, &parsed, related.clone(), &resolver);
        let fast = rendered_stored(rt, &scope, row, related, &resolver).expect("render");
        assert_eq!(fast.location, general.location);
        let general_bytes = general.body.into_bytes().expect("bytes");
        (fast.body, general_bytes, fast.etag, general.etag)
    }

    fn groups() -> Vec<Value> {
        vec![
            json!({"value": "g1", "$ref": "https://scim.example.com/scim/v2/Groups/g1",
                    "display": "Engineering", "type": "direct"}),
        ]
    }

    #[test]
    fn a_typical_user_is_sent_from_its_stored_text_byte_for_byte() {
        let doc = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen \"BJ\" \u{e9}"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "externalId": "00u1",
            "active": true,
            ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "m1"}}
        });
        let Value::Object(doc) = doc else {
            unreachable!()
        };
        let (fast, general, fast_tag, general_tag) = both(
            &USER,
            &doc,
            Some(("groups", groups())),
            &Projection::default(),
        );
        let Body::Json(fast) = fast else {
            panic!("the default projection leaves a typical user unchanged: it must not be parsed")
        };
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&general)
        );
        assert_eq!(fast_tag, general_tag);
    }

    #[test]
    fn a_group_with_no_members_still_shows_an_empty_list() {
        let Value::Object(doc) = json!({"displayName": "Ops"}) else {
            unreachable!()
        };
        let (fast, general, ..) = both(
            &GROUP,
            &doc,
            Some(("members", vec![])),
            &Projection::default(),
        );
        let Body::Json(fast) = fast else {
            panic!("sent from the stored text")
        };
        assert_eq!(fast, general);
        assert!(String::from_utf8_lossy(&fast).contains("\"members\":[]"));
    }

    #[test]
    fn what_a_projection_would_change_takes_the_general_way() {
        let Value::Object(typical) = json!({"userName": "a", "title": "T"}) else {
            unreachable!()
        };
        let Value::Object(empty_item) = json!({"userName": "a", "emails": [{}]}) else {
            unreachable!()
        };
        let Value::Object(never) = json!({"userName": "a", "password": "x"}) else {
            unreachable!()
        };
        let asked = Projection::parse(Some("userName"), None).expect("parse");
        for (doc, projection) in [
            (&typical, &asked),
            (&empty_item, &Projection::default()),
            (&never, &Projection::default()),
        ] {
            let (fast, general, ..) = both(&USER, doc, None, projection);
            assert!(matches!(fast, Body::Value(_)), "{doc:?}");
            assert_eq!(fast.into_bytes().expect("bytes"), general);
        }
    }

    #[test]
    fn a_list_of_stored_texts_is_the_list_response_byte_for_byte() {
        let resources = vec![
            json!({"id": "1"}),
            json!({"id": "2", "x": [1.5, "\u{1F600}"]}),
        ];
        let expected =
            serde_json::to_vec(&crate::scim::list::list_response(40, 3, resources.clone()))
                .expect("bytes");
        let mixed = vec![
            Body::Json(serde_json::to_vec(&resources[0]).expect("bytes")),
            Body::Value(resources[1].clone()),
        ];
        assert_eq!(
            list_body(40, 3, mixed)
                .expect("list")
                .into_bytes()
                .expect("bytes"),
            expected
        );
        let empty = list_body(0, 1, vec![])
            .expect("list")
            .into_bytes()
            .expect("bytes");
        let expected = serde_json::to_vec(&crate::scim::list::list_response(0, 1, vec![]));
        assert_eq!(empty, expected.expect("bytes"));
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(vec!["", "{}", "x\"y\\z", "\u{7}\n", "é€😀", "[1]"])
                .prop_map(Value::from),
            "\\PC{0,6}".prop_map(Value::String),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(vec![
                "userName", "externalId", "displayName", "name", "emails", "title", "active",
                "password", "schemas", "id", "meta", "groups", "members", "nickName",
                "x-custom", "UserName", ENTERPRISE, "employeeNumber", "value", "type",
                "primary", "givenName", "manager", "a\"b", "\u{e9}",
            ])
            .prop_map(str::to_owned),
            1 => "\\PC{0,4}",
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever was stored, and whichever projection, the response is the general way's,
        /// byte for byte, and so is its ETag.
        #[test]
        fn the_stored_text_renders_exactly_as_the_general_way(
            doc in prop::collection::vec((key(), json_value()), 0..10),
            group in any::<bool>(),
            shown in 0..3usize,
            projection in prop::sample::select(vec![
                (None, None),
                (Some("displayName"), None),
                (None, Some("displayName")),
                (None, Some("meta.created")),
            ]),
        ) {
            let doc: Map<String, Value> = doc.into_iter().collect();
            let rt = if group { &GROUP } else { &USER };
            let relation = if group { "members" } else { "groups" };
            let related = (shown > 0).then(|| (relation, std::iter::repeat_n(groups()[0].clone(), shown - 1).collect()));
            let projection = Projection::parse(projection.0, projection.1).expect("parse");
            let (fast, general, fast_tag, general_tag) = both(rt, &doc, related, &projection);
            prop_assert_eq!(fast.into_bytes().expect("bytes"), general);
            prop_assert_eq!(fast_tag, general_tag);
        }
    }
}
