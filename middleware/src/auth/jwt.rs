//! [`JwtVerifier`]: JSON Web Tokens on the `jsonwebtoken` crate.

use std::time::{Duration, SystemTime};

use iostack_core::IdentityData;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::{Map, Value};

use super::{
    Verified, Verifier, VerifyContext, VerifyError,
    claims::{Skew, check_time_claims},
};

/// A key that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid {algorithm:?} key: {reason}")]
pub struct JwtKeyError {
    algorithm: Algorithm,
    reason: String,
}

/// Verifies JWTs signed with one algorithm and key: HS256/384/512, RS256 or ES256.
///
/// Tokens must carry `exp`. `alg: none` and tokens signed with any other algorithm are refused.
/// The time claims `exp`, `nbf` and `iat` are NumericDates, integer or fractional, between 0 and
/// the end of year 9999; any other value (a string, a negative or huge number) is refused. A token
/// is refused once `exp` has passed, before its `nbf`, or when its `iat` is in the future; `nbf`
/// and `iat` tolerate 5 s of clock skew by default (see [`leeway`](Self::leeway)). The expiry
/// keeps the fraction of a second. Claims become the [`Identity`](iostack_core::Identity): `sub`
/// (or `id`) is the id, `username` (or `name`) the username, `roles` (array) or `role` (string) the
/// roles, and every claim is kept in `claims`.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    skew: Skew,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    fn with(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.validate_aud = false;
        // The time claims are checked by `check_time_claims`, with fractions and ranges.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        Self {
            key,
            validation,
            skew: Skew::DEFAULT,
        }
    }

    /// HMAC with SHA-256 and a shared secret.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Self {
        Self::with(DecodingKey::from_secret(secret.as_ref()), Algorithm::HS256)
    }

    /// HMAC with SHA-384 and a shared secret.
    pub fn hs384(secret: impl AsRef<[u8]>) -> Self {
        Self::with(DecodingKey::from_secret(secret.as_ref()), Algorithm::HS384)
    }

    /// HMAC with SHA-512 and a shared secret.
    pub fn hs512(secret: impl AsRef<[u8]>) -> Self {
        Self::with(DecodingKey::from_secret(secret.as_ref()), Algorithm::HS512)
    }

    /// RSA (PKCS#1 v1.5, SHA-256) with a PEM public key.
    pub fn rs256(public_key_pem: impl AsRef<[u8]>) -> Result<Self, JwtKeyError> {
        DecodingKey::from_rsa_pem(public_key_pem.as_ref())
            .map(|key| Self::with(key, Algorithm::RS256))
            .map_err(|e| key_error(Algorithm::RS256, e))
    }

    /// ECDSA P-256 with a PEM public key.
    pub fn es256(public_key_pem: impl AsRef<[u8]>) -> Result<Self, JwtKeyError> {
        DecodingKey::from_ec_pem(public_key_pem.as_ref())
            .map(|key| Self::with(key, Algorithm::ES256))
            .map_err(|e| key_error(Algorithm::ES256, e))
    }

    /// Requires the `iss` claim to be `issuer` (a token without `iss` is refused).
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.validation.set_issuer(&[issuer]);
        self.validation.required_spec_claims.insert("iss".into());
        self
    }

    /// Requires the `aud` claim to contain `audience` (a token without `aud` is refused).
    pub fn audience(mut self, audience: &str) -> Self {
        self.validation.set_audience(&[audience]);
        self.validation.validate_aud = true;
        self.validation.required_spec_claims.insert("aud".into());
        self
    }

    /// Tolerates this much clock skew on `exp`, `nbf` and `iat`, capped at one day (default: none
    /// on `exp`, 5 s on `nbf` and `iat`). A token accepted within the tolerance after its `exp`
    /// expires that much later.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.skew = Skew::uniform(leeway);
        self
    }

    /// Verifies `token` and maps its claims (see the type's docs). Never panics, whatever the
    /// token holds.
    pub fn verify_token(&self, token: &str) -> Result<Verified, VerifyError> {
        self.verify_token_at(token, SystemTime::now())
    }

    fn verify_token_at(&self, token: &str, now: SystemTime) -> Result<Verified, VerifyError> {
        let data = decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| VerifyError::Invalid(e.to_string()))?;
        let expires_at = check_time_claims(&data.claims, now, self.skew)?;
        identity_from_claims(data.claims, expires_at)
    }
}

fn key_error(algorithm: Algorithm, e: jsonwebtoken::errors::Error) -> JwtKeyError {
    JwtKeyError {
        algorithm,
        reason: e.to_string(),
    }
}

#[async_trait::async_trait]
impl Verifier for JwtVerifier {
    async fn verify(&self, token: &str, _: VerifyContext<'_>) -> Result<Verified, VerifyError> {
        self.verify_token(token)
    }
}

fn identity_from_claims(
    claims: Map<String, Value>,
    expires_at: SystemTime,
) -> Result<Verified, VerifyError> {
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let id = ["sub", "id"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(text))
        .ok_or_else(|| VerifyError::Invalid("no `sub` or `id` claim".into()))?;
    let username = ["username", "name"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(Value::as_str).map(str::to_owned));
    let roles = match (claims.get("roles"), claims.get("role")) {
        (Some(Value::Array(roles)), _) => roles
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        (_, Some(Value::String(role))) => vec![role.clone()],
        _ => Vec::new(),
    };
    Ok(Verified {
        identity: IdentityData {
            id,
            username,
            roles,
            claims: Value::Object(claims),
        }
        .into(),
        expires_at: Some(expires_at),
    })
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
