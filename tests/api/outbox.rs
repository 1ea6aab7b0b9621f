//! RUN-2: mail leaves through the transactional outbox, over real SMTP, and survives an SMTP
//! outage and a crash between commit and delivery.

use std::time::Duration;

use sdelka_tests::smtp::{SmtpSink, free_port};
use sdelka_tests::{TestApp, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn create_user(app: &TestApp, email: &str) -> Value {
    let res = app
        .post(
            "/api/v1/users",
            &json!({"email": email, "name": "Новый сотрудник", "roles": ["sales_manager"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// The password-set token printed in a welcome email.
fn token_in(message: &str) -> String {
    let unfolded = message.replace("=\r\n", "").replace("=\n", "");
    unfolded
        .split_whitespace()
        .find(|w| w.starts_with("eyJ"))
        .expect("a token in the welcome email")
        .to_owned()
}

async fn outbox_rows(app: &TestApp) -> Vec<sdelka_persistence::entity::outbox_message::Model> {
    use sea_orm::EntityTrait;
    sdelka_persistence::entity::outbox_message::Entity::find()
        .all(&app.server.as_ref().unwrap().state.store.conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn welcome_email_reaches_the_smtp_server_and_its_link_works_once() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let app =
        TestApp::spawn_with(|c| c.smtp_url = Some(sdelka_api::config::Secret::new(url))).await;
    create_user(&app, "new.hire@example.com").await;
    let mail = eventually(WAIT, || async {
        smtp.messages_to("new.hire@example.com").into_iter().next()
    })
    .await
    .expect("the welcome email arrives");
    let rows = outbox_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert!(
        mail.contains(&format!("<{}@sdelka>", rows[0].id)),
        "Message-ID from the outbox id:\n{mail}"
    );
    let delivered = eventually(WAIT, || async {
        let rows = outbox_rows(&app).await;
        (rows[0].state == "sent").then_some(())
    })
    .await;
    assert!(delivered.is_some());

    let token = token_in(&mail);
    let set = |password: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.client
                .post(app.url("/api/v1/auth/password-set"))
                .json(&json!({"token": token, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(set("my-own-password").await, 204);
    app.login("new.hire@example.com", "my-own-password").await;
    assert_eq!(set("second-try-password").await, 401, "the link works once");
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn mail_waits_out_an_smtp_outage() {
    let port = free_port();
    let maildir = sdelka_tests::temp_dir().join("maildir");
    let app = TestApp::spawn_with(|c| {
        c.smtp_url = Some(sdelka_api::config::Secret::new(format!(
            "smtp://127.0.0.1:{port}"
        )))
    })
    .await;
    create_user(&app, "patient@example.com").await;
    // Nothing listens: the worker fails, records the error and schedules a retry.
    let failed = eventually(WAIT, || async {
        let rows = outbox_rows(&app).await;
        (rows[0].attempts >= 1 && rows[0].last_error.is_some()).then(|| rows[0].clone())
    })
    .await
    .expect("a failed attempt is recorded");
    assert_eq!(failed.state, "pending");

    let smtp = SmtpSink::start_on(port, maildir).await;
    let mail = eventually(WAIT, || async {
        smtp.messages_to("patient@example.com").into_iter().next()
    })
    .await;
    assert!(mail.is_some(), "the mail is delivered once SMTP is back");
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn mail_committed_before_a_crash_is_delivered_after_restart() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    // This instance commits the user and its mail but dies before any worker runs.
    let mut app = TestApp::spawn_with(|c| c.workers = false).await;
    create_user(&app, "survivor@example.com").await;
    app.stop(false).await;
    assert!(smtp.messages().is_empty());

    app.restart_with(|c| {
        c.workers = true;
        c.smtp_url = Some(sdelka_api::config::Secret::new(url));
    })
    .await;
    let mail = eventually(WAIT, || async {
        smtp.messages_to("survivor@example.com").into_iter().next()
    })
    .await;
    assert!(
        mail.is_some(),
        "the committed mail is delivered by the next instance"
    );
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_the_data_folder() {
    let app = TestApp::spawn().await;
    create_user(&app, "offline@example.com").await;
    let dir = app.data_dir.join("mail");
    let file = eventually(WAIT, || async {
        std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "eml"))
    })
    .await
    .expect("an .eml file");
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains("offline@example.com"));
}
