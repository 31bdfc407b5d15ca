//! Time in one place: every timestamp scimd stores or sends is UTC with millisecond precision in
//! one fixed-width RFC 3339 shape, so timestamps compare correctly as strings in SQL.

use time::OffsetDateTime;
use time::macros::format_description;

/// The current time.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// `2024-05-13T04:42:34.123Z`.
pub fn timestamp(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    utc.format(&fmt)
        .unwrap_or_else(|_| utc.unix_timestamp().to_string())
}

/// Parses any RFC 3339 dateTime and renders it in [`timestamp`]'s shape.
pub fn normalize(s: &str) -> Option<String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(timestamp)
}

/// Whether the stored timestamp `at` is at or before `now` (an expiry that has come); an
/// unreadable one never is.
pub fn reached(at: &str, now: OffsetDateTime) -> bool {
    OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .is_ok_and(|t| t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_utc() {
        assert_eq!(
            normalize("2011-05-13T04:42:34Z").as_deref(),
            Some("2011-05-13T04:42:34.000Z")
        );
        assert_eq!(
            normalize("2011-05-13T06:42:34.5+02:00").as_deref(),
            Some("2011-05-13T04:42:34.500Z")
        );
        assert_eq!(normalize("yesterday"), None);
    }
}
