//! The hosted pages in a real browser (Debian's headless Chromium): the
//! links of the mails work end to end, without JavaScript, and load nothing
//! from another host.

use std::time::Duration;

use auth_tests::browser::Browser;
use auth_tests::{PASSWORD, TestApp, TestEnv, email};

/// The mailed link, pointed at this test's instance.
fn local(app: &TestApp, link: &str) -> String {
    link.replace("http://localhost:8001", &app.base)
}

async fn assert_same_origin(browser: &Browser, app: &TestApp) {
    for url in browser.loaded_urls().await {
        assert!(
            url.starts_with(&app.base),
            "loaded from another host: {url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_link_of_a_mail_verifies_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("browser-verify");
    assert_eq!(app.register(&address).await.status, 201);
    let mail = env.mail.wait_for(&address, Duration::from_secs(20)).await;
    browser.goto(&local(&app, &mail.link())).await;
    let button = browser
        .wait_for("#verify", Duration::from_secs(10))
        .await
        .expect("the page has the button");
    assert_same_origin(&browser, &app).await;
    // Opening the page consumed nothing.
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE email_verified = true")
            .await,
        0
    );
    browser.click(&button).await;
    assert!(
        browser
            .wait_for_text("Your email is verified", Duration::from_secs(10))
            .await
            .is_some(),
        "the success text"
    );
    assert_same_origin(&browser, &app).await;
    assert_eq!(app.login(&address, PASSWORD).await.status, 200);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_verification_link_offers_a_new_one() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| s.tokens.verify_email_ttl = Duration::from_secs(1))
        .await;
    let address = email("browser-expired");
    assert_eq!(app.register(&address).await.status, 201);
    let mail = env.mail.wait_for(&address, Duration::from_secs(20)).await;
    // The link lives one second: let it pass (time passing, polled).
    let registered = std::time::Instant::now();
    auth_tests::eventually(Duration::from_secs(5), || async {
        (registered.elapsed() > Duration::from_millis(1500)).then_some(())
    })
    .await;
    browser.goto(&local(&app, &mail.link())).await;
    let button = browser
        .wait_for("#verify", Duration::from_secs(10))
        .await
        .expect("the button");
    browser.click(&button).await;
    assert!(
        browser
            .wait_for_text(
                "This link has expired. Please request a new one",
                Duration::from_secs(10)
            )
            .await
            .is_some(),
        "the expired text"
    );
    let field = browser.find("#email").await.expect("the resend form");
    browser.type_into(&field, &address).await;
    let resend = browser.find("#resend").await.expect("the resend button");
    browser.click(&resend).await;
    assert!(
        browser
            .wait_for_text("a new link is on its way", Duration::from_secs(10))
            .await
            .is_some()
    );
    assert_same_origin(&browser, &app).await;
    let second = auth_tests::eventually(Duration::from_secs(20), || async {
        (env.mail.count_for(&address).await == 2).then_some(())
    })
    .await;
    assert!(second.is_some(), "a new verification mail");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_flow_in_a_browser_shows_the_broken_rules_then_succeeds() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("browser-reset");
    let old = app.verified_login(&address).await;

    browser.goto(&format!("{}/forgot-password", app.base)).await;
    let field = browser
        .wait_for("#email", Duration::from_secs(10))
        .await
        .expect("the forgot form");
    browser.type_into(&field, &address).await;
    let send = browser.find("#send").await.expect("the button");
    browser.click(&send).await;
    assert!(
        browser
            .wait_for_text(
                "If an account exists, a link is on its way",
                Duration::from_secs(10)
            )
            .await
            .is_some()
    );
    assert_same_origin(&browser, &app).await;

    let mail = env
        .mail
        .wait_for_subject(&address, "Reset your", Duration::from_secs(20))
        .await;
    browser.goto(&local(&app, &mail.link())).await;
    let fill = |password: &'static str| {
        let browser = &browser;
        async move {
            let first = browser
                .wait_for("#password", Duration::from_secs(10))
                .await
                .expect("the reset form");
            browser.type_into(&first, password).await;
            let second = browser.find("#confirm").await.expect("the second field");
            browser.type_into(&second, password).await;
            let submit = browser.find("#reset").await.expect("the button");
            browser.click(&submit).await;
        }
    };
    fill("short").await;
    let errors = browser
        .wait_for("#errors li[data-rule='too_short']", Duration::from_secs(10))
        .await;
    assert!(errors.is_some(), "a weak password is shown by rule");
    assert_same_origin(&browser, &app).await;
    fill("Fresh-Lantern-88").await;
    assert!(
        browser
            .wait_for_text("Your password has been changed", Duration::from_secs(10))
            .await
            .is_some(),
        "the success text"
    );
    assert_same_origin(&browser, &app).await;
    app.get_authed("/api/v1/auth/me", &old.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(app.login(&address, "Fresh-Lantern-88").await.status, 200);
    browser.close().await;
}
