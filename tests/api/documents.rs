//! DOC-1 quotes in versions and DOC-2 orders: from a deal's rows to a quote emailed to the
//! client, a second version after feedback, acceptance, an order from the accepted version and
//! its confirmation by the advance payment.

use std::time::Duration;

use reqwest::Method;
use sdelka_tests::smtp::SmtpSink;
use sdelka_tests::{TestApp, eventually, organization_body};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(app: &TestApp, path: &str, b: Value) -> (u16, Value) {
    body(app.post(path, &b).await).await
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    body(app.get(path).await).await
}

async fn patch(app: &TestApp, path: &str, b: Value) -> (u16, Value) {
    body(app.patch(path, &b).await).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

fn in_days(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// An own organisation, a client contact with an email, and a deal with two rows at two VAT
/// rates: 4 × 12 500.00 at 22 % on top (50 000.00 + 11 000.00) and 1 × 20 000.00 at 10 %
/// (20 000.00 + 2 000.00) — 83 000.00 in all.
pub(crate) struct Setup {
    pub(crate) org: String,
    pub(crate) contact: String,
    pub(crate) deal: String,
}

pub(crate) async fn setup(app: &TestApp, email: &str) -> Setup {
    let (s, org) = post(
        app,
        "/api/v1/organizations",
        organization_body("SV", "ООО «Сдельно»"),
    )
    .await;
    assert_eq!(s, 201, "{org}");
    let (s, contact) = post(
        app,
        "/api/v1/contacts",
        json!({"last_name": "Покупателев", "first_name": "Иван", "emails": [email]}),
    )
    .await;
    assert_eq!(s, 201, "{contact}");
    let (s, deal) = post(
        app,
        "/api/v1/deals",
        json!({"title": "Видеонаблюдение для ТСЖ «Берёзка»", "contact_ids": [id(&contact)]}),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    for row in [
        json!({"name": "Камера IP 4 Мп", "quantity": "4", "price": "12500.00", "vat_rate": "22"}),
        json!({"name": "Монтаж", "quantity": "1", "price": "20000.00", "vat_rate": "10", "unit_name": "усл"}),
    ] {
        let (s, r) = post(
            app,
            &format!("/api/v1/deals/{}/product-rows", id(&deal)),
            row,
        )
        .await;
        assert_eq!(s, 201, "{r}");
    }
    Setup {
        org: id(&org),
        contact: id(&contact),
        deal: id(&deal),
    }
}

pub(crate) async fn new_quote(app: &TestApp, s: &Setup) -> Value {
    let (status, q) = post(
        app,
        "/api/v1/quotes",
        json!({"deal_id": s.deal, "organization_id": s.org, "valid_until": in_days(20)}),
    )
    .await;
    assert_eq!(status, 201, "{q}");
    q
}

async fn act(app: &TestApp, quote: &str, action: &str, b: Value) -> (u16, Value) {
    post(app, &format!("/api/v1/quotes/{quote}/actions/{action}"), b).await
}

async fn order_act(app: &TestApp, order: &str, action: &str, b: Value) -> (u16, Value) {
    post(app, &format!("/api/v1/orders/{order}/actions/{action}"), b).await
}

async fn mail_with(smtp: &SmtpSink, to: &str, needle: &str) -> String {
    eventually(WAIT, || async {
        smtp.messages_to(to)
            .into_iter()
            .map(|m| sdelka_tests::smtp::decoded_text(&m))
            .find(|t| t.contains(needle))
    })
    .await
    .unwrap_or_else(|| panic!("an email to {to} containing {needle}"))
}

fn rows_total(v: &Value) -> Vec<(String, String)> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["total"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Calls the payments hook the way the payments area will: in a transaction of its own.
pub(crate) async fn record_payment(app: &TestApp, order: &str, paid_kopecks: i64) {
    use sea_orm::TransactionTrait;
    let conn = &app.server.as_ref().unwrap().state.store.conn;
    let txn = conn.begin().await.unwrap();
    sdelka_persistence::ops::orders::record_payment(
        &txn,
        &sdelka_persistence::Actor::system(),
        order.parse().unwrap(),
        paid_kopecks,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
}

#[tokio::test]
async fn quote_versions_acceptance_and_order_awaiting_its_advance() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let app =
        TestApp::spawn_with(|c| c.smtp_url = Some(sdelka_api::config::Secret::new(url))).await;
    let s = setup(&app, "buyer@example.com").await;

    // Version 1: the deal's rows copied, totals and VAT per rate as on the deal.
    let q = new_quote(&app, &s).await;
    let qid = id(&q);
    assert_eq!(q["status"], "draft");
    assert_eq!(q["current_version"], 1);
    assert_eq!(
        q["number"],
        Value::Null,
        "no quote numbering template: no number"
    );
    assert_eq!(q["contact_id"], s.contact.as_str());
    assert_eq!(
        rows_total(&q),
        [
            ("Камера IP 4 Мп".to_owned(), "61000.00".to_owned()),
            ("Монтаж".to_owned(), "22000.00".to_owned())
        ]
    );
    assert_eq!(
        (&q["net"], &q["vat"], &q["total"]),
        (&json!("70000.00"), &json!("13000.00"), &json!("83000.00"))
    );
    assert_eq!(
        q["vat_by_rate"],
        json!([
            {"vat_rate": "22", "vat_rate_label": "22%", "net": "50000.00", "vat": "11000.00", "total": "61000.00"},
            {"vat_rate": "10", "vat_rate_label": "10%", "net": "20000.00", "vat": "2000.00", "total": "22000.00"}
        ])
    );
    assert_eq!(q["allowed_actions"], json!(["edit", "send"]));

    // A draft can be edited.
    let until = in_days(25);
    let (st, v1) = patch(
        &app,
        &format!("/api/v1/quotes/{qid}/versions/1"),
        json!({"valid_until": until}),
    )
    .await;
    assert_eq!(st, 200, "{v1}");
    assert_eq!(v1["valid_until"], until.as_str());

    // Send: the quote goes to the contact by email with its lines, totals and validity.
    let (st, sent) = act(&app, &qid, "send", json!({})).await;
    assert_eq!(st, 200, "{sent}");
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["valid_until"], until.as_str());
    let mail = mail_with(&smtp, "buyer@example.com", "83000.00").await;
    assert!(mail.contains("Камера IP 4 Мп"), "{mail}");
    assert!(mail.contains("Монтаж"), "{mail}");
    assert!(mail.contains("Итого: 83000.00 RUB"), "{mail}");
    assert!(mail.contains("НДС 22%: 11000.00 RUB"), "{mail}");
    assert!(mail.contains(&until), "{mail}");

    // A sent version is frozen.
    let (st, p) = patch(
        &app,
        &format!("/api/v1/quotes/{qid}/versions/1"),
        json!({"valid_until": in_days(30)}),
    )
    .await;
    assert_eq!(st, 409, "{p}");
    assert_eq!(p["code"], "invalid_transition");

    // The client asks for a 5 % discount on cameras: version 2 with changed rows.
    let (st, v2) = post(
        &app,
        &format!("/api/v1/quotes/{qid}/versions"),
        json!({
            "comment": "Клиент просит скидку 5 % на камеры",
            "rows": [
                {"name": "Камера IP 4 Мп", "quantity": "4", "price": "12500.00", "discount_percent": "5", "vat_rate": "22"},
                {"name": "Монтаж", "quantity": "1", "price": "20000.00", "vat_rate": "10", "unit_name": "усл"}
            ]
        }),
    )
    .await;
    assert_eq!(st, 201, "{v2}");
    assert_eq!(
        (v2["number"].clone(), v2["status"].clone()),
        (json!(2), json!("draft"))
    );
    // 50 000.00 − 5 % = 47 500.00 + 22 % = 57 950.00; plus 22 000.00.
    assert_eq!(v2["total"], "79950.00");
    assert_eq!(v2["valid_until"], until.as_str(), "validity carried over");

    // Version 1 is read-only now, whatever its status would allow.
    let (st, p) = patch(
        &app,
        &format!("/api/v1/quotes/{qid}/versions/1"),
        json!({"rows": [{"name": "Другое", "price": "1.00"}]}),
    )
    .await;
    assert_eq!(st, 409, "{p}");
    assert_eq!(p["code"], "version_read_only");
    let (_, old) = get(&app, &format!("/api/v1/quotes/{qid}/versions/1")).await;
    assert_eq!(old["total"], "83000.00");
    assert_eq!(old["status"], "sent");
    assert_eq!(old["current"], false);
    assert_eq!(old["allowed_actions"], json!([]));
    let (_, versions) = get(&app, &format!("/api/v1/quotes/{qid}/versions")).await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 2);
    assert_eq!(versions["items"][1]["current"], true);

    // Send version 2, then the client accepts — twice at once: one wins.
    let (st, sent2) = act(&app, &qid, "send", json!({})).await;
    assert_eq!(st, 200, "{sent2}");
    let mail2 = mail_with(&smtp, "buyer@example.com", "79950.00").await;
    assert!(mail2.contains("версия 2"), "{mail2}");
    assert!(mail2.contains("скидка 5.00%"), "{mail2}");
    let (a, b) = tokio::join!(
        act(&app, &qid, "accept", json!({})),
        act(&app, &qid, "accept", json!({}))
    );
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [200, 409], "{a:?} {b:?}");
    let (_, q) = get(&app, &format!("/api/v1/quotes/{qid}")).await;
    assert_eq!(q["status"], "accepted");
    assert_eq!(q["total"], "79950.00");

    // The order copies the accepted version's rows.
    let (st, order) = post(
        &app,
        "/api/v1/orders",
        json!({"quote_id": qid, "advance_percent": "30"}),
    )
    .await;
    assert_eq!(st, 201, "{order}");
    let oid = id(&order);
    assert_eq!(order["quote_version"], 2);
    assert_eq!(order["status"], "draft");
    assert_eq!(order["total"], "79950.00");
    assert_eq!(order["advance_amount"], "23985.00");
    assert_eq!(
        rows_total(&order),
        [
            ("Камера IP 4 Мп".to_owned(), "57950.00".to_owned()),
            ("Монтаж".to_owned(), "22000.00".to_owned())
        ]
    );
    assert_eq!(order["organization_id"], s.org.as_str());
    // One order per quote.
    let (st, dup) = post(&app, "/api/v1/orders", json!({"quote_id": qid})).await;
    assert_eq!(st, 409, "{dup}");

    // The draft's advance can still change; the agreed terms cannot.
    let (st, o) = patch(
        &app,
        &format!("/api/v1/orders/{oid}"),
        json!({"advance_amount": "25000.00"}),
    )
    .await;
    assert_eq!(
        (st, o["advance_amount"].clone()),
        (200, json!("25000.00")),
        "{o}"
    );
    let (st, o) = patch(
        &app,
        &format!("/api/v1/orders/{oid}"),
        json!({"advance_amount": "80000.00"}),
    )
    .await;
    assert_eq!(
        (st, o["errors"][0]["code"].clone()),
        (422, json!("exceeds_total")),
        "{o}"
    );
    let (st, o) = order_act(&app, &oid, "confirm-terms", json!({})).await;
    assert_eq!(st, 200, "{o}");
    assert_eq!(o["status"], "awaiting_advance");
    assert_eq!(o["allowed_actions"], json!(["cancel"]));
    let (st, p) = patch(
        &app,
        &format!("/api/v1/orders/{oid}"),
        json!({"advance_percent": "10"}),
    )
    .await;
    assert_eq!(st, 409, "{p}");
    assert_eq!(
        p["detail"],
        "cannot edit an order that is awaiting_advance; allowed: cancel"
    );

    // The timeline tells the story.
    let (_, tl) = get(
        &app,
        &format!("/api/v1/quotes/{qid}/timeline?sort=occurred_at"),
    )
    .await;
    let actions: Vec<&str> = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "updated",
            "send",
            "new-version",
            "send",
            "accept"
        ]
    );
    let (_, tr) = get(&app, &format!("/api/v1/quotes/{qid}/transitions")).await;
    assert_eq!(tr["items"].as_array().unwrap().len(), 4);
    assert_eq!(tr["items"][0]["comment"], "sent to buyer@example.com");
}

#[tokio::test]
async fn the_advance_payment_confirms_an_order() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "client@example.com").await;
    let (st, order) = post(
        &app,
        "/api/v1/orders",
        json!({"deal_id": s.deal, "organization_id": s.org, "advance_amount": "30000.00"}),
    )
    .await;
    assert_eq!(st, 201, "{order}");
    let oid = id(&order);
    assert_eq!(order["total"], "83000.00");
    assert_eq!(order["quote_id"], Value::Null);
    assert_eq!(rows_total(&order).len(), 2);

    // Money before the terms are agreed is only recorded.
    record_payment(&app, &oid, 100_000).await;
    let (_, o) = get(&app, &format!("/api/v1/orders/{oid}")).await;
    assert_eq!(
        (o["status"].clone(), o["paid_amount"].clone()),
        (json!("draft"), json!("1000.00"))
    );

    let (st, o) = order_act(&app, &oid, "confirm-terms", json!({})).await;
    assert_eq!(st, 200, "{o}");
    assert_eq!(o["status"], "awaiting_advance");
    record_payment(&app, &oid, 2_999_999).await;
    let (_, o) = get(&app, &format!("/api/v1/orders/{oid}")).await;
    assert_eq!(o["status"], "awaiting_advance");
    record_payment(&app, &oid, 3_000_000).await;
    let (_, o) = get(&app, &format!("/api/v1/orders/{oid}")).await;
    assert_eq!(o["status"], "confirmed", "{o}");
    assert!(o["confirmed_at"].is_string());

    // The responsible user (the deal's: the admin here) is told.
    let (_, inbox) = get(&app, "/api/v1/notifications").await;
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "order_confirmed" && n["entity_id"] == oid.as_str()),
        "{inbox}"
    );
    let (_, tr) = get(&app, &format!("/api/v1/orders/{oid}/transitions")).await;
    let steps: Vec<(&str, &str)> = tr["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["from_status"].as_str().unwrap(),
                t["to_status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("draft", "awaiting_advance"),
            ("awaiting_advance", "confirmed")
        ]
    );
    assert_eq!(
        tr[1]["actor_id"],
        Value::Null,
        "confirmed by money, not by a person"
    );

    let (st, o) = order_act(&app, &oid, "complete", json!({})).await;
    assert_eq!((st, o["status"].clone()), (200, json!("completed")));
}

/// Wrong actions in every state are 409 naming the state and the allowed actions.
#[tokio::test]
async fn wrong_actions_in_every_state_are_refused() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "table@example.com").await;

    // Quotes: (how to get there, refused actions, allowed list).
    let quote_table: [(&str, &[&str], &[&str], &str); 4] = [
        (
            "draft",
            &[],
            &["accept", "reject", "new-version"],
            "edit, send",
        ),
        (
            "sent",
            &["send"],
            &["send", "edit"],
            "accept, reject, new-version",
        ),
        (
            "accepted",
            &["send", "accept"],
            &["send", "accept", "reject", "new-version", "edit"],
            "none",
        ),
        (
            "rejected",
            &["send", "reject"],
            &["send", "accept", "reject", "edit"],
            "new-version",
        ),
    ];
    for (state, path, refused, allowed) in quote_table {
        let q = new_quote(&app, &s).await;
        let qid = id(&q);
        for a in path {
            let (st, r) = act(&app, &qid, a, json!({})).await;
            assert_eq!(st, 200, "{r}");
        }
        for a in refused {
            let (st, p) = match *a {
                "new-version" => {
                    post(&app, &format!("/api/v1/quotes/{qid}/versions"), json!({})).await
                }
                "edit" => {
                    patch(
                        &app,
                        &format!("/api/v1/quotes/{qid}/versions/1"),
                        json!({"comment": "x"}),
                    )
                    .await
                }
                other => act(&app, &qid, other, json!({})).await,
            };
            assert_eq!(st, 409, "{state} {a}: {p}");
            assert_eq!(p["code"], "invalid_transition", "{state} {a}: {p}");
            let detail = p["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("that is {state}"))
                    && detail.ends_with(&format!("allowed: {allowed}")),
                "{state} {a}: {detail}"
            );
        }
    }
    let (st, p) = act(&app, &id(&new_quote(&app, &s).await), "approve", json!({})).await;
    assert_eq!(st, 404, "{p}");

    // Orders.
    let order_table: [(&str, &[&str], &[&str], &str); 5] = [
        ("draft", &[], &["complete"], "confirm-terms, cancel"),
        (
            "awaiting_advance",
            &["confirm-terms"],
            &["confirm-terms", "complete"],
            "cancel",
        ),
        (
            "confirmed",
            &["confirm-terms", "pay"],
            &["confirm-terms"],
            "complete, cancel",
        ),
        (
            "completed",
            &["confirm-terms", "pay", "complete"],
            &["confirm-terms", "complete", "cancel"],
            "none",
        ),
        (
            "cancelled",
            &["cancel"],
            &["confirm-terms", "complete", "cancel"],
            "none",
        ),
    ];
    for (state, path, refused, allowed) in order_table {
        let (st, o) = post(
            &app,
            "/api/v1/orders",
            json!({"deal_id": s.deal, "organization_id": s.org}),
        )
        .await;
        assert_eq!(st, 201, "{o}");
        let oid = id(&o);
        for a in path {
            if *a == "pay" {
                record_payment(&app, &oid, 8_300_000).await;
                continue;
            }
            let (st, r) = order_act(&app, &oid, a, json!({"reason": "клиент передумал"})).await;
            assert_eq!(st, 200, "{r}");
        }
        let (_, now) = get(&app, &format!("/api/v1/orders/{oid}")).await;
        assert_eq!(now["status"], state);
        for a in refused {
            let (st, p) = order_act(&app, &oid, a, json!({"reason": "ещё раз"})).await;
            assert_eq!(st, 409, "{state} {a}: {p}");
            assert_eq!(p["code"], "invalid_transition");
            let detail = p["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("that is {state}"))
                    && detail.ends_with(&format!("allowed: {allowed}")),
                "{state} {a}: {detail}"
            );
        }
    }
    // Cancelling needs a reason (422 naming it), and an order from a quote needs acceptance.
    let (_, o) = post(
        &app,
        "/api/v1/orders",
        json!({"deal_id": s.deal, "organization_id": s.org}),
    )
    .await;
    let (st, p) = order_act(&app, &id(&o), "cancel", json!({})).await;
    assert_eq!(
        (st, p["errors"][0]["field"].clone()),
        (422, json!("reason")),
        "{p}"
    );
    let q = new_quote(&app, &s).await;
    let (st, p) = post(&app, "/api/v1/orders", json!({"quote_id": id(&q)})).await;
    assert_eq!(
        (st, p["code"].clone()),
        (409, json!("invalid_transition")),
        "{p}"
    );
}

#[tokio::test]
async fn send_needs_an_email_and_invisible_documents_are_404() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "visible@example.com").await;
    let q = new_quote(&app, &s).await;
    let qid = id(&q);

    // A contact who prefers the phone but has an email still gets the quote by email; one
    // without any email cannot.
    let (st, phone_only) = post(
        &app,
        "/api/v1/contacts",
        json!({"last_name": "Звонков", "phones": ["+7 495 123-45-67"], "preferred_channel": "phone", "preferred_address": "+7 495 123-45-67"}),
    )
    .await;
    assert_eq!(st, 201, "{phone_only}");
    let (st, p) = act(&app, &qid, "send", json!({"contact_id": id(&phone_only)})).await;
    assert_eq!(st, 422, "{p}");
    assert_eq!(
        (
            p["errors"][0]["field"].clone(),
            p["errors"][0]["code"].clone()
        ),
        (json!("contact_id"), json!("no_email"))
    );
    let (st, prefers_phone) = post(
        &app,
        "/api/v1/contacts",
        json!({"last_name": "Смешанный", "phones": ["+7 495 123-45-68"], "emails": ["mixed@example.com"], "preferred_channel": "phone", "preferred_address": "+7 495 123-45-68"}),
    )
    .await;
    assert_eq!(st, 201, "{prefers_phone}");
    let (st, sent) = act(
        &app,
        &qid,
        "send",
        json!({"contact_id": id(&prefers_phone)}),
    )
    .await;
    assert_eq!(st, 200, "{sent}");
    let (_, v) = get(&app, &format!("/api/v1/quotes/{qid}/versions/1")).await;
    assert_eq!(v["sent_to_email"], "mixed@example.com");

    // Someone else's sales manager sees neither the quote nor the order.
    let (st, order) = post(
        &app,
        "/api/v1/orders",
        json!({"deal_id": s.deal, "organization_id": s.org}),
    )
    .await;
    assert_eq!(st, 201, "{order}");
    let (_, other) = app
        .user_with_roles("other.manager@example.com", &["sales_manager"])
        .await;
    for path in [
        format!("/api/v1/quotes/{qid}"),
        format!("/api/v1/quotes/{qid}/versions"),
        format!("/api/v1/quotes/{qid}/versions/1"),
        format!("/api/v1/quotes/{qid}/timeline"),
        format!("/api/v1/orders/{}", id(&order)),
        format!("/api/v1/orders/{}/timeline", id(&order)),
    ] {
        let res = app
            .request(Method::GET, &path, &other)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/quotes/{qid}/actions/accept"),
            &other,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    for list in ["/api/v1/quotes", "/api/v1/orders"] {
        let (_, page) = body(app.request(Method::GET, list, &other).send().await.unwrap()).await;
        assert_eq!(page["items"], json!([]), "{list}");
    }
    // A deal the caller cannot see is no deal to quote.
    let res = app
        .request(Method::POST, "/api/v1/quotes", &other)
        .json(&json!({"deal_id": s.deal, "organization_id": s.org}))
        .send()
        .await
        .unwrap();
    let (st, p) = body(res).await;
    assert_eq!(
        (st, p["errors"][0]["field"].clone()),
        (422, json!("deal_id")),
        "{p}"
    );
}

#[tokio::test]
async fn document_posts_are_idempotent() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "idem@example.com").await;
    let keyed = |path: &str, key: &str, b: Value| {
        app.request(Method::POST, path, &app.admin_token)
            .header("idempotency-key", key)
            .json(&b)
            .send()
    };
    let create = json!({"deal_id": s.deal, "organization_id": s.org, "valid_until": in_days(10)});
    let (s1, q1) = body(
        keyed("/api/v1/quotes", "quote-1", create.clone())
            .await
            .unwrap(),
    )
    .await;
    let (s2, q2) = body(keyed("/api/v1/quotes", "quote-1", create).await.unwrap()).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(q1["id"], q2["id"], "the same quote, not a second one");
    let qid = id(&q1);
    let (_, list) = get(&app, &format!("/api/v1/quotes?deal_id={}", s.deal)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let path = format!("/api/v1/quotes/{qid}/actions/send");
    let first = keyed(&path, "send-1", json!({})).await.unwrap();
    assert_eq!(first.status(), 200);
    let again = keyed(&path, "send-1", json!({})).await.unwrap();
    assert_eq!(again.status(), 200, "a replay, not a second send");
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let (_, tr) = get(&app, &format!("/api/v1/quotes/{qid}/transitions")).await;
    assert_eq!(tr["items"].as_array().unwrap().len(), 1);
    let accept = format!("/api/v1/quotes/{qid}/actions/accept");
    assert_eq!(
        keyed(&accept, "acc", json!({})).await.unwrap().status(),
        200
    );
    let o = json!({"quote_id": qid});
    let (s1, o1) = body(keyed("/api/v1/orders", "order-1", o.clone()).await.unwrap()).await;
    let (s2, o2) = body(keyed("/api/v1/orders", "order-1", o).await.unwrap()).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(o1["id"], o2["id"]);

    // A stale If-Match on an action is 412.
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/orders/{}/actions/confirm-terms", id(&o1)),
            &app.admin_token,
        )
        .header("if-match", "\"99\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
}

/// A manager works his own deal, whose contact was entered by a colleague: he can quote it,
/// send it to that contact, and make the order — all of it his, invisible to the colleague's
/// peers but visible to an admin.
#[tokio::test]
async fn a_manager_quotes_his_own_deal() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "colleague.contact@example.com").await;
    let (manager_id, manager) = app
        .user_with_roles("manager@example.com", &["sales_manager"])
        .await;
    let as_manager = |m: Method, path: String, b: Value| {
        let req = app.request(m, &path, &manager).json(&b);
        async move { body(req.send().await.unwrap()).await }
    };
    // The colleague's contact is on the deal because an admin, who sees every contact, opened
    // it for the manager (a manager names only contacts he sees).
    let res = app
        .request(Method::POST, "/api/v1/deals", &app.admin_token)
        .json(&json!({"title": "Своя сделка", "contact_ids": [s.contact],
                      "responsible_id": manager_id}))
        .send()
        .await
        .unwrap();
    let (st, deal) = body(res).await;
    assert_eq!(st, 201, "{deal}");
    let did = id(&deal);
    let (st, r) = as_manager(
        Method::POST,
        format!("/api/v1/deals/{did}/product-rows"),
        json!({"name": "Аудит", "price": "1000.00", "vat_rate": "none"}),
    )
    .await;
    assert_eq!(st, 201, "{r}");
    let (st, q) = as_manager(
        Method::POST,
        "/api/v1/quotes".into(),
        json!({"deal_id": did, "organization_id": s.org}),
    )
    .await;
    assert_eq!(st, 201, "{q}");
    assert_eq!(q["responsible_id"], manager_id.to_string());
    assert_eq!(q["vat"], "0.00");
    assert_eq!(q["vat_by_rate"][0]["vat_rate_label"], "без НДС");
    let qid = id(&q);
    let (st, sent) = as_manager(
        Method::POST,
        format!("/api/v1/quotes/{qid}/actions/send"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200, "{sent}");
    let (st, rejected) = as_manager(
        Method::POST,
        format!("/api/v1/quotes/{qid}/actions/reject"),
        json!({"reason": "дорого"}),
    )
    .await;
    assert_eq!(st, 200, "{rejected}");
    let (_, v1) = as_manager(
        Method::GET,
        format!("/api/v1/quotes/{qid}/versions/1"),
        json!(null),
    )
    .await;
    assert_eq!(v1["reject_reason"], "дорого");
    // After a rejection the next version is a draft again.
    let (st, v2) = as_manager(
        Method::POST,
        format!("/api/v1/quotes/{qid}/versions"),
        json!({}),
    )
    .await;
    assert_eq!((st, v2["status"].clone()), (201, json!("draft")), "{v2}");
    assert_eq!(v2["total"], "1000.00", "rows copied from version 1");
    let (_, q) = get(&app, &format!("/api/v1/quotes/{qid}")).await;
    assert_eq!(
        (q["status"].clone(), q["current_version"].clone()),
        (json!("draft"), json!(2)),
        "the admin sees it"
    );
}

/// Two orders made from one accepted quote at the same moment: one is created, the other is
/// refused, and the quote has exactly one order.
#[tokio::test]
async fn concurrent_orders_from_one_quote_make_one_order() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "race@example.com").await;
    let qid = id(&new_quote(&app, &s).await);
    for a in ["send", "accept"] {
        let (st, r) = act(&app, &qid, a, json!({})).await;
        assert_eq!(st, 200, "{r}");
    }
    let order = json!({"quote_id": qid});
    let (a, b, c) = tokio::join!(
        post(&app, "/api/v1/orders", order.clone()),
        post(&app, "/api/v1/orders", order.clone()),
        post(&app, "/api/v1/orders", order.clone())
    );
    let mut codes = [a.0, b.0, c.0];
    codes.sort();
    assert_eq!(codes, [201, 409, 409], "{a:?} {b:?} {c:?}");
    for (st, p) in [a, b, c] {
        if st == 409 {
            assert_eq!(p["code"], "duplicate", "{p}");
        }
    }
    let (_, list) = get(&app, &format!("/api/v1/orders?quote_id={qid}")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // A cancelled order frees the quote for a new one.
    let first = id(&list["items"][0]);
    let (st, c) = order_act(&app, &first, "cancel", json!({"reason": "ошибка в авансе"})).await;
    assert_eq!(
        (st, c["cancel_reason"].clone()),
        (200, json!("ошибка в авансе")),
        "{c}"
    );
    let (st, again) = post(&app, "/api/v1/orders", order).await;
    assert_eq!(st, 201, "{again}");
    let (_, list) = get(&app, &format!("/api/v1/orders?quote_id={qid}")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}
