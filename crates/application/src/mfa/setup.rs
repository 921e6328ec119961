//! Setting a method up, and sending codes.

use auth_domain::accounts::UserRepository;
use auth_domain::activity::SmsMessage;
use auth_domain::mfa::{
    CodeChallenge, MethodKind, MethodRepository, MethodStatus, MfaMethod, PendingLoginRepository,
    Phone, SecretBox, totp,
};
use auth_domain::system::SecureRandom;
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, ChallengeId, Effects, MethodId, OpaqueToken,
    OutboxMessage, OutboxPayload, RequestContext, User, UserId, after,
};

use super::{ChallengeSent, MfaPorts, MfaService};
use crate::Failure;
use crate::shared::StepUpError;
use crate::shared::mail::{Part, compose};

/// What a setup asks for.
#[derive(Clone, Debug)]
pub struct SetupRequest {
    /// The kind of method.
    pub kind: MethodKind,
    /// Its name (a default per kind when absent).
    pub name: Option<String>,
    /// SMS: the number, E.164.
    pub phone: Option<String>,
}

/// A started setup.
#[derive(Debug)]
pub struct SetupDone {
    /// The pending method.
    pub method: MfaMethod,
    /// TOTP: what the authenticator app needs.
    pub totp: Option<TotpSetup>,
    /// Email / SMS: the code just sent.
    pub challenge: Option<ChallengeSent>,
}

/// The secret of a new TOTP method, shown once.
#[derive(Clone)]
pub struct TotpSetup {
    /// Base32 secret.
    pub secret: String,
    /// `otpauth://` URI (what the QR code encodes).
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetup([secret])")
    }
}

/// Why a setup was refused.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The user already has a method: adding one needs a recent second
    /// factor.
    #[error(transparent)]
    StepUp(StepUpError),
    /// The name is taken, or the user has `mfa.max_methods` methods.
    #[error("method exists")]
    Exists,
    /// SMS is not offered (no `sms.transport`).
    #[error("sms is not offered")]
    SmsUnavailable,
    /// An SMS method needs an E.164 `phone`.
    #[error("invalid phone")]
    InvalidPhone,
    /// The name is empty or too long.
    #[error("invalid name")]
    InvalidName,
    /// The token's user is gone.
    #[error("unauthenticated")]
    Unauthenticated,
    /// A dependency failed, or a send limit refused.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Who asks for a code.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// A login's second step, with its `mfa_token`.
    Login(&'a str),
    /// The token's session (step-up, setup).
    Session(&'a AccessClaims),
}

/// Why no code was sent.
#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    /// Unknown, expired, used or another client's `mfa_token`.
    #[error("invalid mfa token")]
    TokenInvalid,
    /// No such method of the user.
    #[error("no such method")]
    NotFound,
    /// TOTP codes come from the app: nothing to send.
    #[error("nothing to send")]
    NothingToSend,
    /// A dependency failed, or a limit refused.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// The longest method name.
const MAX_NAME_CHARS: usize = 64;

impl<P: MfaPorts> MfaService<P> {
    pub(super) async fn start_setup(
        &self,
        claims: &AccessClaims,
        request: SetupRequest,
        ctx: &RequestContext,
    ) -> Result<SetupDone, SetupError> {
        if request.kind == MethodKind::Sms && !self.settings.mfa.sms_enabled {
            return Err(SetupError::SmsUnavailable);
        }
        let phone = match request.kind {
            MethodKind::Sms => Some(
                request
                    .phone
                    .as_deref()
                    .and_then(Phone::parse)
                    .ok_or(SetupError::InvalidPhone)?,
            ),
            _ => None,
        };
        let name = match request.name.as_deref().map(str::trim) {
            None | Some("") => default_name(request.kind).to_owned(),
            Some(name) if name.chars().count() > MAX_NAME_CHARS => {
                return Err(SetupError::InvalidName);
            }
            Some(name) => name.to_owned(),
        };
        let user = self
            .users
            .find_by_id(claims.user_id)
            .await
            .map_err(Failure::from)?
            .ok_or(SetupError::Unauthenticated)?;
        let now = self.now();
        let existing = self.methods.list(user.id).await.map_err(Failure::from)?;
        if existing.iter().any(MfaMethod::is_active) {
            self.step_up
                .require(claims)
                .await
                .map_err(SetupError::StepUp)?;
        }
        if existing.iter().filter(|m| m.is_live(now)).count() >= self.settings.mfa.max_methods {
            return Err(SetupError::Exists);
        }
        let mut method = MfaMethod {
            id: MethodId::generate(),
            user_id: user.id,
            kind: request.kind,
            name,
            status: MethodStatus::Pending,
            secret: None,
            phone,
            last_used_step: None,
            created_at: now,
            last_used_at: None,
        };
        let mut totp_setup = None;
        if request.kind == MethodKind::Totp {
            let mut secret = [0u8; totp::SECRET_BYTES];
            self.random.fill(&mut secret).map_err(Failure::from)?;
            method.secret = Some(
                self.secrets
                    .seal(&secret)
                    .map_err(|e| Failure::Internal(e.to_string()))?,
            );
            totp_setup = Some(TotpSetup {
                secret: totp::base32(&secret),
                otpauth_uri: totp::otpauth_uri(
                    &self.settings.mfa.issuer,
                    user.email.as_str(),
                    &secret,
                ),
            });
        }
        let event = AuditEvent::new(AuditEventType::MfaSetupStarted, Some(user.id), ctx, now)
            .with("method_id", method.id.to_string())
            .with("type", request.kind.as_str());
        if !self
            .methods
            .add(method.clone(), Effects::event(event))
            .await
            .map_err(Failure::from)?
        {
            return Err(SetupError::Exists);
        }
        let challenge = if request.kind.sends_codes() {
            Some(self.send_code(&user, &method, ctx).await?)
        } else {
            None
        };
        Ok(SetupDone {
            method,
            totp: totp_setup,
            challenge,
        })
    }

    pub(super) async fn send_challenge(
        &self,
        subject: super::Subject<'_>,
        method: MethodId,
        ctx: &RequestContext,
    ) -> Result<ChallengeSent, ChallengeError> {
        self.limits.mfa_request(ctx).await?;
        let user_id = match subject {
            Subject::Session(claims) => claims.user_id,
            Subject::Login(mfa_token) => self.pending_user(mfa_token, ctx).await?,
        };
        let user = self
            .users
            .find_by_id(user_id)
            .await
            .map_err(Failure::from)?
            .ok_or(ChallengeError::NotFound)?;
        let now = self.now();
        let method = self
            .own_method(user.id, method)
            .await?
            .filter(|m| match subject {
                // A login's second step: active methods only.
                Subject::Login(_) => m.is_active(),
                // The session: a setup may ask again for its code.
                Subject::Session(_) => m.is_active() || m.is_confirmable(now),
            })
            .ok_or(ChallengeError::NotFound)?;
        if !method.kind.sends_codes() {
            return Err(ChallengeError::NothingToSend);
        }
        Ok(self.send_code(&user, &method, ctx).await?)
    }

    /// The user of a usable `mfa_token` presented by this client.
    async fn pending_user(
        &self,
        mfa_token: &str,
        ctx: &RequestContext,
    ) -> Result<UserId, ChallengeError> {
        let token = OpaqueToken::from_presented(mfa_token).ok_or(ChallengeError::TokenInvalid)?;
        let now = self.now();
        self.pending_logins
            .find(&token.hash())
            .await
            .map_err(Failure::from)?
            .filter(|p| {
                p.is_usable(
                    now,
                    ctx.ip,
                    ctx.user_agent.as_deref(),
                    self.settings.mfa.max_attempts_per_token,
                )
            })
            .map(|p| p.user_id)
            .ok_or(ChallengeError::TokenInvalid)
    }

    /// Sends a fresh code for an email or SMS method (within the send
    /// limits), stored hashed with its own tries.
    async fn send_code(
        &self,
        user: &User,
        method: &MfaMethod,
        ctx: &RequestContext,
    ) -> Result<ChallengeSent, Failure> {
        self.limits.mfa_send(method.id, user.id).await?;
        let now = self.now();
        let code = self.numeric_code()?;
        let id = ChallengeId::generate();
        let ttl = self.settings.mfa.code_ttl;
        let minutes = ttl.as_secs().div_ceil(60);
        let product = &self.settings.product_name;
        let message = match method.kind {
            MethodKind::Sms => {
                let to = method
                    .phone
                    .as_ref()
                    .ok_or_else(|| Failure::Internal("SMS method without a number".into()))?;
                OutboxMessage::new(
                    OutboxPayload::Sms(SmsMessage {
                        to: to.as_str().to_owned(),
                        body: format!(
                            "{code} is your {product} code. It expires in {minutes} minutes."
                        ),
                    }),
                    now,
                )
            }
            _ => OutboxMessage::email(
                compose(
                    &user.email,
                    format!("Your {product} sign-in code"),
                    &[
                        Part::Text(format!("Your {product} code is:")),
                        Part::OneTimeCode(code.clone()),
                        Part::Text(format!(
                            "It expires in {minutes} minutes. If you did not ask for it, someone knows your password: change it."
                        )),
                    ],
                ),
                now,
            ),
        };
        let event = AuditEvent::new(AuditEventType::MfaChallengeSent, Some(user.id), ctx, now)
            .with("method_id", method.id.to_string())
            .with("type", method.kind.as_str());
        self.methods
            .add_challenge(
                CodeChallenge {
                    id,
                    method_id: method.id,
                    user_id: user.id,
                    code_hash: CodeChallenge::hash_code(id, &code),
                    created_at: now,
                    expires_at: after(now, ttl),
                    attempts: 0,
                    consumed_at: None,
                },
                Effects::event(event).and_message(message),
            )
            .await?;
        metrics::counter!("auth_mfa_codes_sent_total", "channel" => method.kind.as_str())
            .increment(1);
        Ok(ChallengeSent {
            id,
            kind: method.kind,
            expires_in: ttl.as_secs(),
        })
    }

    /// `mfa.code_length` uniformly random digits.
    fn numeric_code(&self) -> Result<String, Failure> {
        let mut code = String::with_capacity(self.settings.mfa.code_length);
        while code.len() < self.settings.mfa.code_length {
            let mut byte = [0u8; 1];
            self.random.fill(&mut byte)?;
            // 250 = 25 * 10: reject the rest so every digit is equally likely.
            if byte[0] < 250 {
                code.push(char::from(b'0' + byte[0] % 10));
            }
        }
        Ok(code)
    }
}

fn default_name(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::Totp => "Authenticator app",
        MethodKind::Email => "Email",
        MethodKind::Sms => "Phone",
    }
}
