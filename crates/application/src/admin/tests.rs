//! The `admin` use cases on the in-memory world.

use auth_domain::access::Role;
use auth_domain::{AccountStatus, Email, RequestContext};

use super::*;
use crate::testing::{Harness, harness, verified_login};

fn ctx() -> RequestContext {
    RequestContext::default()
}

async fn claims(h: &Harness, email: &str, role: Option<&str>) -> AccessClaims {
    let pair = verified_login(h, email).await;
    if let Some(role) = role {
        h.access
            .grant_by_email(&Email::parse(email).unwrap(), role)
            .await
            .unwrap();
    }
    h.world.lock().issued[&pair.access_token].clone()
}

#[tokio::test]
async fn a_suspension_ends_every_session_and_is_never_self_inflicted() {
    let h = harness();
    let admin = claims(&h, "root@example.com", Some(Role::ADMIN)).await;
    let user = claims(&h, "user@example.com", None).await;
    assert!(matches!(
        h.admin
            .suspend(&admin, admin.user_id, "no".into(), None, &ctx())
            .await,
        Err(AdminError::Invalid("user_id", _))
    ));
    let suspended = h
        .admin
        .suspend(&admin, user.user_id, "spam".into(), None, &ctx())
        .await
        .unwrap();
    assert_eq!(suspended.status, AccountStatus::Suspended);
    assert!(h.world.lock().revoked.contains(&user.session_id));
    let back = h
        .admin
        .reactivate(&admin, user.user_id, &ctx())
        .await
        .unwrap();
    assert_eq!(back.status, AccountStatus::Active);
}

#[tokio::test]
async fn every_call_checks_the_permission_read_now() {
    let h = harness();
    let manager = claims(&h, "boss@example.com", Some(Role::MANAGER)).await;
    let user = claims(&h, "user@example.com", None).await;
    assert!(h.admin.user(&manager, user.user_id).await.is_ok());
    assert!(matches!(
        h.admin.reset_mfa(&manager, user.user_id, &ctx()).await,
        Err(AdminError::Forbidden)
    ));
    assert!(matches!(
        h.admin.user(&user, manager.user_id).await,
        Err(AdminError::Forbidden)
    ));
}
