//! Preferences: read, and changed by an RFC 7396 merge patch, validated as
//! a whole after merging.

use auth_domain::accounts::{UserRepository as _, valid_locale, valid_timezone};
use auth_domain::system::Clock as _;
use auth_domain::{AccessClaims, AuditEvent, AuditEventType, Effects, RequestContext, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::profile::ProfileAccessError;
use super::{AccountPorts, AccountService};
use crate::Failure;

/// How the interface looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// As the system says.
    #[default]
    System,
}

/// Which mails the user gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Security mails (new login, password changed, …): always on.
    pub security_email: bool,
    /// Product news.
    pub product_email: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            security_email: true,
            product_email: false,
        }
    }
}

/// A user's preferences.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// A BCP 47 language tag.
    pub locale: Option<String>,
    /// An IANA time zone name.
    pub timezone: Option<String>,
    /// The interface theme.
    #[serde(default)]
    pub theme: Theme,
    /// Mail switches.
    #[serde(default)]
    pub notifications: Notifications,
}

/// RFC 7396: `patch` merged into `target`; `null` removes a member.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

impl Preferences {
    /// The stored form, or the defaults when nothing (readable) is stored.
    fn from_stored(stored: Option<&str>) -> Self {
        stored
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    /// `self` with `patch` merged in, validated.
    ///
    /// # Errors
    /// The field that is wrong, and why.
    pub fn patched(&self, patch: &Value) -> Result<Self, (&'static str, String)> {
        if !patch.is_object() {
            return Err(("body", "a JSON object (merge patch)".into()));
        }
        let mut merged = serde_json::to_value(self).map_err(|e| ("body", e.to_string()))?;
        merge(&mut merged, patch);
        let next: Self = serde_json::from_value(merged).map_err(|e| ("body", e.to_string()))?;
        if next.locale.as_deref().is_some_and(|l| !valid_locale(l)) {
            return Err(("locale", "a BCP 47 language tag, like en-GB".into()));
        }
        if next.timezone.as_deref().is_some_and(|t| !valid_timezone(t)) {
            return Err(("timezone", "an IANA time zone, like Europe/Paris".into()));
        }
        if !next.notifications.security_email {
            return Err((
                "notifications.security_email",
                "security mails cannot be turned off".into(),
            ));
        }
        Ok(next)
    }
}

impl<P: AccountPorts> AccountService<P> {
    pub(super) async fn read_preferences(
        &self,
        caller: &AccessClaims,
        user: UserId,
    ) -> Result<Preferences, ProfileAccessError> {
        self.visible(caller, user, "users:read").await?;
        let stored = self.users.preferences(user).await.map_err(Failure::from)?;
        Ok(Preferences::from_stored(stored.as_deref()))
    }

    pub(super) async fn change_preferences(
        &self,
        caller: &AccessClaims,
        user: UserId,
        patch: &Value,
        ctx: &RequestContext,
    ) -> Result<Preferences, ProfileAccessError> {
        self.visible(caller, user, "users:write").await?;
        let stored = self.users.preferences(user).await.map_err(Failure::from)?;
        let next = Preferences::from_stored(stored.as_deref())
            .patched(patch)
            .map_err(|(field, why)| ProfileAccessError::InvalidPreference(field, why))?;
        let text = serde_json::to_string(&next).map_err(|e| Failure::Internal(e.to_string()))?;
        let event = AuditEvent::new(
            AuditEventType::PreferencesUpdated,
            Some(user),
            ctx,
            self.clock.now(),
        )
        .with("actor_id", caller.user_id.to_string());
        if !self
            .users
            .set_preferences(
                user,
                &text,
                self.clock.now(),
                Effects::event(event).and_message(crate::shared::events::user_event(
                    "user.profile_updated",
                    user,
                    Some(caller.user_id.to_string()),
                    serde_json::json!({ "user_id": user.to_string(), "changed": ["preferences"] }),
                    self.clock.now(),
                )),
            )
            .await
            .map_err(Failure::from)?
        {
            return Err(ProfileAccessError::NotFound);
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_merge_patch_changes_what_it_names_and_null_resets() {
        let start = Preferences::default();
        let dark = start
            .patched(&json!({"theme": "dark", "locale": "en-GB", "notifications": {"product_email": true}}))
            .unwrap();
        assert_eq!(dark.theme, Theme::Dark);
        assert!(dark.notifications.product_email && dark.notifications.security_email);
        let reset = dark.patched(&json!({"locale": null})).unwrap();
        assert_eq!(reset.locale, None);
        assert_eq!(reset.theme, Theme::Dark);
    }

    #[test]
    fn wrong_values_and_unknown_keys_are_refused() {
        let start = Preferences::default();
        for (patch, field) in [
            (json!({"colour": "red"}), "body"),
            (json!({"theme": "neon"}), "body"),
            (json!({"locale": "english"}), "locale"),
            (json!({"timezone": "Mars/Olympus"}), "timezone"),
            (
                json!({"notifications": {"security_email": false}}),
                "notifications.security_email",
            ),
            (json!([1]), "body"),
        ] {
            assert_eq!(
                start.patched(&patch).map_err(|e| e.0),
                Err(field),
                "{patch}"
            );
        }
    }
}
