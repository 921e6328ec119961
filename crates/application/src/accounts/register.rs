//! Registration: create an unverified account, grant it the default role and
//! queue its verification email, atomically.

use auth_domain::accounts::{CreateUserError, NewAccount, UserRepository};
use auth_domain::organizations::{
    AddMember, Invitation, InvitationRepository, InvitationStatus, Membership,
};
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{
    AuditEvent, AuditEventType, Effects, Email, OneTimeToken, OpaqueToken, OutboxMessage, Password,
    PolicyViolation, RequestContext, Role, TokenId, TokenPurpose, User, after,
};

use super::mail::verification_email;
use super::{AccountPorts, AccountService, AccountView};
use crate::Failure;

/// A validated registration request.
#[derive(Debug)]
pub struct RegisterRequest {
    /// The address to register.
    pub email: Email,
    /// The chosen password.
    pub password: Password,
    /// The token of an invitation to this address: the address counts as
    /// verified and the account joins the organization.
    pub invitation_token: Option<String>,
    /// Name, bio and avatar given at registration.
    pub profile: auth_domain::accounts::Profile,
    /// Preferences given at registration (a merge patch over the defaults).
    pub preferences: Option<serde_json::Value>,
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
    /// The invitation token is unknown, used or revoked.
    #[error("invalid invitation")]
    InvitationInvalid,
    /// The invitation expired.
    #[error("expired invitation")]
    InvitationExpired,
    /// A profile or preference field is wrong (422).
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
    /// A dependency failed; nothing was stored.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: AccountPorts> AccountService<P> {
    /// Registers a new account with the default role and queues its
    /// verification email in the same transaction, so the mail can be
    /// delayed but never lost.
    pub(super) async fn register_account(
        &self,
        request: RegisterRequest,
        ctx: &RequestContext,
    ) -> Result<AccountView, RegisterError> {
        // Every attempt counts, before any work.
        self.limits.register(ctx).await?;
        let violations = self
            .credentials
            .violations(&request.password, &request.email);
        if !violations.is_empty() {
            return Err(RegisterError::WeakPassword(violations));
        }
        // Fail fast before spending a hash; the unique index still decides races.
        if self
            .users
            .find_by_email(&request.email)
            .await
            .map_err(Failure::from)?
            .is_some()
        {
            return Err(RegisterError::EmailTaken);
        }
        let profile = request
            .profile
            .clone()
            .validated()
            .map_err(|e| RegisterError::Invalid(e.0, e.1.to_owned()))?;
        let preferences = match &request.preferences {
            Some(patch) => Some(
                serde_json::to_string(
                    &super::Preferences::default()
                        .patched(patch)
                        .map_err(|(field, why)| RegisterError::Invalid(field, why))?,
                )
                .map_err(|e| Failure::Internal(e.to_string()))?,
            ),
            None => None,
        };
        let invitation = match &request.invitation_token {
            Some(token) => self.invitation_for(token, &request.email).await?,
            None => None,
        };
        let password_hash = self.credentials.hash(request.password, ctx).await?;
        let now = self.clock.now();
        let mut user = User::register(request.email, password_hash, now);
        user.profile = profile;
        // Following the mailed invitation proves the address.
        user.email_verified = invitation.is_some();

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
            verification_email(
                &self.settings.product_name,
                &user.email,
                &link,
                token.expose(),
                valid_hours,
            ),
            now,
        );
        let registered = Effects::event(AuditEvent::new(
            AuditEventType::UserRegistered,
            Some(user.id),
            ctx,
            now,
        ))
        .and_message(crate::shared::events::user_event(
            "user.created",
            user.id,
            None,
            serde_json::json!({
                "user_id": user.id.to_string(),
                "email": user.email.as_str(),
                "email_verified": user.email_verified,
            }),
            now,
        ));
        let effects = if invitation.is_some() {
            registered
        } else {
            registered
                .and_event(AuditEvent::new(
                    AuditEventType::EmailVerificationSent,
                    Some(user.id),
                    ctx,
                    now,
                ))
                .and_message(mail)
        };
        // Every account starts with the `user` role: a rule of this use case,
        // not of the storage mapping.
        let roles = vec![Role::user()];
        let account = NewAccount {
            user: user.clone(),
            roles: roles.clone(),
            verification,
            effects,
        };
        match self.users.create(account).await {
            Ok(()) => {}
            Err(CreateUserError::EmailTaken) => return Err(RegisterError::EmailTaken),
            Err(CreateUserError::Repo(err)) => return Err(Failure::from(err).into()),
        }
        if let Some(invitation) = invitation {
            self.join(&invitation, &user, ctx).await?;
        }
        if let Some(preferences) = preferences {
            self.users
                .set_preferences(user.id, &preferences, now, Effects::default())
                .await
                .map_err(Failure::from)?;
        }
        Ok(AccountView { user, roles })
    }

    /// The pending invitation `token` names, if it invites `email`
    /// (another address registers as usual, unverified).
    async fn invitation_for(
        &self,
        token: &str,
        email: &Email,
    ) -> Result<Option<Invitation>, RegisterError> {
        let token = OpaqueToken::from_presented(token).ok_or(RegisterError::InvitationInvalid)?;
        let invitation = self
            .invitations
            .find_by_token(&token.hash())
            .await
            .map_err(Failure::from)?
            .ok_or(RegisterError::InvitationInvalid)?;
        match invitation.status_at(self.clock.now()) {
            InvitationStatus::Pending => Ok((invitation.email == *email).then_some(invitation)),
            InvitationStatus::Expired => Err(RegisterError::InvitationExpired),
            _ => Err(RegisterError::InvitationInvalid),
        }
    }

    /// Accepts `invitation` for the account just created. The account
    /// stands even if the seats ran out meanwhile; it is then not a member.
    async fn join(
        &self,
        invitation: &Invitation,
        user: &User,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        let now = self.clock.now();
        let org = invitation.organization_id;
        let event = |kind| {
            AuditEvent::new(kind, Some(user.id), ctx, now)
                .in_organization(org)
                .with("organization_id", org.to_string())
                .with("invitation_id", invitation.id.to_string())
        };
        let effects = Effects::event(event(AuditEventType::OrgInvitationAccepted))
            .and_event(
                event(AuditEventType::OrgMemberAdded)
                    .with("role", invitation.role.as_str())
                    .with("via", "registration"),
            )
            .and_message(crate::shared::events::org_event(
                "organization.user_added",
                org,
                user.id.to_string(),
                Some(user.id.to_string()),
                serde_json::json!({
                    "organization_id": org.to_string(),
                    "user_id": user.id.to_string(),
                    "role": invitation.role.as_str(),
                    "via": "invitation",
                }),
                now,
            ));
        let joined = self
            .invitations
            .accept(
                invitation.id,
                &Membership {
                    organization_id: org,
                    user_id: user.id,
                    role: invitation.role,
                    joined_at: now,
                },
                self.settings.orgs.max_members,
                effects,
            )
            .await?;
        if joined != Some(AddMember::Added) {
            tracing::warn!(
                ?joined,
                "registered from an invitation that could not be accepted"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use auth_domain::OutboxPayload;

    use super::*;
    use crate::accounts::Accounts;
    use crate::testing::{STRONG_PASSWORD, harness};

    fn request(email: &str, password: &str) -> RegisterRequest {
        RegisterRequest {
            email: Email::parse(email).expect("valid"),
            password: Password::new(password.into()),
            invitation_token: None,
            profile: auth_domain::accounts::Profile::default(),
            preferences: None,
        }
    }

    #[tokio::test]
    async fn stores_unverified_user_with_its_role_and_queued_verification_mail() {
        let h = harness();
        let view = h
            .accounts
            .register(
                request("Bob@Example.com", STRONG_PASSWORD),
                &RequestContext::default(),
            )
            .await
            .expect("registered");
        assert!(!view.user.email_verified);
        assert_eq!(view.user.email.as_str(), "bob@example.com");
        assert_eq!(view.roles, [Role::user()]);
        let state = h.world.lock();
        assert_eq!(state.users.len(), 1);
        assert_eq!(state.user_roles, [(view.user.id, Role::user())]);
        let mails: Vec<_> = state
            .outbox
            .iter()
            .filter_map(|row| match &row.message.payload {
                OutboxPayload::Email(mail) => Some(mail),
                _ => None,
            })
            .collect();
        assert_eq!(mails.len(), 1, "one mail");
        let mail = mails[0];
        assert!(
            state.outbox.iter().any(|row| matches!(&row.message.payload,
                OutboxPayload::Event(e) if e.kind == "user.created")),
            "the user.created event, in the same transaction"
        );
        assert!(
            mail.text_body
                .contains("http://localhost:8001/verify-email?token=")
        );
        assert_eq!(state.one_time_tokens.len(), 1);
        // Only the hash of the mailed token is stored.
        assert!(
            !mail
                .text_body
                .contains(state.one_time_tokens[0].token_hash.as_str())
        );
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
        let h = harness();
        let err = h
            .accounts
            .register(
                request("bob@example.com", "password"),
                &RequestContext::default(),
            )
            .await
            .expect_err("weak");
        assert!(
            matches!(err, RegisterError::WeakPassword(v) if v.contains(&PolicyViolation::MissingUppercase))
        );
        assert!(h.world.lock().users.is_empty());
    }

    #[tokio::test]
    async fn duplicate_email_is_taken_case_insensitively() {
        let h = harness();
        h.accounts
            .register(
                request("bob@example.com", STRONG_PASSWORD),
                &RequestContext::default(),
            )
            .await
            .expect("first");
        let err = h
            .accounts
            .register(
                request("BOB@example.com", STRONG_PASSWORD),
                &RequestContext::default(),
            )
            .await
            .expect_err("dup");
        assert!(matches!(err, RegisterError::EmailTaken));
    }

    #[tokio::test]
    async fn the_sixth_registration_from_one_client_within_the_hour_is_refused() {
        let h = harness();
        let ctx = RequestContext {
            ip: Some("198.51.100.4".parse().expect("ip")),
            user_agent: None,
        };
        for i in 0..5 {
            h.accounts
                .register(request(&format!("u{i}@example.com"), STRONG_PASSWORD), &ctx)
                .await
                .expect("admitted");
        }
        let sixth = h
            .accounts
            .register(request("u5@example.com", STRONG_PASSWORD), &ctx)
            .await;
        assert!(
            matches!(
                sixth,
                Err(RegisterError::Failed(Failure::RateLimited { retry_after })) if retry_after.as_secs() == 3600
            ),
            "{sixth:?}"
        );
        assert_eq!(h.world.lock().users.len(), 5, "nothing stored");
        h.world.advance(std::time::Duration::from_secs(3601));
        assert!(
            h.accounts
                .register(request("u5@example.com", STRONG_PASSWORD), &ctx)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn storage_outage_is_a_failure_not_a_panic() {
        let h = harness();
        h.world.set_down(true);
        let err = h
            .accounts
            .register(
                request("bob@example.com", STRONG_PASSWORD),
                &RequestContext::default(),
            )
            .await
            .expect_err("down");
        assert!(matches!(
            err,
            RegisterError::Failed(Failure::Unavailable(_))
        ));
    }
}
