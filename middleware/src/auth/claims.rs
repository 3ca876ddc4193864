//! The time claims of a JWT (`exp`, `nbf`, `iat`), checked with sub-second precision.
//!
//! A NumericDate (RFC 7519 §2) is seconds since the Unix epoch, integer or not. Accepted values are
//! finite numbers from `0` to [`MAX_NUMERIC_DATE`]; anything else (a string, a negative or huge
//! number) makes the token invalid. Nothing here panics, whatever the claims hold.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::VerifyError;

/// The latest accepted NumericDate: 9999-12-31T23:59:59Z.
pub(crate) const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// How much clock skew the time claims tolerate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Skew {
    /// Added to `exp`: how long after its expiry a token is still accepted.
    pub(crate) exp: Duration,
    /// Subtracted from `nbf` and `iat`: how early a token may say it was issued or starts.
    pub(crate) not_before: Duration,
}

impl Skew {
    /// No tolerance on `exp`, five seconds on `nbf` and `iat` (clocks of issuers drift).
    pub(crate) const DEFAULT: Self = Self {
        exp: Duration::ZERO,
        not_before: Duration::from_secs(5),
    };

    /// The same tolerance on every claim, capped at one day.
    pub(crate) fn uniform(leeway: Duration) -> Self {
        let leeway = leeway.min(Duration::from_secs(86_400));
        Self {
            exp: leeway,
            not_before: leeway,
        }
    }
}

/// Reads claim `name` as a NumericDate: `Ok(None)` when absent, an error when it is not one.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<f64>, VerifyError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    match value.as_f64() {
        Some(secs) if secs.is_finite() && (0.0..=MAX_NUMERIC_DATE).contains(&secs) => {
            Ok(Some(secs))
        }
        _ => Err(VerifyError::Invalid(format!(
            "`{name}` is not a NumericDate between 0 and {MAX_NUMERIC_DATE}"
        ))),
    }
}

/// Checks `exp` (required), `nbf` and `iat` against `now`; returns when the token stops being
/// valid (`exp` plus the tolerance), with the fraction of a second kept.
pub(crate) fn check_time_claims(
    claims: &Map<String, Value>,
    now: SystemTime,
    skew: Skew,
) -> Result<SystemTime, VerifyError> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let exp = numeric_date(claims, "exp")?
        .ok_or_else(|| VerifyError::Invalid("no `exp` claim".into()))?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    let valid_until = exp + skew.exp.as_secs_f64();
    if now >= valid_until {
        return Err(VerifyError::Invalid("token expired".into()));
    }
    let latest_start = now + skew.not_before.as_secs_f64();
    if nbf.is_some_and(|nbf| nbf > latest_start) {
        return Err(VerifyError::Invalid("token not valid yet (`nbf`)".into()));
    }
    if iat.is_some_and(|iat| iat > latest_start) {
        return Err(VerifyError::Invalid(
            "token issued in the future (`iat`)".into(),
        ));
    }
    // In range by construction (at most MAX_NUMERIC_DATE plus one day); checked all the same.
    Duration::try_from_secs_f64(valid_until)
        .ok()
        .and_then(|d| UNIX_EPOCH.checked_add(d))
        .ok_or_else(|| VerifyError::Invalid("`exp` out of range".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn at(secs: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(secs)
    }

    fn check(claims: Value) -> Result<SystemTime, VerifyError> {
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        check_time_claims(&claims, at(NOW as f64), Skew::DEFAULT)
    }

    #[test]
    fn accepts_integer_and_fractional_dates_keeping_the_fraction() {
        assert_eq!(check(json!({ "exp": NOW + 60 })), Ok(at(NOW as f64 + 60.0)));
        assert_eq!(
            check(json!({ "exp": NOW as f64 + 0.25, "nbf": NOW as f64 - 0.5, "iat": NOW })),
            Ok(at(NOW as f64 + 0.25))
        );
    }

    #[test]
    fn refuses_expired_tokens_at_exp_exactly() {
        assert!(check(json!({ "exp": NOW })).is_err());
        assert!(check(json!({ "exp": NOW as f64 - 0.001 })).is_err());
        let Value::Object(claims) = json!({ "exp": NOW - 3 }) else {
            unreachable!()
        };
        let lenient = Skew::uniform(Duration::from_secs(5));
        assert_eq!(
            check_time_claims(&claims, at(NOW as f64), lenient),
            Ok(at(NOW as f64 + 2.0))
        );
    }

    #[test]
    fn refuses_nbf_and_iat_in_the_future_beyond_the_skew() {
        let exp = NOW + 3600;
        assert!(check(json!({ "exp": exp, "nbf": NOW + 3600 })).is_err());
        assert!(check(json!({ "exp": exp, "nbf": NOW + 6 })).is_err());
        assert!(check(json!({ "exp": exp, "nbf": NOW + 5 })).is_ok());
        assert!(check(json!({ "exp": exp, "iat": NOW + 60 })).is_err());
        assert!(check(json!({ "exp": exp, "iat": NOW + 4 })).is_ok());
    }

    #[test]
    fn refuses_missing_non_numeric_and_out_of_range_dates() {
        for claims in [
            json!({}),
            json!({ "exp": "1900000000" }),
            json!({ "exp": null }),
            json!({ "exp": [NOW + 60] }),
            json!({ "exp": true }),
            json!({ "exp": -1 }),
            json!({ "exp": 1e300 }),
            json!({ "exp": u64::MAX }),
            json!({ "exp": MAX_NUMERIC_DATE + 1.0 }),
            json!({ "exp": NOW + 60, "nbf": "soon" }),
            json!({ "exp": NOW + 60, "nbf": -0.5 }),
            json!({ "exp": NOW + 60, "iat": 1e20 }),
            json!({ "exp": NOW + 60, "iat": {} }),
        ] {
            assert!(
                matches!(check(claims.clone()), Err(VerifyError::Invalid(_))),
                "{claims}"
            );
        }
    }

    fn any_claim() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (0.0..MAX_NUMERIC_DATE * 1.5).prop_map(Value::from),
            ((NOW - 100) as f64..(NOW + 100) as f64).prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
            prop::collection::vec(any::<i64>().prop_map(Value::from), 0..3).prop_map(Value::from),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_and_keeps_accepted_dates_in_range(
            exp in prop::option::of(any_claim()),
            nbf in prop::option::of(any_claim()),
            iat in prop::option::of(any_claim()),
            now in 0.0..MAX_NUMERIC_DATE,
        ) {
            let mut claims = Map::new();
            for (name, value) in [("exp", exp), ("nbf", nbf), ("iat", iat)] {
                if let Some(value) = value {
                    claims.insert(name.into(), value);
                }
            }
            match check_time_claims(&claims, at(now), Skew::DEFAULT) {
                Ok(valid_until) => {
                    prop_assert!(valid_until > at(now));
                    let exp = claims["exp"].as_f64().unwrap();
                    prop_assert!((0.0..=MAX_NUMERIC_DATE).contains(&exp));
                }
                Err(VerifyError::Invalid(_)) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
