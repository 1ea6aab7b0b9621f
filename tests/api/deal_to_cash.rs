//! The sales documents end to end, as a manager and an accountant live them: a deal → a quote
//! (v1, then v2 after the client's feedback) → an order with a 50 % advance → an invoice for
//! the order, issued and numbered → two partial payments → the invoice paid, the order
//! confirmed by its advance, the deal's payment percent moved twice, and the manager's
//! supervisor told twice by the payment watcher — in his inbox and by email.

use std::time::Duration;

use reqwest::Method;
use sdelka_tests::smtp::SmtpSink;
use sdelka_tests::{TestApp, eventually, organization_body};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn call(app: &TestApp, token: &str, m: Method, path: &str, b: Option<Value>) -> (u16, Value) {
    let mut req = app.request(m, path, token);
    if let Some(b) = b {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The decoded text of every message the sink holds for `to`.
async fn mail_containing(smtp: &SmtpSink, to: &str, needle: &str) -> String {
    eventually(WAIT, || async {
        smtp.messages_to(to)
            .into_iter()
            .map(|m| sdelka_tests::smtp::decoded_text(&m))
            .find(|t| t.contains(needle))
    })
    .await
    .unwrap_or_else(|| panic!("an email to {to} containing «{needle}»"))
}

#[tokio::test]
async fn deal_quote_order_invoice_payments_and_the_watcher() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let app =
        TestApp::spawn_with(|c| c.smtp_url = Some(sdelka_api::config::Secret::new(url))).await;
    let admin = app.admin_token.clone();

    // People: a head who wants email, and his sales manager.
    let (s, boss) = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/users",
        Some(json!({
        "email": "boss@example.com", "name": "Пётр Начальников", "password": "password-123",
        "roles": ["head"], "email_notifications": true})),
    )
    .await;
    assert_eq!(s, 201, "{boss}");
    let (s, m) = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/users",
        Some(json!({
        "email": "manager@example.com", "name": "Мария Продажина", "password": "password-123",
        "roles": ["sales_manager"], "supervisor_id": id(&boss)})),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    let manager = app.login("manager@example.com", "password-123").await;
    let boss_token = app.login("boss@example.com", "password-123").await;

    // The seller and its numbering: quotes, orders and invoices each have a series.
    let (s, org) = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/organizations",
        Some(organization_body("SV", "ООО «Сдельно»")),
    )
    .await;
    assert_eq!(s, 201, "{org}");
    let org = id(&org);
    for (doc, template) in [
        ("quote", "КП-{N:3}"),
        ("order", "З-{N:4}"),
        ("invoice", "СЧ-{ORG}/{N:5}"),
    ] {
        let (s, t) = call(
            &app,
            &admin,
            Method::POST,
            "/api/v1/numbering-templates",
            Some(json!({
            "organization_id": org, "document_type": doc, "template": template, "reset": "never"})),
        )
        .await;
        assert_eq!(s, 201, "{t}");
    }

    // The manager's client: a company with its legal entity and a contact with an email.
    let (s, company) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/companies",
        Some(json!({"name": "ТСЖ «Берёзка»"})),
    )
    .await;
    assert_eq!(s, 201, "{company}");
    let (s, buyer) = call(&app, &manager, Method::POST, "/api/v1/legal-entities", Some(json!({
        "company_id": id(&company), "kind": "legal_entity", "full_name": "ТСЖ «Берёзка»",
        "short_name": "Берёзка", "inn": "7707083893", "kpp": "773601001", "legal_address": "Москва"}))).await;
    assert_eq!(s, 201, "{buyer}");
    let (s, contact) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/contacts",
        Some(json!({
        "last_name": "Покупателев", "first_name": "Иван", "emails": ["buyer@example.com"]})),
    )
    .await;
    assert_eq!(s, 201, "{contact}");

    // The deal: 4 cameras at 12 500.00 + 22 % VAT, installation 20 000.00 + 10 % = 83 000.00.
    let (s, deal) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/deals",
        Some(json!({
        "title": "Видеонаблюдение для ТСЖ", "company_id": id(&company),
        "legal_entity_id": id(&buyer), "contact_ids": [id(&contact)]})),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let deal = id(&deal);
    for row in [
        json!({"name": "Камера IP 4 Мп", "quantity": "4", "price": "12500.00", "vat_rate": "22"}),
        json!({"name": "Монтаж", "quantity": "1", "price": "20000.00", "vat_rate": "10", "unit_name": "усл"}),
    ] {
        let (s, r) = call(
            &app,
            &manager,
            Method::POST,
            &format!("/api/v1/deals/{deal}/product-rows"),
            Some(row),
        )
        .await;
        assert_eq!(s, 201, "{r}");
    }

    // Quote v1, sent: numbered on first send.
    let (s, q) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/quotes",
        Some(json!({"deal_id": deal, "organization_id": org})),
    )
    .await;
    assert_eq!(s, 201, "{q}");
    let quote = id(&q);
    assert_eq!(q["total"], "83000.00");
    assert_eq!(q["number"], Value::Null, "a draft has no number");
    let (s, sent) = call(
        &app,
        &manager,
        Method::POST,
        &format!("/api/v1/quotes/{quote}/actions/send"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{sent}");
    assert_eq!(sent["number"], "КП-001");
    let first_mail = mail_containing(&smtp, "buyer@example.com", "83000.00").await;
    assert!(first_mail.contains("КП-001"), "{first_mail}");

    // Feedback: 5 % off the cameras → v2 (79 950.00); sent again under the same number.
    let (s, v2) = call(&app, &manager, Method::POST, &format!("/api/v1/quotes/{quote}/versions"),
        Some(json!({"comment": "Скидка 5 % на камеры", "rows": [
            {"name": "Камера IP 4 Мп", "quantity": "4", "price": "12500.00", "discount_percent": "5", "vat_rate": "22"},
            {"name": "Монтаж", "quantity": "1", "price": "20000.00", "vat_rate": "10", "unit_name": "усл"}]}))).await;
    assert_eq!(s, 201, "{v2}");
    assert_eq!(v2["total"], "79950.00");
    let (s, sent) = call(
        &app,
        &manager,
        Method::POST,
        &format!("/api/v1/quotes/{quote}/actions/send"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{sent}");
    assert_eq!(
        sent["number"], "КП-001",
        "a new version keeps the quote's number"
    );
    let second_mail = mail_containing(&smtp, "buyer@example.com", "79950.00").await;
    assert!(second_mail.contains("версия 2"), "{second_mail}");
    let (s, accepted) = call(
        &app,
        &manager,
        Method::POST,
        // An action that needs no input takes an empty POST.
        &format!("/api/v1/quotes/{quote}/actions/accept"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(accepted["status"], "accepted");

    // The order: v2's rows, a 50 % advance (39 975.00), numbered when its terms are confirmed.
    let (s, o) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/orders",
        Some(json!({"quote_id": quote, "advance_percent": "50"})),
    )
    .await;
    assert_eq!(s, 201, "{o}");
    let order = id(&o);
    assert_eq!(o["total"], "79950.00");
    assert_eq!(o["advance_amount"], "39975.00");
    let (s, o) = call(
        &app,
        &manager,
        Method::POST,
        &format!("/api/v1/orders/{order}/actions/confirm-terms"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["status"], "awaiting_advance");
    assert_eq!(o["number"], "З-0001");

    // The invoice for the order: its deal, buyer and lines by default.
    let (s, inv) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/invoices",
        Some(json!({"organization_id": org, "order_id": order, "due_date": "2099-12-31"})),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    let invoice = id(&inv);
    assert_eq!(inv["deal_id"], deal.as_str());
    assert_eq!(inv["buyer_legal_entity_id"], id(&buyer).as_str());
    assert_eq!(inv["total"], "79950.00");
    assert_eq!(inv["number"], Value::Null);
    let (s, inv) = call(
        &app,
        &manager,
        Method::POST,
        &format!("/api/v1/invoices/{invoice}/actions/issue"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{inv}");
    assert_eq!(inv["status"], "issued");
    assert_eq!(inv["number"], "СЧ-SV/00001");
    assert_eq!(
        inv["total_in_words"],
        "семьдесят девять тысяч девятьсот пятьдесят рублей 00 копеек"
    );
    let (s, printed) = call(
        &app,
        &manager,
        Method::GET,
        &format!("/api/v1/invoices/{invoice}/print"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let printed = printed.as_str().unwrap().to_owned();
    assert!(printed.contains("СЧ-SV/00001"), "{printed}");
    assert!(
        printed.contains("Семьдесят девять тысяч девятьсот пятьдесят рублей 00 копеек"),
        "{printed}"
    );

    // Two partial payments. The first covers the advance: the order is confirmed.
    let (s, p1) = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/payments",
        Some(json!({
        "date": "2026-11-21", "amount": "40000.00", "payer_legal_entity_id": id(&buyer),
        "payment_order_number": "101", "purpose": "Аванс по счёту СЧ-SV/00001",
        "applications": [{"invoice_id": invoice, "amount": "40000.00"}]})),
    )
    .await;
    assert_eq!(s, 201, "{p1}");
    let (_, inv) = call(
        &app,
        &manager,
        Method::GET,
        &format!("/api/v1/invoices/{invoice}"),
        None,
    )
    .await;
    assert_eq!(inv["status"], "partially_paid");
    assert_eq!(inv["outstanding"], "39950.00");
    let (_, o) = call(
        &app,
        &manager,
        Method::GET,
        &format!("/api/v1/orders/{order}"),
        None,
    )
    .await;
    assert_eq!(o["status"], "confirmed", "{o}");
    assert_eq!(o["paid_amount"], "40000.00", "{o}");
    // 40 000.00 of the deal's 83 000.00 = 48.19 % (rounded down to hundredths).
    let (_, d) = call(
        &app,
        &manager,
        Method::GET,
        &format!("/api/v1/deals/{deal}"),
        None,
    )
    .await;
    assert_eq!(d["payment_percent"], "48.19");

    let (s, p2) = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/payments",
        Some(json!({
        "date": "2026-11-23", "amount": "39950.00", "payer_legal_entity_id": id(&buyer),
        "payment_order_number": "102", "purpose": "Оплата по счёту СЧ-SV/00001",
        "applications": [{"invoice_id": invoice}]})),
    )
    .await;
    assert_eq!(s, 201, "{p2}");
    assert_eq!(p2["unapplied_amount"], "0.00");
    let (_, inv) = call(
        &app,
        &manager,
        Method::GET,
        &format!("/api/v1/invoices/{invoice}"),
        None,
    )
    .await;
    assert_eq!(inv["status"], "paid");
    assert_eq!(inv["outstanding"], "0.00");
    // 79 950.00 of 83 000.00 = 96.32 %.
    let (_, d) = call(
        &app,
        &manager,
        Method::GET,
        &format!("/api/v1/deals/{deal}"),
        None,
    )
    .await;
    assert_eq!(d["payment_percent"], "96.32");

    // The supervisor's inbox: one watcher notification per payment, each with all six fields.
    let (s, inbox) = call(
        &app,
        &boss_token,
        Method::GET,
        "/api/v1/notifications?limit=200",
        None,
    )
    .await;
    assert_eq!(s, 200, "{inbox}");
    let notes: Vec<String> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "deal_payment")
        .map(|n| n["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    for (amount, percent) in [("40000.00", "48.19"), ("39950.00", "96.32")] {
        let note = notes
            .iter()
            .find(|n| n.contains(&format!("Сумма платежа: {amount} RUB")))
            .unwrap_or_else(|| panic!("a watcher note for the payment of {amount}: {notes:?}"));
        for field in [
            "Сделка: Видеонаблюдение для ТСЖ".to_owned(),
            format!("Сумма платежа: {amount} RUB"),
            format!("Оплачено по сделке: {percent}%"),
            "Заказ: З-0001".to_owned(),
            "Счёт: СЧ-SV/00001".to_owned(),
            "Стадия сделки: Новая".to_owned(),
        ] {
            assert!(note.contains(&field), "«{field}» in {note}");
        }
    }
    // …and the same by email, at the real SMTP sink.
    let watcher_mail = mail_containing(&smtp, "boss@example.com", "96.32").await;
    assert!(watcher_mail.contains("Заказ: З-0001"), "{watcher_mail}");
    assert!(watcher_mail.contains("Счёт: СЧ-SV/00001"), "{watcher_mail}");

    // The order's history shows the advance arriving.
    let (s, tl) = call(
        &app,
        &manager,
        Method::GET,
        &format!("/api/v1/orders/{order}/transitions"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{tl}");
    assert!(tl.to_string().contains("advance-received"), "{tl}");
}
