//! CAT-1/2, DEAL-1..3: catalog, VAT, pipelines and stages, deals with product rows,
//! visibility of deals by responsible user.

use std::collections::HashSet;

use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};

async fn body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post_as(app: &TestApp, token: &str, path: &str, b: &Value) -> (u16, Value) {
    body(
        app.request(Method::POST, path, token)
            .json(b)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    body(app.request(Method::GET, path, token).send().await.unwrap()).await
}

async fn patch_as(app: &TestApp, token: &str, path: &str, b: &Value) -> (u16, Value) {
    body(
        app.request(Method::PATCH, path, token)
            .json(b)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn new_deal(app: &TestApp, b: Value) -> Value {
    let (status, deal) = body(app.post("/api/v1/deals", &b).await).await;
    assert_eq!(status, 201, "{deal}");
    deal
}

async fn add_row(app: &TestApp, deal: &str, b: Value) -> Value {
    let (status, row) = body(
        app.post(&format!("/api/v1/deals/{deal}/product-rows"), &b)
            .await,
    )
    .await;
    assert_eq!(status, 201, "{row}");
    row
}

async fn deal(app: &TestApp, id: &str) -> Value {
    let (status, d) = body(app.get(&format!("/api/v1/deals/{id}")).await).await;
    assert_eq!(status, 200, "{d}");
    d
}

fn field_error(problem: &Value) -> (&str, &str) {
    (
        problem["errors"][0]["field"].as_str().unwrap_or_default(),
        problem["errors"][0]["code"].as_str().unwrap_or_default(),
    )
}

async fn default_pipeline(app: &TestApp) -> Value {
    let (_, list) = body(app.get("/api/v1/pipelines").await).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["is_default"] == true)
        .cloned()
        .unwrap()
}

fn stage_id(pipeline: &Value, name: &str) -> String {
    pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn vat_worked_examples_are_computed_per_line() {
    let app = TestApp::spawn().await;
    let d = new_deal(&app, json!({"title": "НДС по строкам"})).await;
    let id = d["id"].as_str().unwrap();

    // Three lines of 0.10 at 22 % on top: 0.02 VAT each, 0.06 in all (0.07 if the total
    // were rounded).
    for _ in 0..3 {
        let row = add_row(
            &app,
            id,
            json!({"name": "Болт", "price": "0.10", "vat_rate": "22"}),
        )
        .await;
        assert_eq!(
            (&row["net"], &row["vat"], &row["total"]),
            (&json!("0.10"), &json!("0.02"), &json!("0.12"))
        );
    }
    let (_, rows) = body(app.get(&format!("/api/v1/deals/{id}/product-rows")).await).await;
    let vat: i64 = rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["vat"]
                .as_str()
                .unwrap()
                .replace('.', "")
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(vat, 6, "VAT is the sum of the rounded lines: 0.06");
    assert_eq!(deal(&app, id).await["amount"], "0.36");

    // VAT included: 122.00 at 22 % → net 100.00, VAT 22.00.
    let row = add_row(
        &app,
        id,
        json!({"name": "Монтаж", "price": "122.00", "vat_rate": "22", "vat_included": true}),
    )
    .await;
    assert_eq!(row["net"], "100.00");
    assert_eq!(row["vat"], "22.00");
    assert_eq!(row["total"], "122.00");
    assert_eq!(row["vat_rate_label"], "22%");

    // A discount: 3 × 333.33 = 999.99 less 10 % (100.00) = 899.99 net, 22 % → 198.00.
    let row = add_row(
        &app,
        id,
        json!({"name": "Камера", "quantity": "3", "price": "333.33", "discount_percent": "10", "vat_rate": "22"}),
    )
    .await;
    assert_eq!(row["sum"], "999.99");
    assert_eq!(row["discount"], "100.00");
    assert_eq!(row["discount_percent"], "10.00");
    assert_eq!(row["net"], "899.99");
    assert_eq!(row["vat"], "198.00");
    assert_eq!(row["total"], "1097.99");

    // "Без НДС" is its own rate: no VAT, and reported as such, not as 0 %.
    let row = add_row(
        &app,
        id,
        json!({"name": "Консультация", "quantity": "1.5", "unit_code": "356", "unit_name": "ч", "price": "1000.00", "vat_rate": "none"}),
    )
    .await;
    assert_eq!(row["vat"], "0.00");
    assert_eq!(row["vat_rate"], "none");
    assert_eq!(row["vat_rate_label"], "без НДС");
    assert_eq!(row["quantity"], "1.500");
    assert_eq!(row["total"], "1500.00");
    assert_eq!(deal(&app, id).await["amount"], "2720.35");

    // 20 % is the rate of documents dated before 2026: refused for a row priced today.
    let (status, problem) = body(
        app.post(
            &format!("/api/v1/deals/{id}/product-rows"),
            &json!({"name": "Старый тариф", "price": "1.00", "vat_rate": "20"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        field_error(&problem),
        ("vat_rate", "vat_rate_not_valid_on_date")
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("until 2025-12-31"),
        "{problem}"
    );

    // A discount larger than the line, and two discounts at once, are refused.
    let (status, problem) = body(
        app.post(
            &format!("/api/v1/deals/{id}/product-rows"),
            &json!({"name": "X", "price": "10.00", "discount_amount": "10.01"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("discount", "discount_exceeds_sum"));
    let (status, _) = body(
        app.post(
            &format!("/api/v1/deals/{id}/product-rows"),
            &json!({"name": "X", "price": "10.00", "discount_amount": "1", "discount_percent": "1"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let (status, problem) = body(
        app.post(
            &format!("/api/v1/deals/{id}/product-rows"),
            &json!({"name": "X", "price": "10.001"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("price", "too_many_decimals"));
    assert_eq!(
        deal(&app, id).await["amount"],
        "2720.35",
        "refusals wrote nothing"
    );
}

#[tokio::test]
async fn deal_amount_follows_its_rows() {
    let app = TestApp::spawn().await;
    let d = new_deal(&app, json!({"title": "Сумма", "amount": "5000.00"})).await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["amount"], "5000.00");
    assert_eq!(d["payment_percent"], "0.00");

    let product: Value = app
        .post(
            "/api/v1/products",
            &json!({"name": "Видеокамера IP", "base_price": "2500.50", "vat_rate": "22", "unit_code": "796", "unit_name": "шт"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let row = add_row(
        &app,
        id,
        json!({"product_id": product["id"], "quantity": "2"}),
    )
    .await;
    assert_eq!(row["name"], "Видеокамера IP");
    assert_eq!(row["price"], "2500.50");
    assert_eq!(row["net"], "5001.00");
    assert_eq!(row["vat"], "1100.22");
    assert_eq!(row["total"], "6101.22");
    let after_add = deal(&app, id).await;
    assert_eq!(after_add["amount"], "6101.22");

    // With rows, the amount is theirs.
    let (status, problem) = body(
        app.patch(&format!("/api/v1/deals/{id}"), &json!({"amount": "1.00"}))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("amount", "computed_from_rows"));

    // Renaming a row leaves the amount but moves the deal's version: a stale If-Match fails.
    let row_id = row["id"].as_str().unwrap();
    let (status, renamed) = body(
        app.patch(
            &format!("/api/v1/deals/{id}/product-rows/{row_id}"),
            &json!({"name": "Видеокамера IP 4 Мп"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    let after_rename = deal(&app, id).await;
    assert_eq!(after_rename["amount"], "6101.22");
    assert!(after_rename["version"].as_i64() > after_add["version"].as_i64());
    let res = app
        .request(
            Method::PATCH,
            &format!("/api/v1/deals/{id}"),
            &app.admin_token,
        )
        .header("if-match", format!("\"{}\"", after_add["version"]))
        .json(&json!({"title": "Устаревшая правка"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);

    // The row has its own version: a stale If-Match on it is refused and changes nothing.
    let res = app
        .request(
            Method::PATCH,
            &format!("/api/v1/deals/{id}/product-rows/{row_id}"),
            &app.admin_token,
        )
        .header("if-match", format!("\"{}\"", row["version"]))
        .json(&json!({"quantity": "100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    assert_eq!(deal(&app, id).await["amount"], "6101.22");

    let (status, changed) = body(
        app.patch(
            &format!("/api/v1/deals/{id}/product-rows/{row_id}"),
            &json!({"quantity": "3", "discount_amount": "0.50"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["net"], "7501.00");
    assert_eq!(deal(&app, id).await["amount"], changed["total"]);

    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/deals/{id}/product-rows/{row_id}"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(deal(&app, id).await["amount"], "0.00");
    let (status, _) = body(
        app.patch(&format!("/api/v1/deals/{id}"), &json!({"amount": "42.00"}))
            .await,
    )
    .await;
    assert_eq!(
        status, 200,
        "without rows a manual amount is accepted again"
    );

    // The row's and the deal's changes are on their timelines.
    let (status, timeline) = body(app.get(&format!("/api/v1/deals/{id}/timeline")).await).await;
    assert_eq!(status, 200);
    assert!(timeline["items"].as_array().unwrap().len() >= 5);
}

#[tokio::test]
async fn money_and_quantities_round_trip_exactly() {
    let app = TestApp::spawn().await;
    let d = new_deal(
        &app,
        json!({"title": "Крупная сделка", "amount": "12345678901.23"}),
    )
    .await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(deal(&app, id).await["amount"], "12345678901.23");
    let (_, found) = body(
        app.get("/api/v1/deals?amount_min=12345678901.23&amount_max=12345678901.23")
            .await,
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let (_, none) = body(app.get("/api/v1/deals?amount_min=12345678901.24").await).await;
    assert_eq!(none["items"], json!([]));

    let d2 = new_deal(&app, json!({"title": "Строка с предельной ценой"})).await;
    let id2 = d2["id"].as_str().unwrap();
    add_row(
        &app,
        id2,
        json!({"name": "Объект", "price": "9999999999999.99", "quantity": "1.001", "vat_rate": "none"}),
    )
    .await;
    let (_, rows) = body(app.get(&format!("/api/v1/deals/{id2}/product-rows")).await).await;
    let rows = &rows["items"];
    assert_eq!(rows[0]["price"], "9999999999999.99");
    assert_eq!(rows[0]["quantity"], "1.001");
    // 10009999999999.98999 rounded half away from zero.
    assert_eq!(rows[0]["total"], "10009999999999.99");
    assert_eq!(deal(&app, id2).await["amount"], "10009999999999.99");

    let (status, p) = body(
        app.post(
            "/api/v1/products",
            &json!({"name": "Дорогой", "base_price": "92233720368547758.07"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{p}");
    let (_, read) = body(
        app.get(&format!("/api/v1/products/{}", p["id"].as_str().unwrap()))
            .await,
    )
    .await;
    assert_eq!(read["base_price"], "92233720368547758.07");
    let (status, problem) = body(
        app.post(
            "/api/v1/products",
            &json!({"name": "Слишком дорогой", "base_price": "92233720368547758.08"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("base_price", "out_of_range"));
}

#[tokio::test]
async fn find_or_create_under_a_race_creates_one_product() {
    let app = TestApp::spawn().await;
    let calls = (0..20).map(|_| {
        app.request(
            Method::POST,
            "/api/v1/products/find-or-create",
            &app.admin_token,
        )
        .json(&json!({"name": "Час работы инженера", "unit_code": "356", "unit_name": "ч", "base_price": "3000"}))
        .send()
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut created = 0;
    let mut ids = HashSet::new();
    for res in answers {
        let (status, p) = body(res.unwrap()).await;
        match status {
            201 => created += 1,
            200 => {}
            other => panic!("unexpected {other}: {p}"),
        }
        ids.insert(p["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let (_, list) = body(
        app.get("/api/v1/products?q=час%20работы&include_total=true")
            .await,
    )
    .await;
    assert_eq!(list["total"], 1);

    // Outer spaces do not make another product; defaults are not applied to the found one.
    let (status, p) = body(
        app.post(
            "/api/v1/products/find-or-create",
            &json!({"name": "  Час работы инженера ", "base_price": "1"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(p["base_price"], "3000.00");
    assert_eq!(p["unit_name"], "ч");
}

#[tokio::test]
async fn catalog_filters_permissions_and_names() {
    let app = TestApp::spawn().await;
    let (_, accountant) = app
        .user_with_roles("buh@example.com", &["accountant"])
        .await;
    let (_, manager) = app
        .user_with_roles("sales@example.com", &["sales_manager"])
        .await;
    let (status, _) = post_as(
        &app,
        &accountant,
        "/api/v1/products",
        &json!({"name": "Нельзя"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, p) = post_as(
        &app,
        &manager,
        "/api/v1/products",
        &json!({"name": "Кабель ВВГнг 3×2,5", "sku": "CAB-325", "section": "Кабели", "unit_code": "006", "unit_name": "м", "base_price": "85.40"}),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["currency"], "RUB");
    assert_eq!(p["vat_rate"], "22", "the standard rate of today");
    assert_eq!(p["active"], true);
    post_as(
        &app,
        &manager,
        "/api/v1/products",
        &json!({"name": "Услуга монтажа", "section": "Услуги", "active": false, "vat_rate": "none"}),
    )
    .await;

    let (status, list) = get_as(&app, &accountant, "/api/v1/products?q=кабель").await;
    assert_eq!(status, 200, "everyone reads the catalog");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["name"], "Кабель ВВГнг 3×2,5");
    for (query, expected) in [
        ("section=Услуги", "Услуга монтажа"),
        ("active=false", "Услуга монтажа"),
        ("sku=CAB-325", "Кабель ВВГнг 3×2,5"),
        ("q=КАБЕЛЬ", "Кабель ВВГнг 3×2,5"),
    ] {
        let (_, list) = get_as(&app, &accountant, &format!("/api/v1/products?{query}")).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{query}");
        assert_eq!(list["items"][0]["name"], expected, "{query}");
    }

    let (status, problem) = post_as(
        &app,
        &manager,
        "/api/v1/products",
        &json!({"name": " Кабель ВВГнг 3×2,5 "}),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    let (status, problem) = post_as(
        &app,
        &manager,
        "/api/v1/products",
        &json!({"name": "Плохой", "vat_rate": "18", "unit_code": "шт"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);

    // A deleted product frees its name.
    let id = p["id"].as_str().unwrap();
    let res = app
        .request(Method::DELETE, &format!("/api/v1/products/{id}"), &manager)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, _) = post_as(
        &app,
        &manager,
        "/api/v1/products",
        &json!({"name": "Кабель ВВГнг 3×2,5"}),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn default_pipeline_exists_once_and_pipelines_are_configurable() {
    let app = TestApp::spawn().await;
    let (_, list) = body(app.get("/api/v1/pipelines").await).await;
    let defaults: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "Продажи")
        .collect();
    assert_eq!(defaults.len(), 1);
    let stages: Vec<(&str, &str)> = defaults[0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stages,
        vec![
            ("Новая", "open"),
            ("В работе", "open"),
            ("Коммерческое предложение", "open"),
            ("Счёт выставлен", "open"),
            ("Успешно", "won"),
            ("Проиграна", "lost"),
        ]
    );

    let (status, timeline) = body(
        app.get(&format!(
            "/api/v1/pipelines/{}/timeline",
            defaults[0]["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(status, 200, "{timeline}");
    assert_eq!(timeline["items"][0]["action"], "created");

    // A second instance on the same database does not seed it again.
    let mut app = app;
    app.restart_with(|_| {}).await;
    let (_, list) = body(app.get("/api/v1/pipelines").await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let (_, manager) = app
        .user_with_roles("m@example.com", &["sales_manager"])
        .await;
    let (status, _) = post_as(
        &app,
        &manager,
        "/api/v1/pipelines",
        &json!({"name": "Холодный обзвон УК", "stages": [{"name": "Звонок", "kind": "open"}]}),
    )
    .await;
    assert_eq!(status, 403, "configuring pipelines is for admins");
    let (status, problem) = body(
        app.post(
            "/api/v1/pipelines",
            &json!({"name": "Без открытых", "stages": [{"name": "Успех", "kind": "won"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("stages", "open_stage_required"));

    let (status, cold) = body(
        app.post(
            "/api/v1/pipelines",
            &json!({"name": "Холодный обзвон УК", "sort": 1, "stages": [
                {"name": "Звонок", "kind": "open"},
                {"name": "Встреча", "kind": "open"},
                {"name": "Договор", "kind": "won"},
                {"name": "Отказ", "kind": "lost"}
            ]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{cold}");
    let cold_id = cold["id"].as_str().unwrap();
    let meeting = stage_id(&cold, "Встреча");
    let d = new_deal(
        &app,
        json!({"title": "УК «Жилсервис»", "pipeline_id": cold_id}),
    )
    .await;
    assert_eq!(d["stage_id"].as_str().unwrap(), stage_id(&cold, "Звонок"));
    let did = d["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/deals/{did}"),
        &json!({"stage_id": meeting}),
    )
    .await;

    // A stage with deals in it cannot be deleted; an empty one can.
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/pipelines/{cold_id}/stages/{meeting}"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/pipelines/{cold_id}"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let call = stage_id(&cold, "Звонок");
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/pipelines/{cold_id}/stages/{call}"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, added) = body(
        app.post(
            &format!("/api/v1/pipelines/{cold_id}/stages"),
            &json!({"name": "Повторный звонок", "kind": "open"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);
    let names: Vec<&str> = added["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["Встреча", "Договор", "Отказ", "Повторный звонок"]
    );
}

#[tokio::test]
async fn stage_moves_are_recorded_and_lost_needs_a_reason() {
    let app = TestApp::spawn().await;
    let pipeline = default_pipeline(&app).await;
    let d = new_deal(&app, json!({"title": "Домофония"})).await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(
        d["stage_id"].as_str().unwrap(),
        stage_id(&pipeline, "Новая")
    );

    let in_work = stage_id(&pipeline, "В работе");
    let (status, moved) = body(
        app.patch(
            &format!("/api/v1/deals/{id}"),
            &json!({"stage_id": in_work}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{moved}");

    let lost = stage_id(&pipeline, "Проиграна");
    let (status, problem) = body(
        app.patch(&format!("/api/v1/deals/{id}"), &json!({"stage_id": lost}))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("loss_reason", "required"));
    assert_eq!(deal(&app, id).await["stage_id"].as_str().unwrap(), in_work);

    let (status, moved) = body(
        app.patch(
            &format!("/api/v1/deals/{id}"),
            &json!({"stage_id": lost, "loss_reason": "Выбрали конкурента"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["loss_reason"], "Выбрали конкурента");

    // Creating a deal right in a lost stage needs the reason too.
    let (status, problem) = body(
        app.post(
            "/api/v1/deals",
            &json!({"title": "Сразу проиграна", "stage_id": lost}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("loss_reason", "required"));

    let (status, history) = body(app.get(&format!("/api/v1/deals/{id}/stage-history")).await).await;
    assert_eq!(status, 200);
    let h = history["items"].as_array().unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[0]["from_stage_id"], Value::Null);
    assert_eq!(h[0]["to_stage_name"], "Новая");
    assert_eq!(h[1]["from_stage_id"], h[0]["to_stage_id"]);
    assert_eq!(h[1]["to_stage_name"], "В работе");
    assert_eq!(h[2]["to_stage_name"], "Проиграна");
    assert_eq!(h[2]["to_stage_kind"], "lost");
    assert_eq!(h[0]["left_at"], h[1]["changed_at"]);
    assert_eq!(h[2]["left_at"], Value::Null);
    for e in h {
        assert!(e["seconds_in_stage"].as_i64().unwrap() >= 0);
        assert!(e["actor_id"].is_string());
    }
}

#[tokio::test]
async fn a_stage_of_another_pipeline_is_refused() {
    let app = TestApp::spawn().await;
    let (_, other) = body(
        app.post(
            "/api/v1/pipelines",
            &json!({"name": "Тендеры", "stages": [{"name": "Заявка", "kind": "open"}]}),
        )
        .await,
    )
    .await;
    let foreign = stage_id(&other, "Заявка");
    let (status, problem) = body(
        app.post(
            "/api/v1/deals",
            &json!({"title": "Чужая стадия", "stage_id": foreign}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("stage_id", "not_in_pipeline"));

    let d = new_deal(&app, json!({"title": "Своя стадия"})).await;
    let id = d["id"].as_str().unwrap();
    let (status, problem) = body(
        app.patch(
            &format!("/api/v1/deals/{id}"),
            &json!({"stage_id": foreign}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("stage_id", "not_in_pipeline"));

    // Moving the deal with its pipeline is fine.
    let (status, moved) = body(
        app.patch(
            &format!("/api/v1/deals/{id}"),
            &json!({"pipeline_id": other["id"], "stage_id": foreign}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["pipeline_id"], other["id"]);
    let (status, problem) = body(
        app.post(
            "/api/v1/deals",
            &json!({"title": "Нет воронки", "pipeline_id": "0193aaaa-0000-7000-8000-000000000000"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("pipeline_id", "not_found"));
}

#[tokio::test]
async fn deals_are_visible_by_responsible_user() {
    let app = TestApp::spawn().await;
    let (head_id, head) = app.user_with_roles("head@example.com", &["head"]).await;
    let (_, dept) = body(
        app.post(
            "/api/v1/departments",
            &json!({"name": "Отдел продаж", "head_id": head_id}),
        )
        .await,
    )
    .await;
    let mut tokens = Vec::new();
    for (email, dept_id) in [
        ("a@example.com", Some(dept["id"].clone())),
        ("b@example.com", None),
    ] {
        let (status, _) = body(
            app.post(
                "/api/v1/users",
                &json!({"email": email, "name": email, "password": "password-123",
                        "roles": ["sales_manager"], "department_id": dept_id}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 201);
        tokens.push(app.login(email, "password-123").await);
    }
    let (a, b) = (&tokens[0], &tokens[1]);
    let (status, deal_a) =
        post_as(&app, a, "/api/v1/deals", &json!({"title": "Сделка Анны"})).await;
    assert_eq!(status, 201);
    let (_, deal_b) = post_as(&app, b, "/api/v1/deals", &json!({"title": "Сделка Бориса"})).await;
    let id_b = deal_b["id"].as_str().unwrap();
    let id_a = deal_a["id"].as_str().unwrap();

    // A cannot read, list, search, price or move B's deal.
    for path in [
        format!("/api/v1/deals/{id_b}"),
        format!("/api/v1/deals/{id_b}/product-rows"),
        format!("/api/v1/deals/{id_b}/stage-history"),
        format!("/api/v1/deals/{id_b}/timeline"),
    ] {
        let (status, _) = get_as(&app, a, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, list) = get_as(&app, a, "/api/v1/deals?include_total=true").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], deal_a["id"]);
    let (_, found) = get_as(&app, a, "/api/v1/deals?q=бориса").await;
    assert_eq!(found["items"], json!([]));
    let (status, _) = patch_as(
        &app,
        a,
        &format!("/api/v1/deals/{id_b}"),
        &json!({"title": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post_as(
        &app,
        a,
        &format!("/api/v1/deals/{id_b}/product-rows"),
        &json!({"name": "x", "price": "1"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(deal(&app, id_b).await["amount"], "0.00");
    // Nor hand his own deal to B (it would vanish from his own view).
    let (status, problem) = patch_as(
        &app,
        a,
        &format!("/api/v1/deals/{id_a}"),
        &json!({"responsible_id": deal_b["responsible_id"]}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&problem), ("responsible_id", "not_found"));

    // The head sees his department's deals, not B's; the admin sees all.
    let (status, _) = get_as(&app, &head, &format!("/api/v1/deals/{id_a}")).await;
    assert_eq!(status, 200);
    let (status, _) = get_as(&app, &head, &format!("/api/v1/deals/{id_b}")).await;
    assert_eq!(status, 404);
    let (_, list) = get_as(&app, &head, "/api/v1/deals?include_total=true").await;
    assert_eq!(list["total"], 1);
    let (_, list) = body(app.get("/api/v1/deals?include_total=true").await).await;
    assert_eq!(list["total"], 2);

    // Roles: an accountant reads (nothing of others') but does not work deals.
    let (_, accountant) = app
        .user_with_roles("buh@example.com", &["accountant"])
        .await;
    let (status, _) = post_as(&app, &accountant, "/api/v1/deals", &json!({"title": "x"})).await;
    assert_eq!(status, 403);
    let (status, list) = get_as(&app, &accountant, "/api/v1/deals").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn deal_filters_and_pagination() {
    let app = TestApp::spawn().await;
    let pipeline = default_pipeline(&app).await;
    let in_work = stage_id(&pipeline, "В работе");
    // A deal's company must exist (a foreign key holds it).
    let (status, company) = body(
        app.post("/api/v1/companies", &json!({"name": "ТСЖ «Фильтр»"}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{company}");
    let company = company["id"].as_str().unwrap().to_owned();
    let specs = [
        ("Альфа", "1000.00", Some("2026-01-15"), false),
        ("Бета", "2500.50", Some("2026-02-01"), true),
        ("Гамма", "2500.50", None, true),
        ("Дельта", "99.99", Some("2026-03-31"), false),
        ("Эпсилон", "100000.00", Some("2026-02-28"), true),
        ("Дзета", "0.01", None, false),
        ("Эта", "5000.00", Some("2026-01-31"), false),
    ];
    for (title, amount, close, working) in specs {
        let mut b = json!({"title": title, "amount": amount, "expected_close_date": close});
        if working {
            b["stage_id"] = json!(in_work);
            b["company_id"] = json!(company);
        }
        new_deal(&app, b).await;
    }
    let titles = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, r) = body(
        app.get("/api/v1/deals?amount_min=100.00&amount_max=5000&sort=amount")
            .await,
    )
    .await;
    assert_eq!(titles(&r), vec!["Альфа", "Бета", "Гамма", "Эта"]);
    let (_, r) = body(
        app.get("/api/v1/deals?close_date_from=2026-02-01&close_date_to=2026-02-28&sort=expected_close_date")
            .await,
    )
    .await;
    assert_eq!(titles(&r), vec!["Бета", "Эпсилон"]);
    let (_, r) = body(
        app.get(&format!("/api/v1/deals?stage_id={in_work}&sort=-amount"))
            .await,
    )
    .await;
    assert_eq!(
        titles(&r),
        vec!["Эпсилон", "Гамма", "Бета"],
        "ties by id, descending too"
    );
    let (_, r) = body(
        app.get(&format!("/api/v1/deals?company_id={company}&q=ГАМ"))
            .await,
    )
    .await;
    assert_eq!(titles(&r), vec!["Гамма"]);
    let (status, problem) = body(app.get("/api/v1/deals?amount_min=abc").await).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "amount_min");

    // Dateless deals sort last; pages of 3 by close date cover every deal exactly once, even
    // though two deals share an amount and two share "no date".
    for sort in ["expected_close_date", "-amount", "amount", "-created_at"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/deals?limit=3&sort={sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = body(app.get(&path).await).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(titles(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7, "{sort}: {seen:?}");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7, "{sort}");
        if sort == "expected_close_date" {
            assert_eq!(&seen[..5], ["Альфа", "Эта", "Бета", "Эпсилон", "Дельта"]);
        }
        if sort == "-amount" {
            assert_eq!(seen[0], "Эпсилон");
            assert_eq!(seen[6], "Дзета");
        }
    }
}
