//! The SCIM wire error (RFC 7644 §3.12): an HTTP status, an optional `scimType` and a detail
//! written for the admin reading it in the IdP's log. This is the one error type every layer
//! converts into before a response is written.

use serde_json::{Value, json};

/// The `scimType` keywords of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    /// The keyword as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
        }
    }
}

/// An error as the client sees it. `detail` must name the attribute, the problem and the fix,
/// and must never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", scim_type.map_or("", ScimType::as_str))]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

/// Result alias for SCIM protocol operations.
pub type Result<T, E = ScimError> = std::result::Result<T, E>;

impl ScimError {
    /// An error with a status and detail but no `scimType`.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// A 400 with the given `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// 400 `invalidValue`: a value is missing, of the wrong type or not allowed.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidSyntax`: the body is not the message it should be.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self {
            status: 409,
            scim_type: Some(ScimType::Uniqueness),
            detail: detail.into(),
        }
    }

    /// 404: the resource does not exist in this tenant.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, detail)
    }

    /// 412: the `If-Match` precondition failed.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, detail)
    }

    /// 500 with a detail that reveals nothing internal; the cause goes to the server log.
    pub fn internal() -> Self {
        Self::new(
            500,
            "scimd hit an internal error; the server log has the cause. The request may be retried.",
        )
    }

    /// The RFC 7644 §3.12 JSON body; `status` is a string as the RFC's examples show.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), json!(t.as_str()));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_string_status_and_scim_type() {
        let e = ScimError::uniqueness("userName \"a\" is taken");
        let j = e.to_json();
        assert_eq!(j["status"], "409");
        assert_eq!(j["scimType"], "uniqueness");
        assert_eq!(
            j["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }

    #[test]
    fn scim_type_is_omitted_when_absent() {
        let j = ScimError::not_found("no user").to_json();
        assert!(j.get("scimType").is_none());
    }
}
