//! The quirk profile: every normalisation scimd applies to an IdP's dialect, in one table
//! ([`Quirk`], [`Quirk::ALL`]), and the collector ([`Quirks`]) that the parsing and validating
//! functions of this module tree push into as they apply one. A request's collector ends on its
//! request log entry and in the per-token counts, so an admin sees what their IdP really sends.
//! The collector also carries the tenant's `strict` setting: names no schema declares are
//! ignored and recorded by default, refused with 400 `invalidSyntax` when strict. A tenant in
//! Interoperability Profile mode (`profile`) also has the profile's refusals of what is
//! otherwise a quirk: path-less PATCH operations, values outside `canonicalValues`, schema URNs
//! scimd merely tolerates.

use super::error::{Result, ScimError};

/// One deviation from RFC 7643/7644 that scimd accepts because its meaning is clear. Ids are
/// stored (request log, per-token counts): never rename or reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quirk {
    /// `"True"`/`"False"` where a boolean belongs (Entra, S54, S56).
    StringBoolean,
    /// A number where a string belongs (`employeeNumber: 701984`).
    NumberAsString,
    /// `"op": "Replace"`, `"Add"`, `"Remove"` (Entra's default, S49).
    CapitalisedOp,
    /// A PATCH operation without a `path`, its value an object of attributes (Okta S11, S19).
    PathlessPatch,
    /// Keys of a path-less PATCH value written as paths: `name.givenName`, full-URN extension
    /// attributes (Entra, S52).
    PathKeysInValue,
    /// A lone object or value where a multi-valued attribute's array belongs (OneLogin, S73).
    SingleValueForMultiValued,
    /// A bare id where a complex `{"value": id}` belongs (Entra's manager, S57).
    BareValueForComplex,
    /// A one-element array where a single value belongs (Entra's older manager form, S57).
    ArrayForSingleValue,
    /// `""` meaning "no value" (OneLogin placeholders S73, Entra clearing the manager S57).
    EmptyStringAsUnassigned,
    /// `+` for spaces in a filter in the query string (Entra, S40).
    PlusInFilter,
    /// `remove` on `members` listing the members to remove in `value` (Entra S65, JumpCloud
    /// S75); RFC 7644 would clear the whole group.
    RemoveMembersByValue,
    /// Okta repeats the group's own `id` inside a path-less PATCH value (S19).
    OwnIdInPatchValue,
    /// A PATCH body without `"schemas": ["…:PatchOp"]`.
    PatchWithoutSchemas,
    /// A schema URN scimd does not serve but knows to be harmless (Microsoft's ADSCIM group
    /// URN, S61).
    ForeignSchemaUrn,
    /// An extension attribute addressed without its URN (`"path": "manager"`, Entra S57).
    UnqualifiedExtensionAttribute,
    /// `replace` with an `eq` filter that matches nothing creates the element (Entra, S49).
    FilterCreatesElement,
    /// Attributes no schema of the tenant defines, ignored (not stored).
    IgnoredAttributes,
    /// A value outside an attribute's canonicalValues (e.g. an email `type` of "Work").
    NonCanonicalValue,
    /// Entra's `emails[type eq "work"].value eq "x"` filter, read as
    /// `emails[type eq "work" and value eq "x"]` (S44).
    ValuePathComparison,
    /// `"schemas": "urn:…"`, one string where RFC 7643 §3 wants an array.
    SchemasAsString,
}

impl Quirk {
    /// Every quirk, in table order. The match in [`Quirk::id`] is exhaustive, and a test checks
    /// that this array lists each variant once, so a new quirk cannot be left out.
    pub const ALL: [Self; 20] = [
        Self::StringBoolean,
        Self::NumberAsString,
        Self::CapitalisedOp,
        Self::PathlessPatch,
        Self::PathKeysInValue,
        Self::SingleValueForMultiValued,
        Self::BareValueForComplex,
        Self::ArrayForSingleValue,
        Self::EmptyStringAsUnassigned,
        Self::PlusInFilter,
        Self::RemoveMembersByValue,
        Self::OwnIdInPatchValue,
        Self::PatchWithoutSchemas,
        Self::ForeignSchemaUrn,
        Self::UnqualifiedExtensionAttribute,
        Self::FilterCreatesElement,
        Self::IgnoredAttributes,
        Self::NonCanonicalValue,
        Self::ValuePathComparison,
        Self::SchemasAsString,
    ];

    /// The stable id stored in the request log and the per-token counts.
    pub fn id(self) -> &'static str {
        self.describe().0
    }

    /// A short phrase a person reads after "sends": "string booleans".
    pub fn label(self) -> &'static str {
        self.describe().1
    }

    /// What the IdP sent, what RFC 7643/7644 says, and what scimd did.
    pub fn explanation(self) -> &'static str {
        self.describe().2
    }

    /// The quirk with this id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.id() == id)
    }

    /// The table: (id, label, explanation).
    fn describe(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::StringBoolean => (
                "string_boolean",
                "string booleans",
                "Booleans such as active arrive as the strings \"True\"/\"False\"; RFC 7643 wants JSON true/false. scimd stores them as booleans.",
            ),
            Self::NumberAsString => (
                "number_as_string",
                "numbers for text attributes",
                "A number arrives where the schema defines a string (e.g. employeeNumber); scimd stores its digits as a string.",
            ),
            Self::CapitalisedOp => (
                "capitalised_op",
                "capitalised PATCH operation names",
                "PATCH operations are named \"Add\", \"Replace\", \"Remove\"; RFC 7644 spells them in lower case. scimd reads them case-insensitively.",
            ),
            Self::PathlessPatch => (
                "pathless_patch",
                "PATCH operations without a path",
                "A PATCH operation carries no path and an object of attributes as its value; scimd applies each attribute of the object.",
            ),
            Self::PathKeysInValue => (
                "path_keys_in_value",
                "attribute paths as keys of PATCH values",
                "The keys of a path-less PATCH value are paths such as name.givenName or a full extension URN with its attribute; scimd resolves each key as a path.",
            ),
            Self::SingleValueForMultiValued => (
                "single_value_for_multi_valued",
                "single values for multi-valued attributes",
                "A multi-valued attribute such as emails arrives as one object instead of an array; scimd stores it as a one-element list.",
            ),
            Self::BareValueForComplex => (
                "bare_value_for_complex",
                "bare ids for complex attributes",
                "A complex attribute such as manager arrives as a bare id instead of {\"value\": id}; scimd stores it as {\"value\": id}.",
            ),
            Self::ArrayForSingleValue => (
                "array_for_single_value",
                "one-element arrays for single-valued attributes",
                "A single-valued attribute such as manager arrives wrapped in a one-element array; scimd unwraps it.",
            ),
            Self::EmptyStringAsUnassigned => (
                "empty_string_as_unassigned",
                "empty strings for missing values",
                "An attribute arrives as \"\"; RFC 7643 unassigns with null. scimd treats \"\" as no value (the attribute is removed).",
            ),
            Self::PlusInFilter => (
                "plus_in_filter",
                "+ for spaces in filters",
                "The filter in the query string encodes spaces as +; scimd reads + as a space (a literal + must be sent as %2B).",
            ),
            Self::RemoveMembersByValue => (
                "remove_members_by_value",
                "member removal with a value list",
                "A remove on path \"members\" lists the members to remove in value; RFC 7644 would remove every member. scimd removes only the listed ones.",
            ),
            Self::OwnIdInPatchValue => (
                "own_id_in_patch_value",
                "the resource's own id in PATCH values",
                "A path-less PATCH value repeats the resource's own id, a readOnly attribute; scimd skips it because it changes nothing.",
            ),
            Self::PatchWithoutSchemas => (
                "patch_without_schemas",
                "PATCH bodies without schemas",
                "The PATCH body has no \"schemas\": [\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"]; scimd reads it as a PatchOp.",
            ),
            Self::ForeignSchemaUrn => (
                "foreign_schema_urn",
                "schema URNs scimd does not serve",
                "\"schemas\" lists a URN scimd does not serve but knows to be harmless (Microsoft's ADSCIM group schema, OneLogin's SCIM 1.0 core schema); scimd ignores it.",
            ),
            Self::UnqualifiedExtensionAttribute => (
                "unqualified_extension_attribute",
                "extension attributes without their URN",
                "A PATCH path names an extension attribute (e.g. manager) without its schema URN; scimd resolves it in the one extension that defines it.",
            ),
            Self::FilterCreatesElement => (
                "filter_creates_element",
                "filtered replaces that create elements",
                "A replace on a filtered path (emails[type eq \"work\"].value) matches no element; RFC 7644 answers noTarget, scimd creates the element.",
            ),
            Self::IgnoredAttributes => (
                "ignored_attributes",
                "attributes no schema defines (ignored)",
                "The request names attributes that no schema of this tenant defines; scimd ignored them (they are not stored). Fix the IdP's attribute mapping or declare an extension.",
            ),
            Self::NonCanonicalValue => (
                "non_canonical_value",
                "values outside canonicalValues",
                "A value such as an email type is not one of the attribute's canonicalValues in /Schemas; scimd stores it as sent.",
            ),
            Self::ValuePathComparison => (
                "value_path_comparison",
                "filters comparing after a [filter]",
                "A filter such as emails[type eq \"work\"].value eq \"x\" compares a sub-attribute after the brackets, which RFC 7644 does not define; scimd reads it as emails[type eq \"work\" and value eq \"x\"].",
            ),
            Self::SchemasAsString => (
                "schemas_as_string",
                "\"schemas\" as a single string",
                "\"schemas\" arrives as one URN string instead of an array of URNs; scimd reads it as a list of one.",
            ),
        }
    }
}

/// Most undeclared names one request records; a body with more lists these and counts the
/// rest, so a runaway client cannot grow a log entry without bound.
pub const MAX_IGNORED_NAMES: usize = 20;
/// Longest undeclared name recorded, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// What one request's parsing noticed, and the tenant's policy for undeclared names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quirks {
    strict: bool,
    /// SCIM 2.0 Interoperability Profile mode (draft-zollner-scim-interop-profile-01).
    profile: bool,
    /// `password` is refused (tenant setting `accept_password = false`).
    refuse_password: bool,
    applied: u32,
    ignored: Vec<String>,
    /// Undeclared names beyond [`MAX_IGNORED_NAMES`].
    more_ignored: usize,
}

impl Quirks {
    /// A collector for a tenant that refuses (`strict`) or ignores undeclared names.
    pub fn new(strict: bool) -> Self {
        Self {
            strict,
            ..Self::default()
        }
    }

    /// The same collector, in Interoperability Profile mode when `profile`.
    #[must_use]
    pub fn with_profile(mut self, profile: bool) -> Self {
        self.profile = profile;
        self
    }

    /// The same collector, taking `password` in writes or refusing it.
    #[must_use]
    pub fn with_password(mut self, accept: bool) -> Self {
        self.refuse_password = !accept;
        self
    }

    /// Refuses a write carrying `password` on a tenant that does not take them.
    pub fn check_password(&self) -> Result<()> {
        if self.refuse_password {
            return Err(ScimError::invalid_value(
                "this tenant does not accept passwords (tenant setting accept_password = false, as IPSIE's SCIM profile asks); turn off password sync in the IdP's provisioning settings, or set accept_password = true if the tenant's users bind over LDAP",
            ));
        }
        Ok(())
    }

    /// Whether undeclared names are refused.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Whether the tenant behaves as the Interoperability Profile requires.
    pub fn is_profile(&self) -> bool {
        self.profile
    }

    /// An empty collector with this one's policy.
    #[must_use]
    pub fn same_policy(&self) -> Self {
        Self::new(self.strict)
            .with_profile(self.profile)
            .with_password(!self.refuse_password)
    }

    /// `value` of `path` is not one of `allowed` (its attribute's canonicalValues): noted, or
    /// refused with 400 invalidValue naming the allowed values in profile mode
    /// (draft-zollner-scim-interop-profile-01 §5.4: clients use only the listed values).
    pub fn non_canonical<S: AsRef<str>>(
        &mut self,
        path: &str,
        value: &str,
        allowed: &[S],
    ) -> Result<()> {
        if self.profile {
            let allowed: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
            let shown: String = value.chars().take(MAX_NAME_CHARS).collect();
            return Err(ScimError::invalid_value(format!(
                "{path} is \"{shown}\", which is not one of its canonicalValues ({}); this tenant follows the SCIM Interoperability Profile (tenant setting interop_profile), which takes only the values /Schemas lists. Map the IdP's value to one of them",
                allowed.join(", ")
            )));
        }
        self.note(Quirk::NonCanonicalValue);
        Ok(())
    }

    /// Notes that `quirk` was applied.
    pub fn note(&mut self, quirk: Quirk) {
        self.applied |= 1 << quirk as u32;
    }

    /// Whether `quirk` was applied.
    pub fn contains(&self, quirk: Quirk) -> bool {
        self.applied & (1 << quirk as u32) != 0
    }

    /// The quirks applied, in table order.
    pub fn applied(&self) -> impl Iterator<Item = Quirk> + '_ {
        Quirk::ALL.into_iter().filter(|q| self.contains(*q))
    }

    /// Whether nothing was noticed.
    pub fn is_empty(&self) -> bool {
        self.applied == 0
    }

    /// The undeclared names ignored, as the request wrote them (at most
    /// [`MAX_IGNORED_NAMES`]).
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// Undeclared names ignored beyond those listed.
    pub fn more_ignored(&self) -> usize {
        self.more_ignored
    }

    /// A name no schema of the tenant defines: refused with `refusal`'s detail (400
    /// invalidSyntax, the scimType the SCIM interoperability profile asks for) when strict,
    /// else recorded, and the caller skips it.
    pub fn undeclared(&mut self, name: &str, refusal: impl FnOnce() -> String) -> Result<()> {
        if self.strict {
            return Err(ScimError::invalid_syntax(refusal()));
        }
        self.note(Quirk::IgnoredAttributes);
        let name: String = name.chars().take(MAX_NAME_CHARS).collect();
        if self.ignored.contains(&name) {
            return Ok(());
        }
        if self.ignored.len() < MAX_IGNORED_NAMES {
            self.ignored.push(name);
        } else {
            self.more_ignored += 1;
        }
        Ok(())
    }

    /// Adds what `other` noticed (the policy stays this collector's).
    pub fn merge(&mut self, other: &Self) {
        self.applied |= other.applied;
        for name in &other.ignored {
            if !self.ignored.contains(name) {
                if self.ignored.len() < MAX_IGNORED_NAMES {
                    self.ignored.push(name.clone());
                } else {
                    self.more_ignored += 1;
                }
            }
        }
        self.more_ignored += other.more_ignored;
    }
}

/// The sentence that follows a refused undeclared name: why, and the three ways out.
pub const STRICT_FIX: &str = "this tenant refuses attributes no schema defines (tenant setting strict, implied by interop_profile). Fix the attribute mapping in the IdP, declare an extension that defines it, or turn strict (and interop_profile) off";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_table_lists_every_variant_once_with_distinct_ids() {
        let ids: HashSet<&str> = Quirk::ALL.iter().map(|q| q.id()).collect();
        assert_eq!(ids.len(), Quirk::ALL.len());
        for (i, q) in Quirk::ALL.iter().enumerate() {
            // The discriminant is the position: the array is in declaration order, so a
            // variant missing from it shifts every later one and fails here.
            assert_eq!(*q as usize, i, "{q:?}");
            assert_eq!(Quirk::from_id(q.id()), Some(*q));
            assert!(!q.label().is_empty() && q.explanation().ends_with('.'));
        }
        assert_eq!(
            Quirk::ALL.len(),
            Quirk::SchemasAsString as usize + 1,
            "the last variant"
        );
        assert!(
            Quirk::ALL.len() <= 32,
            "the collector keeps quirks in a u32"
        );
    }

    #[test]
    fn undeclared_names_are_recorded_or_refused() {
        let mut q = Quirks::new(false);
        assert!(q.undeclared("costCentre", String::new).is_ok());
        assert!(q.undeclared("costCentre", String::new).is_ok());
        assert_eq!(q.ignored(), ["costCentre"]);
        assert!(q.contains(Quirk::IgnoredAttributes));
        for i in 0..MAX_IGNORED_NAMES + 5 {
            q.undeclared(&format!("x{i}"), String::new)
                .expect("lenient");
        }
        assert_eq!(q.ignored().len(), MAX_IGNORED_NAMES);
        assert_eq!(q.more_ignored(), 6);

        let mut strict = Quirks::new(true);
        let e = strict
            .undeclared("costCentre", || "\"costCentre\" is not defined".into())
            .expect_err("strict");
        assert_eq!(
            (e.status, e.scim_type.map(|t| t.as_str())),
            (400, Some("invalidSyntax"))
        );
        assert!(strict.ignored().is_empty() && strict.is_empty());
    }

    #[test]
    fn non_canonical_values_are_noted_or_refused_in_profile_mode() {
        let mut q = Quirks::new(false);
        q.non_canonical("emails[0].type", "Work", &["work", "home", "other"])
            .expect("noted");
        assert!(q.contains(Quirk::NonCanonicalValue));
        let mut p = Quirks::new(true).with_profile(true);
        let e = p
            .non_canonical("emails[0].type", "Work", &["work", "home", "other"])
            .expect_err("profile");
        assert_eq!(
            (e.status, e.scim_type.map(|t| t.as_str())),
            (400, Some("invalidValue"))
        );
        assert!(
            e.detail.contains("emails[0].type") && e.detail.contains("work, home, other"),
            "{}",
            e.detail
        );
        assert!(p.is_empty());
        assert_eq!(p.same_policy(), Quirks::new(true).with_profile(true));
    }
}
