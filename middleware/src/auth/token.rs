//! Where the token comes from.

use http::{HeaderMap, header::AUTHORIZATION};
use serde_json::Value;

/// The token of a handshake: `auth.token` (a non-empty string), else an `Authorization: Bearer` header.
///
/// Never panics, whatever the `auth` payload is.
///
/// ```
/// use iostack_middleware::auth::extract_token;
///
/// let headers = http::HeaderMap::new();
/// assert_eq!(extract_token(&serde_json::json!({ "token": "abc" }), &headers), Some("abc".into()));
/// assert_eq!(extract_token(&serde_json::json!({ "token": 42 }), &headers), None);
/// ```
pub fn extract_token(auth: &Value, headers: &HeaderMap) -> Option<String> {
    let from_auth = auth
        .get("token")
        .and_then(Value::as_str)
        .map(|t| t.strip_prefix("Bearer ").unwrap_or(t).trim())
        .filter(|t| !t.is_empty());
    if let Some(token) = from_auth {
        return Some(token.to_owned());
    }
    headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .find(|t| !t.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn prefers_auth_payload_then_bearer_header() {
        assert_eq!(
            extract_token(&json!({ "token": "a" }), &bearer("Bearer b")),
            Some("a".into())
        );
        assert_eq!(
            extract_token(&json!({}), &bearer("Bearer b")),
            Some("b".into())
        );
        assert_eq!(
            extract_token(&json!({}), &bearer("bearer  c ")),
            Some("c".into())
        );
        assert_eq!(
            extract_token(&json!({ "token": "Bearer d" }), &HeaderMap::new()),
            Some("d".into())
        );
    }

    #[test]
    fn ignores_empty_and_other_schemes() {
        assert_eq!(
            extract_token(&json!({ "token": "" }), &bearer("Basic abc")),
            None
        );
        assert_eq!(extract_token(&json!(null), &bearer("Bearer ")), None);
        assert_eq!(extract_token(&json!([1, 2]), &HeaderMap::new()), None);
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            ".*".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::hash_map("(token|[a-z]{1,5})", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_auth(auth in arbitrary_json(), header in "[ -~]{0,40}") {
            let mut headers = HeaderMap::new();
            if let Ok(value) = header.parse() {
                headers.insert(AUTHORIZATION, value);
            }
            if let Some(token) = extract_token(&auth, &headers) {
                prop_assert!(!token.is_empty());
            }
        }
    }
}
