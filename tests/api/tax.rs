//! Tax and money rules as an accountant checks them, over HTTP: VAT rates follow the date of
//! the document they are on (CAT-2), a supplier invoice is paid in full and registered once
//! (WF-INV), bank requisites fit their bank, a withdrawn payment says so, and the printed
//! invoice reads as a Russian accountant expects (DOC-3).

use futures_util::future::join_all;
use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};

use crate::approvals::{SUPPLIER_EMAIL, World, json_of, world_with};
use crate::money::{seller_and_buyer, template};

async fn send(app: &TestApp, m: Method, path: &str, b: Option<&Value>) -> (u16, Value) {
    let mut req = app.request(m, path, &app.admin_token);
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

async fn post(app: &TestApp, path: &str, b: Value) -> (u16, Value) {
    send(app, Method::POST, path, Some(&b)).await
}

async fn patch(app: &TestApp, path: &str, b: Value) -> (u16, Value) {
    send(app, Method::PATCH, path, Some(&b)).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn invoice(org: &str, buyer: &str, date: &str, lines: Value) -> Value {
    json!({"organization_id": org, "buyer_legal_entity_id": buyer, "date": date, "lines": lines})
}

/// The 422 answered, its first field error's field and code.
fn refusal(status: u16, body: &Value) -> (String, String) {
    assert_eq!(status, 422, "{body}");
    (
        body["errors"][0]["field"].as_str().unwrap().to_owned(),
        body["errors"][0]["code"].as_str().unwrap().to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// Item 1: VAT follows the document's date.

/// An invoice dated 2025-12-31 carries 20 % and refuses 22 %; a line without a rate gets the
/// standard rate of the invoice's date (20 % then, 22 % from 2026), a product at 22 % too; a new
/// date checks the lines already there; a deal's rows follow its expected close date.
#[tokio::test]
async fn vat_rates_follow_the_date_of_the_document() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "VT").await;
    let line = |rate: Option<&str>| {
        let mut l = json!({"name": "Камера", "quantity": "1", "price": "100.00"});
        if let Some(r) = rate {
            l["vat_rate"] = json!(r);
        }
        json!([l])
    };

    let (s, b) = post(
        &app,
        "/api/v1/invoices",
        invoice(&org, &buyer, "2025-12-31", line(Some("22"))),
    )
    .await;
    let (field, code) = refusal(s, &b);
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("lines[0].vat_rate", "vat_rate_not_valid_on_date")
    );
    let message = b["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("2025-12-31") && message.contains("use 20 %"),
        "{message}"
    );

    let (s, dec) = post(
        &app,
        "/api/v1/invoices",
        invoice(&org, &buyer, "2025-12-31", line(Some("20"))),
    )
    .await;
    assert_eq!(s, 201, "{dec}");
    assert_eq!(dec["lines"][0]["vat_rate"], "20");
    assert_eq!(dec["vat"], "20.00", "{dec}");

    let (s, dflt) = post(
        &app,
        "/api/v1/invoices",
        invoice(&org, &buyer, "2025-12-31", line(None)),
    )
    .await;
    assert_eq!(s, 201, "{dflt}");
    assert_eq!(dflt["lines"][0]["vat_rate"], "20", "{dflt}");
    let (s, jan) = post(
        &app,
        "/api/v1/invoices",
        invoice(&org, &buyer, "2026-01-01", line(None)),
    )
    .await;
    assert_eq!(s, 201, "{jan}");
    assert_eq!(jan["lines"][0]["vat_rate"], "22");
    let (s, b) = post(
        &app,
        "/api/v1/invoices",
        invoice(&org, &buyer, "2026-01-01", line(Some("20"))),
    )
    .await;
    assert_eq!(refusal(s, &b).1, "vat_rate_not_valid_on_date");

    // A product at the standard rate follows the date of the document it is put on.
    let (s, product) = post(
        &app,
        "/api/v1/products",
        json!({"name": "Видеорегистратор", "base_price": "1000.00", "vat_rate": "22"}),
    )
    .await;
    assert_eq!(s, 201, "{product}");
    let (s, from_product) = post(
        &app,
        "/api/v1/invoices",
        invoice(
            &org,
            &buyer,
            "2025-12-30",
            json!([{"name": "Видеорегистратор", "product_id": id(&product), "price": "1000.00"}]),
        ),
    )
    .await;
    assert_eq!(s, 201, "{from_product}");
    assert_eq!(from_product["lines"][0]["vat_rate"], "20");

    // Moving the 20 % invoice into 2026 checks its lines: refused on `date`, nothing changes.
    let path = format!("/api/v1/invoices/{}", id(&dec));
    let (s, b) = patch(&app, &path, json!({"date": "2026-01-05"})).await;
    let (field, code) = refusal(s, &b);
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("date", "vat_rate_not_valid_on_date")
    );
    let (_, still) = send(&app, Method::GET, &path, None).await;
    assert_eq!(still["date"], "2025-12-31");
    // With new lines at the new date's rate it moves.
    let (s, moved) = patch(
        &app,
        &path,
        json!({"date": "2026-01-05", "lines": line(None)}),
    )
    .await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["lines"][0]["vat_rate"], "22");
    assert_eq!(moved["date"], "2026-01-05");
    // A date that keeps the lines valid moves alone.
    let (s, b) = patch(&app, &path, json!({"date": "2026-02-01"})).await;
    assert_eq!(s, 200, "{b}");

    // A deal closing in 2025: its rows are priced at 20 %; moving it into 2026 is refused while a
    // 20 % row is on it; a deal without a close date is priced today.
    let (s, deal) = post(
        &app,
        "/api/v1/deals",
        json!({"title": "Камеры", "expected_close_date": "2025-12-20"}),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let rows = format!("/api/v1/deals/{}/product-rows", id(&deal));
    let (s, row) = post(&app, &rows, json!({"name": "Камера", "price": "100.00"})).await;
    assert_eq!(s, 201, "{row}");
    assert_eq!(row["vat_rate"], "20", "{row}");
    let (s, b) = post(
        &app,
        &rows,
        json!({"name": "Камера", "price": "100.00", "vat_rate": "22"}),
    )
    .await;
    assert_eq!(
        refusal(s, &b),
        (
            "vat_rate".to_owned(),
            "vat_rate_not_valid_on_date".to_owned()
        )
    );
    let (s, b) = patch(
        &app,
        &format!("/api/v1/deals/{}", id(&deal)),
        json!({"expected_close_date": "2026-03-01"}),
    )
    .await;
    assert_eq!(
        refusal(s, &b),
        (
            "expected_close_date".to_owned(),
            "vat_rate_not_valid_on_date".to_owned()
        )
    );
    let (s, b) = patch(
        &app,
        &format!("/api/v1/deals/{}/product-rows/{}", id(&deal), id(&row)),
        json!({"vat_rate": "22"}),
    )
    .await;
    assert_eq!(refusal(s, &b).1, "vat_rate_not_valid_on_date");
    let (s, today_deal) = post(&app, "/api/v1/deals", json!({"title": "Без даты"})).await;
    assert_eq!(s, 201, "{today_deal}");
    let (s, row) = post(
        &app,
        &format!("/api/v1/deals/{}/product-rows", id(&today_deal)),
        json!({"name": "Камера", "price": "100.00"}),
    )
    .await;
    assert_eq!(s, 201, "{row}");
    assert_eq!(row["vat_rate"], "22");
}

// ---------------------------------------------------------------------------------------------
// Items 2 and 3: supplier invoices.

/// Registers supplier invoice `number` dated `date` as the manager; the answer as it comes.
async fn register(w: &World, number: &str, date: &str, due: Option<&str>) -> (u16, Value) {
    let file = w
        .upload(
            &w.manager,
            "company",
            &w.company,
            &format!("Счёт {number}.pdf"),
        )
        .await;
    let res = w
        .call(
            &w.manager,
            Method::POST,
            "/api/v1/supplier-invoices",
            Some(&json!({
                "organization_id": w.org, "supplier_legal_entity_id": w.supplier,
                "supplier_email": SUPPLIER_EMAIL, "number": number, "invoice_date": date,
                "amount": "125000.50", "due_date": due, "file_ids": [file],
            })),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Supplier invoices are paid in full, in one payment (no partial payment): 1.00 on an invoice
/// of 125 000.50 or a payment dated before the invoice is 422 and the invoice stays with the
/// accountant; a due date before the invoice date is 422 on registration.
#[tokio::test]
async fn a_supplier_invoice_is_paid_in_full_on_or_after_its_date() {
    let w = world_with(|_| {}).await;
    let (s, b) = register(&w, "DUE-1", "2026-11-20", Some("2026-11-19")).await;
    assert_eq!(
        refusal(s, &b),
        ("due_date".to_owned(), "before_invoice_date".to_owned())
    );

    let id = w.invoice_in("in_work_at_accountant", "PAY-1").await;
    let paid = |amount: &str, on: &str| json!({"payment": {"paid_on": on, "amount": amount, "order_number": "512"}});
    let res = w
        .act(&w.acc_a, &id, "mark-paid", paid("1.00", "2026-11-23"))
        .await;
    let b = json_of(res, 422).await;
    assert_eq!(b["errors"][0]["field"], "payment.amount", "{b}");
    assert_eq!(b["errors"][0]["code"], "amount_mismatch");
    assert!(
        b["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("125000.50"),
        "{b}"
    );
    let res = w
        .act(&w.acc_a, &id, "mark-paid", paid("125000.50", "2026-11-19"))
        .await;
    let b = json_of(res, 422).await;
    assert_eq!(b["errors"][0]["field"], "payment.paid_on", "{b}");
    assert_eq!(b["errors"][0]["code"], "before_invoice_date");
    let seen = json_of(
        w.call(
            &w.acc_a,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(seen["state"], "in_work_at_accountant");
    assert_eq!(seen["payment"], Value::Null);

    let done = w
        .act_ok(&w.acc_a, &id, "mark-paid", paid("125000.50", "2026-11-20"))
        .await;
    assert_eq!(done["state"], "awaiting_closing_documents");
    assert_eq!(done["payment"]["amount"], "125000.50");
}

/// The same supplier invoice (supplier legal entity, number, date) registered twice is
/// `409 duplicate` naming the first; a cancelled one does not count; of concurrent
/// registrations exactly one lands.
#[tokio::test]
async fn the_same_supplier_invoice_is_registered_once() {
    let w = world_with(|_| {}).await;
    let (s, first) = register(&w, "17", "2026-11-20", None).await;
    assert_eq!(s, 201, "{first}");
    let (s, b) = register(&w, " 17 ", "2026-11-20", None).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["code"], "duplicate");
    assert!(b["detail"].as_str().unwrap().contains(&id(&first)), "{b}");
    assert_eq!(b["errors"][0]["field"], "number");
    // Another date is another invoice.
    let (s, other) = register(&w, "17", "2026-11-21", None).await;
    assert_eq!(s, 201, "{other}");
    // Cancelled, it no longer counts.
    w.act_ok(
        &w.manager,
        &id(&first),
        "cancel",
        json!({"comment": "Ошибка в сумме"}),
    )
    .await;
    let (s, again) = register(&w, "17", "2026-11-20", None).await;
    assert_eq!(s, 201, "{again}");

    // Eight registrations at once: one 201, seven 409 naming it.
    let mut files = Vec::new();
    for n in 0..8 {
        files.push(
            w.upload(&w.manager, "company", &w.company, &format!("race {n}.pdf"))
                .await,
        );
    }
    let wr = &w;
    let answers = join_all(files.iter().map(|f| async move {
        let res = wr
            .call(
                &wr.manager,
                Method::POST,
                "/api/v1/supplier-invoices",
                Some(&json!({
                    "organization_id": wr.org, "supplier_legal_entity_id": wr.supplier,
                    "supplier_email": SUPPLIER_EMAIL, "number": "RACE-1", "invoice_date": "2026-11-20",
                    "amount": "10.00", "file_ids": [f],
                })),
            )
            .await;
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap())
    }))
    .await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (s, b) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*s, 409, "{b}");
        assert_eq!(b["code"], "duplicate");
        assert!(
            b["detail"].as_str().unwrap().contains(&id(created[0])),
            "{b}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Item 5: requisites.

/// A correspondent account of another bank is refused even though its key agrees (same Bank of
/// Russia division); an entrepreneur with a 10-digit INN is refused on `inn`, not on `kpp`.
#[tokio::test]
async fn requisites_fit_their_bank_and_their_kind() {
    let app = TestApp::spawn().await;
    let (s, company) = post(&app, "/api/v1/companies", json!({"name": "Ромашка"})).await;
    assert_eq!(s, 201, "{company}");
    let c = id(&company);
    let entity = |account: &str| {
        json!({"company_id": c, "kind": "legal_entity", "full_name": "ООО «Ромашка»", "short_name": "Ромашка",
               "inn": "7701000019", "kpp": "770101001",
               "bank_accounts": [{"bank_name": "ПАО Сбербанк", "bik": "044525225",
                   "correspondent_account": account, "settlement_account": "40702810938000000001"}]})
    };
    let (s, b) = post(
        &app,
        "/api/v1/legal-entities",
        entity("30101810145250000974"),
    )
    .await;
    assert_eq!(
        refusal(s, &b),
        (
            "bank_accounts[0].correspondent_account".to_owned(),
            "bik_mismatch".to_owned()
        )
    );
    assert!(
        b["errors"][0]["message"].as_str().unwrap().contains("225"),
        "{b}"
    );
    let (s, le) = post(
        &app,
        "/api/v1/legal-entities",
        entity("30101810400000000225"),
    )
    .await;
    assert_eq!(s, 201, "{le}");
    let (s, b) = post(
        &app,
        &format!("/api/v1/legal-entities/{}/bank-accounts", id(&le)),
        json!({"bank_name": "Сбер", "bik": "044525225", "correspondent_account": "30101810145250000974",
               "settlement_account": "40702810238000000002"}),
    )
    .await;
    assert_eq!(
        refusal(s, &b),
        (
            "correspondent_account".to_owned(),
            "bik_mismatch".to_owned()
        )
    );

    let (s, b) = post(
        &app,
        "/api/v1/legal-entities",
        json!({"company_id": c, "kind": "entrepreneur", "full_name": "ИП Иванов", "inn": "7707083893"}),
    )
    .await;
    assert_eq!(
        refusal(s, &b),
        ("inn".to_owned(), "kind_mismatch".to_owned())
    );
    assert_eq!(b["errors"].as_array().unwrap().len(), 1, "{b}");
}

// ---------------------------------------------------------------------------------------------
// Item 6: a withdrawn payment says so.

/// Un-applying a payment tells the supervisor «Платёж отозван» with the amount positive.
#[tokio::test]
async fn unapplying_a_payment_says_the_payment_was_withdrawn() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "WP").await;
    template(&app, &org, "{N:4}", "never").await;
    let (s, boss) = post(&app, "/api/v1/users", json!({"email": "boss@example.com", "name": "Начальник", "password": "password-123", "roles": ["head"]})).await;
    assert_eq!(s, 201, "{boss}");
    let (s, m) = post(&app, "/api/v1/users", json!({"email": "m@example.com", "name": "Менеджер", "password": "password-123", "roles": ["sales_manager"], "supervisor_id": id(&boss)})).await;
    assert_eq!(s, 201, "{m}");
    let (s, deal) = post(
        &app,
        "/api/v1/deals",
        json!({"title": "Шлагбаум", "amount": "53000.00", "responsible_id": id(&m)}),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let (s, inv) = post(
        &app,
        "/api/v1/invoices",
        json!({"organization_id": org, "buyer_legal_entity_id": buyer, "deal_id": id(&deal), "date": "2026-11-20",
               "lines": [{"name": "Шлагбаум", "quantity": "1", "price": "53000.00", "vat_rate": "none"}]}),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    let (s, inv) = post(
        &app,
        &format!("/api/v1/invoices/{}/actions/issue", id(&inv)),
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{inv}");
    let (s, p) = post(
        &app,
        "/api/v1/payments",
        json!({"date": "2026-11-21", "amount": "53000.00", "payer_legal_entity_id": buyer, "payment_order_number": "7",
               "applications": [{"invoice_id": id(&inv), "amount": "53000.00"}]}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let application = p["applications"][0]["id"].as_str().unwrap().to_owned();
    let (s, b) = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/payments/{}/applications/{application}", id(&p)),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let boss_token = app.login("boss@example.com", "password-123").await;
    let res = app
        .request(Method::GET, "/api/v1/notifications?limit=200", &boss_token)
        .send()
        .await
        .unwrap();
    let page: Value = json_of(res, 200).await;
    let notes: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "deal_payment")
        .map(|n| {
            format!(
                "{}\n{}",
                n["title"].as_str().unwrap_or(""),
                n["body"].as_str().unwrap_or("")
            )
        })
        .collect();
    let withdrawn: Vec<&String> = notes
        .iter()
        .filter(|n| n.contains("Платёж отозван"))
        .collect();
    assert_eq!(withdrawn.len(), 1, "{notes:?}");
    assert!(
        withdrawn[0].contains("Сумма платежа: 53000.00 RUB"),
        "{notes:?}"
    );
    assert!(notes.iter().all(|n| !n.contains("-53000")), "{notes:?}");
    let paid: Vec<&String> = notes
        .iter()
        .filter(|n| !n.contains("Платёж отозван"))
        .collect();
    assert_eq!(paid.len(), 1, "{notes:?}");
    assert!(paid[0].contains("Сумма платежа: 53000.00 RUB"), "{notes:?}");
}

// ---------------------------------------------------------------------------------------------
// Item 17: the printed invoice.

async fn print(app: &TestApp, invoice: &str, pdf: bool) -> reqwest::Response {
    let q = if pdf { "?format=pdf" } else { "" };
    let res = app
        .request(
            Method::GET,
            &format!("/api/v1/invoices/{invoice}/print{q}"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

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

/// With VAT on top: «Сумма» is price × quantity (the net), then «Итого», «НДС 22 %» and «Всего
/// к оплате»; amounts `12 500,00` and `руб.`, quantities `4` and `120,5`; both parties' KPP on
/// their lines. With VAT in the price: «В том числе НДС». HTML and PDF alike.
#[tokio::test]
async fn the_printed_invoice_reads_as_a_russian_accountant_expects() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "PF").await;
    template(&app, &org, "{N:4}", "never").await;
    let (s, on_top) = post(
        &app,
        "/api/v1/invoices",
        invoice(&org, &buyer, "2026-11-20", json!([
            {"name": "Камера IP 4 Мп", "quantity": "4", "price": "12500.00", "vat_rate": "22", "vat_included": false},
            {"name": "Кабель UTP", "quantity": "120.5", "unit_name": "м", "price": "10.00", "vat_rate": "none"}])),
    )
    .await;
    assert_eq!(s, 201, "{on_top}");
    assert_eq!(on_top["total"], "62205.00", "{on_top}");
    let (s, _) = post(
        &app,
        &format!("/api/v1/invoices/{}/actions/issue", id(&on_top)),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);

    let html = print(&app, &id(&on_top), false).await.text().await.unwrap();
    let pdf = pdf_text(&print(&app, &id(&on_top), true).await.bytes().await.unwrap());
    for (form, text) in [("html", html.as_str()), ("pdf", pdf.as_str())] {
        for expected in [
            "12 500,00",
            "50 000,00",
            "120,5",
            "1 205,00",
            "Итого:",
            "51 205,00",
            "НДС 22 %:",
            "11 000,00",
            "Без НДС",
            "Всего к оплате:",
            "62 205,00",
            "на сумму 62 205,00 руб.",
            "22 %",
        ] {
            assert!(
                text.contains(expected),
                "{form}: {expected:?} not in {text}"
            );
        }
        for absent in ["В том числе НДС", "4.000", "120.500", "12500.00", "RUB"] {
            assert!(!text.contains(absent), "{form}: {absent:?} in {text}");
        }
    }
    // The seller's KPP on the seller's line, the buyer's on the buyer's.
    assert!(
        html.contains("<p>Поставщик: ООО «Ромашка», ИНН 7707083893, КПП 773601001, 117997, Москва"),
        "{html}"
    );
    assert!(
        html.contains(
            "<p>Покупатель: ТСЖ «Берёзка» &lt;b&gt;, ИНН 7707083893, КПП 773601001, Москва</p>"
        ),
        "{html}"
    );
    assert!(
        pdf.matches("ИНН 7707083893, КПП 773601001").count() >= 2,
        "{pdf}"
    );

    let (s, included) = post(
        &app,
        "/api/v1/invoices",
        invoice(&org, &buyer, "2026-11-20", json!([
            {"name": "Монтаж", "quantity": "2", "price": "6100.00", "vat_rate": "22", "vat_included": true}])),
    )
    .await;
    assert_eq!(s, 201, "{included}");
    let html = print(&app, &id(&included), false)
        .await
        .text()
        .await
        .unwrap();
    let pdf = pdf_text(
        &print(&app, &id(&included), true)
            .await
            .bytes()
            .await
            .unwrap(),
    );
    for (form, text) in [("html", html.as_str()), ("pdf", pdf.as_str())] {
        for expected in [
            "6 100,00",
            "12 200,00",
            "Итого:",
            "В том числе НДС 22 %:",
            "2 200,00",
            "Всего к оплате:",
        ] {
            assert!(
                text.contains(expected),
                "{form}: {expected:?} not in {text}"
            );
        }
    }
}
