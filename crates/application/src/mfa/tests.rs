//! The `mfa` flows on the in-memory world: codes computed as an
//! authenticator app would (with the fake RFC 6238 function).

use std::time::Duration;

use auth_domain::mfa::{MethodKind, SecretBox as _, totp};
use auth_domain::testing::{FakeBox, FakeTotp, both};
use auth_domain::{
    Aal, AccessClaims, Amr, Email, MethodId, OutboxPayload, Password, RequestContext,
};

use super::{Mfa, SessionVerified, SetupRequest, Subject};
use crate::TokenPair;
use crate::shared::{Proof, StepUpError};
use crate::sign_in::{
    LoginOutcome, LoginRequest, MfaLoginDone, MfaLoginError, MfaRequired, SignIn,
};
use crate::testing::{Harness, STRONG_PASSWORD, harness, verified_login};

fn claims_of(h: &Harness, pair: &TokenPair) -> AccessClaims {
    h.world
        .lock()
        .issued
        .get(&pair.access_token)
        .cloned()
        .expect("issued")
}

fn ctx() -> RequestContext {
    RequestContext {
        ip: Some("198.51.100.7".parse().expect("ip")),
        user_agent: Some("test".into()),
    }
}

/// The current TOTP code of a method, as the user's app shows it.
fn totp_code(h: &Harness, method: MethodId, offset_steps: i64) -> String {
    let state = h.world.lock();
    let sealed = state
        .mfa_methods
        .iter()
        .find(|m| m.id == method)
        .and_then(|m| m.secret.clone())
        .expect("a TOTP method");
    let secret = FakeBox.open(&sealed).expect("open");
    let step = totp::step_at(state.now).saturating_add_signed(offset_steps);
    FakeTotp::code_for(&secret, step)
}

/// Sets up and confirms TOTP; returns the method, backup codes and the
/// session's new pair.
async fn enable_totp(h: &Harness, pair: &TokenPair) -> (MethodId, Vec<String>, TokenPair) {
    let claims = claims_of(h, pair);
    let setup = h
        .mfa
        .setup(
            &claims,
            SetupRequest {
                kind: MethodKind::Totp,
                name: Some("Phone".into()),
                phone: None,
            },
            &ctx(),
        )
        .await
        .expect("setup");
    let totp = setup.totp.expect("a secret");
    assert!(totp.otpauth_uri.starts_with("otpauth://totp/auth-service:"));
    let code = totp_code(h, setup.method.id, 0);
    let done = h
        .mfa
        .verify(
            &claims,
            Proof::Totp {
                method: Some(setup.method.id),
                code,
            },
            &ctx(),
        )
        .await
        .expect("confirmed");
    let SessionVerified::SetupConfirmed {
        backup_codes, pair, ..
    } = done
    else {
        panic!("a setup confirmation");
    };
    (setup.method.id, backup_codes.expect("first method"), pair)
}

async fn password_step(h: &Harness, email: &str) -> MfaRequired {
    let outcome = h
        .sign_in
        .login(
            LoginRequest {
                organization_id: None,
                email: Email::parse(email).expect("email"),
                password: Password::new(STRONG_PASSWORD.into()),
                remember_me: false,
            },
            &ctx(),
        )
        .await
        .expect("password ok");
    match outcome {
        LoginOutcome::MfaRequired(required) => required,
        LoginOutcome::Tokens(_) => panic!("a second factor is due"),
    }
}

/// The second step of a login with a TOTP code, from the login's client.
async fn totp_step(
    h: &Harness,
    required: &MfaRequired,
    code: impl Into<String>,
) -> Result<MfaLoginDone, MfaLoginError> {
    h.sign_in
        .complete_mfa_login(
            required.mfa_token.expose(),
            Proof::Totp {
                method: None,
                code: code.into(),
            },
            &ctx(),
        )
        .await
}

#[tokio::test]
async fn totp_setup_then_a_two_step_login() {
    let h = harness();
    let first = verified_login(&h, "ann@example.com").await;
    let other_device = crate::testing::login(&h, "ann@example.com").await;
    let (method, codes, elevated) = enable_totp(&h, &first).await;
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 11 && &c[5..6] == "-"));
    let claims = claims_of(&h, &elevated);
    assert_eq!(claims.assurance.aal, Aal::Aal2);
    assert_eq!(claims.assurance.amr, [Amr::Pwd, Amr::Otp, Amr::Mfa]);
    assert_eq!(claims.session_id, first.session.id, "same session");
    assert!(
        h.world.lock().revoked.contains(&other_device.session.id),
        "the first method signs every other device out"
    );
    assert!(
        h.world
            .lock()
            .outbox
            .iter()
            .any(|row| matches!(&row.message.payload,
            OutboxPayload::Event(e) if e.kind == "user.updated" && e.data.contains("mfa_enabled"))),
        "MFA on is a user.updated event"
    );

    let required = password_step(&h, "ann@example.com").await;
    assert_eq!(required.methods.len(), 1);
    assert_eq!(required.backup_codes_remaining, Some(10));
    assert_eq!(required.default_method_id, Some(method));
    // The setup consumed this step: the same code cannot log in.
    let replay = totp_step(&h, &required, totp_code(&h, method, 0)).await;
    assert!(matches!(replay, Err(MfaLoginError::CodeInvalid)));
    h.world.advance(Duration::from_secs(30));
    let code = totp_code(&h, method, 0);
    let done = totp_step(&h, &required, code.clone())
        .await
        .expect("second step");
    let claims = claims_of(&h, &done.pair);
    assert_eq!(claims.assurance.aal, Aal::Aal2);
    assert_eq!(claims.assurance.amr, [Amr::Pwd, Amr::Otp, Amr::Mfa]);
    // Single use: the token is spent, and the code too.
    let again = h
        .sign_in
        .complete_mfa_login(
            required.mfa_token.expose(),
            Proof::Totp { method: None, code },
            &ctx(),
        )
        .await;
    assert!(matches!(again, Err(MfaLoginError::TokenInvalid)));
}

#[tokio::test]
async fn the_mfa_token_is_bound_to_its_client_and_dies_after_five_wrong_codes() {
    let h = harness();
    let pair = verified_login(&h, "bo@example.com").await;
    let (method, _, _) = enable_totp(&h, &pair).await;
    let required = password_step(&h, "bo@example.com").await;
    let elsewhere = RequestContext {
        ip: Some("203.0.113.1".parse().expect("ip")),
        user_agent: Some("test".into()),
    };
    h.world.advance(Duration::from_secs(30));
    let from_elsewhere = h
        .sign_in
        .complete_mfa_login(
            required.mfa_token.expose(),
            Proof::Totp {
                method: None,
                code: totp_code(&h, method, 0),
            },
            &elsewhere,
        )
        .await;
    assert!(matches!(from_elsewhere, Err(MfaLoginError::TokenInvalid)));
    for _ in 0..5 {
        let wrong = totp_step(&h, &required, "000000").await;
        assert!(matches!(wrong, Err(MfaLoginError::CodeInvalid)));
    }
    let right = totp_step(&h, &required, totp_code(&h, method, 0)).await;
    assert!(
        matches!(right, Err(MfaLoginError::TokenInvalid)),
        "exhausted"
    );
}

#[tokio::test]
async fn a_backup_code_works_once_even_when_two_race() {
    let h = harness();
    let pair = verified_login(&h, "cy@example.com").await;
    let (_, codes, _) = enable_totp(&h, &pair).await;
    let a = password_step(&h, "cy@example.com").await;
    let b = password_step(&h, "cy@example.com").await;
    let typed = codes[3].to_lowercase().replace('-', " ");
    let (left, right) = both(
        h.sign_in.complete_mfa_login(
            a.mfa_token.expose(),
            Proof::BackupCode {
                code: typed.clone(),
            },
            &ctx(),
        ),
        h.sign_in.complete_mfa_login(
            b.mfa_token.expose(),
            Proof::BackupCode { code: typed },
            &ctx(),
        ),
    )
    .await;
    let wins: Vec<_> = [left, right].into_iter().filter_map(Result::ok).collect();
    assert_eq!(wins.len(), 1, "exactly one use");
    assert_eq!(wins[0].backup_codes_remaining, Some(9));
    let state = h.world.lock();
    assert!(state.outbox.iter().any(|row| matches!(&row.message.payload,
        OutboxPayload::Email(m) if m.subject.contains("backup code was used"))));
}

#[tokio::test]
async fn ten_wrong_codes_lock_the_factor_even_for_a_right_code_until_the_lock_ends() {
    let h = harness();
    let pair = verified_login(&h, "di@example.com").await;
    let (method, _, _) = enable_totp(&h, &pair).await;
    for _ in 0..2 {
        let required = password_step(&h, "di@example.com").await;
        for _ in 0..5 {
            let _ = totp_step(&h, &required, "000000").await;
        }
    }
    h.world.advance(Duration::from_secs(30));
    let required = password_step(&h, "di@example.com").await;
    let locked = totp_step(&h, &required, totp_code(&h, method, 0)).await;
    assert!(
        matches!(locked, Err(MfaLoginError::Locked { retry_after }) if retry_after <= Duration::from_secs(900))
    );
    {
        let state = h.world.lock();
        assert!(
            state
                .events
                .iter()
                .any(|e| e.kind == auth_domain::AuditEventType::MfaLocked)
        );
        assert!(state.outbox.iter().any(|row| matches!(&row.message.payload,
            OutboxPayload::Email(m) if m.subject.contains("locked"))));
        for (kind, data) in [
            ("auth.account_locked", "\"kind\":\"mfa\""),
            ("auth.suspicious_activity", "\"kind\":\"mfa_failures\""),
        ] {
            assert!(
                state.outbox.iter().any(|row| matches!(&row.message.payload,
                    OutboxPayload::Event(e) if e.kind == kind && e.data.contains(data))),
                "{kind}"
            );
        }
    }
    h.world.advance(Duration::from_secs(901));
    let required = password_step(&h, "di@example.com").await;
    totp_step(&h, &required, totp_code(&h, method, 0))
        .await
        .expect("the lock ended");
}

#[tokio::test]
async fn removing_needs_a_recent_factor_and_the_last_removal_turns_mfa_off() {
    let h = harness();
    let pair = verified_login(&h, "ed@example.com").await;
    let (method, _, elevated) = enable_totp(&h, &pair).await;
    h.world.advance(Duration::from_secs(11 * 60));
    let stale = claims_of(&h, &elevated);
    let refused = h.mfa.remove(&stale, method, &ctx()).await;
    assert!(matches!(
        refused,
        Err(super::RemoveError::StepUp(StepUpError::Required(r))) if r.acr == Aal::Aal2
    ));
    let stepped = h
        .mfa
        .verify(
            &stale,
            Proof::Totp {
                method: Some(method),
                code: totp_code(&h, method, 0),
            },
            &ctx(),
        )
        .await
        .expect("step-up");
    let SessionVerified::SteppedUp { pair: fresh, .. } = stepped else {
        panic!("a step-up");
    };
    let fresh = claims_of(&h, &fresh);
    assert_eq!(fresh.session_id, stale.session_id);
    assert!(fresh.assurance.auth_time > stale.assurance.auth_time);
    h.mfa.remove(&fresh, method, &ctx()).await.expect("removed");
    let view = h.mfa.methods(fresh.user_id).await.expect("view");
    assert!(!view.mfa_enabled);
    assert!(
        view.backup_codes.is_none(),
        "backup codes go with the last method"
    );
    // A login is one step again.
    let outcome = h
        .sign_in
        .login(
            LoginRequest {
                organization_id: None,
                email: Email::parse("ed@example.com").expect("email"),
                password: Password::new(STRONG_PASSWORD.into()),
                remember_me: false,
            },
            &ctx(),
        )
        .await
        .expect("login");
    assert!(matches!(outcome, LoginOutcome::Tokens(_)));
}

#[tokio::test]
async fn email_codes_are_mailed_limited_per_minute_and_confirm_the_method() {
    let h = harness();
    let pair = verified_login(&h, "fa@example.com").await;
    let claims = claims_of(&h, &pair);
    let setup = h
        .mfa
        .setup(
            &claims,
            SetupRequest {
                kind: MethodKind::Email,
                name: None,
                phone: None,
            },
            &ctx(),
        )
        .await
        .expect("setup");
    let challenge = setup.challenge.expect("a code was sent");
    let code = {
        let state = h.world.lock();
        let mail = state
            .outbox
            .iter()
            .rev()
            .find_map(|row| match &row.message.payload {
                OutboxPayload::Email(m) if m.subject.contains("code") => Some(m.clone()),
                _ => None,
            })
            .expect("mailed");
        mail.text_body
            .split_whitespace()
            .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
            .expect("six digits")
            .to_owned()
    };
    let resend = h
        .mfa
        .challenge(Subject::Session(&claims), setup.method.id, &ctx())
        .await;
    assert!(matches!(
        resend,
        Err(super::ChallengeError::Failed(
            crate::Failure::RateLimited { .. }
        ))
    ));
    let wrong = h
        .mfa
        .verify(
            &claims,
            Proof::Sent {
                kind: MethodKind::Email,
                method: Some(setup.method.id),
                challenge: Some(challenge.id),
                code: "999999".into(),
            },
            &ctx(),
        )
        .await;
    assert!(matches!(wrong, Err(super::VerifyError::CodeInvalid)));
    let done = h
        .mfa
        .verify(
            &claims,
            Proof::Sent {
                kind: MethodKind::Email,
                method: Some(setup.method.id),
                challenge: Some(challenge.id),
                code,
            },
            &ctx(),
        )
        .await
        .expect("confirmed");
    assert!(matches!(
        done,
        SessionVerified::SetupConfirmed {
            backup_codes: Some(_),
            ..
        }
    ));
    // The hint never shows the address.
    let view = h.mfa.methods(claims.user_id).await.expect("view");
    assert_eq!(
        view.methods[0].hint(&view.email).as_deref(),
        Some("f•••@example.com")
    );
}

#[tokio::test]
async fn adding_a_second_method_needs_step_up_and_codes_expire() {
    let h = harness();
    let pair = verified_login(&h, "gu@example.com").await;
    let (_, _, elevated) = enable_totp(&h, &pair).await;
    h.world.advance(Duration::from_secs(11 * 60));
    let stale = claims_of(&h, &elevated);
    let refused = h
        .mfa
        .setup(
            &stale,
            SetupRequest {
                kind: MethodKind::Sms,
                name: Some("Work".into()),
                phone: Some("+4915123456742".into()),
            },
            &ctx(),
        )
        .await;
    assert!(matches!(refused, Err(super::SetupError::StepUp(_))));
}
