//! Recovery: forgot / reset password, resend verification.
//!
//! The two requests about an address (forgot-password, resend-verification)
//! do the same work whatever the address: count it against the address's
//! limit and queue it in the outbox, then answer 202. Whether the address
//! has an account is looked at only after the response, when the relay hands
//! the request back to [`AccountRequests::handle`]; neither the answer nor
//! its timing can tell.

use auth_domain::accounts::{OneTimeTokenRepository, TokenState, UserRepository};
use auth_domain::activity::{AccountRequests, AuditLog, DeliveryError, OutboxRepository};
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{
    AccountRequest, AccountRequestKind, AuditEvent, AuditEventType, Effects, Email, OneTimeToken,
    OpaqueToken, OutboxMessage, OutboxPayload, Password, PolicyViolation, RequestContext, TokenId,
    TokenPurpose, User, after,
};

use super::mail::{password_changed_email, reset_email, verification_email};
use super::{AccountPorts, AccountService};
use crate::Failure;

/// A reset: the mailed token and the new password.
#[derive(Debug)]
pub struct ResetPasswordRequest {
    /// The raw token from the reset mail.
    pub token: String,
    /// The new password.
    pub new_password: Password,
}

/// Why a reset was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// Unknown, malformed, used or superseded.
    #[error("invalid token")]
    Invalid,
    /// Past its lifetime.
    #[error("expired token")]
    Expired,
    /// The new password breaks the policy; the token stays usable.
    #[error("weak password")]
    WeakPassword(Vec<PolicyViolation>),
    /// A dependency failed; nothing changed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: AccountPorts> AccountService<P> {
    /// Queues a request about `email`, after counting it against the
    /// address's limit: the same work for every address.
    pub(super) async fn queue_request(
        &self,
        kind: AccountRequestKind,
        email: Email,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        match kind {
            AccountRequestKind::ResetPassword => self.limits.forgot_password(&email).await?,
            AccountRequestKind::ResendVerification => {
                self.limits.resend_verification(&email).await?;
            }
        }
        let request = AccountRequest {
            kind,
            email,
            ip: ctx.ip,
            user_agent: ctx.user_agent.clone(),
        };
        self.outbox
            .queue(OutboxMessage::new(
                OutboxPayload::AccountRequest(request),
                self.clock.now(),
            ))
            .await?;
        Ok(())
    }

    /// Sets a new password with a mailed reset token.
    pub(super) async fn reset(
        &self,
        request: ResetPasswordRequest,
        ctx: &RequestContext,
    ) -> Result<(), ResetPasswordError> {
        let token =
            OpaqueToken::from_presented(&request.token).ok_or(ResetPasswordError::Invalid)?;
        let token = self
            .one_time_tokens
            .find(&token.hash(), TokenPurpose::ResetPassword)
            .await
            .map_err(Failure::from)?
            .ok_or(ResetPasswordError::Invalid)?;
        let now = self.clock.now();
        match token.state(now) {
            TokenState::Consumed => return Err(ResetPasswordError::Invalid),
            TokenState::Expired => return Err(ResetPasswordError::Expired),
            TokenState::Usable => {}
        }
        let user = self
            .users
            .find_by_id(token.user_id)
            .await
            .map_err(Failure::from)?
            .ok_or(ResetPasswordError::Invalid)?;
        // Before the token is consumed: a weak password leaves it usable.
        let violations = self
            .credentials
            .violations(&request.new_password, &user.email);
        if !violations.is_empty() {
            return Err(ResetPasswordError::WeakPassword(violations));
        }
        let hash = self.credentials.hash(request.new_password, ctx).await?;
        let mail = OutboxMessage::email(
            password_changed_email(&self.settings.product_name, &user.email),
            now,
        );
        let effects = Effects::event(AuditEvent::new(
            AuditEventType::PasswordReset,
            Some(user.id),
            ctx,
            now,
        ))
        .and_message(mail)
        .and_message(crate::shared::events::user_event(
            "user.updated",
            user.id,
            None,
            serde_json::json!({ "user_id": user.id.to_string(), "changed": ["password"] }),
            now,
        ));
        let revoked = self
            .one_time_tokens
            .complete_password_reset(token.id, user.id, &hash, now, effects)
            .await
            .map_err(Failure::from)?
            .ok_or(ResetPasswordError::Invalid)?;
        self.views.forget(user.id);
        // Dead at once on every instance.
        self.revoker.publish(&revoked).await;
        Ok(())
    }

    /// Mails a reset link to the account of the request's address, if there
    /// is one; otherwise records the request without a user.
    async fn send_reset_link(
        &self,
        request: &AccountRequest,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        let now = self.clock.now();
        let Some(user) = self.users.find_by_email(&request.email).await? else {
            self.audit
                .record(AuditEvent::new(
                    AuditEventType::PasswordResetRequested,
                    None,
                    ctx,
                    now,
                ))
                .await?;
            return Ok(());
        };
        let token = self.random.token()?;
        let link = self
            .settings
            .link(&self.settings.reset_password_link, token.expose());
        let mail = reset_email(
            &self.settings.product_name,
            &user.email,
            &link,
            token.expose(),
            self.settings.reset_ttl.as_secs().div_ceil(60),
        );
        let effects = Effects::event(AuditEvent::new(
            AuditEventType::PasswordResetRequested,
            Some(user.id),
            ctx,
            now,
        ))
        .and_message(OutboxMessage::email(mail, now));
        self.one_time_tokens
            .issue(
                self.new_token(&user, token, TokenPurpose::ResetPassword),
                effects,
            )
            .await?;
        Ok(())
    }

    /// Mails a new verification link to the account of the request's
    /// address if it is still unverified; the older links stop working.
    async fn send_verification_link(
        &self,
        request: &AccountRequest,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        let Some(user) = self.users.find_by_email(&request.email).await? else {
            return Ok(());
        };
        if user.email_verified {
            return Ok(());
        }
        let now = self.clock.now();
        let token = self.random.token()?;
        let link = self
            .settings
            .link(&self.settings.verify_email_link, token.expose());
        let mail = verification_email(
            &self.settings.product_name,
            &user.email,
            &link,
            token.expose(),
            self.settings.verify_email_ttl.as_secs().div_ceil(3600),
        );
        let effects = Effects::event(AuditEvent::new(
            AuditEventType::EmailVerificationSent,
            Some(user.id),
            ctx,
            now,
        ))
        .and_message(OutboxMessage::email(mail, now));
        self.one_time_tokens
            .issue(
                self.new_token(&user, token, TokenPurpose::VerifyEmail),
                effects,
            )
            .await?;
        Ok(())
    }

    fn new_token(&self, user: &User, token: OpaqueToken, purpose: TokenPurpose) -> OneTimeToken {
        let now = self.clock.now();
        let ttl = match purpose {
            TokenPurpose::VerifyEmail => self.settings.verify_email_ttl,
            TokenPurpose::ResetPassword => self.settings.reset_ttl,
        };
        OneTimeToken {
            id: TokenId::generate(),
            user_id: user.id,
            purpose,
            token_hash: token.hash(),
            created_at: now,
            expires_at: after(now, ttl),
            consumed_at: None,
        }
    }
}

impl<P: AccountPorts> AccountRequests for AccountService<P> {
    async fn handle(&self, request: &AccountRequest) -> Result<(), DeliveryError> {
        let ctx = RequestContext {
            ip: request.ip,
            user_agent: request.user_agent.clone(),
        };
        let result = match request.kind {
            AccountRequestKind::ResetPassword => self.send_reset_link(request, &ctx).await,
            AccountRequestKind::ResendVerification => {
                self.send_verification_link(request, &ctx).await
            }
        };
        result.map_err(|err| DeliveryError(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use auth_domain::OutboxStatus;

    use super::*;
    use crate::accounts::Accounts;
    use crate::testing::{Harness, STRONG_PASSWORD, harness, verified_login};

    /// Runs the queued account requests, as the relay would after the
    /// response.
    async fn after_the_response(h: &Harness) {
        let requests: Vec<AccountRequest> = {
            let mut state = h.world.lock();
            let mut requests = Vec::new();
            for row in &mut state.outbox {
                if let OutboxPayload::AccountRequest(request) = &row.message.payload
                    && row.status == OutboxStatus::Pending
                {
                    requests.push(request.clone());
                    row.status = OutboxStatus::Sent;
                }
            }
            requests
        };
        for request in requests {
            h.accounts.handle(&request).await.expect("handled");
        }
    }

    fn last_mail_token(h: &Harness) -> String {
        let state = h.world.lock();
        let OutboxPayload::Email(mail) = &state
            .outbox
            .iter()
            .rev()
            .find(|row| matches!(row.message.payload, OutboxPayload::Email(_)))
            .expect("a mail")
            .message
            .payload
        else {
            unreachable!()
        };
        mail.text_body
            .split("token=")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .expect("a link")
            .to_owned()
    }

    fn email(address: &str) -> Email {
        Email::parse(address).expect("valid")
    }

    #[tokio::test]
    async fn the_request_path_is_the_same_for_known_and_unknown_addresses() {
        let h = harness();
        verified_login(&h, "kim@example.com").await;
        let before = h.world.lock().outbox.len();
        for address in ["kim@example.com", "nobody@example.com"] {
            h.accounts
                .forgot_password(email(address), &RequestContext::default())
                .await
                .expect("accepted");
        }
        let state = h.world.lock();
        assert_eq!(
            state.outbox.len(),
            before + 2,
            "one queued request each, nothing else"
        );
        assert!(
            state.outbox[before..]
                .iter()
                .all(|row| matches!(row.message.payload, OutboxPayload::AccountRequest(_)))
        );
    }

    #[tokio::test]
    async fn a_reset_sets_the_password_verifies_ends_sessions_and_mails() {
        let h = harness();
        let pair = verified_login(&h, "kim@example.com").await;
        h.accounts
            .forgot_password(email("kim@example.com"), &RequestContext::default())
            .await
            .expect("accepted");
        after_the_response(&h).await;
        let token = last_mail_token(&h);
        let weak = h
            .accounts
            .reset_password(
                ResetPasswordRequest {
                    token: token.clone(),
                    new_password: Password::new("password".into()),
                },
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(weak, Err(ResetPasswordError::WeakPassword(_))));
        h.accounts
            .reset_password(
                ResetPasswordRequest {
                    token: token.clone(),
                    new_password: Password::new("Fresh-Lantern-88".into()),
                },
                &RequestContext::default(),
            )
            .await
            .expect("the token survived the weak attempt");
        assert!(
            h.world.lock().revoked.contains(&pair.session.id),
            "sessions fanned out"
        );
        let again = h
            .accounts
            .reset_password(
                ResetPasswordRequest {
                    token,
                    new_password: Password::new("Other-Lantern-88".into()),
                },
                &RequestContext::default(),
            )
            .await;
        assert!(
            matches!(again, Err(ResetPasswordError::Invalid)),
            "single use"
        );
        let state = h.world.lock();
        assert!(
            state
                .events
                .iter()
                .any(|e| e.kind == AuditEventType::PasswordReset)
        );
        assert!(state.outbox.iter().any(|row| matches!(&row.message.payload, OutboxPayload::Email(m) if m.subject.contains("was changed"))));
    }

    #[tokio::test]
    async fn a_new_request_supersedes_and_links_expire() {
        let h = harness();
        verified_login(&h, "kim@example.com").await;
        let ctx = RequestContext::default();
        h.accounts
            .forgot_password(email("kim@example.com"), &ctx)
            .await
            .expect("accepted");
        after_the_response(&h).await;
        let first = last_mail_token(&h);
        h.accounts
            .forgot_password(email("kim@example.com"), &ctx)
            .await
            .expect("accepted");
        after_the_response(&h).await;
        let second = last_mail_token(&h);
        let reset = |token: String| ResetPasswordRequest {
            token,
            new_password: Password::new("Fresh-Lantern-88".into()),
        };
        assert!(matches!(
            h.accounts.reset_password(reset(first), &ctx).await,
            Err(ResetPasswordError::Invalid)
        ));
        h.world.advance(Duration::from_secs(3601));
        assert!(matches!(
            h.accounts.reset_password(reset(second), &ctx).await,
            Err(ResetPasswordError::Expired)
        ));
    }

    #[tokio::test]
    async fn four_requests_for_one_address_within_the_hour_are_too_many() {
        let h = harness();
        let ctx = RequestContext::default();
        for _ in 0..3 {
            h.accounts
                .forgot_password(email("ghost@example.com"), &ctx)
                .await
                .expect("accepted");
        }
        assert!(matches!(
            h.accounts
                .forgot_password(email("ghost@example.com"), &ctx)
                .await,
            Err(Failure::RateLimited { .. })
        ));
        assert!(
            h.accounts
                .resend_verification(email("ghost@example.com"), &ctx)
                .await
                .is_ok(),
            "another limit"
        );
    }

    #[tokio::test]
    async fn resend_mails_a_new_link_only_to_an_unverified_account() {
        let h = harness();
        let (_, first) = crate::testing::register_user(&h, "lee@example.com").await;
        verified_login(&h, "done@example.com").await;
        let ctx = RequestContext::default();
        let mails = |h: &Harness| {
            h.world
                .lock()
                .outbox
                .iter()
                .filter(|row| matches!(row.message.payload, OutboxPayload::Email(_)))
                .count()
        };
        let before = mails(&h);
        for address in ["lee@example.com", "done@example.com", "nobody@example.com"] {
            h.accounts
                .resend_verification(email(address), &ctx)
                .await
                .expect("accepted");
        }
        after_the_response(&h).await;
        assert_eq!(
            mails(&h),
            before + 1,
            "only the unverified account gets a mail"
        );
        let second = last_mail_token(&h);
        assert!(
            h.accounts.verify_email(&first, &ctx).await.is_err(),
            "the older link stopped working"
        );
        h.accounts
            .verify_email(&second, &ctx)
            .await
            .expect("the new link verifies");
        let _ = STRONG_PASSWORD;
    }
}
