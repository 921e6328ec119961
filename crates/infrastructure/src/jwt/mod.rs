//! Access tokens: JWS compact JWTs signed with josekit (EdDSA by default,
//! HS256 as an option), RFC 9068 `typ: at+jwt`, and the public JWKS.

use std::path::Path;
use std::time::{Duration, SystemTime};

use auth_domain::sessions::{AccessTokenIssuer, AccessTokenVerifier, SigningError, TokenRejection};
use auth_domain::{Aal, AccessClaims, Amr, Assurance, Email, Role, SessionId, Timestamp, UserId};
use josekit::jwk::KeyPair as _;
use josekit::jwk::alg::ed::EdKeyPair;
use josekit::jws::{EdDSA, HS256, JwsHeader, JwsSigner, JwsVerifier};
use josekit::jwt::{self, JwtPayload};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod cache;
mod keys;

use cache::VerifiedCache;
pub use keys::generate_key;
use keys::{default_key_file, key_id};

use crate::settings::{Algorithm, TokenSettings};

const TOKEN_TYPE: &str = "at+jwt";

/// Signs and verifies access tokens with one key.
pub struct JwtTokens {
    /// `None` for a verify-only instance built from a JWKS.
    signer: Option<Box<dyn JwsSigner>>,
    verifier: Box<dyn JwsVerifier>,
    algorithm: &'static str,
    kid: String,
    issuer: String,
    audience: String,
    leeway: Duration,
    jwks: Value,
    cache: VerifiedCache,
}

impl std::fmt::Debug for JwtTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTokens")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl JwtTokens {
    /// Loads the key named by `tokens.signing_key_file`, or — outside
    /// production — the key kept under `key_dir`, generating it on first use.
    ///
    /// # Errors
    /// When the key cannot be read, parsed or written.
    pub fn from_settings(settings: &TokenSettings, key_dir: &Path) -> anyhow::Result<Self> {
        let (path, generate) = match &settings.signing_key_file {
            Some(path) => (path.clone(), false),
            None => (key_dir.join(default_key_file(settings.algorithm)), true),
        };
        let key = match std::fs::read(&path) {
            Ok(key) => key,
            Err(err) if generate && err.kind() == std::io::ErrorKind::NotFound => {
                generate_key(settings.algorithm, &path)?
            }
            Err(err) => anyhow::bail!(
                "tokens.signing_key_file: cannot read {}: {err}",
                path.display()
            ),
        };
        Self::from_key(settings, &key)
            .map_err(|e| anyhow::anyhow!("tokens.signing_key_file: {}: {e}", path.display()))
    }

    /// Builds from key material: a PEM private key (EdDSA) or a secret of at
    /// least 32 bytes (HS256).
    ///
    /// # Errors
    /// When the key is not usable for the algorithm.
    pub fn from_key(settings: &TokenSettings, key: &[u8]) -> anyhow::Result<Self> {
        let (signer, verifier, algorithm, kid, jwks): (
            Box<dyn JwsSigner>,
            Box<dyn JwsVerifier>,
            _,
            String,
            Value,
        ) = match settings.algorithm {
            Algorithm::EdDSA => {
                let pair = EdKeyPair::from_pem(key)
                    .map_err(|e| anyhow::anyhow!("not an Ed25519 PEM private key: {e}"))?;
                let kid = key_id(&pair.to_der_public_key());
                let mut signer = EdDSA.signer_from_pem(key)?;
                signer.set_key_id(kid.clone());
                let verifier = EdDSA.verifier_from_pem(pair.to_pem_public_key())?;
                let mut jwk = pair.to_jwk_public_key();
                jwk.set_key_id(kid.clone());
                jwk.set_algorithm("EdDSA");
                jwk.set_key_use("sig");
                let jwk: &serde_json::Map<String, Value> = jwk.as_ref();
                (
                    Box::new(signer),
                    Box::new(verifier),
                    "EdDSA",
                    kid,
                    json!({ "keys": [jwk] }),
                )
            }
            Algorithm::HS256 => {
                let secret = trim_ascii(key);
                anyhow::ensure!(
                    secret.len() >= 32,
                    "an HS256 secret must be at least 32 bytes"
                );
                let kid = key_id(&Sha256::digest(secret));
                let mut signer = HS256.signer_from_bytes(secret)?;
                signer.set_key_id(kid.clone());
                let verifier = HS256.verifier_from_bytes(secret)?;
                // A shared secret is never published.
                (
                    Box::new(signer),
                    Box::new(verifier),
                    "HS256",
                    kid,
                    json!({ "keys": [] }),
                )
            }
        };
        Ok(Self {
            signer: Some(signer),
            verifier,
            algorithm,
            kid,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway: settings.leeway,
            jwks,
            cache: VerifiedCache::default(),
        })
    }

    /// A verify-only instance from this service's JWKS document (`GET
    /// /.well-known/jwks.json`), for another service that checks access
    /// tokens offline. `issuer`, `audience` and `leeway` come from `settings`.
    ///
    /// # Errors
    /// When the document holds no usable Ed25519 key.
    pub fn from_jwks(settings: &TokenSettings, jwks: &str) -> anyhow::Result<Self> {
        let set = josekit::jwk::JwkSet::from_bytes(jwks.as_bytes())?;
        let jwk = set
            .keys()
            .into_iter()
            .find(|k| k.algorithm() == Some("EdDSA") && k.key_id().is_some())
            .ok_or_else(|| anyhow::anyhow!("the JWKS has no EdDSA key with a kid"))?;
        let kid = jwk.key_id().unwrap_or_default().to_owned();
        let verifier = EdDSA.verifier_from_jwk(jwk)?;
        Ok(Self {
            signer: None,
            verifier: Box::new(verifier),
            algorithm: "EdDSA",
            kid,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway: settings.leeway,
            jwks: serde_json::from_str(jwks)?,
            cache: VerifiedCache::default(),
        })
    }

    /// The public JWKS document (RFC 7517): the Ed25519 public key, or no key
    /// for HS256.
    #[must_use]
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The key id in token headers.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.kid
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// A NumericDate claim as a JSON integer: RFC 7519 allows fractions, but
/// verifiers that read claims as integers (Rust's `jsonwebtoken`, many Go and
/// Java setups) reject them.
fn numeric_date(t: Timestamp) -> Value {
    Value::from(t.timestamp())
}

fn to_system_time(t: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.timestamp()).unwrap_or(0))
}

impl AccessTokenIssuer for JwtTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, SigningError> {
        let mut header = JwsHeader::new();
        header.set_token_type(TOKEN_TYPE);
        header.set_key_id(self.kid.clone());
        let mut payload = JwtPayload::new();
        payload.set_issuer(self.issuer.clone());
        payload.set_audience(vec![self.audience.clone()]);
        payload.set_subject(claims.user_id.to_string());
        payload.set_jwt_id(claims.token_id.clone());
        let roles: Vec<Value> = claims
            .roles
            .iter()
            .map(|r| Value::String(r.as_str().to_owned()))
            .collect();
        let extra = [
            ("iat", numeric_date(claims.issued_at)),
            ("nbf", numeric_date(claims.issued_at)),
            ("exp", numeric_date(claims.expires_at)),
            ("email", Value::String(claims.email.as_str().to_owned())),
            ("email_verified", Value::Bool(claims.email_verified)),
            ("roles", Value::Array(roles)),
            ("sid", Value::String(claims.session_id.to_string())),
            (
                "acr",
                Value::String(claims.assurance.aal.as_str().to_owned()),
            ),
            (
                "amr",
                Value::Array(
                    claims
                        .assurance
                        .amr
                        .iter()
                        .map(|m| Value::String(m.as_str().to_owned()))
                        .collect(),
                ),
            ),
            ("auth_time", numeric_date(claims.assurance.auth_time)),
        ];
        for (name, value) in extra {
            payload
                .set_claim(name, Some(value))
                .map_err(|e| SigningError(e.to_string()))?;
        }
        if let Some(organization) = claims.organization_id {
            payload
                .set_claim("org_id", Some(Value::String(organization.to_string())))
                .map_err(|e| SigningError(e.to_string()))?;
        }
        let signer = self
            .signer
            .as_ref()
            .ok_or_else(|| SigningError("verify-only key set: cannot sign".to_owned()))?;
        jwt::encode_with_signer(&payload, &header, signer.as_ref())
            .map_err(|e| SigningError(e.to_string()))
    }
}

impl AccessTokenVerifier for JwtTokens {
    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenRejection> {
        if token.len() > 8192 {
            return Err(TokenRejection::Malformed);
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.cache.get(&key) {
            let leeway = chrono::TimeDelta::from_std(self.leeway).unwrap_or_default();
            return if claims.expires_at + leeway <= now {
                Err(TokenRejection::Expired)
            } else {
                Ok(claims)
            };
        }
        let claims = self.verify_signed(token, now)?;
        self.cache.insert(key, claims.clone(), now);
        Ok(claims)
    }
}

impl JwtTokens {
    /// The full check: signature, algorithm, key, type, issuer, audience, time.
    fn verify_signed(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenRejection> {
        let verifier: &dyn JwsVerifier = self.verifier.as_ref();
        let (payload, header) = jwt::decode_with_verifier_selector(token, |header| {
            // The allow-list: exactly our algorithm and our key.
            let ok = header.algorithm() == Some(self.algorithm)
                && header.key_id() == Some(self.kid.as_str());
            Ok(if ok { Some(verifier) } else { None })
        })
        .map_err(|err| match err {
            josekit::JoseError::InvalidJwtFormat(_) | josekit::JoseError::InvalidJson(_) => {
                TokenRejection::Malformed
            }
            _ => TokenRejection::BadSignature,
        })?;
        if header.token_type() != Some(TOKEN_TYPE) {
            return Err(TokenRejection::WrongAudience);
        }
        if payload.issuer() != Some(self.issuer.as_str())
            || !payload
                .audience()
                .is_some_and(|aud| aud.iter().any(|a| *a == self.audience))
        {
            return Err(TokenRejection::WrongAudience);
        }
        let now = to_system_time(now);
        let expires_at = payload.expires_at().ok_or(TokenRejection::Malformed)?;
        if expires_at + self.leeway <= now {
            return Err(TokenRejection::Expired);
        }
        if let Some(not_before) = payload.not_before()
            && not_before > now + self.leeway
        {
            return Err(TokenRejection::NotYetValid);
        }
        claims_of(&payload, expires_at)
    }
}

fn claims_of(payload: &JwtPayload, expires_at: SystemTime) -> Result<AccessClaims, TokenRejection> {
    let string = |name: &str| {
        payload
            .claim(name)
            .and_then(Value::as_str)
            .ok_or(TokenRejection::Malformed)
    };
    let user_id: UserId = payload
        .subject()
        .ok_or(TokenRejection::Malformed)?
        .parse()
        .map_err(|_| TokenRejection::Malformed)?;
    let session_id: SessionId = string("sid")?
        .parse()
        .map_err(|_| TokenRejection::Malformed)?;
    let issued_at = payload
        .issued_at()
        .map(Timestamp::from)
        .ok_or(TokenRejection::Malformed)?;
    // Tokens from before `acr`/`amr`/`auth_time` existed read as a password
    // login at their issue time.
    let assurance = Assurance {
        aal: payload
            .claim("acr")
            .and_then(Value::as_str)
            .map_or(Some(Aal::Aal1), Aal::parse)
            .ok_or(TokenRejection::Malformed)?,
        amr: match payload.claim("amr").and_then(Value::as_array) {
            Some(values) => values
                .iter()
                .filter_map(Value::as_str)
                .filter_map(Amr::parse)
                .collect(),
            None => vec![Amr::Pwd],
        },
        auth_time: payload
            .claim("auth_time")
            .and_then(Value::as_i64)
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .unwrap_or(issued_at),
    };
    let roles = payload
        .claim("roles")
        .and_then(Value::as_array)
        .ok_or(TokenRejection::Malformed)?
        .iter()
        .map(|r| r.as_str().map(Role::new).ok_or(TokenRejection::Malformed))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AccessClaims {
        user_id,
        email: Email::from_trusted(string("email")?.to_owned()),
        email_verified: payload
            .claim("email_verified")
            .and_then(Value::as_bool)
            .ok_or(TokenRejection::Malformed)?,
        roles,
        session_id,
        token_id: payload
            .jwt_id()
            .ok_or(TokenRejection::Malformed)?
            .to_owned(),
        issued_at,
        expires_at: Timestamp::from(expires_at),
        assurance,
        organization_id: match payload.claim("org_id") {
            None => None,
            Some(value) => Some(
                value
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .ok_or(TokenRejection::Malformed)?,
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use josekit::jwk::alg::ed::EdCurve;

    use super::*;

    fn claims(now: Timestamp, ttl: i64) -> AccessClaims {
        AccessClaims {
            user_id: UserId::generate(),
            email: Email::from_trusted("a@example.com".into()),
            email_verified: true,
            roles: vec![Role::user()],
            session_id: SessionId::generate(),
            token_id: "jti-1".into(),
            issued_at: now,
            expires_at: now + chrono::TimeDelta::seconds(ttl),
            assurance: Assurance::two_factors(&[Amr::Pwd], Amr::Otp, now),
            organization_id: None,
        }
    }

    fn eddsa() -> JwtTokens {
        let key = EdKeyPair::generate(EdCurve::Ed25519)
            .expect("key")
            .to_pem_private_key();
        JwtTokens::from_key(&TokenSettings::default(), &key).expect("tokens")
    }

    #[test]
    fn round_trip_with_eddsa() {
        let tokens = eddsa();
        let now = chrono::Utc::now();
        let issued = claims(now, 900);
        let jwt = tokens.issue(&issued).expect("signed");
        let verified = tokens.verify(&jwt, now).expect("valid");
        assert_eq!(verified.user_id, issued.user_id);
        assert_eq!(verified.session_id, issued.session_id);
        assert_eq!(verified.roles, issued.roles);
        let jwks = tokens.jwks().to_string();
        assert!(
            jwks.contains("\"crv\":\"Ed25519\"") && !jwks.contains("\"d\""),
            "public key only: {jwks}"
        );
    }

    /// Consumers that read NumericDate claims as integers reject `1.0`.
    #[test]
    fn numeric_date_claims_are_json_integers() {
        let tokens = eddsa();
        let now = chrono::Utc::now();
        let jwt = tokens.issue(&claims(now, 900)).expect("signed");
        let payload = jwt.split('.').nth(1).expect("payload");
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64"))
                .expect("json");
        assert_eq!(payload["acr"], "aal2");
        assert_eq!(payload["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        for claim in ["iat", "nbf", "exp", "auth_time"] {
            assert!(
                payload[claim].is_i64() || payload[claim].is_u64(),
                "{claim} is {}",
                payload[claim]
            );
        }
        assert_eq!(payload["iat"].as_i64(), Some(now.timestamp()));
        assert_eq!(payload["exp"].as_i64(), Some(now.timestamp() + 900));
        assert_eq!(payload["auth_time"].as_i64(), Some(now.timestamp()));
        let read = tokens.verify(&jwt, now).expect("valid");
        assert_eq!(read.assurance.aal, Aal::Aal2);
        assert_eq!(read.assurance.amr, [Amr::Pwd, Amr::Otp, Amr::Mfa]);
        assert_eq!(read.assurance.auth_time.timestamp(), now.timestamp());
    }

    #[test]
    fn expiry_honours_the_leeway() {
        let tokens = eddsa();
        let now = chrono::Utc::now();
        let jwt = tokens.issue(&claims(now, 10)).expect("signed");
        assert!(
            tokens
                .verify(&jwt, now + chrono::TimeDelta::seconds(14))
                .is_ok()
        );
        assert_eq!(
            tokens.verify(&jwt, now + chrono::TimeDelta::seconds(16)),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn cached_verifications_still_expire() {
        let tokens = eddsa();
        let now = chrono::Utc::now();
        let jwt = tokens.issue(&claims(now, 10)).expect("signed");
        assert!(tokens.verify(&jwt, now).is_ok());
        assert!(tokens.verify(&jwt, now).is_ok(), "served from the cache");
        assert_eq!(
            tokens.verify(&jwt, now + chrono::TimeDelta::seconds(16)),
            Err(TokenRejection::Expired)
        );
        let mut forged = jwt.clone();
        forged.push('x');
        assert!(
            tokens.verify(&forged, now).is_err(),
            "a different string is verified afresh"
        );
    }

    #[test]
    fn a_token_from_another_key_is_rejected() {
        let now = chrono::Utc::now();
        let jwt = eddsa().issue(&claims(now, 900)).expect("signed");
        assert_eq!(eddsa().verify(&jwt, now), Err(TokenRejection::BadSignature));
        assert!(eddsa().verify("abc.def", now).is_err());
    }

    #[test]
    fn a_verifier_built_from_the_jwks_accepts_our_tokens_offline() {
        let tokens = eddsa();
        let now = chrono::Utc::now();
        let jwt = tokens.issue(&claims(now, 900)).expect("signed");
        let offline = JwtTokens::from_jwks(&TokenSettings::default(), &tokens.jwks().to_string())
            .expect("from jwks");
        assert!(offline.verify(&jwt, now).is_ok());
        assert!(offline.issue(&claims(now, 900)).is_err(), "verify-only");
        assert_eq!(
            offline.verify(&eddsa().issue(&claims(now, 900)).expect("signed"), now),
            Err(TokenRejection::BadSignature)
        );
    }

    #[test]
    fn hs256_works_and_publishes_nothing() {
        let settings = TokenSettings {
            algorithm: Algorithm::HS256,
            ..TokenSettings::default()
        };
        let tokens = JwtTokens::from_key(&settings, &[7u8; 32]).expect("tokens");
        let now = chrono::Utc::now();
        let jwt = tokens.issue(&claims(now, 900)).expect("signed");
        assert!(tokens.verify(&jwt, now).is_ok());
        assert_eq!(tokens.jwks()["keys"].as_array().map(Vec::len), Some(0));
    }
}
