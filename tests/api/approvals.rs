//! SPEC §3 and WF-INV over HTTP: the shared task inbox (claim, complete, delegate, deputies,
//! activities of type task) and the supplier-invoice approval with its pools, visibility,
//! effects, timeline and races.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response};
use sdelka_tests::smtp::SmtpSink;
use sdelka_tests::{TestApp, eventually, organization_body};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

pub struct Person {
    pub id: String,
    pub token: String,
}

pub struct World {
    pub app: TestApp,
    pub org: String,
    pub supplier: String,
    pub company: String,
    pub manager: Person,
    pub head1: Person,
    pub head2: Person,
    pub acc_a: Person,
    pub acc_b: Person,
    pub outsider: Person,
}

pub const SUPPLIER_EMAIL: &str = "sales@supplier.example";

async fn send(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    body: Option<&Value>,
) -> Response {
    let mut req = app.request(method, path, token);
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

pub async fn json_of(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

async fn person(app: &TestApp, email: &str, roles: &[&str]) -> Person {
    let (id, token) = app.user_with_roles(email, roles).await;
    Person {
        id: id.to_string(),
        token,
    }
}

pub async fn world_with(tweak: impl FnOnce(&mut sdelka_api::config::Config)) -> World {
    let app = TestApp::spawn_with(tweak).await;
    let org = json_of(
        app.post(
            "/api/v1/organizations",
            &organization_body("MAIN", "ООО «Сделка»"),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let manager = person(&app, "manager@example.com", &["sales_manager"]).await;
    let head1 = person(&app, "head1@example.com", &["head"]).await;
    let head2 = person(&app, "head2@example.com", &["head"]).await;
    let acc_a = person(&app, "acc.a@example.com", &["accountant"]).await;
    let acc_b = person(&app, "acc.b@example.com", &["accountant"]).await;
    let outsider = person(&app, "outsider@example.com", &["sales_manager"]).await;
    for (kind, members) in [
        ("decision_makers", vec![&head1.id, &head2.id]),
        ("accountants", vec![&acc_a.id, &acc_b.id]),
    ] {
        let res = send(
            &app,
            Method::PUT,
            &app.admin_token,
            &format!("/api/v1/organizations/{org}/pools/{kind}"),
            Some(&json!({ "member_ids": members })),
        )
        .await;
        json_of(res, 200).await;
    }
    let company = json_of(
        send(
            &app,
            Method::POST,
            &manager.token,
            "/api/v1/companies",
            Some(&json!({"name": "Василёк", "types": ["supplier"]})),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let supplier = json_of(
        send(
            &app,
            Method::POST,
            &manager.token,
            "/api/v1/legal-entities",
            Some(&json!({"company_id": company, "kind": "legal_entity", "full_name": "ООО «Василёк»",
                "short_name": "Василёк", "inn": "7702000029", "kpp": "770201001", "legal_address": "Москва"})),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        app,
        org,
        supplier,
        company,
        manager,
        head1,
        head2,
        acc_a,
        acc_b,
        outsider,
    }
}

impl World {
    pub async fn call(
        &self,
        who: &Person,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        send(&self.app, method, &who.token, path, body).await
    }

    /// Uploads a small PDF to `entity_type`/`entity_id` as `who`; answers the file id.
    pub async fn upload(
        &self,
        who: &Person,
        entity_type: &str,
        entity_id: &str,
        name: &str,
    ) -> String {
        let bytes = format!("%PDF-1.4\n% {name}\n").into_bytes();
        let form = Form::new()
            .percent_encode_noop()
            .text("entity_type", entity_type.to_owned())
            .text("entity_id", entity_id.to_owned())
            .text("document_type", "invoice_scan")
            .part("file", Part::bytes(bytes).file_name(name.to_owned()));
        let res = self
            .app
            .request(Method::POST, "/api/v1/files", &who.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        json_of(res, 201).await["id"].as_str().unwrap().to_owned()
    }

    /// The manager registers invoice `number` with a file uploaded to the supplier's company.
    pub async fn register(&self, number: &str) -> Value {
        let file = self
            .upload(
                &self.manager,
                "company",
                &self.company,
                &format!("Счёт {number}.pdf"),
            )
            .await;
        let res = self
            .call(
                &self.manager,
                Method::POST,
                "/api/v1/supplier-invoices",
                Some(&json!({
                    "organization_id": self.org,
                    "supplier_legal_entity_id": self.supplier,
                    "supplier_email": SUPPLIER_EMAIL,
                    "number": number,
                    "invoice_date": "2026-11-20",
                    "amount": "125000.50",
                    "vat_amount": "20833.42",
                    "due_date": "2026-11-30",
                    "file_ids": [file],
                })),
            )
            .await;
        json_of(res, 201).await
    }

    pub async fn act(&self, who: &Person, id: &str, action: &str, body: Value) -> Response {
        self.call(
            who,
            Method::POST,
            &format!("/api/v1/supplier-invoices/{id}/actions/{action}"),
            Some(&body),
        )
        .await
    }

    pub async fn act_ok(&self, who: &Person, id: &str, action: &str, body: Value) -> Value {
        json_of(self.act(who, id, action, body).await, 200).await
    }

    pub fn admin(&self) -> Person {
        Person {
            id: String::new(),
            token: self.app.admin_token.clone(),
        }
    }

    /// Drives a fresh invoice to `state` along the happy path.
    pub async fn invoice_in(&self, state: &str, number: &str) -> String {
        let inv = self.register(number).await;
        let id = inv["id"].as_str().unwrap().to_owned();
        if state == "awaiting_decision" {
            return id;
        }
        if state == "cancelled" {
            self.act_ok(&self.manager, &id, "cancel", json!({"comment": "Дубль"}))
                .await;
            return id;
        }
        self.act_ok(&self.head1, &id, "take", json!({})).await;
        if state == "under_decision" {
            return id;
        }
        if state == "returned" {
            self.act_ok(
                &self.head1,
                &id,
                "return",
                json!({"comment": "Нет номера договора"}),
            )
            .await;
            return id;
        }
        self.act_ok(&self.head1, &id, "approve", json!({})).await;
        if state == "awaiting_accountant" {
            return id;
        }
        self.act_ok(&self.acc_a, &id, "claim", json!({})).await;
        if state == "in_work_at_accountant" {
            return id;
        }
        self.act_ok(
            &self.acc_a,
            &id,
            "mark-paid",
            json!({"payment": {"paid_on": "2026-11-23", "amount": "125000.50", "order_number": "512"}}),
        )
        .await;
        if state == "awaiting_closing_documents" {
            return id;
        }
        let docs = self
            .upload(&self.manager, "supplier_invoice", &id, "УПД.pdf")
            .await;
        self.act_ok(
            &self.manager,
            &id,
            "attach-closing-documents",
            json!({"file_ids": [docs]}),
        )
        .await;
        assert_eq!(state, "completed");
        id
    }
}

/// The text body of a raw message (base64 or quoted-printable as the mailer chose).
fn body_of(mail: &str) -> String {
    use base64::Engine;
    let normalized = mail.replace("\r\n", "\n");
    let (head, body) = normalized.split_once("\n\n").unwrap_or(("", &normalized));
    if head
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: base64")
    {
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    } else {
        body.replace("=\n", "")
    }
}

fn ids_of(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn notifications_of(w: &World, who: &Person) -> Vec<String> {
    let list = json_of(
        w.call(who, Method::GET, "/api/v1/notifications", None)
            .await,
        200,
    )
    .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The seed scenario with real users, end to end: register → head 1 returns → resubmit with a
/// new file → head 2 approves → accountants race (A wins, B loses sight of it) → one email to
/// the supplier → paid → manager notified → closing documents → completed, all in the timeline.
#[tokio::test]
async fn seed_scenario_supplier_invoice_from_registration_to_closing_documents() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let w = world_with(|c| c.smtp_url = Some(sdelka_api::config::Secret::new(url))).await;
    let inv = w.register("17").await;
    let id = inv["id"].as_str().unwrap().to_owned();
    assert_eq!(inv["state"], "awaiting_decision");
    assert_eq!(inv["amount"], "125000.50");
    assert_eq!(inv["files"].as_array().unwrap().len(), 1);
    assert_eq!(inv["current_task"]["kind"], "supplier_invoice_decision");

    // Both heads are told, and see the decision task in their pool inbox; the accountants do not.
    for head in [&w.head1, &w.head2] {
        let titles = notifications_of(&w, head).await;
        assert!(
            titles
                .iter()
                .any(|t| t.starts_with("Согласовать счёт поставщика №17")),
            "{titles:?}"
        );
    }
    // Both heads see the decision task in their pool inbox; the accountants do not.
    for head in [&w.head1, &w.head2] {
        let inbox = json_of(
            w.call(head, Method::GET, "/api/v1/tasks?inbox=pool", None)
                .await,
            200,
        )
        .await;
        assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
    }
    let inbox = json_of(
        w.call(&w.acc_a, Method::GET, "/api/v1/tasks", None).await,
        200,
    )
    .await;
    assert!(inbox["items"].as_array().unwrap().is_empty());
    json_of(
        w.call(
            &w.acc_a,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await,
        404,
    )
    .await;

    // Head 1 takes it through the inbox: the task's claim is the invoice's `take`.
    let task_id = inv["current_task"]["id"].as_str().unwrap().to_owned();
    let claimed = json_of(
        w.call(
            &w.head1,
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/claim"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(claimed["claimed_by"], w.head1.id.as_str());
    let seen = json_of(
        w.call(
            &w.head1,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(seen["state"], "under_decision");
    assert_eq!(seen["holder_id"], w.head1.id.as_str());
    // Head 2 lost it: claiming again is 409.
    let problem = json_of(
        w.call(
            &w.head2,
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/claim"),
            None,
        )
        .await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "already_claimed");

    // A return needs a comment; with one it is kept as head 1's.
    let problem = json_of(
        w.call(
            &w.head1,
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/complete"),
            Some(&json!({"outcome": "return_for_rework"})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "comment");
    json_of(
        w.call(
            &w.head1,
            Method::POST,
            &format!("/api/v1/tasks/{task_id}/complete"),
            Some(&json!({"outcome": "return_for_rework", "comment": "Не указан номер договора поставки"})),
        )
        .await,
        200,
    )
    .await;
    let returned = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(returned["state"], "returned");
    assert_eq!(
        returned["current_task"]["kind"],
        "supplier_invoice_revision"
    );
    assert_eq!(
        returned["current_task"]["assignee"]["user_id"],
        w.manager.id.as_str()
    );

    // The manager uploads a new file to the invoice and resubmits: round 2.
    let problem = json_of(w.act(&w.manager, &id, "resubmit", json!({})).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "file_ids");
    let new_file = w
        .upload(
            &w.manager,
            "supplier_invoice",
            &id,
            "Счёт 17 исправленный.pdf",
        )
        .await;
    let resubmitted = w
        .act_ok(&w.manager, &id, "resubmit", json!({"file_ids": [new_file]}))
        .await;
    assert_eq!(resubmitted["state"], "awaiting_decision");
    assert_eq!(resubmitted["round"], 2);
    assert_eq!(resubmitted["files"].as_array().unwrap().len(), 2);

    // Head 2 takes and approves this round.
    w.act_ok(&w.head2, &id, "take", json!({})).await;
    // Head 1 no longer holds it: to him it is out of sight.
    json_of(w.act(&w.head1, &id, "approve", json!({})).await, 404).await;
    let approved = w.act_ok(&w.head2, &id, "approve", json!({})).await;
    assert_eq!(approved["state"], "awaiting_accountant");

    // Both accountants see it; they race to claim it.
    for acc in [&w.acc_a, &w.acc_b] {
        let list = json_of(
            w.call(acc, Method::GET, "/api/v1/supplier-invoices", None)
                .await,
            200,
        )
        .await;
        assert_eq!(ids_of(&list), vec![id.clone()]);
    }
    let (a, b) = tokio::join!(w.act(&w.acc_a, &id, "claim", json!({})), async {
        // B is a moment late, as in the seed story.
        tokio::time::sleep(Duration::from_millis(200)).await;
        w.act(&w.acc_b, &id, "claim", json!({})).await
    });
    let won = json_of(a, 200).await;
    assert_eq!(won["state"], "in_work_at_accountant");
    assert_eq!(won["payer_id"], w.acc_a.id.as_str());
    let lost = json_of(b, 409).await;
    assert_eq!(lost["code"], "already_claimed");
    // B no longer sees it: not by id, not in lists, not in search, not in his inbox.
    json_of(
        w.call(
            &w.acc_b,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await,
        404,
    )
    .await;
    let list = json_of(
        w.call(&w.acc_b, Method::GET, "/api/v1/supplier-invoices", None)
            .await,
        200,
    )
    .await;
    assert!(ids_of(&list).is_empty());
    let search = json_of(
        w.call(
            &w.acc_b,
            Method::GET,
            "/api/v1/supplier-invoices?q=%D0%B2%D0%B0%D1%81%D0%B8%D0%BB",
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(ids_of(&search).is_empty());
    let inbox = json_of(
        w.call(&w.acc_b, Method::GET, "/api/v1/tasks", None).await,
        200,
    )
    .await;
    assert!(inbox["items"].as_array().unwrap().is_empty(), "{inbox}");
    // …while A finds it by search.
    let search = json_of(
        w.call(
            &w.acc_a,
            Method::GET,
            "/api/v1/supplier-invoices?q=%D0%B2%D0%B0%D1%81%D0%B8%D0%BB",
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ids_of(&search), vec![id.clone()]);

    // Exactly one email reaches the supplier, with the number, date and amount.
    let mail = eventually(WAIT, || async {
        smtp.messages_to(SUPPLIER_EMAIL).into_iter().next()
    })
    .await
    .expect("the supplier's email arrives");
    let text = body_of(&mail);
    assert!(
        text.contains("счёт №17 от 20.11.2026 на сумму 125000.50 RUB"),
        "{text}"
    );
    assert!(
        text.contains("Invoice No. 17 of 2026-11-20 for 125000.50 RUB"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages_to(SUPPLIER_EMAIL).len(), 1);

    // A records the payment; the manager is notified and gets the closing-documents task.
    let paid = w
        .act_ok(
            &w.acc_a,
            &id,
            "mark-paid",
            json!({"payment": {"paid_on": "2026-11-23", "amount": "125000.50", "order_number": "512"}}),
        )
        .await;
    assert_eq!(paid["state"], "awaiting_closing_documents");
    assert_eq!(paid["payment"]["order_number"], "512");
    assert!(
        notifications_of(&w, &w.manager)
            .await
            .iter()
            .any(|t| t == "Счёт №17 оплачен")
    );
    let inbox = json_of(
        w.call(
            &w.manager,
            Method::GET,
            "/api/v1/tasks?inbox=mine&state=open",
            None,
        )
        .await,
        200,
    )
    .await;
    let closing = inbox["items"][0].clone();
    assert_eq!(
        closing["kind"], "supplier_invoice_closing_documents",
        "{inbox}"
    );
    assert!(
        json_of(
            w.act(&w.manager, &id, "cancel", json!({"comment": "поздно"}))
                .await,
            409
        )
        .await["current_state"]
            == "awaiting_closing_documents"
    );

    // The manager attaches the closing documents by completing his task.
    let docs = w
        .upload(&w.manager, "supplier_invoice", &id, "УПД 17.pdf")
        .await;
    let done = json_of(
        w.call(
            &w.manager,
            Method::POST,
            &format!("/api/v1/tasks/{}/complete", closing["id"].as_str().unwrap()),
            Some(&json!({"outcome": "done", "file_ids": [docs]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["state"], "completed");
    let title = "Закрывающие документы приложены к счёту №17";
    assert!(
        notifications_of(&w, &w.manager)
            .await
            .iter()
            .any(|t| t == title)
    );
    assert!(
        notifications_of(&w, &w.acc_a)
            .await
            .iter()
            .any(|t| t == title)
    );
    let completed = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(completed["state"], "completed");
    assert_eq!(completed["files"].as_array().unwrap().len(), 3);
    // The invoice's folder lists the files of every round and the closing documents.
    let folder = json_of(
        w.call(
            &w.acc_a,
            Method::GET,
            &format!("/api/v1/files?entity_type=supplier_invoice&entity_id={id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(folder["items"].as_array().unwrap().len(), 3);
    json_of(
        w.call(
            &w.acc_b,
            Method::GET,
            &format!("/api/v1/files?entity_type=supplier_invoice&entity_id={id}"),
            None,
        )
        .await,
        404,
    )
    .await;
    assert!(completed["current_task"].is_null());
    // Each decision round was a "first one decides" step.
    let steps: Vec<(i64, &str)> = completed["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["round"].as_i64().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, vec![(1, "returned"), (2, "approved")]);

    // Every transition, in order, with its actor and comment.
    let t = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}/transitions"),
            None,
        )
        .await,
        200,
    )
    .await;
    let steps: Vec<(String, String)> = t["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_owned(),
                s["actor_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let m = w.manager.id.clone();
    let expected = vec![
        ("registered", &m),
        ("taken", &w.head1.id),
        ("returned", &w.head1.id),
        ("resubmitted", &m),
        ("taken", &w.head2.id),
        ("approved", &w.head2.id),
        ("claimed", &w.acc_a.id),
        ("paid", &w.acc_a.id),
        ("closing_documents_attached", &m),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(a, u)| (a.to_owned(), u.clone()))
        .collect();
    assert_eq!(steps, expected);
    assert_eq!(
        t["items"][2]["comment"],
        "Не указан номер договора поставки"
    );
    assert_eq!(t["items"][7]["details"]["order_number"], "512");
    // The audit timeline has them too.
    let timeline = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}/timeline?sort=occurred_at"),
            None,
        )
        .await,
        200,
    )
    .await;
    let actions: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "created",
            "taken",
            "returned",
            "resubmitted",
            "taken",
            "approved",
            "claimed",
            "paid",
            "closing_documents_attached"
        ]
    );
}

/// 200 concurrent claims from two accountants: one 200, 199 × 409, one email to the supplier.
#[tokio::test]
async fn claim_race_has_exactly_one_winner_and_one_email() {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let w = world_with(|c| c.smtp_url = Some(sdelka_api::config::Secret::new(url))).await;
    let id = w.invoice_in("awaiting_accountant", "race-1").await;
    let mut calls = Vec::new();
    for i in 0..200 {
        let who = if i % 2 == 0 { &w.acc_a } else { &w.acc_b };
        calls.push(w.act(who, &id, "claim", json!({})));
    }
    let results = futures_util::future::join_all(calls).await;
    let mut ok = 0;
    let mut conflicts = 0;
    for r in results {
        match r.status().as_u16() {
            200 => ok += 1,
            409 => conflicts += 1,
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    assert_eq!((ok, conflicts), (1, 199));
    eventually(WAIT, || async {
        smtp.messages_to(SUPPLIER_EMAIL).into_iter().next()
    })
    .await
    .expect("the supplier's email arrives");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages_to(SUPPLIER_EMAIL).len(), 1);
}

/// Two heads deciding at the same instant: exactly one decision counts.
#[tokio::test]
async fn two_heads_taking_at_once_one_decides() {
    let w = world_with(|_| {}).await;
    let id = w.invoice_in("awaiting_decision", "race-2").await;
    let (a, b) = tokio::join!(
        w.act(&w.head1, &id, "take", json!({})),
        w.act(&w.head2, &id, "take", json!({}))
    );
    let codes = [a.status().as_u16(), b.status().as_u16()];
    assert!(codes.contains(&200) && codes.contains(&409), "{codes:?}");
    let winner = if codes[0] == 200 { &w.head1 } else { &w.head2 };
    let loser = if codes[0] == 200 { &w.head2 } else { &w.head1 };
    json_of(w.act(loser, &id, "approve", json!({})).await, 404).await;
    w.act_ok(winner, &id, "approve", json!({})).await;
}

const STATES: [&str; 8] = [
    "awaiting_decision",
    "under_decision",
    "returned",
    "awaiting_accountant",
    "in_work_at_accountant",
    "awaiting_closing_documents",
    "completed",
    "cancelled",
];

const ACTIONS: [&str; 8] = [
    "take",
    "approve",
    "return",
    "resubmit",
    "claim",
    "mark-paid",
    "attach-closing-documents",
    "cancel",
];

fn allowed(state: &str) -> &'static [&'static str] {
    match state {
        "awaiting_decision" => &["take", "cancel"],
        "under_decision" => &["approve", "return", "cancel"],
        "returned" => &["resubmit", "cancel"],
        "awaiting_accountant" => &["claim", "cancel"],
        "in_work_at_accountant" => &["mark-paid", "cancel"],
        "awaiting_closing_documents" => &["attach-closing-documents"],
        _ => &[],
    }
}

/// Every wrong action in every state is 409 naming the current state and the allowed actions.
#[tokio::test]
async fn every_wrong_action_in_every_state_is_409_with_state_and_allowed_actions() {
    let w = world_with(|_| {}).await;
    let admin = w.admin();
    let mut checked = 0;
    for (n, state) in STATES.iter().enumerate() {
        let id = w.invoice_in(state, &format!("M-{n}")).await;
        let seen = json_of(
            w.call(
                &admin,
                Method::GET,
                &format!("/api/v1/supplier-invoices/{id}"),
                None,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(seen["state"], *state);
        assert_eq!(seen["allowed_actions"], json!(allowed(state)));
        for action in ACTIONS.iter().filter(|a| !allowed(state).contains(a)) {
            // The admin sees every invoice, so what answers is the state machine alone; the body
            // is complete, so nothing but the state can be wrong.
            let body = json!({"comment": "причина", "file_ids": [],
                "payment": {"paid_on": "2026-11-23", "amount": "1.00", "order_number": "1"}});
            let problem = json_of(w.act(&admin, &id, action, body).await, 409).await;
            assert_eq!(problem["code"], "invalid_transition", "{action} in {state}");
            assert_eq!(problem["current_state"], *state);
            assert_eq!(problem["allowed_actions"], json!(allowed(state)));
            assert!(problem["detail"].as_str().unwrap().contains(state));
            checked += 1;
        }
    }
    assert_eq!(checked, 64 - 12);
}

/// Actions take `If-Match` (412 when stale) and `Idempotency-Key` (a replay answers the first
/// response and changes nothing).
#[tokio::test]
async fn actions_honour_if_match_and_idempotency_keys() {
    let w = world_with(|_| {}).await;
    let inv = w.register("IM-1").await;
    let id = inv["id"].as_str().unwrap();
    let res = w
        .app
        .request(
            Method::POST,
            &format!("/api/v1/supplier-invoices/{id}/actions/take"),
            &w.head1.token,
        )
        .header("if-match", "\"7\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 412).await["code"], "stale_version");
    let take = || {
        w.app
            .request(
                Method::POST,
                &format!("/api/v1/supplier-invoices/{id}/actions/take"),
                &w.head1.token,
            )
            .header("if-match", "\"1\"")
            .header("idempotency-key", "take-IM-1")
            .json(&json!({}))
            .send()
    };
    // A body that is sent must be valid: a misspelt field is not silently ignored.
    let res = w
        .app
        .request(
            Method::POST,
            &format!("/api/v1/supplier-invoices/{id}/actions/take"),
            &w.head1.token,
        )
        .json(&json!({"coment": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(res, 422).await["errors"][0]["code"],
        "unknown_field"
    );
    // No body at all is fine for an action that needs none.
    let res = w
        .app
        .request(
            Method::POST,
            &format!("/api/v1/supplier-invoices/{id}/actions/take"),
            &w.outsider.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "no body, then visibility decides");
    let first = json_of(take().await.unwrap(), 200).await;
    let replay = json_of(take().await.unwrap(), 200).await;
    assert_eq!(first, replay);
    let t = json_of(
        w.call(
            &w.head1,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}/transitions"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        t["items"].as_array().unwrap().len(),
        2,
        "registered + one take"
    );
}

/// Cancelling: the initiator or an admin, with a reason, before payment; tasks go away.
#[tokio::test]
async fn cancel_needs_the_initiator_or_an_admin_and_a_reason() {
    let w = world_with(|_| {}).await;
    let id = w.invoice_in("in_work_at_accountant", "C-1").await;
    json_of(
        w.act(&w.acc_a, &id, "cancel", json!({"comment": "нет"}))
            .await,
        403,
    )
    .await;
    let problem = json_of(w.act(&w.manager, &id, "cancel", json!({})).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "comment");
    let cancelled = w
        .act_ok(
            &w.manager,
            &id,
            "cancel",
            json!({"comment": "Поставщик отозвал счёт"}),
        )
        .await;
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "Поставщик отозвал счёт");
    let inbox = json_of(
        w.call(&w.acc_a, Method::GET, "/api/v1/tasks?state=claimed", None)
            .await,
        200,
    )
    .await;
    assert!(inbox["items"].as_array().unwrap().is_empty());
    // An outsider neither sees nor touches it.
    json_of(
        w.act(&w.outsider, &id, "cancel", json!({"comment": "x"}))
            .await,
        404,
    )
    .await;
    // Cancelled while awaiting a decision: the open decision step is skipped.
    let early = w.invoice_in("cancelled", "C-2").await;
    let seen = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{early}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(seen["steps"][0]["state"], "skipped");
    assert_eq!(seen["cancel_reason"], "Дубль");
}

/// Registration refuses files the initiator cannot see, and organisations without pools.
#[tokio::test]
async fn registration_checks_files_and_pools() {
    let w = world_with(|_| {}).await;
    let foreign = w
        .upload(&w.admin(), "organization", &w.org, "чужой.pdf")
        .await;
    let other_company = json_of(
        w.call(
            &w.outsider,
            Method::POST,
            "/api/v1/companies",
            Some(&json!({"name": "Чужая"})),
        )
        .await,
        201,
    )
    .await;
    let hidden = w
        .upload(
            &w.outsider,
            "company",
            other_company["id"].as_str().unwrap(),
            "скрытый.pdf",
        )
        .await;
    let body = |file: &str, org: &str| {
        json!({"organization_id": org, "supplier_legal_entity_id": w.supplier, "supplier_email": SUPPLIER_EMAIL,
               "number": "R-1", "invoice_date": "2026-11-20", "amount": "10.00", "file_ids": [file]})
    };
    let problem = json_of(
        w.call(
            &w.manager,
            Method::POST,
            "/api/v1/supplier-invoices",
            Some(&body(&hidden, &w.org)),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "file_ids[0]");
    let bare_org = json_of(
        w.app
            .post(
                "/api/v1/organizations",
                &organization_body("SECOND", "ООО «Вторая»"),
            )
            .await,
        201,
    )
    .await;
    let problem = json_of(
        w.call(
            &w.manager,
            Method::POST,
            "/api/v1/supplier-invoices",
            Some(&body(&foreign, bare_org["id"].as_str().unwrap())),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "no_pool");
    let pools = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/organizations/{}/pools", w.org),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(pools["items"].as_array().unwrap().len(), 2);
    // Only admins set pools.
    let res = w
        .call(
            &w.manager,
            Method::PUT,
            &format!("/api/v1/organizations/{}/pools/accountants", w.org),
            Some(&json!({"member_ids": []})),
        )
        .await;
    assert_eq!(res.status(), 403);
}

/// Activities of type task live in the same inbox: creating one opens its task, completing
/// either completes both; delegation moves both; an absent user's new tasks go to his deputy.
#[tokio::test]
async fn activity_tasks_share_the_inbox_with_delegation_and_deputies() {
    let w = world_with(|_| {}).await;
    let create = |subject: &str, responsible: &str| json!({"type": "task", "subject": subject, "responsible_id": responsible});
    let a = json_of(
        w.call(
            &w.manager,
            Method::POST,
            "/api/v1/activities",
            Some(&create("Позвонить поставщику", &w.manager.id)),
        )
        .await,
        201,
    )
    .await;
    let inbox = json_of(
        w.call(&w.manager, Method::GET, "/api/v1/tasks?inbox=mine", None)
            .await,
        200,
    )
    .await;
    let task = inbox["items"][0].clone();
    assert_eq!(task["kind"], "activity");
    assert_eq!(task["subject_id"], a["id"]);
    // Completing the task completes the activity.
    json_of(
        w.call(
            &w.manager,
            Method::POST,
            &format!("/api/v1/tasks/{}/complete", task["id"].as_str().unwrap()),
            Some(&json!({"outcome": "done", "comment": "Договорились"})),
        )
        .await,
        200,
    )
    .await;
    let a = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/activities/{}", a["id"].as_str().unwrap()),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["result"], "Договорились");
    assert!(a["completed_at"].is_string());

    // Completing the activity completes the task.
    let b = json_of(
        w.call(
            &w.manager,
            Method::POST,
            "/api/v1/activities",
            Some(&create("Сверить акт", &w.manager.id)),
        )
        .await,
        201,
    )
    .await;
    json_of(
        w.call(
            &w.manager,
            Method::POST,
            &format!("/api/v1/activities/{}/complete", b["id"].as_str().unwrap()),
            Some(&json!({"result": "Сверено"})),
        )
        .await,
        200,
    )
    .await;
    let t = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!(
                "/api/v1/tasks?subject_type=activity&subject_id={}",
                b["id"].as_str().unwrap()
            ),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(t["items"][0]["state"], "completed");
    assert_eq!(t["items"][0]["outcome"], "done");

    // Reject needs a comment; an outcome the task does not offer is refused.
    let c = json_of(
        w.call(
            &w.manager,
            Method::POST,
            "/api/v1/activities",
            Some(&create("Подготовить КП", &w.manager.id)),
        )
        .await,
        201,
    )
    .await;
    let t = json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/tasks?subject_id={}", c["id"].as_str().unwrap()),
            None,
        )
        .await,
        200,
    )
    .await;
    let tid = t["items"][0]["id"].as_str().unwrap().to_owned();
    let problem = json_of(
        w.call(
            &w.manager,
            Method::POST,
            &format!("/api/v1/tasks/{tid}/complete"),
            Some(&json!({"outcome": "approve"})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "not_offered");
    // Another user may not complete it.
    json_of(
        w.call(
            &w.outsider,
            Method::POST,
            &format!("/api/v1/tasks/{tid}/complete"),
            Some(&json!({"outcome": "done"})),
        )
        .await,
        404,
    )
    .await;

    // Delegation: the task and the activity move to the colleague.
    let moved = json_of(
        w.call(
            &w.manager,
            Method::POST,
            &format!("/api/v1/tasks/{tid}/delegate"),
            Some(&json!({"user_id": w.outsider.id, "comment": "Возьми, пожалуйста"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["assignee"]["user_id"], w.outsider.id.as_str());
    assert_eq!(moved["delegated_from"], w.manager.id.as_str());
    let c2 = json_of(
        w.call(
            &w.outsider,
            Method::GET,
            &format!("/api/v1/activities/{}", c["id"].as_str().unwrap()),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(c2["responsible_id"], w.outsider.id.as_str());
    json_of(
        w.call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/tasks/{tid}"),
            None,
        )
        .await,
        404,
    )
    .await;

    // Deputies: the outsider is away; new tasks for him go to his deputy (the manager).
    json_of(
        w.app
            .patch(
                &format!("/api/v1/users/{}", w.outsider.id),
                &json!({"absent": true, "deputy_id": w.manager.id}),
            )
            .await,
        200,
    )
    .await;
    json_of(
        w.call(
            &w.manager,
            Method::POST,
            "/api/v1/activities",
            Some(&create("Встреча с поставщиком", &w.outsider.id)),
        )
        .await,
        201,
    )
    .await;
    let inbox = json_of(
        w.call(
            &w.manager,
            Method::GET,
            "/api/v1/tasks?inbox=mine&state=open",
            None,
        )
        .await,
        200,
    )
    .await;
    let routed: Vec<&Value> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["title"] == "Встреча с поставщиком")
        .collect();
    assert_eq!(routed.len(), 1, "{inbox}");
    assert_eq!(routed[0]["delegated_from"], w.outsider.id.as_str());

    // The deputy of an absent initiator works his supplier-invoice tasks.
    json_of(
        w.app
            .patch(
                &format!("/api/v1/users/{}", w.manager.id),
                &json!({"absent": true, "deputy_id": w.outsider.id}),
            )
            .await,
        200,
    )
    .await;
    let id = w.invoice_in("under_decision", "D-1").await;
    w.act_ok(&w.head1, &id, "return", json!({"comment": "Нужна подпись"}))
        .await;
    let inbox = json_of(
        w.call(
            &w.outsider,
            Method::GET,
            "/api/v1/tasks?kind=supplier_invoice_revision",
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
    let seen = json_of(
        w.call(
            &w.outsider,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(seen["state"], "returned");
    let file = w
        .upload(&w.outsider, "supplier_invoice", &id, "подписанный.pdf")
        .await;
    let again = w
        .act_ok(&w.outsider, &id, "resubmit", json!({"file_ids": [file]}))
        .await;
    assert_eq!(again["state"], "awaiting_decision");
}

/// Due times: a task coming due reminds its holder; an overdue one (a day past due) escalates
/// to his supervisor — each once, by the background worker.
#[tokio::test]
async fn due_tasks_remind_their_holder_and_overdue_ones_escalate_to_the_supervisor() {
    let w = world_with(|c| c.reminder_poll_ms = 50).await;
    json_of(
        w.app
            .patch(
                &format!("/api/v1/users/{}", w.manager.id),
                &json!({"supervisor_id": w.head1.id}),
            )
            .await,
        200,
    )
    .await;
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let overdue = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    for (subject, deadline) in [("Отправить КП", &soon), ("Согласовать договор", &overdue)]
    {
        json_of(
            w.call(
                &w.manager,
                Method::POST,
                "/api/v1/activities",
                Some(&json!({"type": "task", "subject": subject, "deadline": deadline})),
            )
            .await,
            201,
        )
        .await;
    }
    let reminded = eventually(WAIT, || async {
        notifications_of(&w, &w.manager)
            .await
            .into_iter()
            .find(|t| t.starts_with("Напоминание"))
    })
    .await;
    assert!(
        reminded.is_some(),
        "the holder is reminded of the task coming due"
    );
    let escalated = eventually(WAIT, || async {
        notifications_of(&w, &w.head1)
            .await
            .into_iter()
            .find(|t| t == "Просрочена задача: Согласовать договор")
    })
    .await;
    assert!(
        escalated.is_some(),
        "the supervisor hears of the overdue task"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(notifications_of(&w, &w.head1).await.len(), 1, "once");
    let reminders = notifications_of(&w, &w.manager)
        .await
        .into_iter()
        .filter(|t| t.starts_with("Напоминание"))
        .count();
    assert_eq!(reminders, 1, "once");
    let overdue = json_of(
        w.call(&w.manager, Method::GET, "/api/v1/tasks?inbox=mine", None)
            .await,
        200,
    )
    .await;
    assert_eq!(overdue["items"].as_array().unwrap().len(), 2);
}

/// While a pool member is absent, his deputy works the pool in his place.
#[tokio::test]
async fn the_deputy_of_an_absent_pool_member_works_the_pool() {
    let w = world_with(|_| {}).await;
    let id = w.invoice_in("awaiting_accountant", "DP-1").await;
    json_of(w.act(&w.outsider, &id, "claim", json!({})).await, 404).await;
    json_of(
        w.app
            .patch(
                &format!("/api/v1/users/{}", w.acc_b.id),
                &json!({"absent": true, "deputy_id": w.outsider.id}),
            )
            .await,
        200,
    )
    .await;
    let inbox = json_of(
        w.call(&w.outsider, Method::GET, "/api/v1/tasks?inbox=pool", None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        inbox["items"][0]["kind"], "supplier_invoice_payment",
        "{inbox}"
    );
    let claimed = w.act_ok(&w.outsider, &id, "claim", json!({})).await;
    assert_eq!(claimed["payer_id"], w.outsider.id.as_str());
    json_of(
        w.call(
            &w.acc_a,
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await,
        404,
    )
    .await;
}

/// SPEC §3: a task set by hand for a role, a pool or one colleague lands in the right inboxes
/// (announced at once), is claimed by the first taker, completed with a typed outcome, and its
/// author follows it and hears how it ended. Bad assignees are 422s naming the field.
#[tokio::test]
async fn tasks_set_by_hand_for_a_role_a_pool_or_a_colleague() {
    let w = world_with(|_| {}).await;
    let set = |body: Value| {
        let w = &w;
        async move {
            w.call(&w.manager, Method::POST, "/api/v1/tasks", Some(&body))
                .await
        }
    };
    // For the role "accountant": both accountants see it and are told; nobody else sees it.
    let t = json_of(
        set(
            json!({"title": "Подготовить акт сверки", "description": "С ТСЖ «Берёзка» за ноябрь",
                   "role": "accountant", "due_at": "2030-01-01T10:00:00Z"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(t["kind"], "general");
    assert_eq!(t["assignee"]["role"], "accountant");
    assert_eq!(t["author_id"], w.manager.id.as_str());
    assert_eq!(t["outcomes"], json!(["done"]));
    assert_eq!(t["state"], "open");
    let task = t["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tasks/{task}");
    for acc in [&w.acc_a, &w.acc_b] {
        let pool = json_of(
            w.call(acc, Method::GET, "/api/v1/tasks?inbox=pool", None)
                .await,
            200,
        )
        .await;
        assert_eq!(ids_of(&pool), vec![task.clone()]);
        assert!(
            notifications_of(&w, acc)
                .await
                .contains(&"Подготовить акт сверки".to_owned())
        );
    }
    assert_eq!(
        w.call(&w.head1, Method::GET, &path, None).await.status(),
        404
    );
    // The author follows it, but cannot work on it.
    let mine = json_of(
        w.call(&w.manager, Method::GET, "/api/v1/tasks?inbox=created", None)
            .await,
        200,
    )
    .await;
    assert_eq!(ids_of(&mine), vec![task.clone()]);
    let refused = w
        .call(&w.manager, Method::POST, &format!("{path}/claim"), None)
        .await;
    assert_eq!(refused.status(), 403, "{}", refused.text().await.unwrap());
    // First taker wins; the other loses sight of it.
    json_of(
        w.call(&w.acc_a, Method::POST, &format!("{path}/claim"), None)
            .await,
        200,
    )
    .await;
    let late = json_of(
        w.call(&w.acc_b, Method::POST, &format!("{path}/claim"), None)
            .await,
        409,
    )
    .await;
    assert_eq!(late["code"], "already_claimed");
    assert_eq!(
        w.call(&w.acc_b, Method::GET, &path, None).await.status(),
        404
    );
    let done = json_of(
        w.call(
            &w.acc_a,
            Method::POST,
            &format!("{path}/complete"),
            Some(&json!({"outcome": "done", "comment": "Акт отправлен"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["state"], "completed");
    assert_eq!(done["completed_by"], w.acc_a.id.as_str());
    assert!(
        notifications_of(&w, &w.manager)
            .await
            .contains(&"Задача выполнена: Подготовить акт сверки".to_owned())
    );

    // For a pool: its members see it.
    let pools = json_of(
        w.app
            .get(&format!("/api/v1/organizations/{}/pools", w.org))
            .await,
        200,
    )
    .await;
    let heads = pools["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "decision_makers")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = json_of(
        set(json!({"title": "Утвердить лимит", "pool_id": heads, "outcomes": ["approve", "reject"]})).await,
        201,
    )
    .await;
    let in_pool = json_of(
        w.call(&w.head2, Method::GET, "/api/v1/tasks?inbox=pool", None)
            .await,
        200,
    )
    .await;
    let pid = p["id"].as_str().unwrap().to_owned();
    assert!(ids_of(&in_pool).contains(&pid));
    // Claimed, it may be handed on: it leaves the pool and lands in the colleague's inbox.
    let ppath = format!("/api/v1/tasks/{pid}");
    json_of(
        w.call(&w.head2, Method::POST, &format!("{ppath}/claim"), None)
            .await,
        200,
    )
    .await;
    let moved = json_of(
        w.call(
            &w.head2,
            Method::POST,
            &format!("{ppath}/delegate"),
            Some(&json!({"user_id": w.head1.id, "comment": "Посмотри, пожалуйста"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["assignee"]["user_id"], w.head1.id.as_str());
    assert_eq!(moved["assignee"]["pool_id"], Value::Null);
    assert_eq!(moved["delegated_from"], w.head2.id.as_str());
    let head1_mine = json_of(
        w.call(&w.head1, Method::GET, "/api/v1/tasks?inbox=mine", None)
            .await,
        200,
    )
    .await;
    assert!(ids_of(&head1_mine).contains(&pid));
    assert!(
        notifications_of(&w, &w.head1)
            .await
            .contains(&"Вам передана задача: Утвердить лимит".to_owned())
    );

    // For one colleague, with outcomes of its own: a rejection needs a comment.
    let u = json_of(
        set(json!({"title": "Проверить договор", "user_id": w.head1.id,
                   "outcomes": ["approve", "reject", "approve"]}))
        .await,
        201,
    )
    .await;
    assert_eq!(u["outcomes"], json!(["approve", "reject"]));
    let upath = format!("/api/v1/tasks/{}", u["id"].as_str().unwrap());
    let bare = json_of(
        w.call(
            &w.head1,
            Method::POST,
            &format!("{upath}/complete"),
            Some(&json!({"outcome": "reject"})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(bare["errors"][0]["field"], "comment", "{bare}");
    let offered = w
        .call(
            &w.head1,
            Method::POST,
            &format!("{upath}/complete"),
            Some(&json!({"outcome": "done"})),
        )
        .await;
    assert_eq!(offered.status(), 422, "{}", offered.text().await.unwrap());
    json_of(
        w.call(
            &w.head1,
            Method::POST,
            &format!("{upath}/complete"),
            Some(&json!({"outcome": "reject", "comment": "Нет приложения №2"})),
        )
        .await,
        200,
    )
    .await;

    // Whom it is for must be said once, and must exist.
    for (body, field) in [
        (json!({"title": "Без исполнителя"}), "user_id"),
        (
            json!({"title": "Двое", "user_id": w.head1.id, "role": "head"}),
            "user_id",
        ),
        (
            json!({"title": "Чужой пул", "pool_id": uuid::Uuid::now_v7()}),
            "pool_id",
        ),
        (
            json!({"title": "Никто", "user_id": uuid::Uuid::now_v7()}),
            "user_id",
        ),
        (json!({"title": "", "role": "head"}), "title"),
        (json!({"title": "   ", "role": "head"}), "title"),
    ] {
        let p = json_of(set(body.clone()).await, 422).await;
        assert_eq!(p["errors"][0]["field"], field, "{body} → {p}");
    }
    let unknown_role = set(json!({"title": "Роль", "role": "astronaut"})).await;
    assert_eq!(unknown_role.status(), 422);
}

/// A reminder is bookkeeping, not a change of the task: the holder's `If-Match` read before it
/// went out still holds, and a later transition does not erase the mark and send it again.
#[tokio::test]
async fn a_reminder_does_not_race_the_holder_nor_repeat_after_a_transition() {
    let w = world_with(|c| c.workers = false).await;
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let mut tasks = Vec::new();
    for subject in ["Позвонить в ТСЖ", "Отправить акт"] {
        let a = json_of(
            w.call(
                &w.manager,
                Method::POST,
                "/api/v1/activities",
                Some(&json!({"type": "task", "subject": subject, "deadline": soon})),
            )
            .await,
            201,
        )
        .await;
        let list = json_of(
            w.call(
                &w.manager,
                Method::GET,
                &format!("/api/v1/tasks?subject_id={}", a["id"].as_str().unwrap()),
                None,
            )
            .await,
            200,
        )
        .await;
        tasks.push(ids_of(&list)[0].clone());
    }
    let read = w
        .call(
            &w.manager,
            Method::GET,
            &format!("/api/v1/tasks/{}", tasks[0]),
            None,
        )
        .await;
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();

    let state = &w.app.server.as_ref().unwrap().state;
    let worker = sdelka_api::approvals::TaskDeadlineWorker {
        store: state.store.clone(),
        config: state.config.clone(),
    };
    assert_eq!(worker.tick().await.unwrap(), 2, "both tasks are due soon");

    // The version read before the reminder is still the task's version.
    let done = w
        .app
        .request(
            Method::POST,
            &format!("/api/v1/tasks/{}/complete", tasks[0]),
            &w.manager.token,
        )
        .header("if-match", etag)
        .json(&json!({"outcome": "done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());

    // A transition after the reminder keeps its mark: no second reminder.
    json_of(
        w.call(
            &w.manager,
            Method::POST,
            &format!("/api/v1/tasks/{}/delegate", tasks[1]),
            Some(&json!({"user_id": w.head1.id})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(worker.tick().await.unwrap(), 0);
    let reminders = notifications_of(&w, &w.manager)
        .await
        .into_iter()
        .filter(|t| t.starts_with("Напоминание"))
        .count();
    assert_eq!(reminders, 2);
}
