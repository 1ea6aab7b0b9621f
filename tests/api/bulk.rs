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

#[tokio::test]
async fn invoices_with_rows_and_payments_by_their_1c_guids() {
    let app = TestApp::spawn().await;
    let (org, buyer) = crate::money::seller_and_buyer(&app, "BLK").await;
    crate::money::template(&app, &org, "СЧ-{N:4}", "never").await;
    let invoice = |price: &str| {
        json!({"external_id": {"source": "1C", "id": "inv-guid-1"}, "organization_id": org,
               "buyer_legal_entity_id": buyer, "date": "2026-03-02",
               "lines": [{"name": "Обслуживание", "quantity": "1", "price": price, "vat_rate": "22"},
                         {"name": "Выезд", "quantity": "2", "price": "1500", "vat_rate": "none"}]})
    };
    let (status, body) = bulk(&app, "invoices", &json!({"items": [invoice("45000.00")]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 1, "{body}");
    assert_eq!(body["items"][0]["key"], "external_id:1c:inv-guid-1");
    let inv_id = body["items"][0]["id"].as_str().unwrap().to_owned();
    let inv: Value = app
        .get(&format!("/api/v1/invoices/{inv_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inv["lines"].as_array().unwrap().len(), 2);
    assert_eq!(inv["total"], "57900.00", "{inv}");

    // The same rows again (written differently): nothing written, no event.
    let before = head(&app).await;
    let (_, body) = bulk(&app, "invoices", &json!({"items": [invoice("45000")]})).await;
    assert_eq!(body["unchanged"], 1, "{body}");
    assert_eq!(head(&app).await, before);
    // A draft's rows change.
    let (_, body) = bulk(&app, "invoices", &json!({"items": [invoice("46000.00")]})).await;
    assert_eq!(body["updated"], 1, "{body}");
    assert_ne!(head(&app).await, before);

    // Issued: the same item is unchanged, changed rows are the single endpoint's refusal.
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/invoices/{inv_id}/actions/issue"),
            &app.admin_token,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, body) = bulk(&app, "invoices", &json!({"items": [invoice("46000.00")]})).await;
    assert_eq!(body["unchanged"], 1, "{body}");
    let patch = app
        .request(
            Method::PATCH,
            &format!("/api/v1/invoices/{inv_id}"),
            &app.admin_token,
        )
        .json(&json!({"lines": invoice("47000.00")["lines"]}))
        .send()
        .await
        .unwrap();
    let single_status = patch.status().as_u16();
    let single: Value = patch.json().await.unwrap();
    let (_, body) = bulk(&app, "invoices", &json!({"items": [invoice("47000.00")]})).await;
    let item = &body["items"][0];
    assert_eq!(item["status"], "error", "{body}");
    assert_eq!(item["error"]["status"], single_status, "{body}");
    assert_eq!(item["error"]["code"], single["code"], "{body} vs {single}");

    // Payments: registered as POST /payments registers them, applications included.
    let payment = |amount: &str| {
        json!({"external_id": {"source": "1c", "id": "pay-guid-1"}, "date": "2026-03-05",
               "amount": amount, "organization_id": org, "payer_legal_entity_id": buyer,
               "payment_order_number": "123", "purpose": "Оплата по счёту",
               "applications": [{"invoice_id": inv_id, "amount": "10000.00"}]})
    };
    let (status, body) = bulk(&app, "payments", &json!({"items": [payment("10000.00")]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 1, "{body}");
    let inv: Value = app
        .get(&format!("/api/v1/invoices/{inv_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inv["paid"], "10000.00", "{inv}");
    let before = head(&app).await;
    let (_, body) = bulk(&app, "payments", &json!({"items": [payment("10000")]})).await;
    assert_eq!(body["unchanged"], 1, "{body}");
    assert_eq!(head(&app).await, before);
    let (_, body) = bulk(&app, "payments", &json!({"items": [payment("12000.00")]})).await;
    assert_eq!(body["items"][0]["error"]["status"], 409, "{body}");
    // A bad field is named as POST /payments names it.
    let mut bad = payment("1.001");
    bad["external_id"]["id"] = json!("pay-guid-2");
    let (_, body) = bulk(&app, "payments", &json!({"items": [bad]})).await;
    assert_eq!(
        body["items"][0]["error"]["errors"][0]["field"], "amount",
        "{body}"
    );
    assert_eq!(total(&app, "/api/v1/payments").await, 1);
}

#[tokio::test]
async fn an_idempotency_key_covers_the_whole_request() {
    let app = TestApp::spawn().await;
    let send = |items: Value| {
        app.request(
            Method::POST,
            "/api/v1/companies/bulk-upsert",
            &app.admin_token,
        )
        .header("idempotency-key", "bulk-2026-03-05-1")
        .json(&json!({"items": items}))
        .send()
    };
    let first = send(json!(companies(10, ""))).await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["created"], 10);
    let before = head(&app).await;
    // A replay answers the first answer (all "created") and writes nothing.
    let again = send(json!(companies(10, ""))).await.unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(head(&app).await, before);
    // The same key with another body is refused, nothing written.
    let other = send(json!(companies(11, ""))).await.unwrap();
    assert_eq!(other.status(), 422, "{}", other.text().await.unwrap());
    assert_eq!(total(&app, "/api/v1/companies").await, 10);
}
