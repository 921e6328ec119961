//! Deleting an account: one's own (a recent proof and the password), or
//! anyone's with `users:write` and a recent proof.

use auth_domain::access::{AccessChange, AccessChanges as _};
use auth_domain::accounts::{AccountDeletion, UserRepository as _};
use auth_domain::password::PasswordCheck;
use auth_domain::system::Clock as _;
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, Effects, Password, RequestContext, UserId,
};

use super::{AccountPorts, AccountService};
use crate::Failure;
use crate::shared::{StepUpError, StepUpRequired};

/// Why an account was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteAccountError {
    /// No such user, or not one the caller may delete (404).
    #[error("not found")]
    NotFound,
    /// One's own deletion needs the password (422).
    #[error("password required")]
    PasswordRequired,
    /// Wrong password (401 `invalid_credentials`).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The user is the last owner of an organization (409 `last_owner`).
    #[error("last owner")]
    LastOwner,
    /// The user is the last admin (409 `last_admin`).
    #[error("last admin")]
    LastAdmin,
    /// A recent proof is needed first.
    #[error("step-up required")]
    StepUp(StepUpRequired),
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<StepUpError> for DeleteAccountError {
    fn from(err: StepUpError) -> Self {
        match err {
            StepUpError::Required(required) => Self::StepUp(required),
            StepUpError::Failed(failure) => Self::Failed(failure),
        }
    }
}

impl<P: AccountPorts> AccountService<P> {
    pub(super) async fn delete_user(
        &self,
        caller: &AccessClaims,
        user: UserId,
        password: Option<Password>,
        ctx: &RequestContext,
    ) -> Result<(), DeleteAccountError> {
        let own = caller.user_id == user;
        if !own && !self.may(caller, user, "users:write").await? {
            return Err(DeleteAccountError::NotFound);
        }
        self.step_up.require(caller).await?;
        let account = self
            .users
            .find_by_id(user)
            .await
            .map_err(Failure::from)?
            .ok_or(DeleteAccountError::NotFound)?;
        if own {
            let password = password.ok_or(DeleteAccountError::PasswordRequired)?;
            let check = self
                .credentials
                .verify(password, account.password_hash.clone(), ctx)
                .await?;
            if matches!(check, PasswordCheck::Mismatch) {
                return Err(DeleteAccountError::InvalidCredentials);
            }
        }
        // The row outlives the person: it keeps no address or user agent of
        // theirs (an administrator's are theirs to keep).
        let anonymous = RequestContext::default();
        let event = AuditEvent::new(
            AuditEventType::AccountDeleted,
            Some(user),
            if own { &anonymous } else { ctx },
            self.clock.now(),
        )
        .with("actor_id", caller.user_id.to_string());
        match self
            .users
            .delete_account(
                user,
                self.clock.now(),
                Effects::event(event).and_message(crate::shared::events::user_event(
                    "user.deleted",
                    user,
                    Some(caller.user_id.to_string()),
                    serde_json::json!({ "user_id": user.to_string() }),
                    self.clock.now(),
                )),
            )
            .await
            .map_err(Failure::from)?
        {
            AccountDeletion::Deleted(sessions) => {
                self.revoker.publish(&sessions).await;
                self.views.forget(user);
                self.changes.announce(AccessChange::User(user)).await;
                Ok(())
            }
            AccountDeletion::LastOwner => Err(DeleteAccountError::LastOwner),
            AccountDeletion::LastAdmin => Err(DeleteAccountError::LastAdmin),
            AccountDeletion::NotFound => Err(DeleteAccountError::NotFound),
        }
    }
}
