//! Listing and removing methods; regenerating backup codes.

use auth_domain::accounts::UserRepository;
use auth_domain::mfa::{BackupCodeRepository, BackupCodeSummary, MethodRepository, MfaMethod};
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, Effects, MethodId, OutboxMessage, RequestContext,
    Timestamp, UserId,
};

use super::{MfaPorts, MfaService};
use crate::Failure;
use crate::shared::StepUpError;
use crate::shared::mail::{Part, compose};

/// `GET /mfa/methods`.
#[derive(Debug)]
pub struct MethodsView {
    /// Whether the user has an active method.
    pub mfa_enabled: bool,
    /// Active methods and setups still waiting for their code.
    pub methods: Vec<MfaMethod>,
    /// The backup codes.
    pub backup_codes: Option<BackupCodeSummary>,
    /// The account's address (for the masked hints).
    pub email: auth_domain::Email,
}

/// A new set of backup codes, shown once.
#[derive(Debug)]
pub struct NewBackupCodes {
    /// The codes, `XXXXX-XXXXX`.
    pub codes: Vec<String>,
    /// When they were generated.
    pub generated_at: Timestamp,
}

/// Why a method was not removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// Needs a recent second factor.
    #[error(transparent)]
    StepUp(StepUpError),
    /// No such method of the user.
    #[error("no such method")]
    NotFound,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Why the backup codes were not regenerated.
#[derive(Debug, thiserror::Error)]
pub enum RegenerateError {
    /// Needs a recent second factor.
    #[error(transparent)]
    StepUp(StepUpError),
    /// No active method: backup codes would force nothing.
    #[error("mfa not enabled")]
    NotEnabled,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: MfaPorts> MfaService<P> {
    pub(super) async fn view(&self, user: UserId) -> Result<MethodsView, Failure> {
        let account = self
            .users
            .find_by_id(user)
            .await?
            .ok_or_else(|| Failure::Internal("the token's user is gone".into()))?;
        let now = self.now();
        let methods: Vec<MfaMethod> = self
            .methods
            .list(user)
            .await?
            .into_iter()
            .filter(|m| m.is_live(now))
            .collect();
        Ok(MethodsView {
            mfa_enabled: methods.iter().any(MfaMethod::is_active),
            methods,
            backup_codes: self.backup_codes.summary(user).await?,
            email: account.email,
        })
    }

    pub(super) async fn remove_method(
        &self,
        claims: &AccessClaims,
        method: MethodId,
        ctx: &RequestContext,
    ) -> Result<(), RemoveError> {
        // Another user's id is simply not found, whatever the token proves.
        let Some(found) = self.own_method(claims.user_id, method).await? else {
            return Err(RemoveError::NotFound);
        };
        self.step_up
            .require(claims)
            .await
            .map_err(RemoveError::StepUp)?;
        let user = self
            .users
            .find_by_id(claims.user_id)
            .await
            .map_err(Failure::from)?
            .ok_or(RemoveError::NotFound)?;
        let now = self.now();
        let product = &self.settings.product_name;
        let mail = compose(
            &user.email,
            format!("A sign-in method was removed from your {product} account"),
            &[
                Part::Text(format!(
                    "\"{}\" ({}) no longer protects sign-ins to your {product} account. Your other devices were signed out.",
                    found.name,
                    found.kind.as_str()
                )),
                Part::Text("If this was not you, change your password now.".to_owned()),
            ],
        );
        let mut effects = Effects::event(
            AuditEvent::new(AuditEventType::MfaMethodRemoved, Some(user.id), ctx, now)
                .with("method_id", method.to_string())
                .with("type", found.kind.as_str()),
        )
        .and_message(OutboxMessage::email(mail, now));
        let others_active = self
            .methods
            .list(user.id)
            .await
            .map_err(Failure::from)?
            .iter()
            .any(|m| m.id != method && m.is_active());
        if found.is_active() && !others_active {
            // The last active method: MFA turns off.
            effects = effects.and_message(crate::shared::events::user_event(
                "user.updated",
                user.id,
                None,
                serde_json::json!({ "user_id": user.id.to_string(), "changed": ["mfa_enabled"] }),
                now,
            ));
        }
        let removal = self
            .methods
            .remove(method, user.id, claims.session_id, now, effects)
            .await
            .map_err(Failure::from)?
            .ok_or(RemoveError::NotFound)?;
        self.revoker.publish(&removal.revoked).await;
        if removal.mfa_off {
            tracing::info!(user_id = %user.id, "last second factor removed: MFA is off");
        }
        Ok(())
    }

    pub(super) async fn regenerate(
        &self,
        claims: &AccessClaims,
        ctx: &RequestContext,
    ) -> Result<NewBackupCodes, RegenerateError> {
        let active = self
            .methods
            .list(claims.user_id)
            .await
            .map_err(Failure::from)?
            .iter()
            .any(MfaMethod::is_active);
        if !active {
            return Err(RegenerateError::NotEnabled);
        }
        self.step_up
            .require(claims)
            .await
            .map_err(RegenerateError::StepUp)?;
        let (codes, hashes) = self.new_backup_codes().await?;
        let now = self.now();
        let event = AuditEvent::new(
            AuditEventType::MfaBackupCodesRegenerated,
            Some(claims.user_id),
            ctx,
            now,
        );
        self.backup_codes
            .replace(claims.user_id, hashes, now, Effects::event(event))
            .await
            .map_err(Failure::from)?;
        Ok(NewBackupCodes {
            codes,
            generated_at: now,
        })
    }
}
