//! Mail goes through the outbox: an SMTP outage delays it, never loses it.

use std::time::Duration;

use auth_tests::{TestEnv, email, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_outage_delays_mail_and_never_loses_it() {
    let env = TestEnv::new().await;
    env.mail.refuse(true);
    let app = env
        .spawn_with(|s| {
            s.mail.retry_base = Duration::from_millis(200);
            s.mail.retry_max = Duration::from_millis(400);
        })
        .await;
    let address = email("outage");
    assert_eq!(
        app.register(&address).await.status,
        201,
        "registration does not wait for mail"
    );

    let retried = eventually(Duration::from_secs(20), || async {
        let attempts = env.query_i64("SELECT CAST(COALESCE(MAX(attempts), 0) AS BIGINT) FROM outbox WHERE status = 'pending'").await;
        (attempts >= 2).then_some(attempts)
    })
    .await;
    assert!(retried.is_some(), "delivery was retried while SMTP refused");
    assert_eq!(env.mail.count_for(&address).await, 0);

    env.mail.refuse(false);
    let mail = env.mail.wait_for(&address, Duration::from_secs(20)).await;
    assert!(
        mail.subject.starts_with("Verify your email address"),
        "{}",
        mail.subject
    );
    let sent = eventually(Duration::from_secs(10), || async {
        (env.query_i64("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
            .await
            == 1)
            .then_some(())
    })
    .await;
    assert!(sent.is_some(), "the message is marked sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_transport_writes_eml_files() {
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    let app = env
        .spawn_with(|s| {
            s.mail.transport = auth_infrastructure::settings::MailTransport::File;
            s.mail.dir = mail_dir.clone();
        })
        .await;
    let address = email("file");
    assert_eq!(app.register(&address).await.status, 201);
    let file = eventually(Duration::from_secs(20), || async {
        std::fs::read_dir(&mail_dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "eml"))
    })
    .await
    .expect("an .eml file");
    let raw = std::fs::read_to_string(file).unwrap();
    assert!(raw.contains(&format!("To: <{address}>")));
    assert!(
        raw.contains("http://localhost:8001/verify-email?token="),
        "the link is on one line"
    );
}
