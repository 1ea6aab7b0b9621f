//! Access across managers: every reference a request names goes through one check (a record
//! that does not exist and one the caller may not see are the same 422), payments are seen
//! only by whoever may see their money (OWASP API1), and an admin hands a leaving employee's
//! work to a colleague in one transaction.

use reqwest::Method;
use sdelka_tests::{TestApp, organization_body};
use serde_json::{Value, json};
use uuid::Uuid;

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

async fn post(app: &TestApp, token: &str, path: &str, b: Value) -> (u16, Value) {
    call(app, token, Method::POST, path, Some(b)).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    call(app, token, Method::GET, path, None).await
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id in {v}"))
        .to_owned()
}

/// A company of `token`'s with one legal entity; answers (company, legal entity).
async fn client(app: &TestApp, token: &str, name: &str, inn: &str) -> (String, String) {
    let (s, c) = post(app, token, "/api/v1/companies", json!({"name": name})).await;
    assert_eq!(s, 201, "{c}");
    let (s, le) = post(
        app,
        token,
        "/api/v1/legal-entities",
        json!({"company_id": id(&c), "kind": "legal_entity", "full_name": name,
               "short_name": name, "inn": inn, "kpp": "773601001", "legal_address": "Москва"}),
    )
    .await;
    assert_eq!(s, 201, "{le}");
    (id(&c), id(&le))
}

async fn contact(app: &TestApp, token: &str, last_name: &str) -> String {
    let (s, c) = post(
        app,
        token,
        "/api/v1/contacts",
        json!({"last_name": last_name, "emails": [format!("{last_name}@example.com")]}),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    id(&c)
}

/// The one field error of a 422: (field, code).
fn refusal(status: u16, problem: &Value) -> (String, String) {
    assert_eq!(status, 422, "{problem}");
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{problem}");
    (
        errors[0]["field"].as_str().unwrap().to_owned(),
        errors[0]["code"].as_str().unwrap().to_owned(),
    )
}

/// A request naming another manager's record and the same request naming an id that
/// exists nowhere answer the same 422 on the same field.
async fn same_refusal(
    app: &TestApp,
    token: &str,
    m: Method,
    path: &str,
    hidden: Value,
    unknown: Value,
    field: &str,
) {
    let (s, p) = call(app, token, m.clone(), path, Some(hidden)).await;
    let a = refusal(s, &p);
    let (s, p) = call(app, token, m, path, Some(unknown)).await;
    let b = refusal(s, &p);
    assert_eq!(a, (field.to_owned(), "not_found".to_owned()), "{path}");
    assert_eq!(
        a, b,
        "{path}: a hidden record and an unknown one answer alike"
    );
}

/// An own organisation with an invoice numbering template.
async fn seller(app: &TestApp) -> String {
    let admin = app.admin_token.clone();
    let (s, org) = post(
        app,
        &admin,
        "/api/v1/organizations",
        organization_body("SD", "ООО «Сделка»"),
    )
    .await;
    assert_eq!(s, 201, "{org}");
    let org = id(&org);
    let (s, t) = post(
        app,
        &admin,
        "/api/v1/numbering-templates",
        json!({"organization_id": org, "document_type": "invoice", "template": "СЧ-{N:5}",
               "reset": "never"}),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    org
}

fn line() -> Value {
    json!([{"name": "Камера", "quantity": "1", "price": "1000.00"}])
}

#[tokio::test]
async fn a_reference_to_a_record_hidden_or_missing_is_the_same_422_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let (_, a) = app
        .user_with_roles("a@example.com", &["sales_manager"])
        .await;
    let (b_id, b) = app
        .user_with_roles("b@example.com", &["sales_manager"])
        .await;
    let org = seller(&app).await;
    let (a_company, a_le) = client(&app, &a, "ТСЖ «Берёзка»", "7707083893").await;
    let (a_other, a_other_le) = client(&app, &a, "ТСЖ «Клён»", "7702000029").await;
    let (b_company, b_le) = client(&app, &b, "ТСЖ «Дуб»", "7736207543").await;
    let a_contact = contact(&app, &a, "Алексеев").await;
    let b_contact = contact(&app, &b, "Борисов").await;
    let nowhere = Uuid::now_v7().to_string();

    // Deals: the company, the legal entity and each contact.
    let deals = "/api/v1/deals";
    same_refusal(
        &app,
        &a,
        Method::POST,
        deals,
        json!({"title": "Камеры", "company_id": b_company}),
        json!({"title": "Камеры", "company_id": nowhere}),
        "company_id",
    )
    .await;
    same_refusal(
        &app,
        &a,
        Method::POST,
        deals,
        json!({"title": "Камеры", "legal_entity_id": b_le}),
        json!({"title": "Камеры", "legal_entity_id": nowhere}),
        "legal_entity_id",
    )
    .await;
    same_refusal(
        &app,
        &a,
        Method::POST,
        deals,
        json!({"title": "Камеры", "contact_ids": [a_contact, b_contact]}),
        json!({"title": "Камеры", "contact_ids": [a_contact, nowhere]}),
        "contact_ids[1]",
    )
    .await;
    // The legal entity must be one of the deal's company.
    let (s, p) = post(
        &app,
        &a,
        deals,
        json!({"title": "Камеры", "company_id": a_company, "legal_entity_id": a_other_le}),
    )
    .await;
    assert_eq!(
        refusal(s, &p),
        ("legal_entity_id".into(), "not_of_company".into())
    );
    let (s, deal) = post(
        &app,
        &a,
        deals,
        json!({"title": "Камеры", "company_id": a_company,
        "legal_entity_id": a_le, "contact_ids": [a_contact]}),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let deal_url = format!("/api/v1/deals/{}", id(&deal));
    same_refusal(
        &app,
        &a,
        Method::PATCH,
        &deal_url,
        json!({"contact_ids": [a_contact, b_contact]}),
        json!({"contact_ids": [a_contact, nowhere]}),
        "contact_ids[1]",
    )
    .await;
    same_refusal(
        &app,
        &a,
        Method::PATCH,
        &deal_url,
        json!({"company_id": b_company, "legal_entity_id": null}),
        json!({"company_id": nowhere, "legal_entity_id": null}),
        "company_id",
    )
    .await;
    // Moving the deal to another company of his keeps a legal entity only of that company.
    let (s, p) = call(
        &app,
        &a,
        Method::PATCH,
        &deal_url,
        Some(json!({"company_id": a_other})),
    )
    .await;
    assert_eq!(
        refusal(s, &p),
        ("legal_entity_id".into(), "not_of_company".into())
    );
    same_refusal(
        &app,
        &a,
        Method::PATCH,
        &deal_url,
        json!({"responsible_id": b_id}),
        json!({"responsible_id": nowhere}),
        "responsible_id",
    )
    .await;

    // Activity and calendar owners, and responsibles.
    for path in ["/api/v1/activities", "/api/v1/calendar-events"] {
        let base = if path.ends_with("activities") {
            json!({"type": "call", "subject": "Перезвонить"})
        } else {
            json!({"title": "Встреча", "starts_at": "2099-01-10T10:00:00Z",
                   "ends_at": "2099-01-10T11:00:00Z"})
        };
        let with = |extra: Value| {
            let mut b = base.clone();
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b
        };
        same_refusal(
            &app,
            &a,
            Method::POST,
            path,
            with(json!({"owner_type": "company", "owner_id": b_company})),
            with(json!({"owner_type": "company", "owner_id": nowhere})),
            "owner_id",
        )
        .await;
        same_refusal(
            &app,
            &a,
            Method::POST,
            path,
            with(json!({"owner_type": "deal", "owner_id": nowhere})),
            with(json!({"owner_type": "contact", "owner_id": b_contact})),
            "owner_id",
        )
        .await;
        // The assignee must exist (a task may be set for any colleague, as one is delegated).
        let (s, p) = post(&app, &a, path, with(json!({"responsible_id": nowhere}))).await;
        assert_eq!(
            refusal(s, &p),
            ("responsible_id".into(), "not_found".into())
        );
        let (s, ok) = post(
            &app,
            &a,
            path,
            with(json!({"owner_type": "deal", "owner_id": id(&deal)})),
        )
        .await;
        assert_eq!(s, 201, "{ok}");
    }
    // Leads, imports and companies hand records only to people in the caller's scope.
    same_refusal(
        &app,
        &a,
        Method::POST,
        "/api/v1/leads",
        json!({"title": "Заявка", "company_name": "ТСЖ", "responsible_id": b_id}),
        json!({"title": "Заявка", "company_name": "ТСЖ", "responsible_id": nowhere}),
        "responsible_id",
    )
    .await;
    let import = |r: &str| {
        json!({"entity": "leads", "content": "Название\nТСЖ «Клён»\n",
        "mapping": {"Название": "company_name"}, "responsible_id": r})
    };
    same_refusal(
        &app,
        &a,
        Method::POST,
        "/api/v1/imports",
        import(&b_id.to_string()),
        import(&nowhere),
        "responsible_id",
    )
    .await;
    same_refusal(
        &app,
        &a,
        Method::POST,
        "/api/v1/companies",
        json!({"name": "Чужая", "responsible_id": b_id}),
        json!({"name": "Чужая", "responsible_id": nowhere}),
        "responsible_id",
    )
    .await;

    // Money documents: the buyer of an invoice (new or a draft's), the payer of a payment.
    let invoices = "/api/v1/invoices";
    same_refusal(
        &app,
        &a,
        Method::POST,
        invoices,
        json!({"organization_id": org, "buyer_legal_entity_id": b_le, "lines": line()}),
        json!({"organization_id": org, "buyer_legal_entity_id": nowhere, "lines": line()}),
        "buyer_legal_entity_id",
    )
    .await;
    let (s, draft) = post(
        &app,
        &a,
        invoices,
        json!({"organization_id": org, "buyer_legal_entity_id": a_le, "lines": line()}),
    )
    .await;
    assert_eq!(s, 201, "{draft}");
    let draft_url = format!("/api/v1/invoices/{}", id(&draft));
    same_refusal(
        &app,
        &a,
        Method::PATCH,
        &draft_url,
        json!({"buyer_legal_entity_id": b_le}),
        json!({"buyer_legal_entity_id": nowhere}),
        "buyer_legal_entity_id",
    )
    .await;
    let (_, printed) = get(&app, &a, &format!("{draft_url}/print")).await;
    assert!(
        !printed.to_string().contains("7736207543"),
        "B's client is not printed"
    );
    same_refusal(
        &app,
        &a,
        Method::POST,
        "/api/v1/payments",
        json!({"amount": "10.00", "payer_legal_entity_id": b_le}),
        json!({"amount": "10.00", "payer_legal_entity_id": nowhere}),
        "payer_legal_entity_id",
    )
    .await;
    // An accountant handles every client's money: he may name B's client as the payer.
    let (_, acc) = app
        .user_with_roles("acc@example.com", &["accountant"])
        .await;
    let (s, p) = post(
        &app,
        &acc,
        "/api/v1/payments",
        json!({"amount": "10.00", "payer_legal_entity_id": b_le}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let _ = a_other_le;
}

#[tokio::test]
async fn a_supplier_invoice_names_only_a_supplier_its_registrar_may_see() {
    let app = TestApp::spawn().await;
    let org = seller(&app).await;
    let (_, p1) = app
        .user_with_roles("p1@example.com", &["purchasing_manager"])
        .await;
    let (_, p2) = app
        .user_with_roles("p2@example.com", &["purchasing_manager"])
        .await;
    let (_, hidden) = client(&app, &p2, "ООО «Поставщик»", "7736207543").await;
    let (own, _) = client(&app, &p1, "ООО «Свой поставщик»", "7707083893").await;
    let form = reqwest::multipart::Form::new()
        .text("entity_type", "company")
        .text("entity_id", own)
        .text("document_type", "invoice_scan")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.4\n".to_vec()).file_name("17.pdf"),
        );
    let res = app
        .request(Method::POST, "/api/v1/files", &p1)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let file: Value = res.json().await.unwrap();
    let file = id(&file);
    let body = |supplier: &str| {
        json!({"organization_id": org, "supplier_legal_entity_id": supplier, "number": "17",
               "invoice_date": "2026-11-20", "amount": "125000.50", "currency": "RUB",
               "supplier_email": "supplier@example.com", "file_ids": [file]})
    };
    let (s, p) = post(&app, &p1, "/api/v1/supplier-invoices", body(&hidden)).await;
    let a = refusal(s, &p);
    let (s, p) = post(
        &app,
        &p1,
        "/api/v1/supplier-invoices",
        body(&Uuid::now_v7().to_string()),
    )
    .await;
    let b = refusal(s, &p);
    assert_eq!(a, ("supplier_legal_entity_id".into(), "not_found".into()));
    assert_eq!(a, b);
}

#[tokio::test]
async fn a_payment_is_seen_only_by_money_staff_and_by_who_sees_its_invoice() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token.clone();
    let org = seller(&app).await;
    let (head_id, head) = app.user_with_roles("head@example.com", &["head"]).await;
    let (s, dept) = post(
        &app,
        &admin,
        "/api/v1/departments",
        json!({"name": "Отдел продаж", "head_id": head_id}),
    )
    .await;
    assert_eq!(s, 201, "{dept}");
    let mut managers = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        let (s, u) = post(
            &app,
            &admin,
            "/api/v1/users",
            json!({"email": email, "name": email,
            "password": "password-123", "roles": ["sales_manager"],
            "department_id": if email.starts_with('a') { Some(id(&dept)) } else { None }}),
        )
        .await;
        assert_eq!(s, 201, "{u}");
        managers.push(app.login(email, "password-123").await);
    }
    let (a, b) = (managers[0].clone(), managers[1].clone());
    let (_, acc) = app
        .user_with_roles("acc@example.com", &["accountant"])
        .await;
    let (_, a_le) = client(&app, &a, "ТСЖ «Берёзка»", "7707083893").await;
    let (_, b_le) = client(&app, &b, "ТСЖ «Дуб»", "7736207543").await;
    // A's issued invoice, and a payment on it; B's client pays without an invoice yet.
    let (s, inv) = post(
        &app,
        &a,
        "/api/v1/invoices",
        json!({"organization_id": org, "buyer_legal_entity_id": a_le, "lines": line()}),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    let invoice = id(&inv);
    let (s, issued) = call(
        &app,
        &a,
        Method::POST,
        &format!("/api/v1/invoices/{invoice}/actions/issue"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{issued}");
    let (s, pa) = post(
        &app,
        &acc,
        "/api/v1/payments",
        json!({"amount": "500.00",
        "payer_legal_entity_id": a_le, "applications": [{"invoice_id": invoice}]}),
    )
    .await;
    assert_eq!(s, 201, "{pa}");
    let pa = id(&pa);
    let (s, pb) = post(
        &app,
        &acc,
        "/api/v1/payments",
        json!({"amount": "700.00",
        "payer_legal_entity_id": b_le, "purpose": "Оплата ТСЖ «Дуб»"}),
    )
    .await;
    assert_eq!(s, 201, "{pb}");
    let pb = id(&pb);
    let (s, c) = post(
        &app,
        &acc,
        &format!("/api/v1/payments/{pb}/comments"),
        json!({"text": "Ждём счёт"}),
    )
    .await;
    assert_eq!(s, 201, "{c}");

    // A sees the payment on his invoice, not B's — by id, in lists, filters, timeline,
    // comments and actions, each answered as for an id that does not exist.
    let nowhere = Uuid::now_v7();
    assert_eq!(
        get(&app, &a, &format!("/api/v1/payments/{pa}")).await.0,
        200
    );
    for path in [
        format!("/api/v1/payments/{pb}"),
        format!("/api/v1/payments/{pb}/timeline"),
        format!("/api/v1/payments/{pb}/comments"),
    ] {
        let (s, hidden) = get(&app, &a, &path).await;
        assert_eq!(s, 404, "{path}: {hidden}");
        let (s2, unknown) = get(&app, &a, &path.replace(&pb, &nowhere.to_string())).await;
        assert_eq!(s2, 404);
        assert_eq!(hidden["code"], unknown["code"]);
        assert_eq!(hidden["detail"], unknown["detail"]);
    }
    for (path, body) in [
        (
            format!("/api/v1/payments/{pb}/applications"),
            json!({"invoice_id": invoice}),
        ),
        (
            format!("/api/v1/payments/{pb}/comments"),
            json!({"text": "Это моё?"}),
        ),
    ] {
        let (s, hidden) = post(&app, &a, &path, body.clone()).await;
        let (s2, unknown) = post(&app, &a, &path.replace(&pb, &nowhere.to_string()), body).await;
        assert_eq!((s, s2), (404, 404), "{path}: {hidden} / {unknown}");
        assert_eq!(hidden["detail"], unknown["detail"]);
    }
    let (s, seen) = get(&app, &a, "/api/v1/payments").await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = seen["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![pa.as_str()]);
    let (_, filtered) = get(
        &app,
        &a,
        &format!("/api/v1/payments?payer_legal_entity_id={b_le}"),
    )
    .await;
    assert_eq!(filtered["items"], json!([]));
    // B sees neither (A's invoice is not his); nothing of A's payment leaks to him either.
    let (_, seen) = get(&app, &b, "/api/v1/payments").await;
    assert_eq!(seen["items"], json!([]));
    assert_eq!(
        get(&app, &b, &format!("/api/v1/payments/{pa}")).await.0,
        404
    );

    // The head sees his department's money (A's invoice), the accountant and the admin all.
    assert_eq!(
        get(&app, &head, &format!("/api/v1/payments/{pa}")).await.0,
        200
    );
    assert_eq!(
        get(&app, &head, &format!("/api/v1/payments/{pb}")).await.0,
        404
    );
    for token in [&acc, &admin] {
        let (_, all) = get(&app, token, "/api/v1/payments").await;
        assert_eq!(all["items"].as_array().unwrap().len(), 2);
        assert_eq!(
            get(&app, token, &format!("/api/v1/payments/{pb}/timeline"))
                .await
                .0,
            200
        );
    }
    // A payment B registers himself is his to see.
    let (s, own) = post(
        &app,
        &b,
        "/api/v1/payments",
        json!({"amount": "1.00", "payer_legal_entity_id": b_le}),
    )
    .await;
    assert_eq!(s, 201, "{own}");
    assert_eq!(
        get(&app, &b, &format!("/api/v1/payments/{}", id(&own)))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_leaving_employees_work_is_handed_over_in_one_transaction() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token.clone();
    let org = seller(&app).await;
    let (from, leaving) = app
        .user_with_roles("leaving@example.com", &["sales_manager", "head"])
        .await;
    let (to, colleague) = app
        .user_with_roles("colleague@example.com", &["sales_manager", "head"])
        .await;
    let (other, _) = app.user_with_roles("other@example.com", &["head"]).await;

    // What he holds.
    let (company, _) = client(&app, &leaving, "ТСЖ «Берёзка»", "7707083893").await;
    let person = contact(&app, &leaving, "Покупателев").await;
    let (s, lead) = post(
        &app,
        &leaving,
        "/api/v1/leads",
        json!({"title": "Заявка с сайта", "company_name": "ТСЖ «Клён»"}),
    )
    .await;
    assert_eq!(s, 201, "{lead}");
    let (s, deal) = post(
        &app,
        &leaving,
        "/api/v1/deals",
        json!({"title": "Камеры", "company_id": company}),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let (s, task) = post(
        &app,
        &leaving,
        "/api/v1/activities",
        json!({"type": "task",
        "subject": "Подготовить КП", "owner_type": "deal", "owner_id": id(&deal)}),
    )
    .await;
    assert_eq!(s, 201, "{task}");
    let (s, done) = post(
        &app,
        &leaving,
        "/api/v1/activities",
        json!({"type": "call", "subject": "Звонок"}),
    )
    .await;
    assert_eq!(s, 201, "{done}");
    let (s, _) = post(
        &app,
        &leaving,
        &format!("/api/v1/activities/{}/complete", id(&done)),
        json!({"result": "Дозвонились"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, pool) = call(
        &app,
        &admin,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/pools/decision_makers"),
        Some(json!({"member_ids": [from, other]})),
    )
    .await;
    assert_eq!(s, 200, "{pool}");
    let (s, rule) = post(
        &app,
        &admin,
        "/api/v1/automation-rules",
        json!({
        "name": "Оплата", "trigger": {"type": "deal_payment_percent_changed"}, "conditions": [],
        "actions": [{"type": "notify_user", "user_id": from, "email": false},
                    {"type": "notify_supervisor", "email": false}]}),
    )
    .await;
    assert_eq!(s, 201, "{rule}");
    let (_, inbox) = get(&app, &leaving, "/api/v1/tasks").await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");

    let url = format!("/api/v1/users/{from}/handover");
    // Only an admin hands over; the colleague must exist, be active and be someone else.
    let (s, _) = post(&app, &colleague, &url, json!({"to_user_id": to})).await;
    assert_eq!(s, 403);
    let (s, p) = post(&app, &admin, &url, json!({"to_user_id": Uuid::now_v7()})).await;
    assert_eq!(refusal(s, &p), ("to_user_id".into(), "not_found".into()));
    let (s, p) = post(&app, &admin, &url, json!({"to_user_id": from})).await;
    assert_eq!(refusal(s, &p), ("to_user_id".into(), "same_user".into()));
    let (s, _) = post(
        &app,
        &admin,
        &format!("/api/v1/users/{}/handover", Uuid::now_v7()),
        json!({"to_user_id": to}),
    )
    .await;
    assert_eq!(s, 404);

    // A dry run lists what would move and writes nothing.
    let (s, plan) = post(
        &app,
        &admin,
        &url,
        json!({"to_user_id": to, "deactivate": true, "dry_run": true}),
    )
    .await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["companies"], json!([company]));
    assert_eq!(plan["contacts"], json!([person]));
    assert_eq!(plan["leads"], json!([id(&lead)]));
    assert_eq!(plan["deals"], json!([id(&deal)]));
    assert_eq!(plan["activities"], json!([id(&task)]));
    assert_eq!(plan["pools"], json!([id(&pool)]));
    assert_eq!(plan["automation_rules"], json!([id(&rule)]));
    let (_, c) = get(&app, &admin, &format!("/api/v1/companies/{company}")).await;
    assert_eq!(c["responsible_id"], from.to_string());
    let (_, u) = get(&app, &admin, &format!("/api/v1/users/{from}")).await;
    assert_eq!(u["active"], true);

    // The handover.
    let (s, moved) = post(
        &app,
        &admin,
        &url,
        json!({"to_user_id": to, "deactivate": true}),
    )
    .await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["dry_run"], false);
    assert_eq!(moved["companies"], plan["companies"]);
    for path in [
        format!("/api/v1/companies/{company}"),
        format!("/api/v1/contacts/{person}"),
        format!("/api/v1/leads/{}", id(&lead)),
        format!("/api/v1/deals/{}", id(&deal)),
        format!("/api/v1/activities/{}", id(&task)),
    ] {
        let (s, r) = get(&app, &admin, &path).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(r["responsible_id"], to.to_string(), "{path}");
        // Its timeline records the change of hands.
        let (_, timeline) = get(&app, &admin, &format!("{path}/timeline")).await;
        let entry = &timeline["items"][0];
        assert_eq!(
            entry["changes"]["responsible_id"]["before"],
            from.to_string(),
            "{path}"
        );
        assert_eq!(
            entry["changes"]["responsible_id"]["after"],
            to.to_string(),
            "{path}"
        );
    }
    // The completed call stays his: it is history.
    let (_, d) = get(&app, &admin, &format!("/api/v1/activities/{}", id(&done))).await;
    assert_eq!(d["responsible_id"], from.to_string());
    // The task is in the colleague's inbox.
    let (_, inbox) = get(&app, &colleague, "/api/v1/tasks").await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
    let (_, pools) = get(&app, &admin, &format!("/api/v1/organizations/{org}/pools")).await;
    let mut members: Vec<String> = pools["items"][0]["member_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    members.sort();
    let mut want = vec![to.to_string(), other.to_string()];
    want.sort();
    assert_eq!(members, want);
    let (_, r) = get(
        &app,
        &admin,
        &format!("/api/v1/automation-rules/{}", id(&rule)),
    )
    .await;
    assert_eq!(r["actions"][0]["user_id"], to.to_string());
    assert_eq!(r["actions"][1]["type"], "notify_supervisor");
    let (_, u) = get(&app, &admin, &format!("/api/v1/users/{from}")).await;
    assert_eq!(u["active"], false);
    let (_, timeline) = get(&app, &admin, &format!("/api/v1/users/{from}/timeline")).await;
    assert!(
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "handed_over"),
        "{timeline}"
    );

    // Nothing is left: a second handover moves nothing.
    let (s, again) = post(
        &app,
        &admin,
        &url,
        json!({"to_user_id": to, "dry_run": true}),
    )
    .await;
    assert_eq!(s, 200);
    for key in [
        "companies",
        "contacts",
        "leads",
        "deals",
        "activities",
        "tasks",
        "pools",
        "automation_rules",
    ] {
        assert_eq!(again[key], json!([]), "{key}");
    }
}

#[tokio::test]
async fn a_refused_handover_moves_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token.clone();
    let (from, leaving) = app
        .user_with_roles("leaving@example.com", &["sales_manager"])
        .await;
    let (to, _) = app
        .user_with_roles("gone@example.com", &["sales_manager"])
        .await;
    let (company, _) = client(&app, &leaving, "ТСЖ «Берёзка»", "7707083893").await;
    let (s, _) = call(
        &app,
        &admin,
        Method::PATCH,
        &format!("/api/v1/users/{to}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, p) = post(
        &app,
        &admin,
        &format!("/api/v1/users/{from}/handover"),
        json!({"to_user_id": to}),
    )
    .await;
    assert_eq!(refusal(s, &p), ("to_user_id".into(), "inactive".into()));
    let (_, c) = get(&app, &admin, &format!("/api/v1/companies/{company}")).await;
    assert_eq!(c["responsible_id"], from.to_string());
}
