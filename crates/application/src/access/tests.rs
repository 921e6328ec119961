//! The `access` use cases on the in-memory world.

use std::time::Duration;

use auth_domain::access::{AccessChange, Grant, Role, ServiceKey};
use auth_domain::{AccountStatus, Email, RequestContext, UserId};

use super::*;
use crate::testing::{Harness, harness, harness_with, settings, verified_login};

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn check(subject: Option<SubjectRef>, permission: &str) -> Check {
    Check {
        subject,
        permission: permission.to_owned(),
        organization_id: None,
        resource_organization_id: None,
    }
}

/// A verified user whose claims act as the caller; `admin` when asked.
async fn user(h: &Harness, email: &str, admin: bool) -> Principal {
    let pair = verified_login(h, email).await;
    if admin {
        let granted = h
            .access
            .grant_by_email(&Email::parse(email).unwrap(), Role::ADMIN)
            .await
            .unwrap();
        assert_eq!(granted, Granted::Granted);
    }
    Principal::User(h.world.lock().issued[&pair.access_token].clone())
}

fn user_id(caller: &Principal) -> UserId {
    match caller {
        Principal::User(claims) => claims.user_id,
        Principal::Service(_) => panic!("a user"),
    }
}

async fn gateway(h: &Harness, admin: &Principal, permissions: &[&str]) -> (Principal, String) {
    let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    let created = h
        .access
        .create_service_key(admin, "gateway", &permissions, &ctx())
        .await
        .unwrap();
    assert!(created.secret.starts_with("sk_"));
    let key = h
        .access
        .authenticate_key(&created.secret)
        .await
        .unwrap()
        .expect("the new key works");
    (Principal::Service(key), created.secret)
}

fn reasons(decisions: &[auth_domain::access::Decision]) -> Vec<(bool, String)> {
    decisions
        .iter()
        .map(|d| (d.allowed, d.reason.to_text()))
        .collect()
}

#[tokio::test]
async fn a_user_asks_only_about_itself_and_a_key_with_authz_check_about_anyone() {
    let h = harness();
    let admin = user(&h, "root@example.com", true).await;
    let alice = user(&h, "alice@example.com", false).await;
    let own = h
        .access
        .authorize(
            &alice,
            &[check(None, "profile:read"), check(None, "users:read")],
        )
        .await
        .unwrap();
    assert_eq!(
        reasons(&own),
        [
            (true, "granted:user".into()),
            (false, "no_permission".into())
        ]
    );
    let about_admin = h
        .access
        .authorize(
            &alice,
            &[check(Some(SubjectRef::User(user_id(&admin))), "users:read")],
        )
        .await;
    assert!(matches!(about_admin, Err(AccessError::Forbidden)));

    let (key, _) = gateway(&h, &admin, &["authz:check"]).await;
    let answers = h
        .access
        .authorize(
            &key,
            &[
                check(Some(SubjectRef::User(user_id(&admin))), "users:write"),
                check(Some(SubjectRef::User(user_id(&alice))), "users:write"),
                check(Some(SubjectRef::User(UserId::generate())), "users:write"),
                check(Some(SubjectRef::Token("garbage".into())), "users:write"),
                check(Some(SubjectRef::User(user_id(&alice))), "nuclear:launch"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        reasons(&answers),
        [
            (true, "granted:admin".into()),
            (false, "no_permission".into()),
            (false, "unknown_subject".into()),
            (false, "token_inactive".into()),
            (false, "unknown_permission".into()),
        ]
    );
    let (blind, _) = gateway(&h, &admin, &["users:read"]).await;
    assert!(matches!(
        h.access
            .authorize(
                &blind,
                &[check(Some(SubjectRef::User(user_id(&alice))), "users:read")]
            )
            .await,
        Err(AccessError::Forbidden)
    ));
    let too_many = vec![check(None, "profile:read"); 51];
    assert!(matches!(
        h.access.authorize(&alice, &too_many).await,
        Err(AccessError::Invalid("checks", _))
    ));
}

#[tokio::test]
async fn a_role_change_is_seen_at_once_and_announced() {
    let h = harness();
    let admin = user(&h, "root@example.com", true).await;
    let colleague = user(&h, "col@example.com", false).await;
    let (key, _) = gateway(&h, &admin, &["authz:check"]).await;
    let ask = check(Some(SubjectRef::User(user_id(&colleague))), "users:read");
    let before = h
        .access
        .authorize(&key, std::slice::from_ref(&ask))
        .await
        .unwrap();
    assert_eq!(reasons(&before), [(false, "no_permission".into())]);

    let support = h
        .access
        .create_role(
            &admin,
            NewRole {
                name: "support".into(),
                description: Some("Helps users".into()),
                permissions: vec!["users:read".into()],
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(support.grants, [Grant::parse("users:read").unwrap()]);
    h.access
        .assign_role(&admin, user_id(&colleague), "support", &ctx())
        .await
        .unwrap();
    let after = h
        .access
        .authorize(&key, std::slice::from_ref(&ask))
        .await
        .unwrap();
    assert_eq!(reasons(&after), [(true, "granted:support".into())]);
    let seen = h
        .access
        .user_access(&colleague, user_id(&colleague), None)
        .await
        .unwrap();
    assert!(seen.permissions.contains(&"users:read".to_owned()));
    assert!(
        h.world
            .lock()
            .access_changes
            .contains(&AccessChange::User(user_id(&colleague)))
    );

    h.access
        .update_role(
            &admin,
            support.id,
            RoleChange {
                description: None,
                permissions: Some(vec!["audit:read".into()]),
            },
            &ctx(),
        )
        .await
        .unwrap();
    let edited = h.access.authorize(&key, &[ask]).await.unwrap();
    assert_eq!(reasons(&edited), [(false, "no_permission".into())]);
}

#[tokio::test]
async fn a_cached_decision_needs_no_store_and_a_suspended_subject_is_denied() {
    let h = harness();
    let admin = user(&h, "root@example.com", true).await;
    let (key, secret) = gateway(&h, &admin, &["authz:check"]).await;
    let ask = [check(
        Some(SubjectRef::User(user_id(&admin))),
        "roles:write",
    )];
    h.access.authorize(&key, &ask).await.unwrap();

    h.world.set_down(true);
    let cached = h.access.authorize(&key, &ask).await.unwrap();
    assert_eq!(reasons(&cached), [(true, "granted:admin".into())]);
    assert!(h.access.authenticate_key(&secret).await.unwrap().is_some());
    h.world.set_down(false);

    for user in &mut h.world.lock().users {
        if user.id == user_id(&admin) {
            user.status = AccountStatus::Suspended;
        }
    }
    h.access.changed(Some(AccessChange::User(user_id(&admin))));
    let denied = h.access.authorize(&key, &ask).await.unwrap();
    assert_eq!(reasons(&denied), [(false, "account_suspended".into())]);
}

#[tokio::test]
async fn system_roles_are_protected_and_the_last_admin_stays() {
    let h = harness();
    let admin = user(&h, "root@example.com", true).await;
    let roles = h.access.roles(&admin).await.unwrap();
    let by_name = |name: &str| roles.iter().find(|r| r.name.as_str() == name).unwrap().id;
    for name in ["admin", "user", "manager"] {
        assert!(matches!(
            h.access.delete_role(&admin, by_name(name), &ctx()).await,
            Err(AccessError::RoleProtected)
        ));
    }
    let fixed = RoleChange {
        description: None,
        permissions: Some(vec!["users:read".into()]),
    };
    assert!(matches!(
        h.access
            .update_role(&admin, by_name("admin"), fixed.clone(), &ctx())
            .await,
        Err(AccessError::RoleProtected)
    ));
    assert!(
        h.access
            .update_role(&admin, by_name("manager"), fixed, &ctx())
            .await
            .is_ok(),
        "the manager's permissions may change"
    );
    assert!(matches!(
        h.access
            .remove_role(&admin, user_id(&admin), "admin", &ctx())
            .await,
        Err(AccessError::LastAdmin)
    ));
    assert!(matches!(
        h.access
            .create_role(
                &admin,
                NewRole {
                    name: "bad".into(),
                    description: None,
                    permissions: vec!["made:up".into()],
                },
                &ctx(),
            )
            .await,
        Err(AccessError::Invalid("permissions", _))
    ));
}

#[tokio::test]
async fn writes_need_a_recent_proof_and_keys_do_not_write() {
    let h = harness();
    let admin = user(&h, "root@example.com", true).await;
    let (key, _) = gateway(&h, &admin, &["*"]).await;
    assert!(matches!(
        h.access
            .assign_role(&key, user_id(&admin), "manager", &ctx())
            .await,
        Err(AccessError::Forbidden)
    ));
    assert!(h.access.roles(&key).await.is_ok(), "keys may read");
    h.world.advance(Duration::from_secs(11 * 60));
    assert!(matches!(
        h.access
            .assign_role(&admin, user_id(&admin), "manager", &ctx())
            .await,
        Err(AccessError::StepUp(_))
    ));
}

#[tokio::test]
async fn a_revoked_key_stops_at_once() {
    let h = harness();
    let admin = user(&h, "root@example.com", true).await;
    let (key, secret) = gateway(&h, &admin, &["authz:check"]).await;
    let Principal::Service(ServiceKey { id, .. }) = key else {
        panic!("a key")
    };
    h.access
        .revoke_service_key(&admin, id, &ctx())
        .await
        .unwrap();
    assert!(h.access.authenticate_key(&secret).await.unwrap().is_none());
    assert!(h.access.service_keys(&admin).await.unwrap().is_empty());
    assert!(
        h.world
            .lock()
            .access_changes
            .contains(&AccessChange::ServiceKey(id))
    );
}

#[tokio::test]
async fn bootstrap_emails_become_admins_when_verified() {
    let mut with_bootstrap = settings();
    with_bootstrap.access.bootstrap_emails = vec![
        Email::parse("boss@example.com").unwrap(),
        Email::parse("later@example.com").unwrap(),
    ];
    let h = harness_with(with_bootstrap);
    let boss = user(&h, "boss@example.com", false).await;
    let decided = h
        .access
        .authorize(&boss, &[check(None, "roles:write")])
        .await
        .unwrap();
    assert_eq!(reasons(&decided), [(true, "granted:admin".into())]);
    assert_eq!(h.access.bootstrap_admins().await.unwrap(), 0, "already");
}
