//! INT-3, bulk upsert by external id: created, then unchanged (no event), then a changed half
//! updated; bad items named by index and field; repeated keys; all_or_none and dry runs leave
//! nothing behind; legal entities by INN + KPP; products by their external id.

use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};

async fn bulk(app: &TestApp, records: &str, body: &Value) -> (u16, Value) {
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/{records}/bulk-upsert"),
            &app.admin_token,
        )
        .json(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn head(app: &TestApp) -> String {
    let body: Value = app.get("/api/v1/events/head").await.json().await.unwrap();
    body["cursor"].as_str().unwrap().to_owned()
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

fn guid(i: usize) -> String {
    format!("6f1c2a9e-3b0d-11ee-be56-{i:012}")
}

fn companies(n: usize, suffix: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "external_id": {"source": "1c", "id": guid(i)},
                "name": format!("ТСЖ №{i}{suffix}"),
                "types": ["client"],
            })
        })
        .collect()
}

#[tokio::test]
async fn a_thousand_companies_are_created_then_unchanged_then_half_updated() {
    let app = TestApp::spawn().await;
    let (status, body) = bulk(&app, "companies", &json!({"items": companies(1000, "")})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 1000);
    assert_eq!(body["committed"], true);
    let items = body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .enumerate()
            .all(|(i, r)| r["index"] == i && r["status"] == "created")
    );
    assert_eq!(total(&app, "/api/v1/companies").await, 1000);
    // The record carries its key as an external id, and reads back through the filter.
    let found: Value = app
        .get(&format!("/api/v1/companies?external_id=1c:{}", guid(7)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["id"], items[7]["id"]);

    // The same request again: nothing written, no event.
    let before = head(&app).await;
    let (status, body) = bulk(&app, "companies", &json!({"items": companies(1000, "")})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unchanged"], 1000, "{}", body["items"][0]);
    assert_eq!(head(&app).await, before, "an unchanged item left an event");
    assert_eq!(total(&app, "/api/v1/companies").await, 1000);

    // Half of them renamed: 500 updated, one event each.
    let mut items = companies(1000, "");
    for (i, item) in items.iter_mut().enumerate() {
        if i % 2 == 0 {
            item["name"] = json!(format!("ТСЖ №{i} (новое имя)"));
        }
    }
    let (status, body) = bulk(&app, "companies", &json!({"items": items})).await;
    assert_eq!(status, 200);
    assert_eq!(body["updated"], 500);
    assert_eq!(body["unchanged"], 500);
    let events: Value = app
        .get(&format!("/api/v1/events?after={before}&limit=1000"))
        .await
        .json()
        .await
        .unwrap();
    let events = events["items"].as_array().unwrap();
    assert_eq!(events.len(), 500);
    assert!(events.iter().all(|e| e["type"] == "company.updated"));
    let c: Value = app
        .get(&format!(
            "/api/v1/companies/{}",
            body["items"][0]["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["name"], "ТСЖ №0 (новое имя)");
    assert_eq!(c["version"], body["items"][0]["version"]);
}

#[tokio::test]
async fn bad_items_are_named_by_index_and_field_and_all_or_none_keeps_nothing() {
    let app = TestApp::spawn().await;
    let items = json!([
        {"external_id": {"source": "1c", "id": "a"}, "name": "Хорошая"},
        {"external_id": {"source": "1c", "id": "b"}, "name": ""},
        {"name": "Без ключа"},
        {"external_id": {"source": "1c", "id": "a"}, "name": "Тот же ключ"},
        {"external_id": {"source": "1c", "id": "c"}, "name": 5},
        {"external_id": {"source": "1c", "id": "d"}, "name": "Хорошая 2", "responsible_id": "01930000-0000-7000-8000-000000000000"},
    ]);
    let (status, body) = bulk(
        &app,
        "companies",
        &json!({"mode": "all_or_none", "items": items}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["committed"], false);
    let r = body["items"].as_array().unwrap();
    assert_eq!(r[0]["status"], "created");
    for (i, field) in [
        (1, "name"),
        (2, "external_id"),
        (3, "external_id"),
        (4, "name"),
        (5, "responsible_id"),
    ] {
        assert_eq!(r[i]["status"], "error", "item {i}: {}", r[i]);
        assert_eq!(r[i]["error"]["status"], 422, "item {i}: {}", r[i]);
        assert_eq!(
            r[i]["error"]["errors"][0]["field"], field,
            "item {i}: {}",
            r[i]
        );
    }
    assert_eq!(r[3]["error"]["errors"][0]["code"], "duplicate_key");
    assert_eq!(
        total(&app, "/api/v1/companies").await,
        0,
        "all_or_none left a record"
    );

    // Partial keeps the good ones.
    let (_, body) = bulk(&app, "companies", &json!({"items": items})).await;
    assert_eq!(body["committed"], true);
    assert_eq!(body["created"], 1);
    assert_eq!(total(&app, "/api/v1/companies").await, 1);

    // A dry run answers and keeps nothing.
    let before = head(&app).await;
    let (_, body) = bulk(
        &app,
        "companies",
        &json!({"dry_run": true, "items": companies(3, "")}),
    )
    .await;
    assert_eq!(body["created"], 3);
    assert_eq!(body["committed"], false);
    assert_eq!(total(&app, "/api/v1/companies").await, 1);
    assert_eq!(head(&app).await, before);

    // The request itself: 1 to 1 000 items.
    let (status, body) = bulk(&app, "companies", &json!({"items": []})).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "items");
    let (status, _) = bulk(&app, "companies", &json!({"items": companies(1001, "")})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn legal_entities_by_inn_and_kpp_contacts_and_products_by_external_id() {
    let app = TestApp::spawn().await;
    let (_, body) = bulk(
        &app,
        "companies",
        &json!({"items": [{"external_id": {"source": "1c", "id": "co"}, "name": "Ромашка"}]}),
    )
    .await;
    let company = body["items"][0]["id"].as_str().unwrap().to_owned();
    let entity = json!({"company_id": company, "kind": "legal_entity", "full_name": "ООО «Ромашка»",
        "inn": "7707083893", "kpp": "773601001"});
    let (status, body) = bulk(&app, "legal-entities", &json!({"items": [entity]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 1, "{body}");
    assert_eq!(body["items"][0]["key"], "inn_kpp:7707083893/773601001");
    let mut renamed = entity.clone();
    renamed["full_name"] = json!("ООО «Ромашка и Ко»");
    let (_, body) = bulk(&app, "legal-entities", &json!({"items": [entity, renamed]})).await;
    assert_eq!(body["items"][0]["status"], "unchanged", "{body}");
    assert_eq!(body["items"][1]["status"], "error");
    assert_eq!(
        body["items"][1]["error"]["errors"][0]["code"],
        "duplicate_key"
    );
    let (_, body) = bulk(&app, "legal-entities", &json!({"items": [renamed]})).await;
    assert_eq!(body["items"][0]["status"], "updated", "{body}");
    // A bad INN is named as the single endpoint names it.
    let bad = json!({"company_id": company, "kind": "legal_entity", "full_name": "ООО «Ошибка»",
        "inn": "7707083890", "kpp": "773601001"});
    let (_, body) = bulk(&app, "legal-entities", &json!({"items": [bad]})).await;
    assert_eq!(
        body["items"][0]["error"]["errors"][0]["field"], "inn",
        "{body}"
    );

    let contact = json!({"external_id": {"source": "1c", "id": "p-1"}, "last_name": "Иванова",
        "emails": ["m.ivanova@example.com"]});
    let (_, body) = bulk(&app, "contacts", &json!({"items": [contact]})).await;
    assert_eq!(body["created"], 1, "{body}");
    let (_, body) = bulk(&app, "contacts", &json!({"items": [contact]})).await;
    assert_eq!(body["unchanged"], 1, "{body}");

    let product =
        json!({"external_id": "00-0001", "name": "Камера IP 4 Мп", "base_price": "12500.00"});
    let (_, body) = bulk(&app, "products", &json!({"items": [product]})).await;
    assert_eq!(body["created"], 1, "{body}");
    let mut dearer = product.clone();
    dearer["base_price"] = json!("13000.00");
    let (_, body) = bulk(&app, "products", &json!({"items": [dearer]})).await;
    assert_eq!(body["updated"], 1, "{body}");
    let (_, body) = bulk(
        &app,
        "products",
        &json!({"items": [{"external_id": "00-0002", "name": "x", "base_price": "1.001"}]}),
    )
    .await;
    assert_eq!(
        body["items"][0]["error"]["errors"][0]["field"], "base_price",
        "{body}"
    );
}
