//! API-2, API-4, API-5: problem documents, idempotency keys, optimistic concurrency — and that
//! a refused request leaves the database as it was.

use reqwest::Method;
use sdelka_tests::{TestApp, organization_body};
use serde_json::{Value, json};

async fn organization_count(app: &TestApp) -> u64 {
    let body: Value = app
        .get("/api/v1/organizations?include_total=true&limit=1")
        .await
        .json()
        .await
        .unwrap();
    body["total"].as_u64().unwrap()
}

async fn event_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let store = &app.server.as_ref().unwrap().state.store;
    sdelka_persistence::entity::domain_event::Entity::find()
        .count(&store.conn)
        .await
        .unwrap()
}

async fn problem(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    (status, res.json().await.unwrap())
}

async fn raw_post(app: &TestApp, body: &str, content_type: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/organizations", &app.admin_token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_input_gets_its_documented_problem_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = (organization_count(&app).await, event_count(&app).await);

    let (status, body) = problem(raw_post(&app, "{\"name\": ", "application/json").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "malformed_request");
    assert!(body["request_id"].is_string());

    let mut wrong_type = organization_body("RM", "Ромашка");
    wrong_type["vat_payer"] = json!("yes");
    let (status, body) =
        problem(raw_post(&app, &wrong_type.to_string(), "application/json").await).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "vat_payer");
    assert_eq!(body["errors"][0]["code"], "invalid_type");

    let mut missing = organization_body("RM", "Ромашка");
    missing.as_object_mut().unwrap().remove("inn");
    let (status, body) =
        problem(raw_post(&app, &missing.to_string(), "application/json").await).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "inn");
    assert_eq!(body["errors"][0]["code"], "required");

    let mut unknown = organization_body("RM", "Ромашка");
    unknown["colour"] = json!("red");
    let (status, body) =
        problem(raw_post(&app, &unknown.to_string(), "application/json").await).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["code"], "unknown_field");

    let mut bad_inn = organization_body("RM", "Ромашка");
    bad_inn["inn"] = json!("7707083894");
    bad_inn["bank_accounts"][0]["settlement_account"] = json!("40702810838000000001");
    let (status, body) =
        problem(raw_post(&app, &bad_inn.to_string(), "application/json").await).await;
    assert_eq!(status, 422);
    let errors = body["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == "inn" && e["code"] == "checksum_mismatch"),
        "{body}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == "bank_accounts[0].settlement_account"
                && e["code"] == "checksum_mismatch"),
        "{body}"
    );

    let (status, body) = problem(
        raw_post(
            &app,
            &organization_body("RM", "x").to_string(),
            "text/plain",
        )
        .await,
    )
    .await;
    assert_eq!(status, 415);
    assert_eq!(body["code"], "unsupported_media_type");

    let mut huge = organization_body("RM", "Ромашка");
    huge["legal_address"] = json!("x".repeat(2 * 1024 * 1024));
    let (status, body) = problem(raw_post(&app, &huge.to_string(), "application/json").await).await;
    assert_eq!(status, 413);
    assert_eq!(body["code"], "payload_too_large");

    let res = app
        .request(
            Method::GET,
            "/api/v1/organizations?limit=500",
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    let (status, body) = problem(res).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "limit");

    let res = app.get("/api/v1/organizations/not-a-uuid").await;
    assert_eq!(res.status(), 404);

    assert_eq!(
        (organization_count(&app).await, event_count(&app).await),
        before
    );
}

#[tokio::test]
async fn idempotency_key_replays_and_refuses_another_body() {
    let app = TestApp::spawn().await;
    let send = |body: Value, key: &'static str| {
        let app = &app;
        async move {
            app.request(Method::POST, "/api/v1/organizations", &app.admin_token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let first = send(organization_body("RM", "Ромашка"), "key-1").await;
    assert_eq!(first.status(), 201);
    let first_location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();

    let again = send(organization_body("RM", "Ромашка"), "key-1").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], first_location);
    let again_body: Value = again.json().await.unwrap();
    assert_eq!(again_body, first_body);
    assert_eq!(organization_count(&app).await, 1);
    let events = event_count(&app).await;

    let other = send(organization_body("RM2", "Лютик"), "key-1").await;
    let (status, body) = problem(other).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "idempotency_key_reused");
    assert_eq!(organization_count(&app).await, 1);
    assert_eq!(event_count(&app).await, events);

    // The same key from another user is another key.
    let (_, other_admin) = app.user_with_roles("admin2@example.com", &["admin"]).await;
    let res = app
        .request(Method::POST, "/api/v1/organizations", &other_admin)
        .header("idempotency-key", "key-1")
        .json(&organization_body("RM3", "Василёк"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let res = app
        .request(Method::POST, "/api/v1/organizations", &app.admin_token)
        .header("idempotency-key", "k".repeat(256))
        .json(&organization_body("RM4", "Мак"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_key_whose_request_never_committed_is_unknown() {
    use sdelka_persistence::entity::idempotency_key;
    use sdelka_persistence::idempotency::{Lookup, lookup};
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::spawn().await;
    let conn = &app.server.as_ref().unwrap().state.store.conn;
    assert!(matches!(
        lookup(conn, "user:x", "k", "h1").await.unwrap(),
        Lookup::Unknown
    ));
    // A reservation an earlier version left behind when it crashed does not block the key:
    // nothing runs it, so the key is unknown (and the row goes).
    let at = chrono::Utc::now();
    idempotency_key::ActiveModel {
        scope: Set("user:x".into()),
        key: Set("k".into()),
        request_hash: Set("h1".into()),
        state: Set("in_flight".into()),
        response_status: Set(None),
        response_headers: Set(None),
        response_body: Set(None),
        created_at: Set(at),
        expires_at: Set(at + chrono::Duration::hours(24)),
    }
    .insert(conn)
    .await
    .unwrap();
    assert!(matches!(
        lookup(conn, "user:x", "k", "h1").await.unwrap(),
        Lookup::Unknown
    ));
    assert!(matches!(
        lookup(conn, "user:x", "k", "h2").await.unwrap(),
        Lookup::Unknown
    ));
}

#[tokio::test]
async fn stale_if_match_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let created = app
        .post("/api/v1/organizations", &organization_body("RM", "Ромашка"))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["etag"], "\"1\"");
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/organizations/{id}");

    let ok = app
        .request(Method::PATCH, &path, &app.admin_token)
        .header("if-match", "\"1\"")
        .json(&json!({"short_name": "Ромашка-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["etag"], "\"2\"");

    let stale = app
        .request(Method::PATCH, &path, &app.admin_token)
        .header("if-match", "\"1\"")
        .json(&json!({"short_name": "Ромашка-3"}))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(stale).await;
    assert_eq!(status, 412);
    assert_eq!(body["code"], "stale_version");
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["short_name"], "Ромашка-2");
    assert_eq!(now["version"], 2);

    let stale_delete = app
        .request(Method::DELETE, &path, &app.admin_token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale_delete.status(), 412);
    assert_eq!(app.get(&path).await.status(), 200);
}

#[tokio::test]
async fn concurrent_writers_with_the_same_version_one_wins() {
    let app = TestApp::spawn().await;
    let created: Value = app
        .post("/api/v1/organizations", &organization_body("RM", "Ромашка"))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/organizations/{}", created["id"].as_str().unwrap());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let req = app
            .request(Method::PATCH, &path, &app.admin_token)
            .header("if-match", "\"1\"")
            .json(&json!({"short_name": format!("writer {i}")}));
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["version"], 2);
}

#[tokio::test]
async fn every_change_leaves_a_timeline_entry_with_before_and_after() {
    let app = TestApp::spawn().await;
    let created: Value = app
        .post("/api/v1/organizations", &organization_body("RM", "Ромашка"))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/organizations/{id}"),
            &json!({"short_name": "Лютик", "vat_payer": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let timeline: Value = app
        .get(&format!("/api/v1/organizations/{id}/timeline"))
        .await
        .json()
        .await
        .unwrap();
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{timeline}");
    assert_eq!(items[0]["action"], "updated");
    assert_eq!(
        items[0]["changes"]["short_name"],
        json!({"before": "Ромашка", "after": "Лютик"})
    );
    assert_eq!(
        items[0]["changes"]["vat_payer"],
        json!({"before": true, "after": false})
    );
    assert!(items[0]["changes"].get("version").is_none());
    assert_eq!(items[1]["action"], "created");
    let me: Value = app.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(items[0]["actor_id"], me["id"]);

    use sdelka_persistence::entity::domain_event;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let store = &app.server.as_ref().unwrap().state.store;
    let events = domain_event::Entity::find()
        .filter(domain_event::Column::EntityType.eq("organization"))
        .order_by_asc(domain_event::Column::Seq)
        .all(&store.conn)
        .await
        .unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["organization.created", "organization.updated"]);
    let payload: Value = serde_json::from_str(&events[1].payload).unwrap();
    assert_eq!(payload["object"]["short_name"], "Лютик");
    assert_eq!(
        payload["changed_fields"],
        json!(["short_name", "vat_payer"])
    );
}

#[tokio::test]
async fn nul_characters_are_refused_on_every_backend() {
    let app = TestApp::spawn().await;
    let res = raw_post(
        &app,
        &organization_body("RM", "Ромашка\u{0}").to_string(),
        "application/json",
    )
    .await;
    let (status, body) = problem(res).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["code"], "nul_character");
    let res = app.get("/api/v1/organizations?q=%00").await;
    let (status, _) = problem(res).await;
    assert_eq!(status, 422);
    assert_eq!(organization_count(&app).await, 0);
}
