//! Distinguished names (RFC 4514): parsing with escapes, a normal form to compare by
//! (attribute types lowercased, values case-folded, spaces around separators dropped), and
//! escaping values that go into the DNs scimd builds (`uid=a\,b,ou=people,…`).

use crate::scim::fold;

/// One `attr=value` of a DN, the value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdn {
    /// Lowercased attribute type.
    pub attr: String,
    pub value: String,
}

impl Rdn {
    fn same(&self, other: &Rdn) -> bool {
        self.attr == other.attr && fold(&self.value) == fold(&other.value)
    }
}

/// A parsed DN, most specific RDN first; empty for the root DSE (`""`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dn(pub Vec<Rdn>);

impl Dn {
    /// Parses `s`; `None` when it is not a DN (a multi-valued RDN, a stray escape, an RDN
    /// without `=`, invalid UTF-8 in a hex escape).
    pub fn parse(s: &str) -> Option<Dn> {
        if s.trim().is_empty() {
            return Some(Dn(Vec::new()));
        }
        let mut rdns = Vec::new();
        for part in split_unescaped(s, ',')? {
            let pieces = split_unescaped(&part, '=')?;
            let [attr, value] = pieces.as_slice() else {
                // A second `=` belongs to the value: rejoin.
                let (attr, value) = part.split_once('=')?;
                rdns.push(rdn(attr, value)?);
                continue;
            };
            rdns.push(rdn(attr, value)?);
        }
        Some(Dn(rdns))
    }

    /// Whether `self` is `base` or lies below it.
    pub fn is_under(&self, base: &Dn) -> bool {
        self.0.len() >= base.0.len()
            && self.0[self.0.len() - base.0.len()..]
                .iter()
                .zip(&base.0)
                .all(|(a, b)| a.same(b))
    }

    /// Whether both name the same entry.
    pub fn same(&self, other: &Dn) -> bool {
        self.0.len() == other.0.len() && self.is_under(other)
    }

    /// The RDNs above `base` (most specific first), when `self` is under it.
    pub fn relative_to(&self, base: &Dn) -> Option<&[Rdn]> {
        self.is_under(base)
            .then(|| &self.0[..self.0.len() - base.0.len()])
    }

    /// The comparison form: `uid=alice,ou=people,dc=x`, values folded and escaped.
    pub fn normal(&self) -> String {
        self.0
            .iter()
            .map(|r| format!("{}={}", r.attr, escape(&fold(&r.value))))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl std::fmt::Display for Dn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| format!("{}={}", r.attr, escape(&r.value)))
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn rdn(attr: &str, value: &str) -> Option<Rdn> {
    let attr = attr.trim();
    let valid = !attr.is_empty()
        && attr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid {
        return None;
    }
    Some(Rdn {
        attr: attr.to_ascii_lowercase(),
        value: unescape(trim_value(value))?,
    })
}

/// Drops the spaces around a value, except an escaped trailing one (`a\ `).
fn trim_value(value: &str) -> &str {
    // Only U+0020 is insignificant around a value (RFC 4514 §3), not every Unicode space.
    let start = value.trim_start_matches(' ');
    let end = start.trim_end_matches(' ');
    let backslashes = end.chars().rev().take_while(|c| *c == '\\').count();
    if backslashes % 2 == 1 && end.len() < start.len() {
        &start[..=end.len()]
    } else {
        end
    }
}

/// Splits on `sep` where it is not escaped; `None` on a multi-valued RDN (`+`), which scimd
/// never names.
fn split_unescaped(s: &str, sep: char) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                current.push(chars.next()?);
            }
            '+' if sep == ',' => return None,
            c if c == sep => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    Some(parts)
}

fn unescape(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let next = *bytes.get(i + 1)?;
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
            } else {
                out.push(next);
                i += 2;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Escapes an attribute value for a DN (RFC 4514 §2.4).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escapes_and_compares_by_normal_form() {
        let dn = Dn::parse("UID=Alice\\2C Smith , ou=People,dc=acme,DC=scimd").expect("dn");
        assert_eq!(dn.0[0].value, "Alice, Smith");
        assert_eq!(dn.normal(), "uid=alice\\, smith,ou=people,dc=acme,dc=scimd");
        let base = Dn::parse("dc=ACME,dc=scimd").expect("base");
        assert!(dn.is_under(&base));
        assert_eq!(dn.relative_to(&base).map(<[Rdn]>::len), Some(2));
        assert!(!base.is_under(&dn));
        let round = Dn::parse(&dn.to_string()).expect("round trip");
        assert!(round.same(&dn));
    }

    #[test]
    fn refuses_what_is_not_a_dn() {
        for bad in [
            "uid",
            "uid=a+cn=b,dc=x",
            "=x",
            "uid=a\\",
            "u id=a",
            "uid=\\ff\\fe",
        ] {
            assert_eq!(Dn::parse(bad), None, "{bad}");
        }
        assert_eq!(Dn::parse(""), Some(Dn::default()));
    }

    proptest::proptest! {
        #[test]
        fn escaped_values_round_trip(value in "\\PC{0,20}") {
            let dn = format!("uid={},dc=x", escape(&value));
            let parsed = Dn::parse(&dn).expect("an escaped value parses");
            // Leading and trailing spaces are escaped, so they survive the trim.
            proptest::prop_assert_eq!(&parsed.0[0].value, &value);
        }
    }
}
