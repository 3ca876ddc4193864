//! [`JwtVerifier`]: JSON Web Tokens on the `jsonwebtoken` crate.

use std::time::{Duration, UNIX_EPOCH};

use iostack_core::Identity;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::{Map, Value};

use super::{Verified, Verifier, VerifyContext, VerifyError};

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
/// Claims become the [`Identity`]: `sub` (or `id`) is the id, `username` (or `name`) the
/// username, `roles` (array) or `role` (string) the roles, and every claim is kept in `claims`.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
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
        validation.leeway = 0;
        Self { key, validation }
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

    /// Requires the `iss` claim to be `issuer`.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.validation.set_issuer(&[issuer]);
        self
    }

    /// Requires the `aud` claim to contain `audience`.
    pub fn audience(mut self, audience: &str) -> Self {
        self.validation.set_audience(&[audience]);
        self.validation.validate_aud = true;
        self
    }

    /// Tolerates this much clock skew on `exp` and `nbf` (default: none).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway.as_secs();
        self
    }

    /// Verifies `token` and maps its claims (see the type's docs).
    pub fn verify_token(&self, token: &str) -> Result<Verified, VerifyError> {
        let data = decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| VerifyError::Invalid(e.to_string()))?;
        identity_from_claims(data.claims)
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

fn identity_from_claims(claims: Map<String, Value>) -> Result<Verified, VerifyError> {
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
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_u64)
        .map(|exp| UNIX_EPOCH + Duration::from_secs(exp));
    Ok(Verified {
        identity: Identity {
            id,
            username,
            roles,
            claims: Value::Object(claims),
        },
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

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
        let unsigned =
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
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
}
