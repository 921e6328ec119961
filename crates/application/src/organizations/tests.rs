//! The `organizations` use cases on the in-memory world.

use std::time::Duration;

use auth_domain::access::OrgRole;
use auth_domain::{AccessClaims, Email, OrganizationId, OutboxPayload, RequestContext};

use super::*;
use crate::access::{Access, Check, Principal};
use crate::testing::{Harness, harness, harness_with, settings, verified_login};

fn ctx() -> RequestContext {
    RequestContext::default()
}

async fn claims(h: &Harness, email: &str) -> AccessClaims {
    let pair = verified_login(h, email).await;
    h.world.lock().issued[&pair.access_token].clone()
}

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

/// The token of the newest invitation mail to `to`.
fn invitation_token(h: &Harness, to: &str) -> String {
    let state = h.world.lock();
    state
        .outbox
        .iter()
        .rev()
        .find_map(|row| match &row.message.payload {
            OutboxPayload::Email(mail)
                if mail.to.as_str() == to && mail.subject.contains("invited") =>
            {
                Some(mail.text_body.clone())
            }
            _ => None,
        })
        .expect("an invitation mail")
        .split("token=")
        .nth(1)
        .expect("a link")
        .split_whitespace()
        .next()
        .expect("a token")
        .to_owned()
}

async fn acme(h: &Harness, owner: &AccessClaims) -> OrganizationId {
    h.organizations
        .create(owner, "Acme Corp", None, &ctx())
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn outsiders_see_nothing_and_members_only_what_their_role_allows() {
    let h = harness();
    let alice = claims(&h, "alice@example.com").await;
    let org = h
        .organizations
        .create(&alice, "Acme Corp", None, &ctx())
        .await
        .unwrap();
    assert_eq!(org.slug, "acme-corp");
    assert!(matches!(
        h.organizations
            .create(&alice, "Acme", Some("acme-corp"), &ctx())
            .await,
        Err(OrgError::SlugTaken)
    ));
    let mallory = claims(&h, "mallory@example.com").await;
    assert!(matches!(
        h.organizations.get(&mallory, org.id).await,
        Err(OrgError::NotFound)
    ));
    assert!(matches!(
        h.organizations
            .get(&mallory, OrganizationId::generate())
            .await,
        Err(OrgError::NotFound)
    ));
    assert!(h.organizations.list(&mallory).await.unwrap().is_empty());

    let bob = claims(&h, "bob@example.com").await;
    h.organizations
        .add_member(&alice, org.id, bob.user_id, OrgRole::Member, &ctx())
        .await
        .unwrap();
    let (_, role) = h.organizations.get(&bob, org.id).await.unwrap();
    assert_eq!(role, OrgRole::Member);
    assert!(matches!(
        h.organizations
            .update(&bob, org.id, OrgChange::default(), &ctx())
            .await,
        Err(OrgError::Forbidden)
    ));
    assert!(matches!(
        h.organizations
            .add_member(&alice, org.id, bob.user_id, OrgRole::Member, &ctx())
            .await,
        Err(OrgError::AlreadyMember)
    ));
}

#[tokio::test]
async fn only_owners_touch_owners_and_the_last_owner_stays() {
    let h = harness();
    let alice = claims(&h, "alice@example.com").await;
    let org = acme(&h, &alice).await;
    let bob = claims(&h, "bob@example.com").await;
    h.organizations
        .add_member(&alice, org, bob.user_id, OrgRole::Admin, &ctx())
        .await
        .unwrap();
    assert!(matches!(
        h.organizations
            .set_role(&bob, org, bob.user_id, OrgRole::Owner, &ctx())
            .await,
        Err(OrgError::Forbidden)
    ));
    assert!(matches!(
        h.organizations
            .remove_member(&bob, org, alice.user_id, &ctx())
            .await,
        Err(OrgError::Forbidden)
    ));
    assert!(matches!(
        h.organizations
            .remove_member(&alice, org, alice.user_id, &ctx())
            .await,
        Err(OrgError::LastOwner)
    ));
    h.organizations
        .set_role(&alice, org, bob.user_id, OrgRole::Owner, &ctx())
        .await
        .unwrap();
    h.organizations
        .remove_member(&alice, org, alice.user_id, &ctx())
        .await
        .expect("another owner remains: alice may leave");
    assert!(matches!(
        h.organizations.get(&alice, org).await,
        Err(OrgError::NotFound)
    ));
}

#[tokio::test]
async fn an_invitation_is_accepted_once_by_the_invited_address_only() {
    let h = harness();
    let alice = claims(&h, "alice@example.com").await;
    let org = acme(&h, &alice).await;
    h.organizations
        .invite(
            &alice,
            org,
            email("bob@example.com"),
            OrgRole::Member,
            &ctx(),
        )
        .await
        .unwrap();
    let token = invitation_token(&h, "bob@example.com");
    let (view, found) = h.organizations.lookup_invitation(&token).await.unwrap();
    assert_eq!((view.role, found.id), (OrgRole::Member, org));

    let carol = claims(&h, "carol@example.com").await;
    assert!(matches!(
        h.organizations
            .accept_invitation(&carol, &token, &ctx())
            .await,
        Err(OrgError::EmailMismatch)
    ));
    let bob = claims(&h, "bob@example.com").await;
    let (joined, role) = h
        .organizations
        .accept_invitation(&bob, &token, &ctx())
        .await
        .unwrap();
    assert_eq!((joined.id, role), (org, OrgRole::Member));
    assert!(matches!(
        h.organizations
            .accept_invitation(&bob, &token, &ctx())
            .await,
        Err(OrgError::TokenInvalid)
    ));

    // Re-inviting revokes the pending invitation; expiry is its own answer.
    h.organizations
        .invite(
            &alice,
            org,
            email("dan@example.com"),
            OrgRole::Member,
            &ctx(),
        )
        .await
        .unwrap();
    let first = invitation_token(&h, "dan@example.com");
    h.organizations
        .invite(
            &alice,
            org,
            email("dan@example.com"),
            OrgRole::Admin,
            &ctx(),
        )
        .await
        .unwrap();
    let second = invitation_token(&h, "dan@example.com");
    assert!(matches!(
        h.organizations.lookup_invitation(&first).await,
        Err(OrgError::TokenInvalid)
    ));
    h.world.advance(Duration::from_secs(8 * 24 * 3600));
    assert!(matches!(
        h.organizations.lookup_invitation(&second).await,
        Err(OrgError::TokenExpired)
    ));
}

#[tokio::test]
async fn seats_are_counted_for_every_role() {
    let mut small = settings();
    small.orgs.max_members = 2;
    let h = harness_with(small);
    let alice = claims(&h, "alice@example.com").await;
    let org = acme(&h, &alice).await;
    let bob = claims(&h, "bob@example.com").await;
    let carol = claims(&h, "carol@example.com").await;
    h.organizations
        .add_member(&alice, org, bob.user_id, OrgRole::Member, &ctx())
        .await
        .unwrap();
    assert!(matches!(
        h.organizations
            .add_member(&alice, org, carol.user_id, OrgRole::Member, &ctx())
            .await,
        Err(OrgError::SeatLimit)
    ));
}

#[tokio::test]
async fn the_organization_joins_tokens_and_authorize() {
    let h = harness();
    let alice = claims(&h, "alice@example.com").await;
    let org = acme(&h, &alice).await;
    let pair = h
        .organizations
        .switch_organization(&alice, Some(org), &ctx())
        .await
        .unwrap();
    let switched = h.world.lock().issued[&pair.access_token].clone();
    assert_eq!(switched.organization_id, Some(org));
    assert_eq!(switched.session_id, alice.session_id, "the same session");

    let mallory = claims(&h, "mallory@example.com").await;
    assert!(matches!(
        h.organizations
            .switch_organization(&mallory, Some(org), &ctx())
            .await,
        Err(OrgError::NotFound)
    ));
    let ask = |permission: &str| Check {
        subject: None,
        permission: permission.to_owned(),
        organization_id: Some(org),
        resource_organization_id: None,
    };
    let decided = h
        .access
        .authorize(
            &Principal::User(alice.clone()),
            &[ask("org:update"), ask("members:invite")],
        )
        .await
        .unwrap();
    assert!(decided.iter().all(|d| d.allowed));
    assert_eq!(decided[0].reason.to_text(), "granted:owner");
    let outsider = h
        .access
        .authorize(&Principal::User(mallory.clone()), &[ask("org:read")])
        .await
        .unwrap();
    assert_eq!(outsider[0].reason.to_text(), "not_member");
    let other = OrganizationId::generate();
    let mismatch = h
        .access
        .authorize(
            &Principal::User(alice.clone()),
            &[Check {
                resource_organization_id: Some(other),
                ..ask("org:read")
            }],
        )
        .await
        .unwrap();
    assert_eq!(mismatch[0].reason.to_text(), "org_mismatch");
}
