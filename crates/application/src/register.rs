//! Registration: create an unverified account and queue its verification
//! email, atomically.

use auth_domain::ports::{CreateUserError, Registration};
use auth_domain::{
    AuditEvent, AuditEventType, Email, OneTimeToken, OutboxMessage, Password, PolicyViolation,
    RequestContext, TokenId, TokenPurpose, User,
};

use crate::mail_templates::verification_email;
use crate::{AuthService, Failure, Ports, after};
use auth_domain::ports::{PasswordHasher, SecureRandom, UserRepository};

/// A validated registration request.
#[derive(Debug)]
pub struct RegisterRequest {
    /// The address to register.
    pub email: Email,
    /// The chosen password.
    pub password: Password,
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The password breaks these policy rules.
    #[error("weak password")]
    WeakPassword(Vec<PolicyViolation>),
    /// An account with this email exists.
    #[error("email taken")]
    EmailTaken,
    /// A dependency failed; nothing was stored.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: Ports> AuthService<P> {
    /// Registers a new account and queues its verification email in the same
    /// transaction, so the mail can be delayed but never lost.
    ///
    /// # Errors
    /// See [`RegisterError`].
    pub async fn register(
        &self,
        request: RegisterRequest,
        ctx: &RequestContext,
    ) -> Result<User, RegisterError> {
        let violations = self.policy.check(&request.password, &request.email);
        if !violations.is_empty() {
            return Err(RegisterError::WeakPassword(violations));
        }
        // Fail fast before spending a hash; the unique index still decides races.
        if self
            .store
            .find_user_by_email(&request.email)
            .await
            .map_err(Failure::from)?
            .is_some()
        {
            return Err(RegisterError::EmailTaken);
        }
        let password_hash = self
            .hasher
            .hash(request.password)
            .await
            .map_err(Failure::from)?;
        let now = self.now();
        let user = User::register(request.email, password_hash, now);

        let token = self.random.token().map_err(Failure::from)?;
        let verification = OneTimeToken {
            id: TokenId::generate(),
            user_id: user.id,
            purpose: TokenPurpose::VerifyEmail,
            token_hash: token.hash(),
            created_at: now,
            expires_at: after(now, self.settings.verify_email_ttl),
            consumed_at: None,
        };
        let link = self
            .settings
            .link(&self.settings.verify_email_link, token.expose());
        let valid_hours = self.settings.verify_email_ttl.as_secs().div_ceil(3600);
        let mail = OutboxMessage::email(
            verification_email(&user.email, &link, token.expose(), valid_hours),
            now,
        );
        let events = vec![
            AuditEvent::new(AuditEventType::UserRegistered, Some(user.id), ctx, now),
            AuditEvent::new(
                AuditEventType::EmailVerificationSent,
                Some(user.id),
                ctx,
                now,
            ),
        ];

        let registration = Registration {
            user: user.clone(),
            verification,
            mail,
            events,
        };
        match self.store.create_user(registration).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, event = "user.registered", "user registered");
                Ok(user)
            }
            Err(CreateUserError::EmailTaken) => Err(RegisterError::EmailTaken),
            Err(CreateUserError::Repo(err)) => Err(Failure::from(err).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestPorts, service, strong_password};

    fn request(email: &str, password: &str) -> RegisterRequest {
        RegisterRequest {
            email: Email::parse(email).expect("valid"),
            password: Password::new(password.into()),
        }
    }

    #[tokio::test]
    async fn stores_unverified_user_with_queued_verification_mail() {
        let (svc, state) = service();
        let user = svc
            .register(
                request("Bob@Example.com", strong_password()),
                &RequestContext::default(),
            )
            .await
            .expect("registered");
        assert!(!user.email_verified);
        assert_eq!(user.email.as_str(), "bob@example.com");
        let state = state.lock().expect("lock");
        assert_eq!(state.users.len(), 1);
        assert_eq!(state.outbox.len(), 1);
        let mail = &state.outbox[0].email;
        assert!(
            mail.text_body
                .contains("http://localhost:8001/verify-email?token=")
        );
        assert_eq!(state.tokens.len(), 1);
        // Only the hash of the mailed token is stored.
        assert!(!mail.text_body.contains(state.tokens[0].token_hash.as_str()));
        let kinds: Vec<_> = state.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                AuditEventType::UserRegistered,
                AuditEventType::EmailVerificationSent
            ]
        );
    }

    #[tokio::test]
    async fn weak_password_changes_nothing() {
        let (svc, state) = service();
        let err = svc
            .register(
                request("bob@example.com", "password"),
                &RequestContext::default(),
            )
            .await
            .expect_err("weak");
        assert!(
            matches!(err, RegisterError::WeakPassword(v) if v.contains(&PolicyViolation::MissingUppercase))
        );
        assert!(state.lock().expect("lock").users.is_empty());
    }

    #[tokio::test]
    async fn duplicate_email_is_taken_case_insensitively() {
        let (svc, _state) = service();
        svc.register(
            request("bob@example.com", strong_password()),
            &RequestContext::default(),
        )
        .await
        .expect("first");
        let err = svc
            .register(
                request("BOB@example.com", strong_password()),
                &RequestContext::default(),
            )
            .await
            .expect_err("dup");
        assert!(matches!(err, RegisterError::EmailTaken));
    }

    #[tokio::test]
    async fn storage_outage_is_a_failure_not_a_panic() {
        let (svc, state) = service();
        state.lock().expect("lock").down = true;
        let err = svc
            .register(
                request("bob@example.com", strong_password()),
                &RequestContext::default(),
            )
            .await
            .expect_err("down");
        assert!(matches!(
            err,
            RegisterError::Failed(Failure::Unavailable(_))
        ));
        let _unused: Option<TestPorts> = None;
    }
}
