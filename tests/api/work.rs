//! ACT-1..ACT-5: activities, calendar, durable reminders, the notification inbox, comments
//! in the timeline, and file attachments.

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use sdelka_api::server::{build_state, start};
use sdelka_persistence::notifications::{EntityRef, notify};
use sdelka_tests::{TestApp, eventually};
use serde_json::{Value, json};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

async fn fast_reminders() -> TestApp {
    TestApp::spawn_with(|c| c.reminder_poll_ms = 50).await
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.request(Method::GET, path, token).send().await.unwrap()
}

async fn post_as(app: &TestApp, token: &str, path: &str, body: &Value) -> reqwest::Response {
    app.request(Method::POST, path, token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn inbox(app: &TestApp, token: &str) -> Vec<Value> {
    let page = json_of(get_as(app, token, "/api/v1/notifications").await).await;
    page["items"].as_array().unwrap().clone()
}

async fn create_activity(app: &TestApp, token: &str, body: Value) -> Value {
    let res = post_as(app, token, "/api/v1/activities", &body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    json_of(res).await
}

#[tokio::test]
async fn call_reminder_arrives_in_the_responsibles_inbox_once() {
    let app = fast_reminders().await;
    let (manager, token) = app
        .user_with_roles("m.ivanova@example.com", &["sales_manager"])
        .await;
    let remind_at = Utc::now() + Span::seconds(1);
    let company = a_company(&app, "ТСЖ «Берёзка»").await;
    let deal = a_deal(&app, company).await;
    let call = create_activity(
        &app,
        &app.admin_token,
        json!({"type": "call", "subject": "Перезвонить по счёту №17", "owner_type": "deal",
               "owner_id": deal, "responsible_id": manager, "call_direction": "out",
               "remind_at": remind_at, "reminder_message": "Клиент ждёт звонка"}),
    )
    .await;
    assert_eq!(call["reminder"]["state"], "pending");
    assert_eq!(call["owner_type"], "deal");

    let items = eventually(WAIT, || async {
        let items = inbox(&app, &token).await;
        (!items.is_empty()).then_some(items)
    })
    .await
    .expect("the reminder reaches the inbox");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "reminder");
    assert_eq!(items[0]["body"], "Клиент ждёт звонка");
    assert_eq!(items[0]["entity_type"], "activity");
    assert_eq!(items[0]["entity_id"], call["id"]);
    assert!(items[0]["read_at"].is_null());

    // Fired once: the reminder is spent, and another pass finds nothing to fire.
    let id = call["id"].as_str().unwrap();
    let read = json_of(get_as(&app, &token, &format!("/api/v1/activities/{id}")).await).await;
    assert_eq!(read["reminder"]["state"], "fired");
    let state = &app.server.as_ref().unwrap().state;
    let worker = sdelka_api::workers::ReminderWorker {
        store: state.store.clone(),
        config: state.config.clone(),
        owner: "test".into(),
    };
    assert_eq!(worker.tick().await.unwrap(), 0);
    assert_eq!(inbox(&app, &token).await.len(), 1);

    // The manager wants email: the reminder went to the outbox in the same transaction.
    use sea_orm::EntityTrait;
    let mails = sdelka_persistence::entity::outbox_message::Entity::find()
        .all(&state.store.conn)
        .await
        .unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.payload.contains("m.ivanova@example.com")
                && m.payload.contains("Перезвонить по счёту №17")),
        "a reminder email is queued"
    );
}

#[tokio::test]
async fn reminder_created_without_workers_fires_after_a_restart() {
    let mut app = TestApp::spawn_with(|c| c.workers = false).await;
    let (manager, token) = app
        .user_with_roles("m@example.com", &["sales_manager"])
        .await;
    let task = create_activity(
        &app,
        &app.admin_token,
        json!({"type": "task", "subject": "Подготовить КП", "responsible_id": manager,
               "remind_at": Utc::now() - Span::seconds(1)}),
    )
    .await;
    // Due already, but no instance runs workers: it stays pending, in the database.
    assert!(inbox(&app, &token).await.is_empty());
    let id = task["id"].as_str().unwrap();
    let read = json_of(get_as(&app, &token, &format!("/api/v1/activities/{id}")).await).await;
    assert_eq!(read["reminder"]["state"], "pending");

    app.restart_with(|c| {
        c.workers = true;
        c.reminder_poll_ms = 50;
    })
    .await;
    let items = eventually(WAIT, || async {
        let items = inbox(&app, &token).await;
        (!items.is_empty()).then_some(items)
    })
    .await
    .expect("the reminder fires after the restart");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["entity_id"], task["id"]);
}

#[tokio::test]
async fn two_instances_fire_each_reminder_once() {
    let app = fast_reminders().await;
    let mut second_config = app.config.clone();
    second_config.bind = "127.0.0.1:0".into();
    let second = start(build_state(second_config).await.unwrap(), false)
        .await
        .unwrap();
    let (manager, token) = app
        .user_with_roles("m@example.com", &["sales_manager"])
        .await;
    let due = Utc::now() + Span::milliseconds(500);
    let mut ids = Vec::new();
    for i in 0..12 {
        let a = create_activity(
            &app,
            &app.admin_token,
            json!({"type": "call", "subject": format!("Звонок {i}"), "responsible_id": manager,
                   "remind_at": due}),
        )
        .await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let fired = eventually(WAIT, || async {
        let page =
            json_of(get_as(&app, &token, "/api/v1/activities?limit=200&completed=false").await)
                .await;
        let items = page["items"].as_array().unwrap().clone();
        items
            .iter()
            .all(|a| a["reminder"]["state"] == "fired")
            .then_some(items)
    })
    .await
    .expect("every reminder fires");
    assert_eq!(fired.len(), 12);
    let notes = inbox(&app, &token).await;
    assert_eq!(notes.len(), 12, "one notification per reminder: {notes:?}");
    let mut about: Vec<String> = notes
        .iter()
        .map(|n| n["entity_id"].as_str().unwrap().to_owned())
        .collect();
    about.sort();
    ids.sort();
    assert_eq!(about, ids);
    second.stop(true).await;
}

#[tokio::test]
async fn inbox_counts_unread_and_marks_read_for_its_owner_only() {
    let app = TestApp::spawn().await;
    let (alice, alice_token) = app
        .user_with_roles("alice@example.com", &["sales_manager"])
        .await;
    let (bob, _) = app
        .user_with_roles("bob@example.com", &["sales_manager"])
        .await;
    let db = &app.server.as_ref().unwrap().state.store.conn;
    let entity = Some(EntityRef {
        entity_type: "deal",
        entity_id: Uuid::now_v7(),
    });
    let first = notify(db, alice, "deal_won", "Сделка выиграна", "Ромашка", entity)
        .await
        .unwrap();
    let second = notify(db, alice, "invoice_paid", "Счёт оплачен", "№17", None)
        .await
        .unwrap();
    let bobs = notify(db, bob, "deal_won", "Чужое", "", None)
        .await
        .unwrap();

    let count =
        json_of(get_as(&app, &alice_token, "/api/v1/notifications/unread-count").await).await;
    assert_eq!(count, json!({"unread": 2}));
    let items = inbox(&app, &alice_token).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second.id.to_string(), "newest first");
    assert_eq!(items[1]["entity_type"], "deal");

    let res = post_as(
        &app,
        &alice_token,
        &format!("/api/v1/notifications/{}/read", first.id),
        &json!({}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(json_of(res).await["read_at"].is_string());
    let count =
        json_of(get_as(&app, &alice_token, "/api/v1/notifications/unread-count").await).await;
    assert_eq!(count, json!({"unread": 1}));
    let unread =
        json_of(get_as(&app, &alice_token, "/api/v1/notifications?unread=true").await).await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 1);
    assert_eq!(unread["items"][0]["id"], second.id.to_string());

    // Bob's notification does not exist for Alice.
    let res = post_as(
        &app,
        &alice_token,
        &format!("/api/v1/notifications/{}/read", bobs.id),
        &json!({}),
    )
    .await;
    assert_eq!(res.status(), 404);

    let res = post_as(
        &app,
        &alice_token,
        "/api/v1/notifications/read-all",
        &json!({}),
    )
    .await;
    assert_eq!(json_of(res).await, json!({"marked": 1}));
    let count =
        json_of(get_as(&app, &alice_token, "/api/v1/notifications/unread-count").await).await;
    assert_eq!(count, json!({"unread": 0}));
    // Bob's stays unread.
    assert_eq!(
        sdelka_persistence::notifications::unread_count(db, bob)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn calendar_events_are_validated_and_found_by_participant_and_window() {
    let app = TestApp::spawn().await;
    let (guest, guest_token) = app
        .user_with_roles("guest@example.com", &["sales_manager"])
        .await;
    let (_, outsider_token) = app
        .user_with_roles("out@example.com", &["sales_manager"])
        .await;
    let starts = Utc::now() + Span::days(1);
    let res = app
        .post(
            "/api/v1/calendar-events",
            &json!({"title": "Встреча", "starts_at": starts, "ends_at": starts - Span::minutes(30)}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = json_of(res).await;
    assert_eq!(body["errors"][0]["field"], "ends_at");
    assert_eq!(body["errors"][0]["code"], "not_after_start");

    let ghost = Uuid::now_v7();
    let res = app
        .post(
            "/api/v1/calendar-events",
            &json!({"title": "Встреча", "starts_at": starts, "ends_at": starts + Span::hours(1),
                    "participants": [guest, ghost]}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = json_of(res).await;
    assert_eq!(body["errors"][0]["field"], "participants[1]");

    let res = app
        .post(
            "/api/v1/calendar-events",
            &json!({"title": "Встреча с ООО «Ромашка»", "starts_at": starts,
                    "ends_at": starts + Span::hours(1), "place": "Переговорная 2",
                    "participants": [guest], "owner_type": "company",
                    "owner_id": a_company(&app, "ООО «Ромашка»").await}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let event = json_of(res).await;
    assert_eq!(event["participants"], json!([guest]));
    let id = event["id"].as_str().unwrap();

    // The invited guest finds it by participant and by an overlapping window.
    let window = |from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>| {
        format!(
            "/api/v1/calendar-events?participant_id={guest}&from={}&to={}",
            urlencode(&from.to_rfc3339()),
            urlencode(&to.to_rfc3339())
        )
    };
    let page = json_of(
        get_as(
            &app,
            &guest_token,
            &window(starts + Span::minutes(30), starts + Span::hours(3)),
        )
        .await,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], id);
    let page = json_of(
        get_as(
            &app,
            &guest_token,
            &window(starts + Span::hours(1), starts + Span::hours(3)),
        )
        .await,
    )
    .await;
    assert!(
        page["items"].as_array().unwrap().is_empty(),
        "ends exactly at from"
    );
    // Someone neither responsible nor invited does not see it.
    let res = get_as(
        &app,
        &outsider_token,
        &format!("/api/v1/calendar-events/{id}"),
    )
    .await;
    assert_eq!(res.status(), 404);
    let page = json_of(get_as(&app, &outsider_token, "/api/v1/calendar-events").await).await;
    assert!(page["items"].as_array().unwrap().is_empty());

    // Moving the end before the start is refused on update too.
    let res = app
        .patch(
            &format!("/api/v1/calendar-events/{id}"),
            &json!({"ends_at": starts - Span::hours(1)}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "ends_at");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn time_entries_are_kept_on_tasks_only() {
    let app = TestApp::spawn().await;
    let (manager, token) = app
        .user_with_roles("m@example.com", &["sales_manager"])
        .await;
    let task = create_activity(
        &app,
        &token,
        json!({"type": "task", "subject": "Настроить обмен с 1С"}),
    )
    .await;
    assert_eq!(
        task["responsible_id"],
        manager.to_string(),
        "default: the creator"
    );
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/v1/activities/{id}/time-entries");
    let res = post_as(
        &app,
        &token,
        &path,
        &json!({"minutes": 90, "date": "2026-11-20", "comment": "выгрузка контрагентов"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let entry = json_of(res).await;
    assert_eq!(entry["user_id"], manager.to_string());
    assert_eq!(entry["date"], "2026-11-20");
    post_as(
        &app,
        &token,
        &path,
        &json!({"minutes": 30, "date": "2026-11-21"}),
    )
    .await;
    let list = json_of(get_as(&app, &token, &path).await).await;
    assert_eq!(list["total_minutes"], 120);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    let res = post_as(
        &app,
        &token,
        &path,
        &json!({"minutes": 0, "date": "2026-11-21"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "minutes");
    let res = post_as(
        &app,
        &token,
        &path,
        &json!({"minutes": 10, "date": "2026-11-21", "user_id": Uuid::now_v7()}),
    )
    .await;
    assert_eq!(res.status(), 422);

    let call = create_activity(&app, &token, json!({"type": "call", "subject": "Звонок"})).await;
    let res = post_as(
        &app,
        &token,
        &format!(
            "/api/v1/activities/{}/time-entries",
            call["id"].as_str().unwrap()
        ),
        &json!({"minutes": 10, "date": "2026-11-21"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["code"], "not_a_task");
}

#[tokio::test]
async fn comments_appear_in_the_timeline() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .user_with_roles("m@example.com", &["sales_manager"])
        .await;
    let (_, other_token) = app
        .user_with_roles("o@example.com", &["sales_manager"])
        .await;
    let task = create_activity(&app, &token, json!({"type": "task", "subject": "Сверка"})).await;
    let id = task["id"].as_str().unwrap();
    let res = post_as(
        &app,
        &token,
        &format!("/api/v1/activities/{id}/comments"),
        &json!({"text": "Акт сверки отправлен бухгалтеру"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let comments =
        json_of(get_as(&app, &token, &format!("/api/v1/activities/{id}/comments")).await).await;
    assert_eq!(
        comments["items"][0]["text"],
        "Акт сверки отправлен бухгалтеру"
    );

    let timeline =
        json_of(get_as(&app, &token, &format!("/api/v1/activities/{id}/timeline")).await).await;
    let entries = timeline["items"].as_array().unwrap();
    assert_eq!(
        entries[0]["action"], "commented",
        "newest first: {entries:?}"
    );
    assert_eq!(entries[0]["comment"], "Акт сверки отправлен бухгалтеру");
    assert_eq!(entries[1]["action"], "created");

    // Someone who cannot see the activity can neither comment on it nor read its timeline.
    let res = post_as(
        &app,
        &other_token,
        &format!("/api/v1/activities/{id}/comments"),
        &json!({"text": "?"}),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = get_as(
        &app,
        &other_token,
        &format!("/api/v1/activities/{id}/timeline"),
    )
    .await;
    assert_eq!(res.status(), 404);

    // Records of other areas take comments too; they show in their timeline, and a record
    // that does not exist takes none.
    let res = post_as(
        &app,
        &token,
        &format!("/api/v1/deals/{}/comments", Uuid::now_v7()),
        &json!({"text": "?"}),
    )
    .await;
    assert_eq!(res.status(), 404);
    let created =
        json_of(post_as(&app, &token, "/api/v1/deals", &json!({"title": "Лифты"})).await).await;
    let deal = created["id"].as_str().unwrap().to_owned();
    let res = post_as(
        &app,
        &token,
        &format!("/api/v1/deals/{deal}/comments"),
        &json!({"text": "Клиент просит скидку"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let timeline =
        json_of(get_as(&app, &token, &format!("/api/v1/deals/{deal}/timeline")).await).await;
    assert_eq!(timeline["items"][0]["comment"], "Клиент просит скидку");
    let res = post_as(
        &app,
        &token,
        &format!("/api/v1/deals/{deal}/comments"),
        &json!({"text": "  "}),
    )
    .await;
    assert_eq!(res.status(), 422);
}

fn upload_form(bytes: Vec<u8>, name: &str, mime: Option<&str>, fields: &[(&str, String)]) -> Form {
    let mut part = Part::bytes(bytes).file_name(name.to_owned());
    if let Some(m) = mime {
        part = part.mime_str(m).unwrap();
    }
    let mut form = Form::new().percent_encode_noop();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.clone());
    }
    form.part("file", part)
}

async fn upload(app: &TestApp, token: &str, form: Form) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/files", token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A company created over the API; files need a real record to hang on.
async fn a_company(app: &TestApp, name: &str) -> Uuid {
    let res = app.post("/api/v1/companies", &json!({"name": name})).await;
    assert_eq!(res.status(), 201);
    json_of(res).await["id"].as_str().unwrap().parse().unwrap()
}

async fn a_deal(app: &TestApp, company: Uuid) -> Uuid {
    let res = app
        .post(
            "/api/v1/deals",
            &json!({"title": "Лифты", "company_id": company}),
        )
        .await;
    assert_eq!(res.status(), 201);
    json_of(res).await["id"].as_str().unwrap().parse().unwrap()
}

fn pdf(len: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.4\n".to_vec();
    v.extend((0..len).map(|i| b'a' + (i % 26) as u8));
    v
}

#[tokio::test]
async fn files_round_trip_with_cyrillic_names_and_company_folders() {
    let app = TestApp::spawn().await;
    let company = a_company(&app, "ТСЖ «Берёзка»").await;
    let other_company = a_company(&app, "УК «Уют»").await;
    let deal = a_deal(&app, company).await;
    // Larger than the JSON body limit, and sent with an Idempotency-Key: uploads have their
    // own limit in the idempotency layer too.
    let content = pdf(1_500_000);
    let form = upload_form(
        content.clone(),
        "Счёт №17.pdf",
        Some("application/pdf"),
        // No company_id: a deal's file lands in the deal's company folder by itself.
        &[
            ("entity_type", "deal".into()),
            ("entity_id", deal.to_string()),
            ("document_type", "invoice_scan".into()),
        ],
    );
    let res = app
        .request(Method::POST, "/api/v1/files", &app.admin_token)
        .header("idempotency-key", "upload-1")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let file = json_of(res).await;
    assert_eq!(file["file_name"], "Счёт №17.pdf");
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(file["size_bytes"], content.len());
    use sha2::Digest;
    assert_eq!(file["sha256"], hex::encode(sha2::Sha256::digest(&content)));
    let id = file["id"].as_str().unwrap();

    let res = app.get(&format!("/api/v1/files/{id}/content")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%20%E2%84%9617.pdf"),
        "{disposition}"
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), content);

    // A text file straight on the company, and one of another company.
    let res = upload(
        &app,
        &app.admin_token,
        upload_form(
            "Реквизиты: ИНН 7707083893\n".as_bytes().to_vec(),
            "реквизиты.txt",
            Some("text/plain"),
            &[
                ("entity_type", "company".into()),
                ("entity_id", company.to_string()),
                ("document_type", "other".into()),
            ],
        ),
    )
    .await;
    assert_eq!(res.status(), 201);
    let company_file = json_of(res).await;
    assert_eq!(company_file["content_type"], "text/plain; charset=utf-8");
    let res = upload(
        &app,
        &app.admin_token,
        upload_form(
            pdf(10),
            "other.pdf",
            None,
            &[
                ("entity_type", "company".into()),
                ("entity_id", other_company.to_string()),
                ("document_type", "contract".into()),
            ],
        ),
    )
    .await;
    assert_eq!(res.status(), 201);

    let folder = json_of(
        app.get(&format!("/api/v1/files?company_id={company}"))
            .await,
    )
    .await;
    let mut names: Vec<&str> = folder["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Счёт №17.pdf", "реквизиты.txt"]);
    let deal_files = json_of(
        app.get(&format!("/api/v1/files?entity_type=deal&entity_id={deal}"))
            .await,
    )
    .await;
    assert_eq!(deal_files["items"].as_array().unwrap().len(), 1);

    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/files/{id}"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&format!("/api/v1/files/{id}")).await.status(), 404);
    let folder = json_of(
        app.get(&format!("/api/v1/files?company_id={company}"))
            .await,
    )
    .await;
    assert_eq!(folder["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn upload_over_the_limit_is_413_and_leaves_nothing_behind() {
    let app = TestApp::spawn_with(|c| c.max_upload_bytes = 1024).await;
    let company = a_company(&app, "ТСЖ").await;
    let fields = [
        ("entity_type", "company".to_owned()),
        ("entity_id", company.to_string()),
        ("document_type", "other".to_owned()),
    ];
    let res = upload(
        &app,
        &app.admin_token,
        upload_form(vec![b'x'; 4096], "big.txt", None, &fields),
    )
    .await;
    assert_eq!(res.status(), 413);
    assert_eq!(json_of(res).await["code"], "payload_too_large");
    let staging = app.data_dir.join("files").join(".staging");
    let left = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the partial upload is removed");
    let res = upload(
        &app,
        &app.admin_token,
        upload_form(vec![b'x'; 1024], "fits.txt", None, &fields),
    )
    .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn declared_content_type_must_match_the_bytes() {
    let app = TestApp::spawn().await;
    let company = a_company(&app, "ТСЖ").await;
    let fields = [
        ("entity_type", "company".to_owned()),
        ("entity_id", company.to_string()),
        ("document_type", "signed_scan".to_owned()),
    ];
    let res = upload(
        &app,
        &app.admin_token,
        upload_form(
            b"just text".to_vec(),
            "scan.pdf",
            Some("application/pdf"),
            &fields,
        ),
    )
    .await;
    assert_eq!(res.status(), 422);
    let body = json_of(res).await;
    assert_eq!(body["errors"][0]["field"], "file");
    assert_eq!(body["errors"][0]["code"], "content_type_mismatch");

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let res = upload(
        &app,
        &app.admin_token,
        upload_form(png, "scan.png", Some("image/png"), &fields),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(json_of(res).await["content_type"], "image/png");

    let res = upload(
        &app,
        &app.admin_token,
        upload_form(vec![0, 1, 2, 3, 0xff], "blob.bin", None, &fields),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json_of(res).await["errors"][0]["code"],
        "unsupported_content"
    );

    // Not a form at all.
    let res = app
        .post("/api/v1/files", &json!({"entity_type": "contract"}))
        .await;
    assert_eq!(res.status(), 415);
    // A form without the file.
    let mut form = Form::new();
    for (k, v) in &fields {
        form = form.text(k.to_string(), v.clone());
    }
    let res = upload(&app, &app.admin_token, form).await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "file");

    let mut bad = fields.to_vec();
    bad[2].1 = "passport".into();
    let res = upload(
        &app,
        &app.admin_token,
        upload_form(pdf(5), "a.pdf", None, &bad),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "document_type");
}

#[tokio::test]
async fn activities_are_visible_by_responsible_and_team() {
    let app = TestApp::spawn().await;
    let (head, head_token) = app.user_with_roles("head@example.com", &["head"]).await;
    let res = app
        .post(
            "/api/v1/departments",
            &json!({"name": "Отдел продаж", "head_id": head}),
        )
        .await;
    let dept = json_of(res).await["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            "/api/v1/users",
            &json!({"email": "a@example.com", "name": "Анна", "password": "password-123",
                    "roles": ["sales_manager"], "department_id": dept}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let anna = json_of(res).await["id"].as_str().unwrap().to_owned();
    let anna_token = app.login("a@example.com", "password-123").await;
    let (boris, boris_token) = app
        .user_with_roles("b@example.com", &["sales_manager"])
        .await;

    let annas = create_activity(
        &app,
        &anna_token,
        json!({"type": "meeting", "subject": "Встреча у клиента"}),
    )
    .await;
    let boriss = create_activity(
        &app,
        &app.admin_token,
        json!({"type": "email", "subject": "Письмо", "responsible_id": boris}),
    )
    .await;
    assert_eq!(annas["responsible_id"], anna);

    let subjects = |page: Value| -> Vec<String> {
        let mut v: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["subject"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let list = |token: String| {
        let app = &app;
        async move { json_of(get_as(app, &token, "/api/v1/activities").await).await }
    };
    assert_eq!(
        subjects(list(anna_token.clone()).await),
        ["Встреча у клиента"]
    );
    assert_eq!(subjects(list(boris_token.clone()).await), ["Письмо"]);
    assert_eq!(
        subjects(list(head_token.clone()).await),
        ["Встреча у клиента"]
    );
    assert_eq!(
        subjects(list(app.admin_token.clone()).await),
        ["Встреча у клиента", "Письмо"]
    );

    let boris_path = format!("/api/v1/activities/{}", boriss["id"].as_str().unwrap());
    assert_eq!(get_as(&app, &anna_token, &boris_path).await.status(), 404);
    assert_eq!(get_as(&app, &head_token, &boris_path).await.status(), 404);
    let res = post_as(
        &app,
        &anna_token,
        &format!("{boris_path}/complete"),
        &json!({"result": "done"}),
    )
    .await;
    assert_eq!(res.status(), 404);

    // Completing: once, with its result; the second time is a conflict.
    let annas_path = format!("/api/v1/activities/{}", annas["id"].as_str().unwrap());
    let res = post_as(
        &app,
        &head_token,
        &format!("{annas_path}/complete"),
        &json!({"result": "Договорились о поставке"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let done = json_of(res).await;
    assert_eq!(done["result"], "Договорились о поставке");
    assert!(done["completed_at"].is_string());
    let res = post_as(
        &app,
        &anna_token,
        &format!("{annas_path}/complete"),
        &json!({"result": "ещё раз"}),
    )
    .await;
    assert_eq!(res.status(), 409);
    let open = json_of(get_as(&app, &anna_token, "/api/v1/activities?completed=false").await).await;
    assert!(open["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn files_follow_the_visibility_of_their_record() {
    let app = TestApp::spawn().await;
    let (_, alice) = app
        .user_with_roles("alice@example.com", &["sales_manager"])
        .await;
    let (_, bob) = app
        .user_with_roles("bob@example.com", &["sales_manager"])
        .await;
    let deal =
        json_of(post_as(&app, &alice, "/api/v1/deals", &json!({"title": "Свой"})).await).await;
    let deal = deal["id"].as_str().unwrap().to_owned();
    let fields = [
        ("entity_type", "deal".to_owned()),
        ("entity_id", deal.clone()),
        ("document_type", "other".to_owned()),
    ];
    let res = upload(&app, &alice, upload_form(pdf(10), "a.pdf", None, &fields)).await;
    assert_eq!(res.status(), 201);
    let id = json_of(res).await["id"].as_str().unwrap().to_owned();
    assert_eq!(
        get_as(&app, &alice, &format!("/api/v1/files/{id}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        get_as(&app, &bob, &format!("/api/v1/files/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        get_as(&app, &bob, &format!("/api/v1/files/{id}/content"))
            .await
            .status(),
        404
    );
    // Bob cannot attach to Alice's deal either, nor to a deal that does not exist.
    let res = upload(&app, &bob, upload_form(pdf(10), "b.pdf", None, &fields)).await;
    assert_eq!(res.status(), 422);
    let ghost = [
        ("entity_type", "deal".to_owned()),
        ("entity_id", Uuid::now_v7().to_string()),
        ("document_type", "other".to_owned()),
    ];
    let res = upload(&app, &alice, upload_form(pdf(10), "c.pdf", None, &ghost)).await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "entity_id");
}

#[tokio::test]
async fn file_lists_hide_files_of_records_the_caller_cannot_see() {
    let app = TestApp::spawn().await;
    let (_, alice) = app
        .user_with_roles("alice@example.com", &["sales_manager"])
        .await;
    let (_, bob) = app
        .user_with_roles("bob@example.com", &["sales_manager"])
        .await;
    for (token, title) in [(&alice, "Алисина"), (&bob, "Бобова")] {
        let deal =
            json_of(post_as(&app, token, "/api/v1/deals", &json!({"title": title})).await).await;
        let fields = [
            ("entity_type", "deal".to_owned()),
            ("entity_id", deal["id"].as_str().unwrap().to_owned()),
            ("document_type", "other".to_owned()),
        ];
        let res = upload(
            &app,
            token,
            upload_form(pdf(10), &format!("{title}.pdf"), None, &fields),
        )
        .await;
        assert_eq!(res.status(), 201);
    }
    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["file_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(json_of(get_as(&app, &alice, "/api/v1/files").await).await),
        ["Алисина.pdf"]
    );
    assert_eq!(
        names(json_of(get_as(&app, &bob, "/api/v1/files").await).await),
        ["Бобова.pdf"]
    );
    assert_eq!(
        json_of(app.get("/api/v1/files").await).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
