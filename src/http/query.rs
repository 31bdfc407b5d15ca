//! Query-string parameters of SCIM requests, decoded the way IdPs encode them: `+` and `%20`
//! are both spaces (Entra sends `filter=userName+eq+%22…%22`, S40), and parameter names match
//! case-insensitively.

use std::borrow::Cow;
use std::convert::Infallible;

use percent_encoding::percent_decode_str;
use rocket::request::{FromRequest, Outcome, Request};

use crate::scim::list::RawListParams;
use crate::scim::quirks::Quirk;

/// Decoded `(name, value)` pairs of the query string.
pub struct Query(Vec<(String, String)>);

impl Query {
    /// The last value of parameter `name` (case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The list and projection parameters of RFC 7644 §3.4.2.
    pub fn list_params(&self) -> RawListParams {
        let own = |n: &str| self.get(n).map(str::to_owned);
        RawListParams {
            filter: own("filter"),
            start_index: own("startIndex"),
            count: own("count"),
            sort_by: own("sortBy"),
            sort_order: own("sortOrder"),
            attributes: own("attributes"),
            excluded_attributes: own("excludedAttributes"),
        }
    }
}

fn decode(raw: &str) -> String {
    let spaced: Cow<'_, str> = if raw.contains('+') {
        Cow::Owned(raw.replace('+', " "))
    } else {
        Cow::Borrowed(raw)
    };
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Query {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        let pairs: Vec<(String, String)> = req
            .uri()
            .query()
            .map(|q| {
                q.as_str()
                    .split('&')
                    .filter(|s| !s.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        let key = decode(k);
                        if v.contains('+') && key.eq_ignore_ascii_case("filter") {
                            super::request_log::Noticed::of(req).note(Quirk::PlusInFilter);
                        }
                        (key, decode(v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Outcome::Success(Query(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn plus_and_percent_are_spaces() {
        assert_eq!(decode("userName+eq+%22a%40b%22"), "userName eq \"a@b\"");
        assert_eq!(decode("userName%20eq%20%22x%2By%22"), "userName eq \"x+y\"");
    }
}
