//! Money documents over HTTP: numbering templates (WF-NUM), customer invoices (DOC-3),
//! payments (DOC-4), the deal payment watcher (WF-PAY-1) and the money reports.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::Method;
use sdelka_api::server::{build_state, start};
use sdelka_tests::{TestApp, organization_body};
use serde_json::{Value, json};

async fn call(
    app: &TestApp,
    base: &str,
    token: &str,
    m: Method,
    path: &str,
    b: Option<&Value>,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(m, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = b {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(app: &TestApp, path: &str, b: &Value) -> (u16, Value) {
    call(
        app,
        &app.base,
        &app.admin_token,
        Method::POST,
        path,
        Some(b),
    )
    .await
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    call(app, &app.base, &app.admin_token, Method::GET, path, None).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// An own organisation with code `code`, and a buyer legal entity.
pub(crate) async fn seller_and_buyer(app: &TestApp, code: &str) -> (String, String) {
    let (s, org) = post(
        app,
        "/api/v1/organizations",
        &organization_body(code, "ООО «Ромашка»"),
    )
    .await;
    assert_eq!(s, 201, "{org}");
    let (s, company) = post(app, "/api/v1/companies", &json!({"name": "ТСЖ <Берёзка>"})).await;
    assert_eq!(s, 201, "{company}");
    let (s, buyer) = post(
        app,
        "/api/v1/legal-entities",
        &json!({"company_id": id(&company), "kind": "legal_entity", "full_name": "ТСЖ «Берёзка» <b>",
                "short_name": "Берёзка", "inn": "7707083893", "kpp": "773601001", "legal_address": "Москва"}),
    )
    .await;
    assert_eq!(s, 201, "{buyer}");
    (id(&org), id(&buyer))
}

pub(crate) async fn template(app: &TestApp, org: &str, template: &str, reset: &str) -> String {
    let (s, t) = post(
        app,
        "/api/v1/numbering-templates",
        &json!({"organization_id": org, "document_type": "invoice", "template": template, "reset": reset}),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    id(&t)
}

pub(crate) async fn draft(app: &TestApp, org: &str, buyer: &str, date: &str, price: &str) -> Value {
    let (s, inv) = post(
        app,
        "/api/v1/invoices",
        &json!({"organization_id": org, "buyer_legal_entity_id": buyer, "date": date,
                "lines": [{"name": "Монтаж", "quantity": "1", "price": price, "vat_rate": "none"}]}),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    inv
}

async fn issue(app: &TestApp, invoice: &str) -> (u16, Value) {
    post(
        app,
        &format!("/api/v1/invoices/{invoice}/actions/issue"),
        &json!({}),
    )
    .await
}

#[tokio::test]
async fn numbers_come_from_the_document_date_and_preview_takes_none() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "RM").await;
    let t = template(&app, &org, "СЧ-{ORG}/{YY}{MM}-{N:3}", "monthly").await;
    let preview = |date: &'static str| {
        let app = &app;
        let t = t.clone();
        async move {
            let (s, p) = post(
                app,
                &format!("/api/v1/numbering-templates/{t}/preview"),
                &json!({"date": date}),
            )
            .await;
            assert_eq!(s, 200, "{p}");
            p["number"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(preview("2026-12-28").await, "СЧ-RM/2612-001");
    assert_eq!(
        preview("2026-12-28").await,
        "СЧ-RM/2612-001",
        "preview takes nothing"
    );

    // A draft has no number; issuing a December invoice (whenever) gives December's series.
    let dec = draft(&app, &org, &buyer, "2026-12-28", "100.00").await;
    assert_eq!(dec["number"], Value::Null);
    assert_eq!(dec["status"], "draft");
    let (s, issued) = issue(&app, &id(&dec)).await;
    assert_eq!(s, 200, "{issued}");
    assert_eq!(issued["number"], "СЧ-RM/2612-001");
    assert_eq!(issued["status"], "issued");
    assert_eq!(preview("2026-12-01").await, "СЧ-RM/2612-002");

    // A monthly template restarts at 1 in a new month.
    let jan = draft(&app, &org, &buyer, "2027-01-05", "100.00").await;
    let (_, jan) = issue(&app, &id(&jan)).await;
    assert_eq!(jan["number"], "СЧ-RM/2701-001");

    // Cancelled: the number stays as a void and is not given again.
    let (s, void) = post(
        &app,
        &format!("/api/v1/invoices/{}/actions/cancel", id(&issued)),
        &json!({"comment": "ошибка"}),
    )
    .await;
    assert_eq!(s, 200, "{void}");
    assert_eq!(void["status"], "cancelled");
    assert_eq!(void["number"], "СЧ-RM/2612-001");
    let next = draft(&app, &org, &buyer, "2026-12-30", "100.00").await;
    let (_, next) = issue(&app, &id(&next)).await;
    assert_eq!(next["number"], "СЧ-RM/2612-002");

    // Issued invoices are not editable; a second issue is refused with the state named.
    let (s, p) = call(
        &app,
        &app.base,
        &app.admin_token,
        Method::PATCH,
        &format!("/api/v1/invoices/{}", id(&next)),
        Some(&json!({"due_date": "2027-02-01"})),
    )
    .await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["code"], "invalid_transition");
    let (s, p) = issue(&app, &id(&next)).await;
    assert_eq!(s, 409);
    assert!(p["detail"].as_str().unwrap().contains("issued"), "{p}");

    // The timeline shows the invoice's history.
    let (s, tl) = get(&app, &format!("/api/v1/invoices/{}/timeline", id(&next))).await;
    assert_eq!(s, 200, "{tl}");
}

#[tokio::test]
async fn issuing_without_a_template_is_a_clear_conflict_and_drafts_are_editable() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "NT").await;
    let d = draft(&app, &org, &buyer, "2026-11-01", "10.00").await;
    let (s, p) = issue(&app, &id(&d)).await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["code"], "no_numbering_template");
    let (s, edited) = call(
        &app,
        &app.base,
        &app.admin_token,
        Method::PATCH,
        &format!("/api/v1/invoices/{}", id(&d)),
        Some(&json!({"lines": [{"name": "Камера", "quantity": "2", "price": "5000.00", "vat_rate": "22"},
                               {"name": "Кабель", "quantity": "10", "price": "10.00", "vat_rate": "10"}]})),
    )
    .await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["total"], "12310.00");
    assert_eq!(edited["vat"], "2210.00");
    assert_eq!(edited["vat_by_rate"].as_array().unwrap().len(), 2);
    assert_eq!(edited["lines"].as_array().unwrap().len(), 2);
    // Bad lines name their field.
    let (s, p) = post(
        &app,
        "/api/v1/invoices",
        &json!({"organization_id": org, "buyer_legal_entity_id": buyer, "lines": [{"name": "X", "price": "-1"}]}),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(p["errors"][0]["field"], "lines[0].price");
}

#[tokio::test]
async fn total_in_words_matches_hand_computed_strings() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "TW").await;
    let cases = [
        ("0.01", "ноль рублей 01 копейка"),
        ("1.00", "один рубль 00 копеек"),
        ("2.00", "два рубля 00 копеек"),
        ("5.00", "пять рублей 00 копеек"),
        ("11.00", "одиннадцать рублей 00 копеек"),
        ("21.00", "двадцать один рубль 00 копеек"),
        ("1000.00", "одна тысяча рублей 00 копеек"),
        ("1245.50", "одна тысяча двести сорок пять рублей 50 копеек"),
        ("1000000.00", "один миллион рублей 00 копеек"),
        (
            "2147483647.99",
            "два миллиарда сто сорок семь миллионов четыреста восемьдесят три тысячи шестьсот сорок семь рублей 99 копеек",
        ),
    ];
    for (amount, words) in cases {
        let inv = draft(&app, &org, &buyer, "2026-11-20", amount).await;
        assert_eq!(inv["total"], amount);
        assert_eq!(inv["total_in_words"], words, "{amount}");
    }
}

#[tokio::test]
async fn the_printed_form_has_bank_details_lines_vat_and_words_escaped() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "PR").await;
    template(&app, &org, "{N:4}", "never").await;
    let (s, inv) = post(
        &app,
        "/api/v1/invoices",
        &json!({"organization_id": org, "buyer_legal_entity_id": buyer, "date": "2026-11-20",
                "lines": [{"name": "<script>alert(1)</script>", "quantity": "1", "price": "1020.90", "vat_rate": "22"}]}),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    issue(&app, &id(&inv)).await;
    let res = app
        .request(
            Method::GET,
            &format!("/api/v1/invoices/{}/print", id(&inv)),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Счёт на оплату № 0001 от 20.11.2026"),
        "{html}"
    );
    assert!(html.contains("044525225") && html.contains("40702810938000000001"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>"));
    assert!(html.contains("ТСЖ «Берёзка» &lt;b&gt;"));
    // VAT charged on top of the price: «НДС 22 %», not «В том числе».
    assert!(html.contains("НДС 22 %:") && !html.contains("В том числе НДС"));
    assert!(html.contains("224,60"));
    assert!(
        html.contains("Одна тысяча двести сорок пять рублей 50 копеек"),
        "{html}"
    );
}

/// The same form as a PDF, asked for by `?format=pdf` or by `Accept: application/pdf`; its
/// text (read back with a PDF parser) carries the same figures and words. A void is marked.
#[tokio::test]
async fn the_printed_form_is_also_a_pdf_with_the_same_content() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "PD").await;
    template(&app, &org, "СЧ-{N:4}", "never").await;
    let (s, inv) = post(
        &app,
        "/api/v1/invoices",
        &json!({"organization_id": org, "buyer_legal_entity_id": buyer, "date": "2026-11-20",
                "due_date": "2026-11-27",
                "lines": [{"name": "<script>alert(1)</script>", "quantity": "1", "price": "1020.90", "vat_rate": "22"},
                          {"name": "Монтаж видеокамеры", "quantity": "2.5", "unit_name": "ч", "price": "100.00", "vat_rate": "none"}]}),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    let (s, issued) = issue(&app, &id(&inv)).await;
    assert_eq!(s, 200, "{issued}");
    let print = format!("/api/v1/invoices/{}/print", id(&inv));
    let fetch = |path: String, accept: Option<&'static str>| {
        let mut req = app.request(Method::GET, &path, &app.admin_token);
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        async move { req.send().await.unwrap() }
    };
    let by_param = fetch(format!("{print}?format=pdf"), None).await;
    assert_eq!(by_param.status(), 200);
    assert_eq!(by_param.headers()["content-type"], "application/pdf");
    assert_eq!(
        by_param.headers()["content-disposition"],
        "inline; filename=\"invoice-__-0001.pdf\"; filename*=UTF-8''invoice-%D0%A1%D0%A7-0001.pdf"
    );
    let pdf = by_param.bytes().await.unwrap();
    let by_accept = fetch(print.clone(), Some("application/pdf")).await;
    assert_eq!(by_accept.headers()["content-type"], "application/pdf");

    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    for expected in [
        "Счёт на оплату № СЧ-0001 от 20.11.2026",
        "044525225",
        "40702810938000000001",
        "<script>alert(1)</script>",
        "Монтаж видеокамеры",
        "2,5",
        "1 020,90",
        "250,00",
        "НДС 22 %:",
        "224,60",
        "Без НДС",
        "1 495,50",
        "Одна тысяча четыреста девяносто пять рублей 50 копеек",
        "27.11.2026",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
    assert!(!text.contains("АННУЛИРОВАН"));

    let (s, _) = post(
        &app,
        &format!("/api/v1/invoices/{}/actions/cancel", id(&inv)),
        &json!({"comment": "ошибка"}),
    )
    .await;
    assert_eq!(s, 200);
    let void = fetch(format!("{print}?format=pdf"), None).await;
    let text = pdf_text(&void.bytes().await.unwrap());
    assert!(text.contains("АННУЛИРОВАН"), "{text:?}");

    // HTML stays the default; an unknown format is a 422 naming the parameter.
    let html = fetch(print.clone(), Some("*/*")).await;
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let bad = fetch(format!("{print}?format=docx"), None).await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "format", "{problem}");
}

/// The text of every page of a PDF, one string.
fn pdf_text(bytes: &[u8]) -> String {
    let doc = printpdf::PdfDocument::parse(
        bytes,
        &printpdf::PdfParseOptions::default(),
        &mut Vec::new(),
    )
    .expect("a readable PDF");
    doc.extract_text()
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n")
}

/// WF-NUM-2: 1 000 concurrent issues from one template give 1 000 distinct numbers without a
/// gap; on PostgreSQL half of them go through a second server instance on the same database.
#[tokio::test]
async fn a_thousand_concurrent_issues_give_a_thousand_numbers_without_gaps() {
    const N: usize = 1000;
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "CC").await;
    template(&app, &org, "{YYYY}-{N:5}", "yearly").await;
    let second = if app.database.postgres {
        let mut c = app.config.clone();
        c.bind = "127.0.0.1:0".into();
        Some(start(build_state(c).await.unwrap(), false).await.unwrap())
    } else {
        None
    };
    let second_base = second.as_ref().map(|s| format!("http://{}", s.addr));
    let ids: Vec<String> = stream::iter(0..N)
        .map(|_| async { id(&draft(&app, &org, &buyer, "2026-06-15", "1.00").await) })
        .buffer_unordered(16)
        .collect()
        .await;
    let started = Instant::now();
    // Generous client-side concurrency; SQLite serialises writers anyway.
    let limit = if app.database.postgres { 200 } else { 64 };
    let results: Vec<(u16, Value)> = stream::iter(ids.iter().enumerate())
        .map(|(i, inv)| {
            let base = match (&second_base, i % 2) {
                (Some(b), 1) => b.clone(),
                _ => app.base.clone(),
            };
            let app = &app;
            async move {
                call(
                    app,
                    &base,
                    &app.admin_token,
                    Method::POST,
                    &format!("/api/v1/invoices/{inv}/actions/issue"),
                    Some(&json!({})),
                )
                .await
            }
        })
        .buffer_unordered(limit)
        .collect()
        .await;
    let took = started.elapsed();
    let mut numbers = HashSet::new();
    for (s, body) in &results {
        assert_eq!(*s, 200, "{body}");
        assert!(
            numbers.insert(body["number"].as_str().unwrap().to_owned()),
            "duplicate {body}"
        );
    }
    let expected: HashSet<String> = (1..=N).map(|n| format!("2026-{n:05}")).collect();
    assert_eq!(numbers, expected, "gap-free 1..={N}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    if let Some(s) = second {
        s.stop(true).await;
    }
}

async fn as_user(
    app: &TestApp,
    token: &str,
    m: Method,
    path: &str,
    b: Option<&Value>,
) -> (u16, Value) {
    call(app, &app.base, token, m, path, b).await
}

/// A supervisor and his manager; the manager's deal of 1 000.00 with order number З-17.
async fn deal_of_manager(app: &TestApp) -> (String, String, String) {
    let (s, boss) = post(app, "/api/v1/users", &json!({"email": "boss@example.com", "name": "Начальник", "password": "password-123", "roles": ["head"]})).await;
    assert_eq!(s, 201, "{boss}");
    let (s, m) = post(app, "/api/v1/users", &json!({"email": "m@example.com", "name": "Менеджер", "password": "password-123", "roles": ["sales_manager"], "supervisor_id": id(&boss)})).await;
    assert_eq!(s, 201, "{m}");
    let (s, deal) = post(app, "/api/v1/deals", &json!({"title": "Камеры для ТСЖ", "amount": "1000.00", "responsible_id": id(&m), "order_number": "З-17"})).await;
    assert_eq!(s, 201, "{deal}");
    (
        id(&boss),
        app.login("boss@example.com", "password-123").await,
        id(&deal),
    )
}

async fn deal_invoice(app: &TestApp, org: &str, buyer: &str, deal: &str, price: &str) -> Value {
    let (s, inv) = post(
        app,
        "/api/v1/invoices",
        &json!({"organization_id": org, "buyer_legal_entity_id": buyer, "deal_id": deal, "date": "2026-11-20",
                "lines": [{"name": "Камера", "quantity": "1", "price": price, "vat_rate": "none"}]}),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    let (s, inv) = issue(app, &id(&inv)).await;
    assert_eq!(s, 200, "{inv}");
    inv
}

async fn watcher_notes(app: &TestApp, token: &str) -> Vec<Value> {
    let (s, page) = as_user(
        app,
        token,
        Method::GET,
        "/api/v1/notifications?limit=200",
        None,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "deal_payment")
        .cloned()
        .collect()
}

#[tokio::test]
async fn partial_payments_pay_the_invoice_move_the_deal_percent_and_tell_the_supervisor() {
    let smtp = sdelka_tests::smtp::SmtpSink::start().await;
    let url = smtp.url();
    let app =
        TestApp::spawn_with(|c| c.smtp_url = Some(sdelka_api::config::Secret::new(url))).await;
    let (org, buyer) = seller_and_buyer(&app, "PM").await;
    template(&app, &org, "СЧ-{N:4}", "never").await;
    let (_, boss_token, deal) = deal_of_manager(&app).await;
    let inv = deal_invoice(&app, &org, &buyer, &deal, "1000.00").await;
    let inv_id = id(&inv);

    let (s, p1) = post(&app, "/api/v1/payments", &json!({"date": "2026-11-21", "amount": "400.00", "payer_name": "ТСЖ «Берёзка»", "payer_inn": "7707083893", "payment_order_number": "11", "applications": [{"invoice_id": inv_id, "amount": "400.00"}]})).await;
    assert_eq!(s, 201, "{p1}");
    assert_eq!(p1["unapplied_amount"], "0.00");
    let (_, i) = get(&app, &format!("/api/v1/invoices/{inv_id}")).await;
    assert_eq!(i["status"], "partially_paid");
    assert_eq!(i["outstanding"], "600.00");
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    assert_eq!(d["payment_percent"], "40.00");

    // Overpayment: 700 paid, 600 applied, 100 stays unapplied.
    let (s, p2) = post(&app, "/api/v1/payments", &json!({"date": "2026-11-25", "amount": "700.00", "payer_name": "ТСЖ «Берёзка»", "payment_order_number": "12"})).await;
    assert_eq!(s, 201, "{p2}");
    let p2_id = id(&p2);
    let (s, p) = post(
        &app,
        &format!("/api/v1/payments/{p2_id}/applications"),
        &json!({"invoice_id": inv_id, "amount": "700.00"}),
    )
    .await;
    assert_eq!(s, 422, "more than outstanding: {p}");
    let (s, p2) = post(
        &app,
        &format!("/api/v1/payments/{p2_id}/applications"),
        &json!({"invoice_id": inv_id}),
    )
    .await;
    assert_eq!(s, 201, "{p2}");
    assert_eq!(p2["applied_amount"], "600.00");
    assert_eq!(p2["unapplied_amount"], "100.00");
    let (_, i) = get(&app, &format!("/api/v1/invoices/{inv_id}")).await;
    assert_eq!(i["status"], "paid");
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    assert_eq!(d["payment_percent"], "100.00");
    // Applying again to a paid invoice is refused; a second application to an open one too.
    let (s, _) = post(
        &app,
        &format!("/api/v1/payments/{p2_id}/applications"),
        &json!({"invoice_id": inv_id, "amount": "1.00"}),
    )
    .await;
    assert_eq!(s, 409);
    let inv2 = deal_invoice(&app, &org, &buyer, &deal, "500.00").await;
    let (s, _) = post(
        &app,
        &format!("/api/v1/payments/{p2_id}/applications"),
        &json!({"invoice_id": id(&inv2), "amount": "10.00"}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, p) = post(
        &app,
        &format!("/api/v1/payments/{p2_id}/applications"),
        &json!({"invoice_id": id(&inv2), "amount": "10.00"}),
    )
    .await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["code"], "already_applied");
    let (s, p) = post(
        &app,
        &format!("/api/v1/payments/{p2_id}/applications"),
        &json!({"invoice_id": id(&inv2), "amount": "5000.00"}),
    )
    .await;
    assert_eq!(s, 422, "{p}");

    // The supervisor got the watcher's notifications with all six fields.
    let notes = watcher_notes(&app, &boss_token).await;
    assert_eq!(notes.len(), 2, "{notes:?}");
    let first = notes
        .iter()
        .find(|n| {
            n["body"]
                .as_str()
                .unwrap()
                .contains("Оплачено по сделке: 40.00%")
        })
        .expect("40 % note");
    let body = first["body"].as_str().unwrap();
    for part in [
        "Сделка: Камеры для ТСЖ",
        "Сумма платежа: 400.00 RUB",
        "Заказ: З-17",
        "Счёт: СЧ-0001",
        "Стадия сделки: Новая",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
    let mail = sdelka_tests::eventually(Duration::from_secs(30), || async {
        smtp.messages_to("boss@example.com").into_iter().next()
    })
    .await
    .expect("the watcher email arrives");
    assert!(mail.contains("boss@example.com"));

    // Un-applying is audited and recomputes everything.
    let app_id = p1["applications"][0]["id"].as_str().unwrap().to_owned();
    let p1_id = id(&p1);
    let (s, p1) = call(
        &app,
        &app.base,
        &app.admin_token,
        Method::DELETE,
        &format!("/api/v1/payments/{p1_id}/applications/{app_id}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{p1}");
    assert_eq!(p1["unapplied_amount"], "400.00");
    assert!(p1["applications"][0]["unapplied_at"].is_string());
    let (_, i) = get(&app, &format!("/api/v1/invoices/{inv_id}")).await;
    assert_eq!(i["status"], "partially_paid");
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    // 600 + 10 of 1 000.
    assert_eq!(d["payment_percent"], "61.00");
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let audits = sdelka_persistence::entity::audit_record::Entity::find()
        .filter(sdelka_persistence::entity::audit_record::Column::Action.eq("unapplied"))
        .all(&app.server.as_ref().unwrap().state.store.conn)
        .await
        .unwrap();
    assert_eq!(audits.len(), 1);
    assert!(audits[0].actor_id.is_some());
    let (s, tl) = get(&app, &format!("/api/v1/payments/{p1_id}/timeline")).await;
    assert_eq!(s, 200, "{tl}");
    assert!(tl.to_string().contains("\"unapplied\""), "{tl}");

    // A disabled watcher says nothing.
    let before = watcher_notes(&app, &boss_token).await.len();
    let (_, rules) = get(
        &app,
        "/api/v1/automation-rules?trigger_type=deal_payment_percent_changed",
    )
    .await;
    let rule = id(&rules["items"][0]);
    assert_eq!(
        rule, "01930000-0000-7000-8000-0000a0700001",
        "the seeded watcher"
    );
    let (s, r) = call(
        &app,
        &app.base,
        &app.admin_token,
        Method::PATCH,
        &format!("/api/v1/automation-rules/{rule}"),
        Some(&json!({"enabled": false})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let (s, _) = post(
        &app,
        &format!("/api/v1/payments/{p1_id}/applications"),
        &json!({"invoice_id": inv_id, "amount": "100.00"}),
    )
    .await;
    assert_eq!(s, 201);
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    assert_eq!(d["payment_percent"], "71.00");
    assert_eq!(watcher_notes(&app, &boss_token).await.len(), before);
}

/// Concurrent applications of one payment never apply more than it holds.
#[tokio::test]
async fn concurrent_applications_of_one_payment_do_not_over_apply() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "CA").await;
    template(&app, &org, "{N:4}", "never").await;
    let mut invoices = Vec::new();
    for _ in 0..10 {
        let d = draft(&app, &org, &buyer, "2026-11-20", "100.00").await;
        issue(&app, &id(&d)).await;
        invoices.push(id(&d));
    }
    let (_, pay) = post(
        &app,
        "/api/v1/payments",
        &json!({"amount": "350.00", "payer_name": "Плательщик"}),
    )
    .await;
    let pay = id(&pay);
    let results: Vec<u16> = stream::iter(invoices.iter())
        .map(|inv| {
            let app = &app;
            let pay = pay.clone();
            async move {
                post(
                    app,
                    &format!("/api/v1/payments/{pay}/applications"),
                    &json!({"invoice_id": inv, "amount": "100.00"}),
                )
                .await
                .0
            }
        })
        .buffer_unordered(10)
        .collect()
        .await;
    assert_eq!(
        results.iter().filter(|s| **s == 201).count(),
        3,
        "{results:?}"
    );
    let (_, p) = get(&app, &format!("/api/v1/payments/{pay}")).await;
    assert_eq!(p["applied_amount"], "300.00");
    assert_eq!(p["unapplied_amount"], "50.00");
}

/// REP-2 and REP-3 on a small data set whose figures are computed by hand.
#[tokio::test]
async fn reports_match_hand_computed_figures_in_json_and_csv() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "RP").await;
    template(&app, &org, "{N:4}", "never").await;
    let (_, _, deal) = deal_of_manager(&app).await;
    let (_, manager) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    let manager = manager["responsible_id"].as_str().unwrap().to_owned();

    // Receivables as of 2026-12-31:
    //   A 100.00 due 2027-01-10 → not yet due;
    //   B 200.00 due 2026-12-15, 50.00 paid on 2026-12-20 → 150.00 in 0–30 (16 days);
    //   C 300.00 due 2026-09-01 → 90+ (121 days);
    //   D 400.00 due 2026-11-15, paid 400.00 on 2027-01-05 (after as_of) → 31–60 (46 days);
    //   E 70.00 due 2026-10-20 → 61–90 (72 days), a deal invoice paid 30.00 on 2026-06-10.
    let mk = |price: &'static str, due: &'static str, deal: Option<String>| {
        let app = &app;
        let (org, buyer) = (org.clone(), buyer.clone());
        async move {
            let (s, inv) = post(
                app,
                "/api/v1/invoices",
                &json!({"organization_id": org, "buyer_legal_entity_id": buyer, "date": "2026-08-01", "due_date": due, "deal_id": deal,
                        "lines": [{"name": "Услуга", "quantity": "1", "price": price, "vat_rate": "none"}]}),
            )
            .await;
            assert_eq!(s, 201, "{inv}");
            issue(app, &id(&inv)).await;
            id(&inv)
        }
    };
    mk("100.00", "2027-01-10", None).await;
    let b = mk("200.00", "2026-12-15", None).await;
    mk("300.00", "2026-09-01", None).await;
    let d = mk("400.00", "2026-11-15", None).await;
    let e = mk("70.00", "2026-10-20", Some(deal.clone())).await;
    let pay = |date: &'static str, amount: &'static str, inv: String| {
        let app = &app;
        async move {
            let (s, p) = post(app, "/api/v1/payments", &json!({"date": date, "amount": amount, "payer_name": "Плательщик", "applications": [{"invoice_id": inv, "amount": amount}]})).await;
            assert_eq!(s, 201, "{p}");
        }
    };
    pay("2026-12-20", "50.00", b).await;
    pay("2027-01-05", "400.00", d).await;
    pay("2026-06-10", "30.00", e).await;

    let (s, r) = get(
        &app,
        &format!("/api/v1/reports/receivables?as_of=2026-12-31&organization_id={org}"),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["buckets"],
        json!({"not_yet_due": "100.00", "0-30": "150.00", "31-60": "400.00", "61-90": "40.00", "90+": "300.00"})
    );
    assert_eq!(r["total"], "990.00");
    assert_eq!(r["invoices"].as_array().unwrap().len(), 5);
    let res = app
        .request(
            Method::GET,
            "/api/v1/reports/receivables?as_of=2026-12-31",
            &app.admin_token,
        )
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("UTF-8 with BOM");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "invoice_id,number,buyer_legal_entity_id,date,due_date,days_past_due,bucket,outstanding"
    );
    assert_eq!(lines.len(), 6);
    assert!(lines[1].ends_with(",121,90+,300.00"), "{csv}");

    // Managers monthly: the manager's deal is won this month; 30.00 came on 2026-06-10 for an
    // invoice of his deal. Other payments are for invoices without a deal.
    let won_stage = "01930000-0000-7000-8000-00005a1e0105";
    let (s, w) = call(
        &app,
        &app.base,
        &app.admin_token,
        Method::PATCH,
        &format!("/api/v1/deals/{deal}"),
        Some(&json!({"stage_id": won_stage})),
    )
    .await;
    assert_eq!(s, 200, "{w}");
    let this_month = chrono::Utc::now().format("%Y-%m").to_string();
    let (s, m) = get(
        &app,
        "/api/v1/reports/managers-monthly?from=2026-01-01&to=2027-12-31",
    )
    .await;
    assert_eq!(s, 200, "{m}");
    let rows = m["rows"].as_array().unwrap();
    let nov = rows
        .iter()
        .find(|r| r["month"] == "2026-06" && r["manager_id"] == manager.as_str())
        .expect("June row");
    assert_eq!(nov["payments_received"], "30.00");
    let won = rows
        .iter()
        .find(|r| r["month"] == this_month.as_str() && r["manager_id"] == manager.as_str())
        .expect("won row");
    assert_eq!(won["deals_won"], 1);
    assert_eq!(won["deals_won_amount"], "1000.00");
    let res = app
        .request(
            Method::GET,
            "/api/v1/reports/managers-monthly?from=2026-01-01&to=2027-12-31&format=csv",
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("UTF-8 with BOM");
    assert!(
        csv.starts_with(
            "manager_id,manager_name,month,payments_received,deals_won,deals_won_amount"
        )
    );
    assert!(
        csv.contains(&format!("{manager},Менеджер,2026-06,30.00,0,0.00")),
        "{csv}"
    );
    // A manager may not read reports.
    let (_, token) = app
        .user_with_roles("x@example.com", &["sales_manager"])
        .await;
    let (s, _) = as_user(
        &app,
        &token,
        Method::GET,
        "/api/v1/reports/receivables",
        None,
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn an_invoice_from_a_deal_copies_its_rows_and_is_visible_like_the_deal() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "DL").await;
    let (m1, m1_token) = app
        .user_with_roles("m1@example.com", &["sales_manager"])
        .await;
    let (_, m2_token) = app
        .user_with_roles("m2@example.com", &["sales_manager"])
        .await;
    let (_, acc_token) = app
        .user_with_roles("acc@example.com", &["accountant"])
        .await;
    // The client is the admin's: he opens the deal for m1 (a manager names only clients he
    // sees).
    let (s, deal) = as_user(
        &app,
        &app.admin_token,
        Method::POST,
        "/api/v1/deals",
        Some(&json!({"title": "Лифты", "legal_entity_id": buyer, "responsible_id": m1})),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let deal = id(&deal);
    for row in [
        json!({"name": "Обследование лифта", "quantity": "2", "price": "15000.00", "vat_rate": "22"}),
        json!({"name": "Выезд инженера", "quantity": "1", "price": "3000.00", "vat_rate": "none"}),
    ] {
        let (s, r) = as_user(
            &app,
            &m1_token,
            Method::POST,
            &format!("/api/v1/deals/{deal}/product-rows"),
            Some(&row),
        )
        .await;
        assert_eq!(s, 201, "{r}");
    }
    // No buyer named: the deal's legal entity; no lines: the deal's rows.
    let (s, inv) = as_user(
        &app,
        &m1_token,
        Method::POST,
        "/api/v1/invoices",
        Some(&json!({"organization_id": org, "deal_id": deal})),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(inv["buyer_legal_entity_id"], buyer.as_str());
    assert_eq!(inv["responsible_id"], m1.to_string());
    assert_eq!(inv["lines"].as_array().unwrap().len(), 2);
    assert_eq!(inv["total"], "39600.00");
    assert_eq!(inv["vat"], "6600.00");
    assert_eq!(
        inv["total_in_words"],
        "тридцать девять тысяч шестьсот рублей 00 копеек"
    );
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    assert_eq!(d["amount"], inv["total"]);
    let path = format!("/api/v1/invoices/{}", id(&inv));
    // Another manager does not see it, not even in lists; an accountant does.
    let (s, _) = as_user(&app, &m2_token, Method::GET, &path, None).await;
    assert_eq!(s, 404);
    let (_, list) = as_user(&app, &m2_token, Method::GET, "/api/v1/invoices", None).await;
    assert_eq!(list["items"], json!([]));
    let (s, _) = as_user(&app, &acc_token, Method::GET, &path, None).await;
    assert_eq!(s, 200);
    let (_, list) = as_user(
        &app,
        &m1_token,
        Method::GET,
        &format!("/api/v1/invoices?deal_id={deal}&status=draft"),
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Someone else's deal cannot be invoiced by m2.
    let (s, p) = as_user(
        &app,
        &m2_token,
        Method::POST,
        "/api/v1/invoices",
        Some(&json!({"organization_id": org, "deal_id": deal})),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(p["errors"][0]["field"], "deal_id");
}

/// Many payments applied at once to one invoice of one deal: none is refused for a race, the
/// invoice ends paid and the deal at 100 %.
#[tokio::test]
async fn concurrent_payments_to_one_invoice_all_land() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "CP").await;
    template(&app, &org, "{N:4}", "never").await;
    let (_, _, deal) = deal_of_manager(&app).await;
    let inv = id(&deal_invoice(&app, &org, &buyer, &deal, "1000.00").await);
    let results: Vec<(u16, Value)> = stream::iter(0..10)
        .map(|n| {
            let app = &app;
            let inv = inv.clone();
            async move {
                post(app, "/api/v1/payments", &json!({"amount": "100.00", "payer_name": "Плательщик", "payment_order_number": format!("{n}"),
                                                      "applications": [{"invoice_id": inv, "amount": "100.00"}]})).await
            }
        })
        .buffer_unordered(10)
        .collect()
        .await;
    for (s, b) in &results {
        assert_eq!(*s, 201, "{b}");
    }
    let (_, i) = get(&app, &format!("/api/v1/invoices/{inv}")).await;
    assert_eq!(i["status"], "paid");
    assert_eq!(i["paid"], "1000.00");
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    assert_eq!(d["payment_percent"], "100.00");
}

/// DEAL-2: issuing an invoice adds its number to the deal's invoice numbers and cancelling it
/// takes the number off again; numbers entered by hand stay. Concurrent issues for one deal
/// both land (the deal is locked, not compare-and-set raced).
#[tokio::test]
async fn a_deal_lists_the_numbers_of_its_live_invoices() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "IN").await;
    template(&app, &org, "СЧ-{N:3}", "never").await;
    let (s, deal) = post(
        &app,
        "/api/v1/deals",
        &json!({"title": "Домофоны", "amount": "900.00", "invoice_numbers": ["1С-55"]}),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let deal = id(&deal);
    let mut drafts = Vec::new();
    for price in ["100.00", "200.00", "300.00"] {
        let (s, inv) = post(
            &app,
            "/api/v1/invoices",
            &json!({"organization_id": org, "buyer_legal_entity_id": buyer, "deal_id": deal,
                    "date": "2026-11-20",
                    "lines": [{"name": "Домофон", "quantity": "1", "price": price, "vat_rate": "none"}]}),
        )
        .await;
        assert_eq!(s, 201, "{inv}");
        drafts.push(id(&inv));
    }
    // A draft has no number yet, so the deal lists none of them.
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    assert_eq!(d["invoice_numbers"], json!(["1С-55"]));

    let issued: Vec<(u16, Value)> =
        futures_util::future::join_all(drafts.iter().map(|inv| issue(&app, inv))).await;
    let mut numbers = Vec::new();
    for (s, inv) in &issued {
        assert_eq!(*s, 200, "{inv}");
        numbers.push(inv["number"].as_str().unwrap().to_owned());
    }
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    let mut listed: Vec<String> = serde_json::from_value(d["invoice_numbers"].clone()).unwrap();
    listed.sort();
    let mut expected = vec![
        "1С-55".to_owned(),
        "СЧ-001".into(),
        "СЧ-002".into(),
        "СЧ-003".into(),
    ];
    expected.sort();
    assert_eq!(listed, expected);

    // The void keeps its number on the invoice but leaves the deal's list.
    let void = &issued[0].1;
    let (s, c) = post(
        &app,
        &format!("/api/v1/invoices/{}/actions/cancel", id(void)),
        &json!({"comment": "ошибка в реквизитах"}),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["number"], void["number"]);
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    let listed: Vec<String> = serde_json::from_value(d["invoice_numbers"].clone()).unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.contains(&"1С-55".to_owned()));
    assert!(!listed.contains(&void["number"].as_str().unwrap().to_owned()));
    // The other two cancelled at once: both land, only the number typed by hand stays.
    let paths: Vec<String> = issued[1..]
        .iter()
        .map(|(_, inv)| format!("/api/v1/invoices/{}/actions/cancel", id(inv)))
        .collect();
    let reason = json!({"comment": "клиент отказался"});
    let cancels: Vec<(u16, Value)> =
        futures_util::future::join_all(paths.iter().map(|p| post(&app, p, &reason))).await;
    for (s, c) in &cancels {
        assert_eq!(*s, 200, "{c}");
    }
    let (_, d) = get(&app, &format!("/api/v1/deals/{deal}")).await;
    assert_eq!(d["invoice_numbers"], json!(["1С-55"]));
    // The changes are in the deal's audit trail like any other edit.
    let (s, history) = get(&app, &format!("/api/v1/deals/{deal}/timeline?limit=50")).await;
    assert_eq!(s, 200, "{history}");
    let edits = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"] == "updated" && e["changes"].to_string().contains("invoice_numbers")
        })
        .count();
    assert_eq!(edits, 6, "three issues and three cancellations: {history}");
}

/// DOC-2 both ways: the advance arriving confirms an order; un-applying that payment so the
/// advance is no longer covered withdraws the confirmation (with a transition and a note to
/// the responsible manager); paying again confirms it again.
#[tokio::test]
async fn unapplying_the_advance_withdraws_the_orders_confirmation() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "WD").await;
    template(&app, &org, "{N:4}", "never").await;
    let (manager, manager_token) = app
        .user_with_roles("m@example.com", &["sales_manager"])
        .await;
    let (s, deal) = post(
        &app,
        "/api/v1/deals",
        &json!({"title": "Шлагбаум", "responsible_id": manager, "legal_entity_id": buyer}),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let deal = id(&deal);
    let (s, row) = post(
        &app,
        &format!("/api/v1/deals/{deal}/product-rows"),
        &json!({"name": "Шлагбаум", "quantity": "1", "price": "1000.00", "vat_rate": "none"}),
    )
    .await;
    assert_eq!(s, 201, "{row}");
    let (s, order) = post(
        &app,
        "/api/v1/orders",
        &json!({"deal_id": deal, "organization_id": org, "advance_amount": "300.00"}),
    )
    .await;
    assert_eq!(s, 201, "{order}");
    let order = id(&order);
    let (s, o) = post(
        &app,
        &format!("/api/v1/orders/{order}/actions/confirm-terms"),
        &json!({}),
    )
    .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["status"], "awaiting_advance");
    let (s, inv) = post(
        &app,
        "/api/v1/invoices",
        &json!({"organization_id": org, "order_id": order}),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    let (s, inv) = issue(&app, &id(&inv)).await;
    assert_eq!(s, 200, "{inv}");
    let pay = |amount: &'static str| {
        let inv = id(&inv);
        let buyer = buyer.clone();
        let app = &app;
        async move {
            let (s, p) = post(
                app,
                "/api/v1/payments",
                &json!({"date": "2026-11-21", "amount": amount, "payer_legal_entity_id": buyer,
                        "payment_order_number": "55", "purpose": "Аванс",
                        "applications": [{"invoice_id": inv, "amount": amount}]}),
            )
            .await;
            assert_eq!(s, 201, "{p}");
            p
        }
    };
    let status =
        || async { get(&app, &format!("/api/v1/orders/{order}")).await.1["status"].clone() };

    let p = pay("300.00").await;
    assert_eq!(status().await, "confirmed");

    let application = p["applications"][0]["id"].as_str().unwrap().to_owned();
    let (s, unapplied) = call(
        &app,
        &app.base,
        &app.admin_token,
        Method::DELETE,
        &format!("/api/v1/payments/{}/applications/{application}", id(&p)),
        None,
    )
    .await;
    assert_eq!(s, 200, "{unapplied}");
    let (_, o) = get(&app, &format!("/api/v1/orders/{order}")).await;
    assert_eq!(o["status"], "awaiting_advance", "{o}");
    assert_eq!(o["paid_amount"], "0.00", "{o}");
    let (_, transitions) = get(&app, &format!("/api/v1/orders/{order}/transitions")).await;
    let actions: Vec<&str> = transitions["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["action"].as_str())
        .collect();
    assert!(
        actions.ends_with(&["advance-received", "advance-withdrawn"]),
        "{transitions}"
    );
    let (_, notes) = as_user(
        &app,
        &manager_token,
        Method::GET,
        "/api/v1/notifications",
        None,
    )
    .await;
    let kinds: Vec<&str> = notes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"order_confirmed"), "{notes}");
    assert!(kinds.contains(&"order_advance_withdrawn"), "{notes}");

    // Paying the advance again confirms the order again.
    pay("300.00").await;
    assert_eq!(status().await, "confirmed");
}
