//! Profiles: reading and changing a user's name, bio and avatar — one's
//! own, or anyone's with `users:read` / `users:write`.

use auth_domain::accounts::{Profile, UserRepository as _};
use auth_domain::system::Clock as _;
use auth_domain::{AccessClaims, AuditEvent, AuditEventType, Effects, RequestContext, UserId};

use super::{AccountPorts, AccountService, AccountView};
use crate::Failure;

/// A change to a profile: absent fields stay, `Some(None)` clears.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    /// Display name.
    pub name: Option<Option<String>>,
    /// Bio.
    pub bio: Option<Option<String>>,
    /// Avatar URL.
    pub avatar_url: Option<Option<String>>,
}

/// Why a profile request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileAccessError {
    /// No such user, or not one the caller may see (404).
    #[error("not found")]
    NotFound,
    /// A field breaks the limits (422).
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, &'static str),
    /// A preference is wrong (422).
    #[error("invalid {0}: {1}")]
    InvalidPreference(&'static str, String),
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: AccountPorts> AccountService<P> {
    /// Whether `caller` may act on `user`: itself, or holding `permission`.
    pub(super) async fn may(
        &self,
        caller: &AccessClaims,
        user: UserId,
        permission: &str,
    ) -> Result<bool, Failure> {
        if caller.user_id == user {
            return Ok(true);
        }
        crate::shared::permissions::holds_global(&self.roles, caller.user_id, permission).await
    }

    /// `NotFound` unless `caller` may act on `user` (see [`Self::may`]).
    pub(super) async fn visible(
        &self,
        caller: &AccessClaims,
        user: UserId,
        permission: &str,
    ) -> Result<(), ProfileAccessError> {
        if self.may(caller, user, permission).await? {
            Ok(())
        } else {
            Err(ProfileAccessError::NotFound)
        }
    }

    pub(super) async fn read_profile(
        &self,
        caller: &AccessClaims,
        user: UserId,
    ) -> Result<AccountView, ProfileAccessError> {
        self.visible(caller, user, "users:read").await?;
        let found = self
            .users
            .find_by_id(user)
            .await
            .map_err(Failure::from)?
            .ok_or(ProfileAccessError::NotFound)?;
        Ok(self.view(found).await?)
    }

    pub(super) async fn change_profile(
        &self,
        caller: &AccessClaims,
        user: UserId,
        patch: ProfilePatch,
        ctx: &RequestContext,
    ) -> Result<AccountView, ProfileAccessError> {
        if !self.may(caller, user, "users:write").await? {
            return Err(ProfileAccessError::NotFound);
        }
        let current = self
            .users
            .find_by_id(user)
            .await
            .map_err(Failure::from)?
            .ok_or(ProfileAccessError::NotFound)?;
        let mut changed = Vec::new();
        let mut pick =
            |field: &'static str, now: Option<String>, asked: Option<Option<String>>| match asked {
                Some(value) => {
                    changed.push(field);
                    value
                }
                None => now,
            };
        let profile = Profile {
            name: pick("name", current.profile.name.clone(), patch.name),
            bio: pick("bio", current.profile.bio.clone(), patch.bio),
            avatar_url: pick(
                "avatar_url",
                current.profile.avatar_url.clone(),
                patch.avatar_url,
            ),
        }
        .validated()
        .map_err(|e| ProfileAccessError::Invalid(e.0, e.1))?;
        let event = AuditEvent::new(
            AuditEventType::ProfileUpdated,
            Some(user),
            ctx,
            self.clock.now(),
        )
        .with("changed", changed.join(","))
        .with("actor_id", caller.user_id.to_string());
        let updated = self
            .users
            .update_profile(
                user,
                &profile,
                self.clock.now(),
                Effects::event(event).and_message(crate::shared::events::user_event(
                    "user.profile_updated",
                    user,
                    Some(caller.user_id.to_string()),
                    serde_json::json!({ "user_id": user.to_string(), "changed": changed }),
                    self.clock.now(),
                )),
            )
            .await
            .map_err(Failure::from)?
            .ok_or(ProfileAccessError::NotFound)?;
        self.views.forget(user);
        Ok(self.view(updated).await?)
    }
}
