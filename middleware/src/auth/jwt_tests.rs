//! Tests of [`JwtVerifier`](super::JwtVerifier).

use super::*;
use proptest::prelude::*;
use std::time::UNIX_EPOCH;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

fn sign(alg: Algorithm, secret: &[u8], claims: Value) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[test]
fn maps_claims_to_identity() {
    let token = sign(
        Algorithm::HS256,
        b"k",
        json!({ "sub": "7", "username": "ada", "roles": ["admin"], "exp": now_secs() + 60, "premium": true }),
    );
    let verified = JwtVerifier::hs256("k").verify_token(&token).unwrap();
    assert_eq!(verified.identity.id, "7");
    assert_eq!(verified.identity.username.as_deref(), Some("ada"));
    assert_eq!(verified.identity.roles, ["admin"]);
    assert_eq!(verified.identity.claims["premium"], true);
    assert!(verified.expires_at.is_some());
}

#[test]
fn refuses_expired_forged_mismatched_and_unsigned_tokens() {
    let verifier = JwtVerifier::hs256("k");
    let expired = sign(
        Algorithm::HS256,
        b"k",
        json!({ "sub": "1", "exp": now_secs() - 10 }),
    );
    let forged = sign(
        Algorithm::HS256,
        b"other",
        json!({ "sub": "1", "exp": now_secs() + 60 }),
    );
    let other_alg = sign(
        Algorithm::HS512,
        b"k",
        json!({ "sub": "1", "exp": now_secs() + 60 }),
    );
    // {"alg":"none","typ":"JWT"}.{"sub":"1","exp":9999999999}.
    let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
    let no_exp = sign(Algorithm::HS256, b"k", json!({ "sub": "1" }));
    for token in [
        expired.as_str(),
        &forged,
        &other_alg,
        unsigned,
        &no_exp,
        "garbage",
    ] {
        assert!(
            matches!(verifier.verify_token(token), Err(VerifyError::Invalid(_))),
            "{token}"
        );
    }
}

#[test]
fn checks_issuer_audience_and_leeway() {
    let claims = json!({ "sub": "1", "iss": "me", "aud": "app", "exp": now_secs() - 5 });
    let token = sign(Algorithm::HS384, b"k", claims);
    let base = || JwtVerifier::hs384("k").leeway(Duration::from_secs(30));
    assert!(
        base()
            .issuer("me")
            .audience("app")
            .verify_token(&token)
            .is_ok()
    );
    assert!(base().issuer("someone else").verify_token(&token).is_err());
    assert!(base().audience("other").verify_token(&token).is_err());
    assert!(
        JwtVerifier::hs384("k").verify_token(&token).is_err(),
        "expired without leeway"
    );
}

#[test]
fn unreadable_pem_is_a_key_error() {
    assert!(JwtVerifier::rs256("not a pem").is_err());
    assert!(JwtVerifier::es256("not a pem").is_err());
}

#[test]
fn refuses_tokens_not_valid_yet_or_issued_in_the_future() {
    let verifier = JwtVerifier::hs256("k");
    let now = now_secs();
    let later = sign(
        Algorithm::HS256,
        b"k",
        json!({ "sub": "1", "exp": now + 7200, "nbf": now + 3600 }),
    );
    let from_the_future = sign(
        Algorithm::HS256,
        b"k",
        json!({ "sub": "1", "exp": now + 7200, "iat": now + 3600 }),
    );
    let skewed = sign(
        Algorithm::HS256,
        b"k",
        json!({ "sub": "1", "exp": now + 7200, "nbf": now + 2, "iat": now + 2 }),
    );
    assert!(matches!(
        verifier.verify_token(&later),
        Err(VerifyError::Invalid(_))
    ));
    assert!(matches!(
        verifier.verify_token(&from_the_future),
        Err(VerifyError::Invalid(_))
    ));
    assert!(
        verifier.verify_token(&skewed).is_ok(),
        "within the default skew"
    );
    assert!(
        JwtVerifier::hs256("k")
            .leeway(Duration::ZERO)
            .verify_token(&skewed)
            .is_err()
    );
}

#[test]
fn keeps_the_fraction_of_a_fractional_exp() {
    let exp = 3.5e9;
    let token = sign(Algorithm::HS256, b"k", json!({ "sub": "1", "exp": exp }));
    let verified = JwtVerifier::hs256("k").verify_token(&token).unwrap();
    assert_eq!(
        verified.expires_at,
        Some(UNIX_EPOCH + Duration::from_millis(3_500_000_000_000))
    );
    let token = sign(
        Algorithm::HS256,
        b"k",
        json!({ "sub": "1", "exp": 1_800_000_000.75 }),
    );
    let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let verified = JwtVerifier::hs256("k").verify_token_at(&token, at).unwrap();
    assert_eq!(verified.expires_at, Some(at + Duration::from_millis(750)));
    // Rounding would accept it a quarter of a second after its expiry.
    assert!(
        JwtVerifier::hs256("k")
            .verify_token_at(&token, at + Duration::from_millis(800))
            .is_err()
    );
}

#[test]
fn refuses_huge_negative_and_non_numeric_dates_without_panicking() {
    let verifier = JwtVerifier::hs256("k");
    for exp in [
        json!(u64::MAX),
        json!(1e300),
        json!(i64::MAX),
        json!(-1),
        json!(253_402_300_800u64),
        json!("9999999999"),
        json!(null),
        json!({ "$date": 1 }),
    ] {
        let token = sign(Algorithm::HS256, b"k", json!({ "sub": "1", "exp": exp }));
        assert!(
            matches!(verifier.verify_token(&token), Err(VerifyError::Invalid(_))),
            "{exp}"
        );
    }
}

#[test]
fn issuer_and_audience_are_required_once_configured() {
    let token = sign(
        Algorithm::HS256,
        b"k",
        json!({ "sub": "1", "exp": now_secs() + 60 }),
    );
    assert!(JwtVerifier::hs256("k").verify_token(&token).is_ok());
    assert!(
        JwtVerifier::hs256("k")
            .issuer("me")
            .verify_token(&token)
            .is_err()
    );
    assert!(
        JwtVerifier::hs256("k")
            .audience("app")
            .verify_token(&token)
            .is_err()
    );
    let wrong_type = sign(
        Algorithm::HS256,
        b"k",
        json!({ "sub": "1", "iss": 7, "exp": now_secs() + 60 }),
    );
    assert!(
        JwtVerifier::hs256("k")
            .issuer("7")
            .verify_token(&wrong_type)
            .is_err()
    );
}

fn any_claim() -> impl Strategy<Value = Value> {
    let now = now_secs();
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (now - 100..now + 100).prop_map(Value::from),
        ((now - 100) as f64..(now + 100) as f64).prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        prop::collection::vec(any::<i64>().prop_map(Value::from), 0..3).prop_map(Value::from),
    ]
}

proptest! {
    #[test]
    fn arbitrary_signed_claims_never_panic(
        exp in prop::option::of(any_claim()),
        nbf in prop::option::of(any_claim()),
        iat in prop::option::of(any_claim()),
        sub in prop::option::of(any_claim()),
        iss in prop::option::of(any_claim()),
        aud in prop::option::of(any_claim()),
    ) {
        let mut claims = Map::new();
        for (name, value) in [("exp", exp), ("nbf", nbf), ("iat", iat), ("sub", sub), ("iss", iss), ("aud", aud)] {
            if let Some(value) = value {
                claims.insert(name.into(), value);
            }
        }
        let token = sign(Algorithm::HS256, b"k", Value::Object(claims.clone()));
        let now = SystemTime::now();
        match JwtVerifier::hs256("k").issuer("me").verify_token_at(&token, now) {
            Ok(verified) => {
                prop_assert!(verified.expires_at.is_some_and(|at| at > now));
                prop_assert_eq!(claims.get("iss"), Some(&json!("me")));
            }
            Err(VerifyError::Invalid(_)) => {}
            Err(e) => prop_assert!(false, "unexpected {}", e),
        }
    }

    #[test]
    fn arbitrary_token_strings_are_refused_without_panicking(
        token in prop_oneof![
            ".{0,200}",
            "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,60}",
            "eyJ[A-Za-z0-9_-]{0,40}\\.eyJ[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,60}",
        ]
    ) {
        prop_assert!(matches!(
            JwtVerifier::hs256("k").verify_token(&token),
            Err(VerifyError::Invalid(_))
        ));
    }

    #[test]
    fn arbitrary_headers_and_payloads_are_refused_without_panicking(
        header in ".{0,80}",
        payload in ".{0,120}",
        signature in "[A-Za-z0-9_-]{0,60}",
    ) {
        use base64_engine::encode as b64;
        let token = format!("{}.{}.{signature}", b64(header.as_bytes()), b64(payload.as_bytes()));
        prop_assert!(matches!(
            JwtVerifier::hs256("k").verify_token(&token),
            Err(VerifyError::Invalid(_))
        ));
    }
}

/// Unpadded base64url, enough to build tokens from arbitrary bytes.
mod base64_engine {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub(super) fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn encodes_like_rfc_4648() {
        assert_eq!(encode(b"f"), "Zg");
        assert_eq!(encode(b"fo"), "Zm8");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"\xfb\xff"), "-_8");
    }
}
