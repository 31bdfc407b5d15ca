//! Attribute definitions of the schemas scimd serves (RFC 7643 §4 and §8.7): the core User and
//! Group schemas and the enterprise User extension. Everything that validates, filters, patches
//! or projects a resource looks attributes up here, so the characteristics advertised on
//! `/Schemas` are the ones actually enforced.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

use serde_json::{Map, Value, json};

/// RFC 7643 §2.3 attribute data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The name used on the wire in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// RFC 7643 §7 "mutability".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// RFC 7643 §7 "returned".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

/// RFC 7643 §7 "uniqueness".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
            Self::Global => "global",
        }
    }
}

/// Text of a definition: borrowed for the built-in schemas (no allocation, `static`), owned
/// for the extensions a tenant declares.
pub type Text = Cow<'static, str>;

/// One attribute definition (RFC 7643 §7), possibly with sub-attributes. The built-in ones are
/// `static`; a tenant's extension attributes are owned, so every field that holds text or a
/// list is a `Cow`.
#[derive(Debug, Clone)]
pub struct AttrDef {
    pub name: Text,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub description: Text,
    pub canonical_values: Cow<'static, [Text]>,
    pub reference_types: Cow<'static, [Text]>,
    pub sub_attributes: Cow<'static, [AttrDef]>,
}

impl AttrDef {
    /// Finds a sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttrDef> {
        find(&self.sub_attributes, name)
    }

    /// Whether a client may write this attribute at all.
    pub fn is_read_only(&self) -> bool {
        self.mutability == Mutability::ReadOnly
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        out.insert("type".into(), json!(self.ty.as_str()));
        out.insert("multiValued".into(), json!(self.multi_valued));
        out.insert("description".into(), json!(self.description));
        out.insert("required".into(), json!(self.required));
        if matches!(
            self.ty,
            AttrType::String | AttrType::Reference | AttrType::Binary
        ) {
            out.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            out.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            out.insert("referenceTypes".into(), json!(self.reference_types));
        }
        out.insert("mutability".into(), json!(self.mutability.as_str()));
        out.insert("returned".into(), json!(self.returned.as_str()));
        // Complex attributes too (RFC 7643 §8.7.1 lists `"uniqueness": "none"` on `name`): Entra's
        // schema discovery expects the three characteristics on every attribute (S68).
        out.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if !self.sub_attributes.is_empty() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(AttrDef::to_json).collect();
            out.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(out)
    }

    // Const setters for the `static` definitions below. A struct update (`..base`) would drop
    // the base's `Cow` fields, which const evaluation refuses; these overwrite in place and
    // forget the replaced value, which is always a borrowed `Cow` (nothing to free).

    const fn description(mut self, text: &'static str) -> Self {
        std::mem::forget(std::mem::replace(
            &mut self.description,
            Cow::Borrowed(text),
        ));
        self
    }

    const fn canonical(mut self, values: &'static [Text]) -> Self {
        std::mem::forget(std::mem::replace(
            &mut self.canonical_values,
            Cow::Borrowed(values),
        ));
        self
    }

    const fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    const fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
}

/// Finds an attribute by name, case-insensitively (RFC 7643 §2.1: attribute names are
/// case-insensitive).
pub fn find<'a>(attrs: &'a [AttrDef], name: &str) -> Option<&'a AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The URN prefix of RFC 7643's core schemas (User, Group), which carry the common attributes.
const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

/// A schema (RFC 7643 §7): an id URN and its attributes.
#[derive(Debug, Clone)]
pub struct SchemaDef {
    pub id: Text,
    pub name: Text,
    pub description: Text,
    pub attributes: Cow<'static, [AttrDef]>,
}

impl SchemaDef {
    /// Finds a top-level attribute of this schema by name, case-insensitively.
    pub fn attr(&self, name: &str) -> Option<&AttrDef> {
        find(&self.attributes, name)
    }

    /// The `Schema` resource served on `/Schemas/{id}` (RFC 7643 §7). `location` is the
    /// absolute URL of that endpoint.
    pub fn to_json(&self, location: &str) -> Value {
        let mut attrs: Vec<Value> = self.attributes.iter().map(AttrDef::to_json).collect();
        // `externalId` is a common attribute (RFC 7643 §3.1) every resource takes; published
        // in each core schema so that /Schemas lists every attribute a client may write
        // (IPSIE requires it declared; the Interop Profile §5.1 wants /Schemas exact).
        // `id` and `meta` are readOnly and need no declaration to be sent.
        if self.id.starts_with(CORE_URN_PREFIX)
            && let Some(external) = find(&COMMON_ATTRIBUTES, "externalId")
        {
            attrs.insert(0, external.to_json());
        }
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attrs,
            "meta": {"resourceType": "Schema", "location": location},
        })
    }
}

/// A resource type (RFC 7643 §6): endpoint, core schema and extensions. The built-in ones
/// are `static`; a tenant that declares extensions gets an owned copy with them appended.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static SchemaDef,
    pub extensions: Cow<'static, [Cow<'static, SchemaDef>]>,
    /// Schema URNs some IdPs put in `schemas` that carry no attributes of their own; accepted
    /// and dropped rather than rejected (see idp-requirements.md S61, S73).
    pub tolerated_schemas: &'static [&'static str],
}

impl ResourceType {
    /// The extension schema whose URN is `urn`, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .map(|s| &**s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The core or extension schema whose URN is `urn`, case-insensitively.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&SchemaDef> {
        if self.schema.id.eq_ignore_ascii_case(urn) {
            Some(self.schema)
        } else {
            self.extension(urn)
        }
    }

    /// Whether `urn` may appear in a request's `schemas` without carrying attributes.
    pub fn tolerates_schema(&self, urn: &str) -> bool {
        self.tolerated_schemas
            .iter()
            .any(|s| s.eq_ignore_ascii_case(urn))
    }

    /// The `ResourceType` resource served on `/ResourceTypes/{name}`.
    pub fn to_json(&self, location: &str) -> Value {
        let extensions: Vec<Value> = self
            .extensions
            .iter()
            .map(|s| json!({"schema": s.id, "required": false}))
            .collect();
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": extensions,
            "meta": {"resourceType": "ResourceType", "location": location},
        })
    }
}

/// A resource type as one tenant sees it: the `static` built-in one (a tenant without
/// extensions of its own: no allocation), or a shared copy carrying the tenant's extensions.
/// Cheap to clone into the closures that run on the writer or the blocking pool.
#[derive(Debug, Clone)]
pub enum TypeRef {
    Core(&'static ResourceType),
    Tenant(Arc<ResourceType>),
}

impl Deref for TypeRef {
    type Target = ResourceType;

    fn deref(&self) -> &ResourceType {
        match self {
            Self::Core(rt) => rt,
            Self::Tenant(rt) => rt,
        }
    }
}

impl From<&'static ResourceType> for TypeRef {
    fn from(rt: &'static ResourceType) -> Self {
        Self::Core(rt)
    }
}

/// The schemas and resource types one tenant serves: the built-in ones plus the extensions it
/// declared (see `scim::extension`).
#[derive(Debug, Clone)]
pub struct Registry {
    types: [TypeRef; 2],
    /// Names (lowercased) of the tenant's extension attributes declared `returned: never`,
    /// which the request log redacts like `password` (`scim::redact`).
    never_returned: Arc<[String]>,
}

impl Registry {
    /// The built-in schemas only, shared by every tenant that declares no extension.
    pub fn core() -> Arc<Registry> {
        static CORE: std::sync::LazyLock<Arc<Registry>> = std::sync::LazyLock::new(|| {
            Arc::new(Registry {
                types: [TypeRef::Core(&USER), TypeRef::Core(&GROUP)],
                never_returned: Arc::from([]),
            })
        });
        Arc::clone(&CORE)
    }

    /// The built-in types with `extra` extension schemas appended to the type each names.
    pub fn with_extensions(extra: Vec<(&str, SchemaDef)>) -> Registry {
        fn never(attrs: &[AttrDef], out: &mut Vec<String>) {
            for a in attrs {
                if a.returned == Returned::Never {
                    out.push(a.name.to_ascii_lowercase());
                }
                never(&a.sub_attributes, out);
            }
        }
        let mut never_returned = Vec::new();
        for (_, s) in &extra {
            never(&s.attributes, &mut never_returned);
        }
        let types = [&USER, &GROUP].map(|core| {
            let mine: Vec<Cow<'static, SchemaDef>> = extra
                .iter()
                .filter(|(t, _)| t.eq_ignore_ascii_case(core.name))
                .map(|(_, s)| Cow::Owned(s.clone()))
                .collect();
            if mine.is_empty() {
                TypeRef::Core(core)
            } else {
                let mut extensions = core.extensions.to_vec();
                extensions.extend(mine);
                TypeRef::Tenant(Arc::new(ResourceType {
                    extensions: Cow::Owned(extensions),
                    ..core.clone()
                }))
            }
        });
        Registry {
            types,
            never_returned: never_returned.into(),
        }
    }

    /// The tenant's extension attributes declared `returned: never` (lowercased names).
    pub fn never_returned(&self) -> Arc<[String]> {
        Arc::clone(&self.never_returned)
    }

    /// Every resource type, `User` first.
    pub fn types(&self) -> &[TypeRef] {
        &self.types
    }

    /// The resource type of a kind (`USER` or `GROUP`) as this tenant sees it.
    pub fn get(&self, core: &ResourceType) -> &TypeRef {
        self.types
            .iter()
            .find(|t| t.name == core.name)
            .unwrap_or(&self.types[0])
    }

    /// The resource type served at `endpoint` (`Users`, `Groups`), without the slash.
    pub fn by_endpoint(&self, endpoint: &str) -> Option<&TypeRef> {
        self.types
            .iter()
            .find(|rt| rt.endpoint.trim_start_matches('/') == endpoint)
    }

    /// Every schema served on `/Schemas`: each type's core schema, then its extensions.
    pub fn schemas(&self) -> impl Iterator<Item = &SchemaDef> {
        self.types
            .iter()
            .flat_map(|t| std::iter::once(t.schema).chain(t.extensions.iter().map(|s| &**s)))
    }

    /// The schema whose URN is `id`, case-insensitively.
    pub fn schema(&self, id: &str) -> Option<&SchemaDef> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(id))
    }
}

// --- Attribute builders -------------------------------------------------------------------
// Written as const fns so every definition below is a `static`, checked at compile time, with
// only the characteristics that differ from RFC 7643's defaults spelled out.

/// A `&'static [Text]` of borrowed strings, for canonical values and reference types.
macro_rules! texts {
    ($($s:literal),* $(,)?) => {
        &[$(Cow::Borrowed($s)),*]
    };
}

const fn attr(name: &'static str, ty: AttrType) -> AttrDef {
    AttrDef {
        name: Cow::Borrowed(name),
        ty,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        description: Cow::Borrowed(""),
        canonical_values: Cow::Borrowed(&[]),
        reference_types: Cow::Borrowed(&[]),
        sub_attributes: Cow::Borrowed(&[]),
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::String).description(description)
}

const fn boolean(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::Boolean).description(description)
}

const fn reference(
    name: &'static str,
    types: &'static [Text],
    description: &'static str,
) -> AttrDef {
    let mut a = attr(name, AttrType::Reference).description(description);
    std::mem::forget(std::mem::replace(
        &mut a.reference_types,
        Cow::Borrowed(types),
    ));
    a
}

const fn complex(
    name: &'static str,
    subs: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    let mut a = attr(name, AttrType::Complex).description(description);
    std::mem::forget(std::mem::replace(
        &mut a.sub_attributes,
        Cow::Borrowed(subs),
    ));
    a
}

const fn multi(name: &'static str, subs: &'static [AttrDef], description: &'static str) -> AttrDef {
    let mut a = complex(name, subs, description);
    a.multi_valued = true;
    a
}

const fn type_of(canonical: &'static [Text]) -> AttrDef {
    string("type", "A label indicating the attribute's function.").canonical(canonical)
}

const fn primary() -> AttrDef {
    boolean(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    )
}

const fn display() -> AttrDef {
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    )
}

// --- Common attributes (RFC 7643 §3.1) ------------------------------------------------------

static META_SUBS: [AttrDef; 5] = [
    string(
        "resourceType",
        "The name of the resource type of the resource.",
    )
    .exact()
    .mutability(Mutability::ReadOnly),
    attr("created", AttrType::DateTime)
        .mutability(Mutability::ReadOnly)
        .description("The DateTime that the resource was added to the service provider."),
    attr("lastModified", AttrType::DateTime)
        .mutability(Mutability::ReadOnly)
        .description("The most recent DateTime that the details of this resource were updated."),
    reference(
        "location",
        texts!["uri"],
        "The URI of the resource being returned.",
    )
    .exact()
    .mutability(Mutability::ReadOnly),
    string("version", "The version of the resource being returned.")
        .exact()
        .mutability(Mutability::ReadOnly),
];

/// Attributes every resource carries regardless of schema (RFC 7643 §3.1).
pub static COMMON_ATTRIBUTES: [AttrDef; 3] = [
    string(
        "id",
        "Unique identifier for the SCIM resource as defined by the service provider.",
    )
    .exact()
    .mutability(Mutability::ReadOnly)
    .returned(Returned::Always)
    .unique(),
    string(
        "externalId",
        "An identifier for the resource as defined by the provisioning client.",
    )
    .exact(),
    complex("meta", &META_SUBS, "Resource metadata.").mutability(Mutability::ReadOnly),
];

// --- User (RFC 7643 §4.1, §8.7.1) -------------------------------------------------------------

static NAME_SUBS: [AttrDef; 6] = [
    string(
        "formatted",
        "The full name, including all middle names, titles, and suffixes as appropriate.",
    ),
    string(
        "familyName",
        "The family name of the User, or last name in most Western languages.",
    ),
    string(
        "givenName",
        "The given name of the User, or first name in most Western languages.",
    ),
    string("middleName", "The middle name(s) of the User."),
    string(
        "honorificPrefix",
        "The honorific prefix(es) of the User, or title in most Western languages.",
    ),
    string(
        "honorificSuffix",
        "The honorific suffix(es) of the User, or suffix in most Western languages.",
    ),
];

static EMAIL_SUBS: [AttrDef; 4] = [
    string("value", "Email addresses for the user."),
    display(),
    type_of(texts!["work", "home", "other"]),
    primary(),
];

static PHONE_SUBS: [AttrDef; 4] = [
    string("value", "Phone number of the User."),
    display(),
    type_of(texts!["work", "home", "mobile", "fax", "pager", "other"]),
    primary(),
];

static IM_SUBS: [AttrDef; 4] = [
    string("value", "Instant messaging address for the User."),
    display(),
    type_of(texts![
        "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"
    ]),
    primary(),
];

static PHOTO_SUBS: [AttrDef; 4] = [
    reference("value", texts!["external"], "URL of a photo of the User.").exact(),
    display(),
    type_of(texts!["photo", "thumbnail"]),
    primary(),
];

static ADDRESS_SUBS: [AttrDef; 8] = [
    string(
        "formatted",
        "The full mailing address, formatted for display or use with a mailing label.",
    ),
    string("streetAddress", "The full street address component."),
    string("locality", "The city or locality component."),
    string("region", "The state or region component."),
    string("postalCode", "The zip code or postal code component."),
    string("country", "The country name component."),
    type_of(texts!["work", "home", "other"]),
    primary(),
];

static USER_GROUP_SUBS: [AttrDef; 4] = [
    string("value", "The identifier of the User's group.").mutability(Mutability::ReadOnly),
    reference(
        "$ref",
        texts!["User", "Group"],
        "The URI of the corresponding 'Group' resource.",
    )
    .mutability(Mutability::ReadOnly),
    display().mutability(Mutability::ReadOnly),
    string(
        "type",
        "Whether the membership is direct or through a nested group.",
    )
    .mutability(Mutability::ReadOnly)
    .canonical(texts!["direct", "indirect"]),
];

// RFC 7643 defines no vocabulary for the `type` of entitlements, roles and certificates;
// the Interoperability Profile (§5.4) wants every `type` declared, so these are the labels of
// RFC 7643 §2.4's example ("work", "home", "other") plus what IdPs send: Entra's app-role
// assignments carry "WindowsAzureActiveDirectoryRole". Other values are recorded as a quirk
// (refused in profile mode).
static ENTITLEMENT_SUBS: [AttrDef; 4] = [
    string("value", "The value of an entitlement."),
    display(),
    type_of(texts!["work", "home", "other"]),
    primary(),
];

static ROLE_SUBS: [AttrDef; 4] = [
    string("value", "The value of a role."),
    display(),
    type_of(texts![
        "work",
        "home",
        "other",
        "WindowsAzureActiveDirectoryRole"
    ]),
    primary(),
];

static CERT_SUBS: [AttrDef; 4] = [
    attr("value", AttrType::Binary).description("The value of an X.509 certificate (base64 DER)."),
    display(),
    type_of(texts!["work", "home", "other"]),
    primary(),
];

static USER_ATTRIBUTES: [AttrDef; 21] = [
    string(
        "userName",
        "Unique identifier for the User, typically used by the user to directly authenticate.",
    )
    .required()
    .unique(),
    complex(
        "name",
        &NAME_SUBS,
        "The components of the user's real name.",
    ),
    string(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    string(
        "nickName",
        "The casual way to address the user in real life.",
    ),
    reference(
        "profileUrl",
        texts!["external"],
        "A fully qualified URL pointing to a page representing the User's online profile.",
    ),
    string("title", "The user's title, such as \"Vice President\"."),
    string(
        "userType",
        "Used to identify the relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "Indicates the User's preferred written or spoken language.",
    ),
    string(
        "locale",
        "Used to indicate the User's default location for purposes of localizing items.",
    ),
    string(
        "timezone",
        "The User's time zone in the 'Olson' time zone database format.",
    ),
    boolean(
        "active",
        "A Boolean value indicating the User's administrative status.",
    ),
    string(
        "password",
        "The User's cleartext password, stored only as an argon2 hash and never returned.",
    )
    .mutability(Mutability::WriteOnly)
    .returned(Returned::Never)
    .exact(),
    multi("emails", &EMAIL_SUBS, "Email addresses for the user."),
    multi("phoneNumbers", &PHONE_SUBS, "Phone numbers for the User."),
    multi("ims", &IM_SUBS, "Instant messaging addresses for the User."),
    multi("photos", &PHOTO_SUBS, "URLs of photos of the User."),
    multi(
        "addresses",
        &ADDRESS_SUBS,
        "A physical mailing address for this User.",
    ),
    multi(
        "groups",
        &USER_GROUP_SUBS,
        "A list of groups to which the user belongs.",
    )
    .mutability(Mutability::ReadOnly),
    multi(
        "entitlements",
        &ENTITLEMENT_SUBS,
        "A list of entitlements for the User.",
    ),
    multi("roles", &ROLE_SUBS, "A list of roles for the User."),
    multi(
        "x509Certificates",
        &CERT_SUBS,
        "A list of certificates issued to the User.",
    ),
];

/// `urn:ietf:params:scim:schemas:core:2.0:User`.
pub static USER_SCHEMA: SchemaDef = SchemaDef {
    id: Cow::Borrowed("urn:ietf:params:scim:schemas:core:2.0:User"),
    name: Cow::Borrowed("User"),
    description: Cow::Borrowed("User Account"),
    attributes: Cow::Borrowed(&USER_ATTRIBUTES),
};

static MANAGER_SUBS: [AttrDef; 3] = [
    string(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    )
    .exact(),
    reference(
        "$ref",
        texts!["User"],
        "The URI of the SCIM resource representing the User's manager.",
    )
    .exact(),
    string("displayName", "The displayName of the User's manager.")
        .mutability(Mutability::ReadOnly),
];

static ENTERPRISE_ATTRIBUTES: [AttrDef; 6] = [
    string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex("manager", &MANAGER_SUBS, "The User's manager."),
];

/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` (RFC 7643 §4.3).
pub static ENTERPRISE_USER_SCHEMA: SchemaDef = SchemaDef {
    id: Cow::Borrowed("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
    name: Cow::Borrowed("EnterpriseUser"),
    description: Cow::Borrowed("Enterprise User"),
    attributes: Cow::Borrowed(&ENTERPRISE_ATTRIBUTES),
};

// --- Group (RFC 7643 §4.2) --------------------------------------------------------------------

static MEMBER_SUBS: [AttrDef; 4] = [
    string("value", "Identifier of the member of this Group.")
        .exact()
        .mutability(Mutability::Immutable),
    reference(
        "$ref",
        texts!["User", "Group"],
        "The URI of the member resource.",
    )
    .mutability(Mutability::Immutable),
    string("type", "The type of the member: User or Group.")
        .mutability(Mutability::Immutable)
        .canonical(texts!["User", "Group"]),
    display().mutability(Mutability::ReadOnly),
];

static GROUP_ATTRIBUTES: [AttrDef; 2] = [
    string("displayName", "A human-readable name for the Group.")
        .required()
        .unique(),
    multi("members", &MEMBER_SUBS, "A list of members of the Group."),
];

/// `urn:ietf:params:scim:schemas:core:2.0:Group`.
pub static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: Cow::Borrowed("urn:ietf:params:scim:schemas:core:2.0:Group"),
    name: Cow::Borrowed("Group"),
    description: Cow::Borrowed("Group"),
    attributes: Cow::Borrowed(&GROUP_ATTRIBUTES),
};

static USER_EXTENSIONS: [Cow<'static, SchemaDef>; 1] = [Cow::Borrowed(&ENTERPRISE_USER_SCHEMA)];

/// The `User` resource type.
pub static USER: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: Cow::Borrowed(&USER_EXTENSIONS),
    // OneLogin's default "Core Schema" template sends the SCIM 1.0 URN (S73).
    tolerated_schemas: &["urn:scim:schemas:core:1.0"],
};

/// The `Group` resource type.
pub static GROUP: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: Cow::Borrowed(&[]),
    // Entra adds its own group schema URI to every group create (S61).
    tolerated_schemas: &[
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
    ],
};

/// Every built-in schema (a tenant's own extensions come from its [`Registry`]).
pub static ALL_SCHEMAS: [&SchemaDef; 3] = [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA];

/// Every resource type served on `/ResourceTypes`.
pub static ALL_RESOURCE_TYPES: [&ResourceType; 2] = [&USER, &GROUP];

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(attrs: &'static [AttrDef], out: &mut Vec<&'static AttrDef>) {
        for a in attrs {
            out.push(a);
            walk(&a.sub_attributes, out);
        }
    }

    #[test]
    fn lookups_are_case_insensitive() {
        assert_eq!(
            USER_SCHEMA.attr("USERNAME").map(|a| &*a.name),
            Some("userName")
        );
        let emails = USER_SCHEMA.attr("emails").expect("emails");
        assert_eq!(emails.sub("Primary").map(|a| &*a.name), Some("primary"));
        assert!(
            USER.schema_by_urn("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER")
                .is_some()
        );
    }

    #[test]
    fn complex_attributes_have_sub_attributes_and_simple_ones_do_not() {
        let mut all = Vec::new();
        for s in ALL_SCHEMAS {
            walk(&s.attributes, &mut all);
        }
        walk(&COMMON_ATTRIBUTES, &mut all);
        for a in all {
            assert_eq!(
                a.ty == AttrType::Complex,
                !a.sub_attributes.is_empty(),
                "{}",
                a.name
            );
            assert!(
                !a.description.is_empty(),
                "{} needs a description for /Schemas",
                a.name
            );
        }
    }

    #[test]
    fn schema_json_has_no_nulls() {
        fn no_nulls(v: &Value) -> bool {
            match v {
                Value::Null => false,
                Value::Array(a) => a.iter().all(no_nulls),
                Value::Object(o) => o.values().all(no_nulls),
                _ => true,
            }
        }
        for s in ALL_SCHEMAS {
            assert!(no_nulls(&s.to_json("http://x/Schemas")), "{}", s.id);
        }
    }

    #[test]
    fn password_is_never_returned() {
        let p = USER_SCHEMA.attr("password").expect("password");
        assert_eq!(p.returned, Returned::Never);
        assert_eq!(p.mutability, Mutability::WriteOnly);
    }
}
