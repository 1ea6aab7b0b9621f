//! INT-4, batch requests: a company, its legal entity and a deal in one request; references;
//! 424 for dependents of a failure; halt_on_error; atomic rollback proven by reading back;
//! authorisation, rate limiting and idempotency per operation; refused batch shapes.

use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};

async fn batch_as(app: &TestApp, token: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
    let mut req = app.request(Method::POST, "/api/v1/batch", token).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn batch(app: &TestApp, body: &Value) -> (u16, Value) {
    batch_as(app, &app.admin_token, body, None).await
}

async fn total(app: &TestApp, path: &str) -> u64 {
    let body: Value = app
        .get(&format!("{path}?include_total=true&limit=1"))
        .await
        .json()
        .await
        .unwrap();
    body["total"].as_u64().unwrap()
}

fn client_ops(name: &str, inn: &str) -> Value {
    json!([
        {"id": "company", "method": "POST", "path": "/api/v1/companies", "body": {"name": name}},
        {"id": "entity", "method": "POST", "path": "/api/v1/legal-entities", "body": {
            "company_id": "{{company.body.id}}", "kind": "legal_entity", "full_name": name,
            "short_name": name, "inn": inn, "kpp": "773601001", "legal_address": "Москва"}},
        {"id": "deal", "method": "POST", "path": "/api/v1/deals", "body": {
            "title": format!("Камеры для {name}"), "company_id": "{{company.body.id}}",
            "legal_entity_id": "{{entity.body.id}}"}},
        {"id": "read", "method": "GET", "path": "/api/v1/deals/{{deal.body.id}}"}
    ])
}

fn statuses(body: &Value) -> Vec<u64> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_company_its_legal_entity_and_a_deal_in_one_request() {
    let app = TestApp::spawn().await;
    let (status, body) = batch(
        &app,
        &json!({"ops": client_ops("ТСЖ «Берёзка»", "7707083893")}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&body), vec![201, 201, 201, 200], "{body}");
    assert_eq!(body["committed"], true);
    let r = &body["results"];
    assert_eq!(r[0]["id"], "company");
    assert!(
        r[0]["headers"]["location"]
            .as_str()
            .unwrap()
            .contains("/companies/")
    );
    assert!(r[0]["headers"]["etag"].is_string());
    assert_eq!(r[1]["body"]["company_id"], r[0]["body"]["id"]);
    assert_eq!(r[3]["body"]["company_id"], r[0]["body"]["id"]);
    assert_eq!(r[3]["body"]["legal_entity_id"], r[1]["body"]["id"]);
    // Read back over HTTP.
    let deal = app
        .get(&format!(
            "/api/v1/deals/{}",
            r[2]["body"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(deal.status(), 200);
}

#[tokio::test]
async fn dependents_of_a_failure_are_424_and_halt_on_error_stops_the_rest() {
    let app = TestApp::spawn().await;
    let ops = json!([
        {"id": "bad", "method": "POST", "path": "/api/v1/companies", "body": {"name": ""}},
        {"id": "uses_bad", "method": "GET", "path": "/api/v1/companies/{{bad.body.id}}"},
        {"id": "after", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Ива»"}, "depends_on": ["uses_bad"]},
        {"id": "free", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Ель»"}}
    ]);
    let (status, body) = batch(&app, &json!({"ops": ops})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&body), vec![422, 424, 424, 201], "{body}");
    assert_eq!(body["results"][1]["body"]["code"], "failed_dependency");
    assert_eq!(body["failed_op"], "bad");
    assert_eq!(total(&app, "/api/v1/companies").await, 1);

    let (_, body) = batch(&app, &json!({"halt_on_error": true, "ops": [
        {"id": "one", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Сосна»"}},
        {"id": "two", "method": "POST", "path": "/api/v1/companies", "body": {"name": 5}},
        {"id": "three", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Кедр»"}}
    ]})).await;
    assert_eq!(statuses(&body), vec![201, 422, 412], "{body}");
    assert_eq!(body["results"][2]["body"]["code"], "batch_halted");
    // Not atomic: the first stays.
    assert_eq!(total(&app, "/api/v1/companies").await, 2);
}

#[tokio::test]
async fn an_atomic_batch_that_fails_leaves_nothing_and_no_event() {
    let app = TestApp::spawn().await;
    let head: Value = app.get("/api/v1/events/head").await.json().await.unwrap();
    let cursor = head["cursor"].as_str().unwrap().to_owned();
    let mut ops = client_ops("ТСЖ «Липа»", "7707083893");
    // A legal entity with a wrong INN check digit fails after the company was created.
    ops[1]["body"]["inn"] = json!("7707083890");
    let (status, body) = batch(&app, &json!({"atomic": true, "ops": ops})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["committed"], false);
    assert_eq!(body["failed_op"], "entity");
    assert_eq!(statuses(&body), vec![409, 422, 412, 412], "{body}");
    assert_eq!(body["results"][0]["body"]["code"], "batch_rolled_back");
    assert_eq!(total(&app, "/api/v1/companies").await, 0);
    assert_eq!(total(&app, "/api/v1/legal-entities").await, 0);
    assert_eq!(total(&app, "/api/v1/deals").await, 0);
    // A later write shows in the feed; nothing of the batch is before it.
    let (s, _) = batch(&app, &json!({"ops": [
        {"id": "c", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Вяз»"}}
    ]})).await;
    assert_eq!(s, 200);
    let events = sdelka_tests::eventually(std::time::Duration::from_secs(30), || async {
        let page: Value = app
            .get(&format!("/api/v1/events?after={cursor}&limit=100"))
            .await
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().cloned().unwrap_or_default();
        (!items.is_empty()).then_some(items)
    })
    .await
    .expect("the later write reaches the feed");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "company.created");

    // The same batch, fixed, commits everything.
    let (_, body) = batch(
        &app,
        &json!({"atomic": true, "ops": client_ops("ТСЖ «Липа»", "7707083893")}),
    )
    .await;
    assert_eq!(body["committed"], true, "{body}");
    assert_eq!(statuses(&body), vec![201, 201, 201, 200]);
    assert_eq!(total(&app, "/api/v1/companies").await, 2);
    assert_eq!(total(&app, "/api/v1/deals").await, 1);
}

#[tokio::test]
async fn each_operation_is_authorised_as_the_caller() {
    let app = TestApp::spawn().await;
    let (_, body) = batch(&app, &json!({"ops": [
        {"id": "c", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Админ»"}}
    ]})).await;
    let admins = body["results"][0]["body"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, manager) = app
        .user_with_roles("m@example.com", &["sales_manager"])
        .await;
    let (status, body) = batch_as(&app, &manager, &json!({"ops": [
        {"id": "see", "method": "GET", "path": format!("/api/v1/companies/{admins}")},
        {"id": "change", "method": "PATCH", "path": format!("/api/v1/companies/{admins}"), "body": {"name": "Чужая"}},
        {"id": "users", "method": "POST", "path": "/api/v1/users", "body": {"email": "x@example.com", "name": "x", "password": "password-123", "roles": ["admin"]}},
        {"id": "own", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Своя»"}}
    ]}), None).await;
    assert_eq!(status, 200, "{body}");
    let s = statuses(&body);
    assert_eq!(s[0], 404, "{body}");
    assert!(s[1] == 404 || s[1] == 403, "{body}");
    assert_eq!(s[2], 403, "{body}");
    assert_eq!(s[3], 201, "{body}");
    // Without a credential the batch itself is refused.
    let res = app
        .client
        .post(app.url("/api/v1/batch"))
        .json(&json!({"ops": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_batch_costs_as_many_requests_as_it_runs() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 0.001;
        c.rate_limit_burst = 5.0;
    })
    .await;
    let ops: Vec<Value> = (0..4)
        .map(|i| json!({"id": format!("g{i}"), "method": "GET", "path": "/api/v1/companies"}))
        .collect();
    let (status, body) = batch(&app, &json!({"ops": ops})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&body), vec![200, 200, 200, 200]);
    // 4 used of 5: the last operation reports one left.
    assert_eq!(
        body["results"][3]["headers"]["ratelimit-remaining"], "1",
        "{body}"
    );
    let (_, body) = batch(
        &app,
        &json!({"ops": [
            {"id": "a", "method": "GET", "path": "/api/v1/companies"},
            {"id": "b", "method": "GET", "path": "/api/v1/companies"}
        ]}),
    )
    .await;
    assert_eq!(statuses(&body), vec![200, 429], "{body}");
    assert_eq!(body["results"][1]["body"]["code"], "rate_limited");
}

#[tokio::test]
async fn idempotency_keys_per_operation_and_for_the_whole_batch() {
    let app = TestApp::spawn().await;
    let body = json!({"ops": [
        {"id": "c", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Ключ»"}, "headers": {"Idempotency-Key": "op-key-1"}}
    ]});
    let (_, first) = batch(&app, &body).await;
    let (_, again) = batch(&app, &body).await;
    assert_eq!(first["results"][0]["status"], 201, "{first}");
    assert_eq!(again["results"][0]["status"], 201);
    assert_eq!(
        again["results"][0]["headers"]["idempotent-replayed"], "true",
        "{again}"
    );
    assert_eq!(
        again["results"][0]["body"]["id"],
        first["results"][0]["body"]["id"]
    );
    assert_eq!(total(&app, "/api/v1/companies").await, 1);

    let whole = json!({"ops": [
        {"id": "c", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Целиком»"}},
        {"id": "d", "method": "POST", "path": "/api/v1/deals", "body": {"title": "Сделка", "company_id": "{{c.body.id}}"}}
    ]});
    let (_, one) = batch_as(&app, &app.admin_token, &whole, Some("batch-key-1")).await;
    let (_, two) = batch_as(&app, &app.admin_token, &whole, Some("batch-key-1")).await;
    assert_eq!(one, two);
    assert_eq!(total(&app, "/api/v1/companies").await, 2);
    assert_eq!(total(&app, "/api/v1/deals").await, 1);
}

#[tokio::test]
async fn malformed_batches_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let get = |id: &str| json!({"id": id, "method": "GET", "path": "/api/v1/companies"});
    let many: Vec<Value> = (0..51).map(|i| get(&format!("o{i}"))).collect();
    let cases = [
        (json!({"ops": many}), "ops", "too_many"),
        (json!({"ops": []}), "ops", "required"),
        (
            json!({"ops": [{"id": "b", "method": "POST", "path": "/api/v1/batch", "body": {"ops": []}}]}),
            "ops[0].path",
            "nested_batch",
        ),
        (
            json!({"ops": [{"id": "f", "method": "POST", "path": "/api/v1/files"}]}),
            "ops[0].path",
            "upload_not_supported",
        ),
        (
            json!({"ops": [get("a"), {"id": "x", "method": "GET", "path": "/api/v1/companies/{{nobody.body.id}}"}]}),
            "ops[1].path",
            "unknown_operation",
        ),
        (
            json!({"ops": [{"id": "x", "method": "GET", "path": "/api/v1/companies/{{y.body.id}}"}, get("y")]}),
            "ops[0].path",
            "forward_reference",
        ),
        (
            json!({"ops": [
            {"id": "x", "method": "GET", "path": "/api/v1/companies", "depends_on": ["y"]},
            {"id": "y", "method": "GET", "path": "/api/v1/companies", "depends_on": ["x"]}]}),
            "ops[0].depends_on[0]",
            "dependency_cycle",
        ),
        (
            json!({"ops": [get("a"), get("a")]}),
            "ops[1].id",
            "duplicate",
        ),
        (
            json!({"ops": [{"id": "a", "method": "TRACE", "path": "/api/v1/companies"}]}),
            "ops[0].method",
            "unknown_value",
        ),
        (
            json!({"ops": [{"id": "a", "method": "GET"}]}),
            "ops[0]",
            "required",
        ),
    ];
    for (body, field, code) in cases {
        let (status, problem) = batch(&app, &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"].as_str().unwrap().starts_with(field) && e["code"] == code),
            "{field} {code}: {problem}"
        );
    }
    // A multipart batch is refused as such.
    let res = app
        .request(Method::POST, "/api/v1/batch", &app.admin_token)
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
}
