//! Role administration, service keys and the bootstrap admin; and the
//! [`Access`] trait over all `access` use cases.

use auth_domain::access::{
    AccessChange, Decision, Grant, PermissionInfo, Role, RoleRecord, RoleRepository as _,
    RoleWriteError, ServiceKey, ServiceKeyRepository as _, Unassigned, parse_grants,
    service_key_text, valid_role_name,
};
use auth_domain::accounts::UserRepository as _;
use auth_domain::system::{Clock as _, SecureRandom as _};
use auth_domain::{
    AuditEvent, AuditEventType, Effects, Email, OrganizationId, RequestContext, RoleId,
    ServiceKeyId, TokenHash, UserId,
};

use super::{
    Access, AccessError, AccessPorts, AccessService, ActivityReport, Check, CreatedKey, NewRole,
    Principal, RoleChange, UserAccess,
};
use crate::Failure;

/// Longest role description or key name.
const MAX_TEXT: usize = 256;

/// What a bootstrap grant did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granted {
    /// The role was given.
    Granted,
    /// The user already had it.
    AlreadyHeld,
}

/// Why a command-line grant failed.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// No account has that email.
    #[error("no account with that email")]
    UnknownUser,
    /// No role has that name.
    #[error("no role with that name")]
    UnknownRole,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

fn actor(caller: &Principal) -> String {
    match caller {
        Principal::User(claims) => claims.user_id.to_string(),
        Principal::Service(key) => key.id.to_string(),
    }
}

/// `auth.permission_changed` for a user's global role.
fn permission_changed(
    user: UserId,
    role: &str,
    change: &str,
    caller: &Principal,
    now: auth_domain::Timestamp,
) -> auth_domain::OutboxMessage {
    crate::shared::events::user_event(
        "auth.permission_changed",
        user,
        Some(actor(caller)),
        serde_json::json!({ "user_id": user.to_string(), "role": role, "change": change }),
        now,
    )
}

fn grant_texts(grants: &[Grant]) -> String {
    grants
        .iter()
        .map(Grant::to_text)
        .collect::<Vec<_>>()
        .join(" ")
}

impl<P: AccessPorts> AccessService<P> {
    /// Grants that are well formed and name known permissions.
    async fn known_grants(&self, texts: &[String]) -> Result<Vec<Grant>, AccessError> {
        let grants = parse_grants(texts).map_err(|bad| {
            AccessError::Invalid("permissions", format!("{bad} is not a permission"))
        })?;
        let catalog = self.catalog().await?;
        if let Some(unknown) = grants.iter().find(|g| !catalog.grant_is_known(g)) {
            return Err(AccessError::Invalid(
                "permissions",
                format!("unknown permission {unknown}"),
            ));
        }
        Ok(grants)
    }

    async fn find_role(&self, id: RoleId) -> Result<RoleRecord, AccessError> {
        self.roles
            .list_roles()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(AccessError::NotFound)
    }

    fn role_event(
        &self,
        kind: AuditEventType,
        user: Option<UserId>,
        caller: &Principal,
        role: &str,
        ctx: &RequestContext,
    ) -> AuditEvent {
        AuditEvent::new(kind, user, ctx, self.clock.now())
            .with("role", role)
            .with("actor_id", actor(caller))
    }

    /// Gives `role` to the verified user with `email` (the command line and
    /// the bootstrap list).
    ///
    /// # Errors
    /// Unknown user or role, or a dependency failure.
    pub async fn grant_by_email(&self, email: &Email, role: &str) -> Result<Granted, GrantError> {
        let user = self
            .users
            .find_by_email(email)
            .await
            .map_err(Failure::from)?
            .ok_or(GrantError::UnknownUser)?;
        let roles = self.roles.list_roles().await.map_err(Failure::from)?;
        let role = roles
            .iter()
            .find(|r| r.name.as_str() == role)
            .ok_or(GrantError::UnknownRole)?;
        let event = AuditEvent::new(
            AuditEventType::RoleAssigned,
            Some(user.id),
            &RequestContext::default(),
            self.clock.now(),
        )
        .with("role", role.name.as_str())
        .with("actor_id", "bootstrap");
        let given = self
            .roles
            .assign(user.id, &role.name, self.clock.now(), Effects::event(event))
            .await
            .map_err(Failure::from)?;
        self.announce(AccessChange::User(user.id)).await;
        Ok(if given {
            Granted::Granted
        } else {
            Granted::AlreadyHeld
        })
    }

    /// Gives `admin` to every verified user of `admin.bootstrap_emails`
    /// (at start-up; verification does it for later ones). Returns how many
    /// were granted now.
    ///
    /// # Errors
    /// A dependency failure.
    pub async fn bootstrap_admins(&self) -> Result<usize, Failure> {
        let mut granted = 0;
        for email in &self.settings.access.bootstrap_emails {
            let verified = self
                .users
                .find_by_email(email)
                .await?
                .is_some_and(|u| u.email_verified);
            if !verified {
                continue;
            }
            match self.grant_by_email(email, Role::ADMIN).await {
                Ok(Granted::Granted) => granted += 1,
                Ok(Granted::AlreadyHeld) => {}
                Err(GrantError::Failed(failure)) => return Err(failure),
                Err(err) => return Err(Failure::Internal(err.to_string())),
            }
        }
        Ok(granted)
    }
}

impl<P: AccessPorts> Access for AccessService<P> {
    async fn authenticate_key(&self, presented: &str) -> Result<Option<ServiceKey>, Failure> {
        self.answer_key(presented).await
    }

    async fn authorize(
        &self,
        caller: &Principal,
        checks: &[Check],
    ) -> Result<Vec<Decision>, AccessError> {
        self.answer(caller, checks).await
    }

    fn decision_ttl(&self) -> std::time::Duration {
        self.settings.access.cache_ttl
    }

    async fn user_access(
        &self,
        caller: &Principal,
        user: UserId,
        organization: Option<OrganizationId>,
    ) -> Result<UserAccess, AccessError> {
        self.view(caller, user, organization).await
    }

    async fn report_activity(
        &self,
        caller: &Principal,
        user: UserId,
        report: ActivityReport,
        ctx: &RequestContext,
    ) -> Result<(), AccessError> {
        self.report(caller, user, report, ctx).await
    }

    async fn permissions(&self, caller: &Principal) -> Result<Vec<PermissionInfo>, AccessError> {
        self.require(caller, "roles:read").await?;
        Ok(self.roles.list_permissions().await?)
    }

    async fn roles(&self, caller: &Principal) -> Result<Vec<RoleRecord>, AccessError> {
        self.require(caller, "roles:read").await?;
        Ok(self.roles.list_roles().await?)
    }

    async fn role(&self, caller: &Principal, id: RoleId) -> Result<RoleRecord, AccessError> {
        self.require(caller, "roles:read").await?;
        self.find_role(id).await
    }

    async fn create_role(
        &self,
        caller: &Principal,
        role: NewRole,
        ctx: &RequestContext,
    ) -> Result<RoleRecord, AccessError> {
        self.require_recent_user(caller, "roles:write").await?;
        if !valid_role_name(&role.name) {
            return Err(AccessError::Invalid(
                "name",
                "1 to 64 of a-z, 0-9, _ and -, starting with a letter".into(),
            ));
        }
        let description = role.description.unwrap_or_default();
        if description.len() > MAX_TEXT {
            return Err(AccessError::Invalid("description", "too long".into()));
        }
        let grants = self.known_grants(&role.permissions).await?;
        let record = RoleRecord {
            id: RoleId::generate(),
            name: Role::new(role.name),
            description,
            grants,
            system: false,
        };
        let event = self
            .role_event(
                AuditEventType::RoleCreated,
                None,
                caller,
                record.name.as_str(),
                ctx,
            )
            .with("permissions", grant_texts(&record.grants));
        self.roles
            .create_role(&record, self.clock.now(), Effects::event(event))
            .await
            .map_err(|err| match err {
                RoleWriteError::NameTaken => AccessError::NameTaken,
                RoleWriteError::Repo(repo) => repo.into(),
            })?;
        self.announce(AccessChange::Roles).await;
        Ok(record)
    }

    async fn update_role(
        &self,
        caller: &Principal,
        id: RoleId,
        change: RoleChange,
        ctx: &RequestContext,
    ) -> Result<RoleRecord, AccessError> {
        self.require_recent_user(caller, "roles:write").await?;
        let existing = self.find_role(id).await?;
        if change.permissions.is_some() && existing.permissions_fixed() {
            return Err(AccessError::RoleProtected);
        }
        if change
            .description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_TEXT)
        {
            return Err(AccessError::Invalid("description", "too long".into()));
        }
        let grants = match &change.permissions {
            Some(texts) => Some(self.known_grants(texts).await?),
            None => None,
        };
        let mut event = self.role_event(
            AuditEventType::RoleUpdated,
            None,
            caller,
            existing.name.as_str(),
            ctx,
        );
        let mut effects = Effects::default();
        if let Some(grants) = &grants {
            event = event.with("permissions", grant_texts(grants));
            effects = effects.and_message(auth_domain::OutboxMessage::new(
                auth_domain::OutboxPayload::Event(auth_domain::DomainEvent {
                    kind: "auth.permission_changed".into(),
                    subject: id.to_string(),
                    partition_key: id.to_string(),
                    organization_id: None,
                    actor_id: Some(actor(caller)),
                    data: serde_json::json!({
                        "role": existing.name.as_str(),
                        "change": "role_permissions_updated",
                    })
                    .to_string(),
                }),
                self.clock.now(),
            ));
        }
        let updated = self
            .roles
            .update_role(
                id,
                change.description,
                grants,
                self.clock.now(),
                Effects {
                    events: vec![event],
                    messages: effects.messages,
                },
            )
            .await?
            .ok_or(AccessError::NotFound)?;
        self.announce(AccessChange::Roles).await;
        Ok(updated)
    }

    async fn delete_role(
        &self,
        caller: &Principal,
        id: RoleId,
        ctx: &RequestContext,
    ) -> Result<(), AccessError> {
        self.require_recent_user(caller, "roles:write").await?;
        let existing = self.find_role(id).await?;
        if existing.system {
            return Err(AccessError::RoleProtected);
        }
        let event = self.role_event(
            AuditEventType::RoleDeleted,
            None,
            caller,
            existing.name.as_str(),
            ctx,
        );
        self.roles
            .delete_role(id, Effects::event(event))
            .await?
            .ok_or(AccessError::NotFound)?;
        self.announce(AccessChange::Roles).await;
        Ok(())
    }

    async fn assign_role(
        &self,
        caller: &Principal,
        user: UserId,
        role: &str,
        ctx: &RequestContext,
    ) -> Result<(), AccessError> {
        self.require_recent_user(caller, "roles:write").await?;
        if self.users.find_by_id(user).await?.is_none() {
            return Err(AccessError::NotFound);
        }
        let known = self.roles.list_roles().await?;
        let Some(role) = known.iter().find(|r| r.name.as_str() == role) else {
            return Err(AccessError::Invalid("role", "no such role".into()));
        };
        let event = self.role_event(
            AuditEventType::RoleAssigned,
            Some(user),
            caller,
            role.name.as_str(),
            ctx,
        );
        self.roles
            .assign(
                user,
                &role.name,
                self.clock.now(),
                Effects::event(event).and_message(permission_changed(
                    user,
                    role.name.as_str(),
                    "granted",
                    caller,
                    self.clock.now(),
                )),
            )
            .await?;
        self.announce(AccessChange::User(user)).await;
        Ok(())
    }

    async fn remove_role(
        &self,
        caller: &Principal,
        user: UserId,
        role: &str,
        ctx: &RequestContext,
    ) -> Result<(), AccessError> {
        self.require_recent_user(caller, "roles:write").await?;
        if self.users.find_by_id(user).await?.is_none() {
            return Err(AccessError::NotFound);
        }
        let role = Role::new(role);
        let event = self.role_event(
            AuditEventType::RoleRevoked,
            Some(user),
            caller,
            role.as_str(),
            ctx,
        );
        match self
            .roles
            .unassign(
                user,
                &role,
                self.clock.now(),
                Effects::event(event).and_message(permission_changed(
                    user,
                    role.as_str(),
                    "revoked",
                    caller,
                    self.clock.now(),
                )),
            )
            .await?
        {
            Unassigned::Removed => {
                self.announce(AccessChange::User(user)).await;
                Ok(())
            }
            Unassigned::NotAssigned => Err(AccessError::NotFound),
            Unassigned::LastAdmin => Err(AccessError::LastAdmin),
        }
    }

    async fn create_service_key(
        &self,
        caller: &Principal,
        name: &str,
        permissions: &[String],
        ctx: &RequestContext,
    ) -> Result<CreatedKey, AccessError> {
        self.require_recent_user(caller, "service_keys:write")
            .await?;
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_TEXT {
            return Err(AccessError::Invalid("name", "1 to 256 characters".into()));
        }
        let grants = self.known_grants(permissions).await?;
        let secret = service_key_text(&self.random.token().map_err(Failure::from)?);
        let key = ServiceKey {
            id: ServiceKeyId::generate(),
            name: name.to_owned(),
            key_hash: TokenHash::of(secret.as_bytes()),
            grants,
            created_at: self.clock.now(),
        };
        let event = AuditEvent::new(
            AuditEventType::ServiceKeyCreated,
            None,
            ctx,
            self.clock.now(),
        )
        .with("service_key_id", key.id.to_string())
        .with("name", key.name.clone())
        .with("permissions", grant_texts(&key.grants))
        .with("actor_id", actor(caller));
        self.keys.create(&key, Effects::event(event)).await?;
        Ok(CreatedKey { key, secret })
    }

    async fn service_keys(&self, caller: &Principal) -> Result<Vec<ServiceKey>, AccessError> {
        self.require(caller, "service_keys:write").await?;
        Ok(self.keys.list_active().await?)
    }

    async fn revoke_service_key(
        &self,
        caller: &Principal,
        id: ServiceKeyId,
        ctx: &RequestContext,
    ) -> Result<(), AccessError> {
        self.require_recent_user(caller, "service_keys:write")
            .await?;
        let event = AuditEvent::new(
            AuditEventType::ServiceKeyRevoked,
            None,
            ctx,
            self.clock.now(),
        )
        .with("service_key_id", id.to_string())
        .with("actor_id", actor(caller));
        if !self
            .keys
            .revoke(id, self.clock.now(), Effects::event(event))
            .await?
        {
            return Err(AccessError::NotFound);
        }
        self.announce(AccessChange::ServiceKey(id)).await;
        Ok(())
    }
}
