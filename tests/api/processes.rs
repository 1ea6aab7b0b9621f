//! WF-BP-1..6 end to end over HTTP: the shipped sale starts by itself when a deal is created
//! and runs to its end through the task inbox (a rework loop, a parallel fan-out with an
//! all-join, a quorum, the advance payment), the "client refuses" branch ends a deal as lost,
//! a task that requires a document is refused without it, an overdue task reminds and
//! escalates once each with two instances on one database, a new version leaves running
//! instances on theirs, cancelling closes the open tasks, and the process map field by field.

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use sdelka_tests::{TestApp, eventually, organization_body};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.request(method, path, token);
    if let Some(b) = body {
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

async fn user(
    app: &TestApp,
    email: &str,
    roles: &[&str],
    supervisor: Option<&str>,
) -> (String, String) {
    let (s, u) = call(
        app,
        &app.admin_token,
        Method::POST,
        "/api/v1/users",
        Some(json!({"email": email, "name": email, "password": "password-123", "roles": roles, "supervisor_id": supervisor})),
    )
    .await;
    assert_eq!(s, 201, "{u}");
    (id(&u), app.login(email, "password-123").await)
}

/// The shipped template `code`, published; answers its id.
async fn publish_shipped(app: &TestApp, code: &str) -> String {
    let (s, list) = call(
        app,
        &app.admin_token,
        Method::GET,
        "/api/v1/process-templates?limit=200",
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let t = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == code)
        .unwrap_or_else(|| panic!("no shipped template {code}: {list}"))
        .clone();
    let (s, v) = call(
        app,
        &app.admin_token,
        Method::POST,
        &format!("/api/v1/process-templates/{}/versions/1/publish", id(&t)),
        None,
    )
    .await;
    assert_eq!(s, 200, "publishing {code}: {v}");
    assert_eq!(v["state"], "published");
    id(&t)
}

/// A template (`body` as `POST /process-templates` takes it), published; answers (template
/// id, version 1 id).
async fn publish_template(app: &TestApp, body: Value) -> (String, String) {
    let (s, t) = call(
        app,
        &app.admin_token,
        Method::POST,
        "/api/v1/process-templates",
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let (s, v) = call(
        app,
        &app.admin_token,
        Method::POST,
        &format!("/api/v1/process-templates/{}/versions/1/publish", id(&t)),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    (id(&t), id(&v))
}

/// A deal template of our own, published; answers (template id, version 1 id).
async fn own_template(app: &TestApp, code: &str, definition: Value) -> (String, String) {
    publish_template(
        app,
        json!({"code": code, "name": code, "entity_type": "deal", "definition": definition}),
    )
    .await
}

async fn instances_of(app: &TestApp, deal: &str) -> Vec<Value> {
    let (s, list) = call(
        app,
        &app.admin_token,
        Method::GET,
        &format!("/api/v1/process-instances?entity_type=deal&entity_id={deal}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    list["items"].as_array().unwrap().clone()
}

/// The open process tasks of a deal titled `title`, as the admin sees them.
async fn open_tasks(app: &TestApp, deal: &str, title: &str) -> Vec<Value> {
    let (s, list) = call(
        app,
        &app.admin_token,
        Method::GET,
        &format!("/api/v1/tasks?kind=process&subject_type=deal&subject_id={deal}&limit=200"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["title"] == title && (t["state"] == "open" || t["state"] == "claimed"))
        .cloned()
        .collect()
}

async fn the_task(app: &TestApp, deal: &str, title: &str) -> Value {
    let tasks = open_tasks(app, deal, title).await;
    assert_eq!(tasks.len(), 1, "one open task «{title}»: {tasks:?}");
    tasks[0].clone()
}

async fn complete(
    app: &TestApp,
    token: &str,
    task: &Value,
    outcome: &str,
    comment: Option<&str>,
) -> (u16, Value) {
    call(
        app,
        token,
        Method::POST,
        &format!("/api/v1/tasks/{}/complete", id(task)),
        Some(json!({"outcome": outcome, "comment": comment})),
    )
    .await
}

async fn done(app: &TestApp, token: &str, deal: &str, title: &str, outcome: &str) {
    let t = the_task(app, deal, title).await;
    let (s, body) = complete(app, token, &t, outcome, Some("по итогам разговора")).await;
    assert_eq!(s, 200, "completing «{title}» with {outcome}: {body}");
    assert_eq!(body["state"], "completed");
}

async fn map(app: &TestApp, instance: &str) -> Value {
    let (s, m) = call(
        app,
        &app.admin_token,
        Method::GET,
        &format!("/api/v1/process-instances/{instance}/map"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{m}");
    m
}

fn step<'a>(map: &'a Value, id: &str) -> &'a Value {
    map["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} on the map"))
}

struct Sales {
    manager: (String, String),
    head: (String, String),
    accountant: (String, String),
    buyer: (String, String),

    company: String,
    legal_entity: String,
}

/// `GET /process-instances/{id}/map.svg`: an SVG naming `title`, parsed with `usvg` and
/// rasterised with `resvg`; the PNG.
async fn map_picture(app: &TestApp, instance: &str, title: &str) -> Vec<u8> {
    use resvg::{tiny_skia, usvg};
    let res = app
        .request(
            Method::GET,
            &format!("/api/v1/process-instances/{instance}/map.svg"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("image/svg+xml"), "{kind}");
    let svg = res.text().await.unwrap();
    assert!(svg.contains(title), "the picture does not name {title}");
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_system_fonts();
    let options = usvg::Options {
        fontdb: std::sync::Arc::new(fonts),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(&svg, &options).unwrap();
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let png = pixmap.encode_png().unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    png
}

async fn sales_team(app: &TestApp) -> Sales {
    let head = user(app, "head@example.com", &["head"], None).await;
    let manager = user(
        app,
        "manager@example.com",
        &["sales_manager"],
        Some(&head.0),
    )
    .await;
    let accountant = user(app, "accountant@example.com", &["accountant"], None).await;
    let buyer = user(app, "buyer@example.com", &["purchasing_manager"], None).await;
    let admin = app.admin_token.clone();
    let (s, org) = call(
        app,
        &admin,
        Method::POST,
        "/api/v1/organizations",
        Some(organization_body("SV", "ООО «Сдельно»")),
    )
    .await;
    assert_eq!(s, 201, "{org}");
    for (doc, template) in [("quote", "КП-{N:3}"), ("invoice", "СЧ-{N:5}")] {
        let (s, t) = call(
            app,
            &admin,
            Method::POST,
            "/api/v1/numbering-templates",
            Some(json!({"organization_id": id(&org), "document_type": doc, "template": template, "reset": "never"})),
        )
        .await;
        assert_eq!(s, 201, "{t}");
    }
    let (s, company) = call(
        app,
        &manager.1,
        Method::POST,
        "/api/v1/companies",
        Some(json!({"name": "ТСЖ «Берёзка»"})),
    )
    .await;
    assert_eq!(s, 201, "{company}");
    let (s, le) = call(app, &manager.1, Method::POST, "/api/v1/legal-entities", Some(json!({
        "company_id": id(&company), "kind": "legal_entity", "full_name": "ТСЖ «Берёзка»",
        "short_name": "Берёзка", "inn": "7707083893", "kpp": "773601001", "legal_address": "Москва"}))).await;
    assert_eq!(s, 201, "{le}");
    Sales {
        manager,
        head,
        accountant,
        buyer,

        company: id(&company),
        legal_entity: id(&le),
    }
}

async fn new_deal(app: &TestApp, team: &Sales, title: &str) -> String {
    let (s, deal) = call(
        app,
        &team.manager.1,
        Method::POST,
        "/api/v1/deals",
        Some(json!({"title": title, "company_id": team.company, "legal_entity_id": team.legal_entity})),
    )
    .await;
    assert_eq!(s, 201, "{deal}");
    let deal = id(&deal);
    let (s, r) = call(
        app,
        &team.manager.1,
        Method::POST,
        &format!("/api/v1/deals/{deal}/product-rows"),
        Some(json!({"name": "Камера IP 4 Мп", "quantity": "4", "price": "25000.00", "vat_rate": "22"})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    deal
}

#[tokio::test]
async fn the_shipped_sale_starts_with_the_deal_and_runs_to_its_end_through_the_inbox() {
    let app = TestApp::spawn().await;
    let team = sales_team(&app).await;
    publish_shipped(&app, "sale").await;
    let m = team.manager.1.clone();
    let h = team.head.1.clone();

    // Creating the deal starts the default process in the same transaction: the first task is
    // the responsible's.
    let deal = new_deal(&app, &team, "Видеонаблюдение для ТСЖ").await;
    let instances = instances_of(&app, &deal).await;
    assert_eq!(instances.len(), 1, "{instances:?}");
    let instance = id(&instances[0]);
    assert_eq!(instances[0]["status"], "running");
    let first = the_task(&app, &deal, "Первичный контакт с клиентом").await;
    assert_eq!(first["assignee"]["user_id"], team.manager.0.as_str());
    assert_eq!(first["outcomes"], json!(["done", "client_refuses"]));
    let (s, inbox) = call(
        &app,
        &m,
        Method::GET,
        "/api/v1/tasks?inbox=mine&kind=process",
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == first["id"]),
        "{inbox}"
    );

    done(&app, &m, &deal, "Первичный контакт с клиентом", "done").await;
    done(
        &app,
        &m,
        &deal,
        "Заполнить карточку клиента и условия сделки",
        "done",
    )
    .await;
    // The head returns the terms: the process goes back to the client card, round 2.
    let terms = the_task(&app, &deal, "Согласовать условия с руководителем").await;
    assert_eq!(terms["assignee"]["user_id"], team.head.0.as_str());
    let (s, body) = complete(&app, &h, &terms, "return_for_rework", None).await;
    assert_eq!(s, 422, "returning needs a comment: {body}");
    assert_eq!(body["errors"][0]["field"], "comment", "{body}");
    let (s, body) = complete(
        &app,
        &h,
        &terms,
        "return_for_rework",
        Some("Нет срока поставки"),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let mp = map(&app, &instance).await;
    assert_eq!(step(&mp, "client_card")["round"], 2, "{mp}");
    assert_eq!(step(&mp, "client_card")["status"], "active");
    assert_eq!(step(&mp, "client_card")["past_rounds"], 1);
    // The goto's own round is over too: it waits, pending, for the next pass.
    assert_eq!(step(&mp, "back_to_client_card")["status"], "pending");
    assert_eq!(step(&mp, "back_to_client_card")["past_rounds"], 1);
    assert_eq!(step(&mp, "terms_agreed")["round"], 2);
    done(
        &app,
        &m,
        &deal,
        "Заполнить карточку клиента и условия сделки",
        "done",
    )
    .await;
    done(
        &app,
        &h,
        &deal,
        "Согласовать условия с руководителем",
        "approve",
    )
    .await;

    // The deal moved to the proposal stage and the quote was made from it: the proposal task,
    // which requires the quote, can be completed.
    let (_, d) = call(
        &app,
        &m,
        Method::GET,
        &format!("/api/v1/deals/{deal}"),
        None,
    )
    .await;
    let (_, quotes) = call(
        &app,
        &m,
        Method::GET,
        &format!("/api/v1/quotes?deal_id={deal}"),
        None,
    )
    .await;
    assert_eq!(
        quotes["items"].as_array().map(Vec::len),
        Some(1),
        "{quotes}"
    );
    assert_eq!(d["stage_id"], "01930000-0000-7000-8000-00005a1e0103", "{d}");
    done(
        &app,
        &m,
        &deal,
        "Подготовить и отправить коммерческое предложение",
        "sent",
    )
    .await;

    // The fan-out: slides, the technical check (any purchasing manager) and a meeting booked;
    // the join waits for all of them.
    let mp = map(&app, &instance).await;
    assert_eq!(step(&mp, "prepare_presentation")["status"], "active");
    assert_eq!(step(&mp, "book_meeting")["status"], "done");
    done(&app, &m, &deal, "Подготовить презентацию", "done").await;
    let mp = map(&app, &instance).await;
    assert_eq!(
        step(&mp, "prepare_presentation")["status"],
        "active",
        "one branch is not a join"
    );
    assert_eq!(step(&mp, "presentation")["status"], "pending");
    done(
        &app,
        &team.buyer.1,
        &deal,
        "Проверить техническую часть предложения",
        "done",
    )
    .await;
    let mp = map(&app, &instance).await;
    assert_eq!(step(&mp, "prepare_presentation")["status"], "done");

    // Feedback at the presentation: the proposal is re-approved by two of three (quorum).
    done(&app, &m, &deal, "Презентация клиенту", "feedback").await;
    let reapproval = open_tasks(&app, &deal, "Пересогласовать КП по замечаниям клиента").await;
    assert_eq!(reapproval.len(), 3, "{reapproval:?}");
    let supervisor_task = reapproval
        .iter()
        .find(|t| t["assignee"]["user_id"] == team.head.0.as_str())
        .unwrap();
    let (s, b) = complete(&app, &h, supervisor_task, "approve", None).await;
    assert_eq!(s, 200, "{b}");
    let mp = map(&app, &instance).await;
    assert_eq!(
        step(&mp, "proposal_reapproval")["status"],
        "active",
        "one of two is not a quorum"
    );
    let accountant_task = reapproval
        .iter()
        .find(|t| t["assignee"]["role"] == "accountant")
        .unwrap();
    let (s, b) = complete(&app, &team.accountant.1, accountant_task, "approve", None).await;
    assert_eq!(s, 200, "{b}");
    // The quorum closed the third task and the process went back to a new quote version.
    let head_role_task = reapproval
        .iter()
        .find(|t| t["assignee"]["role"] == "head")
        .unwrap();
    let (_, t) = call(
        &app,
        &app.admin_token,
        Method::GET,
        &format!("/api/v1/tasks/{}", id(head_role_task)),
        None,
    )
    .await;
    assert_eq!(t["state"], "cancelled", "{t}");
    let mp = map(&app, &instance).await;
    assert_eq!(step(&mp, "make_quote")["round"], 2);
    assert_eq!(step(&mp, "proposal")["round"], 2);
    let (_, quotes) = call(
        &app,
        &m,
        Method::GET,
        &format!("/api/v1/quotes?deal_id={deal}"),
        None,
    )
    .await;
    assert_eq!(
        quotes["items"].as_array().map(Vec::len),
        Some(2),
        "{quotes}"
    );
    done(
        &app,
        &m,
        &deal,
        "Подготовить и отправить коммерческое предложение",
        "sent",
    )
    .await;
    done(&app, &m, &deal, "Подготовить презентацию", "done").await;
    done(
        &app,
        &team.buyer.1,
        &deal,
        "Проверить техническую часть предложения",
        "done",
    )
    .await;
    done(&app, &m, &deal, "Презентация клиенту", "accepted").await;
    done(&app, &m, &deal, "Оформить заказ клиента", "done").await;

    // The invoice was made from the deal; the process waits for the advance.
    let mp = map(&app, &instance).await;
    assert_eq!(step(&mp, "advance_payment")["status"], "waiting", "{mp}");
    let (_, invoices) = call(
        &app,
        &m,
        Method::GET,
        &format!("/api/v1/invoices?deal_id={deal}"),
        None,
    )
    .await;
    let invoice = id(&invoices["items"][0]);
    let (s, inv) = call(
        &app,
        &m,
        Method::POST,
        &format!("/api/v1/invoices/{invoice}/actions/issue"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{inv}");
    let (s, p) = call(
        &app,
        &app.admin_token,
        Method::POST,
        "/api/v1/payments",
        Some(json!({"date": "2026-11-21", "amount": "40000.00", "payer_legal_entity_id": team.legal_entity,
            "payment_order_number": "101", "purpose": "Аванс",
            "applications": [{"invoice_id": invoice, "amount": "40000.00"}]})),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let instances = instances_of(&app, &deal).await;
    assert_eq!(instances[0]["status"], "completed", "{instances:?}");
    let (_, d) = call(
        &app,
        &m,
        Method::GET,
        &format!("/api/v1/deals/{deal}"),
        None,
    )
    .await;
    assert_eq!(
        d["stage_id"], "01930000-0000-7000-8000-00005a1e0105",
        "won: {d}"
    );
    let mp = map(&app, &instance).await;
    assert_eq!(mp["status"], "completed");
    assert_eq!(step(&mp, "finish")["status"], "done");
    assert_eq!(step(&mp, "refused_at_first_contact")["status"], "done");
    assert_eq!(step(&mp, "lost_at_first_contact")["status"], "skipped");
    // WF-BP-6: the costs of the completed tasks.
    assert_eq!(mp["cost"], instances[0]["cost"]);
    assert!(mp["waiting_on"].as_array().unwrap().is_empty());

    // The other deal's client refuses at the first contact: the deal is lost, the process ends.
    let lost = new_deal(&app, &team, "Домофон для ТСЖ").await;
    done(
        &app,
        &m,
        &lost,
        "Первичный контакт с клиентом",
        "client_refuses",
    )
    .await;
    let instances = instances_of(&app, &lost).await;
    assert_eq!(instances[0]["status"], "cancelled", "{instances:?}");
    assert_eq!(instances[0]["cancel_reason"], "Клиент отказался");
    let (_, d) = call(
        &app,
        &m,
        Method::GET,
        &format!("/api/v1/deals/{lost}"),
        None,
    )
    .await;
    assert_eq!(
        d["stage_id"], "01930000-0000-7000-8000-00005a1e0106",
        "lost: {d}"
    );
    assert!(
        open_tasks(&app, &lost, "Заполнить карточку клиента и условия сделки")
            .await
            .is_empty()
    );

    // The same map as a picture, drawn on the server: an SVG that parses and rasterises, with
    // the titles of the steps in it.
    let id = instances_of(&app, &deal).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let png = map_picture(&app, &id, "Первичный контакт с клиентом").await;
    std::fs::write(
        std::env::temp_dir().join(format!("sdelka-sale-map-{id}.png")),
        png,
    )
    .unwrap();

    // Who holds what: nothing is open any more.
    let (s, held) = call(
        &app,
        &app.admin_token,
        Method::GET,
        "/api/v1/processes/held-up",
        None,
    )
    .await;
    assert_eq!(s, 200, "{held}");
    assert_eq!(held["items"], json!([]));

    // REP-4: the cost of the completed tasks per instance and per template (two rounds of
    // the rework and of the proposal count twice), and the step durations.
    assert_eq!(instances_of(&app, &deal).await[0]["cost"], "11800.00");
    let (s, report) = call(
        &app,
        &app.admin_token,
        Method::GET,
        "/api/v1/reports/processes",
        None,
    )
    .await;
    assert_eq!(s, 200, "{report}");
    let sale = &report["cost_per_template"][0];
    assert_eq!(sale["template_code"], "sale", "{report}");
    assert_eq!(sale["instances"], 2);
    assert_eq!(sale["cost"], "12100.00");
    assert_eq!(sale["average_cost"], "6050.00");
    let durations = report["step_durations"].as_array().unwrap();
    let card = durations
        .iter()
        .find(|d| d["step_id"] == "client_card")
        .unwrap();
    assert_eq!(card["finished_rounds"], 2, "{card}");
    assert_eq!(report["stalled_steps"], json!([]));
    let res = app
        .request(
            Method::GET,
            "/api/v1/reports/processes?format=csv",
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("template_cost,"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("template_cost,") && l.ends_with(",12100.00")),
        "{text}"
    );
}

#[tokio::test]
async fn documents_versions_cancel_and_the_map() {
    let app = TestApp::spawn().await;
    let team = sales_team(&app).await;
    let admin = app.admin_token.clone();
    let m = team.manager.1.clone();
    let definition = json!({
        "entity_type": "deal", "name": "Договор",
        "steps": [
            { "id": "contract", "kind": "task", "title": "Приложить договор",
              "assignees": [{ "type": "responsible" }],
              "requires": [{ "type": "document", "document_type": "contract" }],
              "due": { "type": "after", "after": { "days": 1 } }, "cost": "150.00" },
            { "id": "check", "kind": "task", "title": "Проверить договор", "assignees": [{ "type": "supervisor" }] }
        ]
    });
    let (template, v1) = own_template(&app, "contract_check", definition.clone()).await;
    let deal = new_deal(&app, &team, "Договор с ТСЖ").await;
    assert!(
        instances_of(&app, &deal).await.is_empty(),
        "a manual template does not start by itself"
    );

    // A bad definition is refused naming the place.
    let mut bad = definition.clone();
    bad["steps"][1]["assignees"][0] = json!({"type": "role", "role": "boss"});
    bad["steps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "x", "kind": "teleport"}));
    let (s, v2) = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/process-templates/{template}/versions"),
        Some(json!({"definition": bad})),
    )
    .await;
    assert_eq!(s, 201, "{v2}");
    let (s, refused) = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/process-templates/{template}/versions/2/publish"),
        None,
    )
    .await;
    assert_eq!(s, 422, "{refused}");
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"definition/steps/2/kind"), "{refused}");

    // Started by hand on version 1.
    let (s, a) = call(
        &app,
        &m,
        Method::POST,
        "/api/v1/process-instances",
        Some(json!({"template_id": template, "entity_id": deal})),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["template_version_id"], v1.as_str());
    let instance = id(&a);

    // The map, field by field.
    let mp = map(&app, &instance).await;
    assert_eq!(mp["status"], "running");
    assert_eq!(mp["cost"], "0.00");
    assert!(mp["started_at"].is_string());
    assert_eq!(mp["finished_at"], Value::Null);
    let s0 = &mp["steps"][0];
    assert_eq!(s0["id"], "contract");
    assert_eq!(s0["kind"], "task");
    assert_eq!(s0["title"], "Приложить договор");
    assert_eq!(s0["path"], "/steps/0");
    assert_eq!(s0["depth"], 0);
    assert_eq!(s0["parent"], Value::Null);
    assert_eq!(s0["status"], "active");
    assert_eq!(s0["round"], 1);
    assert!(s0["started_at"].is_string());
    assert_eq!(s0["finished_at"], Value::Null);
    assert!(s0["due_at"].is_string());
    assert_eq!(s0["overdue"], false);
    assert_eq!(s0["outcome"], Value::Null);
    assert_eq!(s0["cost"], "0.00");
    assert_eq!(s0["past_rounds"], 0);
    assert_eq!(s0["assignees"][0]["key"], "contract#1#0");
    assert_eq!(
        s0["assignees"][0]["assignee"],
        json!({"type": "user", "id": team.manager.0})
    );
    assert_eq!(s0["assignees"][0]["state"], "open");
    let s1 = &mp["steps"][1];
    assert_eq!(s1["id"], "check");
    assert_eq!(s1["status"], "pending");
    assert_eq!(s1["assignees"], json!([]));
    assert_eq!(mp["edges"][0]["from"], "start");
    assert_eq!(mp["edges"][0]["to"], "contract");
    assert_eq!(mp["edges"][0]["round"], 1);
    assert_eq!(mp["waiting_on"][0]["step"], "contract");
    assert_eq!(mp["waiting_on"][0]["task"], "contract#1#0");
    assert_eq!(
        mp["waiting_on"][0]["assignee"],
        json!({"type": "user", "id": team.manager.0})
    );

    // "On whom": the manager, with one open task.
    let (_, held) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/processes/held-up?entity_type=deal&entity_id={deal}"),
        None,
    )
    .await;
    assert_eq!(
        held["items"][0]["user_id"],
        team.manager.0.as_str(),
        "{held}"
    );
    assert_eq!(held["items"][0]["step_id"], "contract");
    let (_, load) = call(
        &app,
        &admin,
        Method::GET,
        "/api/v1/processes/workload",
        None,
    )
    .await;
    assert_eq!(
        load["items"][0]["performer"],
        team.manager.0.as_str(),
        "{load}"
    );
    assert_eq!(load["items"][0]["open_tasks"], 1);

    // The task requires the contract: refused naming it until one is attached.
    let task = the_task(&app, &deal, "Приложить договор").await;
    let (s, body) = complete(&app, &m, &task, "done", None).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["code"], "document_required", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("contract"),
        "{body}"
    );
    let form = Form::new()
        .text("entity_type", "deal")
        .text("entity_id", deal.clone())
        .text("document_type", "contract")
        .part(
            "file",
            Part::bytes(b"%PDF-1.4\n% contract\n".to_vec()).file_name("contract.pdf"),
        );
    let res = app
        .request(Method::POST, "/api/v1/files", &m)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let (s, body) = complete(&app, &m, &task, "done", None).await;
    assert_eq!(s, 200, "{body}");
    let mp = map(&app, &instance).await;
    assert_eq!(step(&mp, "contract")["status"], "done");
    assert_eq!(step(&mp, "contract")["outcome"], "done");
    assert_eq!(step(&mp, "contract")["cost"], "150.00");
    assert_eq!(mp["cost"], "150.00");
    assert_eq!(step(&mp, "check")["status"], "active");

    // Version 3 renames the check; the running instance keeps version 1.
    let mut v3 = definition.clone();
    v3["steps"][1]["title"] = json!("Проверить договор (юрист)");
    let (s, _) = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/process-templates/{template}/versions"),
        Some(json!({"definition": v3})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, published) = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/process-templates/{template}/versions/3/publish"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{published}");
    let (s, frozen) = call(
        &app,
        &admin,
        Method::PUT,
        &format!("/api/v1/process-templates/{template}/versions/3"),
        Some(json!({"definition": definition})),
    )
    .await;
    assert_eq!(s, 409, "a published version is frozen: {frozen}");
    let (_, b) = call(
        &app,
        &m,
        Method::POST,
        "/api/v1/process-instances",
        Some(json!({"template_id": template, "entity_id": deal})),
    )
    .await;
    assert_eq!(b["template_version_id"], published["id"], "{b}");
    let (_, a_now) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/process-instances/{instance}"),
        None,
    )
    .await;
    assert_eq!(a_now["template_version_id"], v1.as_str());
    assert_eq!(open_tasks(&app, &deal, "Проверить договор").await.len(), 1);

    // Cancelling closes the open tasks.
    let check = the_task(&app, &deal, "Проверить договор").await;
    let (s, c) = call(
        &app,
        &m,
        Method::POST,
        &format!("/api/v1/process-instances/{instance}/cancel"),
        Some(json!({"reason": "Клиент передумал"})),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["status"], "cancelled");
    assert_eq!(c["cancel_reason"], "Клиент передумал");
    let (_, t) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/tasks/{}", id(&check)),
        None,
    )
    .await;
    assert_eq!(t["state"], "cancelled", "{t}");
    let (s, again) = call(
        &app,
        &m,
        Method::POST,
        &format!("/api/v1/process-instances/{instance}/cancel"),
        Some(json!({"reason": "ещё раз"})),
    )
    .await;
    assert_eq!(s, 409, "{again}");
    let (_, running) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/v1/process-instances?entity_type=deal&entity_id={deal}&status=running"),
        None,
    )
    .await;
    assert_eq!(
        running["items"].as_array().map(Vec::len),
        Some(1),
        "{running}"
    );
}

async fn notifications(app: &TestApp, token: &str, kind: &str) -> usize {
    let (s, list) = call(
        app,
        token,
        Method::GET,
        "/api/v1/notifications?limit=200",
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == kind)
        .count()
}

#[tokio::test]
async fn an_overdue_task_reminds_and_escalates_once_each_with_two_instances() {
    let app = TestApp::spawn_with(|c| c.reminder_poll_ms = 20).await;
    let other = app.spawn_beside(|c| c.reminder_poll_ms = 20).await;
    let team = sales_team(&app).await;
    let definition = json!({
        "entity_type": "deal", "name": "Срочный звонок",
        "steps": [
            { "id": "call", "kind": "task", "task_type": "call", "title": "Позвонить сегодня",
              "assignees": [{ "type": "responsible" }],
              "due": { "type": "field", "field": "expected_close_date" },
              "sla": { "remind_before": { "hours": 1 }, "escalate_after": { "hours": 1 } } }
        ]
    });
    let (template, _) = own_template(&app, "urgent_call", definition).await;
    let deal = new_deal(&app, &team, "Срочно").await;
    // Due two days ago: the reminder and the escalation are both due at once.
    let (s, d) = call(&app, &team.manager.1, Method::PATCH, &format!("/api/v1/deals/{deal}"), Some(json!({"expected_close_date": (chrono::Utc::now().date_naive() - chrono::Days::new(2)).to_string()}))).await;
    assert_eq!(s, 200, "{d}");
    let (s, inst) = call(
        &other,
        &team.manager.1,
        Method::POST,
        "/api/v1/process-instances",
        Some(json!({"template_id": template, "entity_id": deal})),
    )
    .await;
    assert_eq!(s, 201, "{inst}");
    let instance: uuid::Uuid = id(&inst).parse().unwrap();

    // Both instances' timer jobs compete for the two timers; each fires once.
    let store = &app.server.as_ref().unwrap().state.store;
    let fired = eventually(WAIT, || async {
        let pending = sdelka_persistence::ops::processes::pending_timers(&store.conn, instance)
            .await
            .unwrap();
        pending.is_empty().then_some(())
    })
    .await;
    assert!(fired.is_some(), "the timers fire");
    assert_eq!(
        notifications(&app, &team.manager.1, "process_task_reminder").await,
        1
    );
    assert_eq!(
        notifications(&app, &team.head.1, "process_task_escalation").await,
        1
    );
    assert_eq!(
        notifications(&app, &team.manager.1, "process_task_escalation").await,
        0
    );
    let mp = map(&app, &id(&inst)).await;
    assert_eq!(step(&mp, "call")["status"], "active");
    drop(other);
}

/// A deal template of our own with a start mode, published; answers its id.
async fn template_with(app: &TestApp, code: &str, start_mode: &str, definition: Value) -> String {
    publish_template(
        app,
        json!({"code": code, "name": code, "entity_type": "deal", "start_mode": start_mode,
               "definition": definition}),
    )
    .await
    .0
}

#[tokio::test]
async fn a_sub_process_holds_its_parent_until_it_ends_and_its_outcome_steers_it() {
    let app = TestApp::spawn().await;
    template_with(
        &app,
        "legal_check",
        "manual",
        json!({"entity_type": "deal", "name": "Проверка юристом", "steps": [
            {"id": "check", "kind": "task", "title": "Проверить договор юристом",
             "assignees": [{"type": "responsible"}]}
        ]}),
    )
    .await;
    template_with(
        &app,
        "sale_with_check",
        "on_create",
        json!({"entity_type": "deal", "name": "Продажа с проверкой", "steps": [
            {"id": "legal", "kind": "action",
             "action": {"type": "start_process", "template": "legal_check", "wait": true}},
            {"id": "refused", "kind": "switch", "branches": [{
                "when": {"type": "outcome", "step": "legal", "is": ["cancelled"]},
                "steps": [{"id": "stop", "kind": "end", "result": "cancelled",
                           "reason": "Юрист не пропустил договор"}]}]},
            {"id": "ship", "kind": "task", "title": "Отгрузить", "assignees": [{"type": "responsible"}]}
        ]}),
    )
    .await;
    let deal = |title: &'static str| {
        let app = &app;
        async move {
            let (s, d) = call(
                app,
                &app.admin_token,
                Method::POST,
                "/api/v1/deals",
                Some(json!({"title": title})),
            )
            .await;
            assert_eq!(s, 201, "{d}");
            id(&d)
        }
    };
    let parent_and_child = |deal: String| {
        let app = &app;
        async move {
            let all = instances_of(app, &deal).await;
            assert_eq!(all.len(), 2, "the parent and its sub-process: {all:?}");
            let parent = all
                .iter()
                .find(|i| i["parent_instance_id"].is_null())
                .unwrap()
                .clone();
            let child = all
                .iter()
                .find(|i| i["parent_instance_id"] == parent["id"])
                .expect("the sub-process names its parent")
                .clone();
            (parent, child)
        }
    };

    // The sub-process completes: the parent goes on past the switch.
    let first = deal("Поставка с проверкой").await;
    let (parent, child) = parent_and_child(first.clone()).await;
    let m = map(&app, &id(&parent)).await;
    assert_eq!(step(&m, "legal")["status"], "waiting", "{m}");
    assert!(open_tasks(&app, &first, "Отгрузить").await.is_empty());
    done(
        &app,
        &app.admin_token,
        &first,
        "Проверить договор юристом",
        "done",
    )
    .await;
    let m = map(&app, &id(&child)).await;
    assert_eq!(m["status"], "completed", "{m}");
    let m = map(&app, &id(&parent)).await;
    assert_eq!(step(&m, "legal")["status"], "done", "{m}");
    assert_eq!(step(&m, "legal")["outcome"], "completed", "{m}");
    assert_eq!(m["status"], "running");
    the_task(&app, &first, "Отгрузить").await;

    // The sub-process is cancelled: its outcome ends the parent as cancelled.
    let second = deal("Поставка без проверки").await;
    let (parent, child) = parent_and_child(second.clone()).await;
    let (s, c) = call(
        &app,
        &app.admin_token,
        Method::POST,
        &format!("/api/v1/process-instances/{}/cancel", id(&child)),
        Some(json!({"reason": "Договор не прошёл проверку"})),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    let m = map(&app, &id(&parent)).await;
    assert_eq!(step(&m, "legal")["outcome"], "cancelled", "{m}");
    assert_eq!(m["status"], "cancelled", "{m}");
    assert!(open_tasks(&app, &second, "Отгрузить").await.is_empty());
    assert!(
        open_tasks(&app, &second, "Проверить договор юристом")
            .await
            .is_empty(),
        "the sub-process's task closed with it"
    );
}

#[tokio::test]
async fn a_process_sets_fields_of_companies_and_contacts_through_their_operations() {
    let app = TestApp::spawn().await;
    let (keeper, _) = user(&app, "keeper@sdelka.local", &["sales_manager"], None).await;
    for (entity, definition) in [
        (
            "company",
            json!({"entity_type": "company", "name": "Новый клиент", "steps": [
                {"id": "rename", "kind": "action",
                 "action": {"type": "set_field", "field": "title", "value": "Ромашка (клиент)"}},
                {"id": "hand_over", "kind": "action",
                 "action": {"type": "set_field", "field": "responsible", "value": keeper}}
            ]}),
        ),
        (
            "contact",
            json!({"entity_type": "contact", "name": "Новый контакт", "steps": [
                {"id": "hand_over", "kind": "action",
                 "action": {"type": "set_field", "field": "responsible", "value": keeper}}
            ]}),
        ),
    ] {
        publish_template(
            &app,
            json!({"code": format!("{entity}_intake"), "name": entity, "entity_type": entity,
                   "start_mode": "on_create", "definition": definition}),
        )
        .await;
    }
    // A contact has no title for a process to set: publishing says so.
    let (s, t) = call(
        &app,
        &app.admin_token,
        Method::POST,
        "/api/v1/process-templates",
        Some(
            json!({"code": "contact_title", "name": "x", "entity_type": "contact",
                    "definition": {"entity_type": "contact", "name": "x", "steps": [
                        {"id": "t", "kind": "action",
                         "action": {"type": "set_field", "field": "title", "value": "x"}}]}}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let (s, v) = call(
        &app,
        &app.admin_token,
        Method::POST,
        &format!("/api/v1/process-templates/{}/versions/1/publish", id(&t)),
        None,
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        v["errors"][0]["field"], "definition/steps/0/action/field",
        "{v}"
    );

    let (s, c) = call(
        &app,
        &app.admin_token,
        Method::POST,
        "/api/v1/companies",
        Some(json!({"name": "Ромашка"})),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let (_, c) = call(
        &app,
        &app.admin_token,
        Method::GET,
        &format!("/api/v1/companies/{}", id(&c)),
        None,
    )
    .await;
    assert_eq!(c["name"], "Ромашка (клиент)", "{c}");
    assert_eq!(c["responsible_id"], keeper.as_str(), "{c}");
    let (s, p) = call(
        &app,
        &app.admin_token,
        Method::POST,
        "/api/v1/contacts",
        Some(json!({"last_name": "Иванов", "first_name": "Пётр"})),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let (_, p) = call(
        &app,
        &app.admin_token,
        Method::GET,
        &format!("/api/v1/contacts/{}", id(&p)),
        None,
    )
    .await;
    assert_eq!(p["responsible_id"], keeper.as_str(), "{p}");
    // Through the operations: the changes are journalled with the process as their source.
    let (_, tl) = call(
        &app,
        &app.admin_token,
        Method::GET,
        &format!("/api/v1/companies/{}/timeline", id(&c)),
        None,
    )
    .await;
    assert!(
        tl["items"].as_array().unwrap().len() >= 2,
        "the creation and the process's changes: {tl}"
    );
}

#[tokio::test]
async fn a_template_bills_the_time_of_its_tasks_into_the_deal_once_each() {
    let app = TestApp::spawn().await;
    template_with(
        &app,
        "install_and_tune",
        "on_create",
        json!({"entity_type": "deal", "name": "Монтаж и наладка",
               "task_billing": {"mode": "add_as_row", "hourly_rate": "1200.00"},
               "steps": [
            {"id": "install", "kind": "task", "title": "Монтаж", "assignees": [{"type": "responsible"}]},
            {"id": "tune", "kind": "task", "title": "Пусконаладка", "assignees": [{"type": "responsible"}]},
            // The step asks again for the first task's time: it was billed, so it is not twice.
            {"id": "bill_again", "kind": "action",
             "action": {"type": "bill_time", "task": "install", "mode": "add_as_row", "hourly_rate": "5000.00"}}
        ]}),
    )
    .await;
    let (s, d) = call(
        &app,
        &app.admin_token,
        Method::POST,
        "/api/v1/deals",
        Some(json!({"title": "Камеры на проходной"})),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    let deal = id(&d);
    for (title, minutes) in [("Монтаж", 90), ("Пусконаладка", 30)] {
        let t = the_task(&app, &deal, title).await;
        let (s, body) = call(
            &app,
            &app.admin_token,
            Method::POST,
            &format!("/api/v1/tasks/{}/complete", id(&t)),
            Some(json!({"outcome": "done", "time_spent_minutes": minutes})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    let (_, rows) = call(
        &app,
        &app.admin_token,
        Method::GET,
        &format!("/api/v1/deals/{deal}/product-rows"),
        None,
    )
    .await;
    let rows: Vec<(String, String, String, String)> = rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["quantity"].as_str().unwrap().to_owned(),
                r["price"].as_str().unwrap().to_owned(),
                r["sum"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "Монтаж".into(),
                "1.500".into(),
                "1200.00".into(),
                "1800.00".into()
            ),
            (
                "Пусконаладка".into(),
                "0.500".into(),
                "1200.00".into(),
                "600.00".into()
            ),
        ]
    );
    let instance = &instances_of(&app, &deal).await[0];
    let m = map(&app, &id(instance)).await;
    assert_eq!(m["status"], "completed", "{m}");
    assert_eq!(step(&m, "bill_again")["status"], "done", "{m}");
}

#[tokio::test]
async fn changes_of_invoices_and_companies_start_the_processes_waiting_for_them() {
    let app = TestApp::spawn().await;
    let post = |path: &'static str, body: Value| {
        let app = &app;
        async move { call(app, &app.admin_token, Method::POST, path, Some(body)).await }
    };
    for (code, entity, trigger, title) in [
        (
            "after_payment",
            "invoice",
            json!({"on": "field_changed", "field": "status", "to": "paid"}),
            "Отправить закрывающие документы",
        ),
        (
            "after_void",
            "invoice",
            json!({"on": "field_changed", "field": "status", "to": "cancelled"}),
            "Выяснить причину отмены",
        ),
        (
            "new_keeper",
            "company",
            json!({"on": "field_changed", "field": "responsible"}),
            "Познакомиться с клиентом",
        ),
    ] {
        publish_template(
            &app,
            json!({"code": code, "name": code, "entity_type": entity, "start_mode": "on_change",
                   "definition": {"entity_type": entity, "name": code, "triggers": [trigger],
                                  "steps": [{"id": "todo", "kind": "task", "title": title,
                                             "assignees": [{"type": "responsible"}]}]}}),
        )
        .await;
    }
    let tasks_titled = |title: &'static str| {
        let app = &app;
        async move {
            let (s, list) = call(
                app,
                &app.admin_token,
                Method::GET,
                "/api/v1/tasks?kind=process&limit=200",
                None,
            )
            .await;
            assert_eq!(s, 200, "{list}");
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["title"] == title)
                .cloned()
                .collect::<Vec<Value>>()
        }
    };

    // An invoice paid by a payment starts the closing-documents process; issuing it does not.
    let (org, buyer) = crate::money::seller_and_buyer(&app, "PR").await;
    crate::money::template(&app, &org, "СЧ-{N:4}", "never").await;
    let paid = crate::money::draft(&app, &org, &buyer, "2026-12-01", "12000.00").await;
    let issue = call(
        &app,
        &app.admin_token,
        Method::POST,
        &format!("/api/v1/invoices/{}/actions/issue", id(&paid)),
        Some(json!({})),
    )
    .await;
    assert_eq!(issue.0, 200, "{}", issue.1);
    assert!(
        tasks_titled("Отправить закрывающие документы")
            .await
            .is_empty()
    );
    let (s, p) = post(
        "/api/v1/payments",
        json!({"amount": "12000.00", "organization_id": org, "payer_legal_entity_id": buyer,
               "applications": [{"invoice_id": id(&paid)}]}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let started = tasks_titled("Отправить закрывающие документы").await;
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["subject_type"], "invoice");
    assert_eq!(started[0]["subject_id"], id(&paid).as_str());

    // A voided invoice starts the other one.
    let void = crate::money::draft(&app, &org, &buyer, "2026-12-01", "500.00").await;
    let (s, v) = call(
        &app,
        &app.admin_token,
        Method::POST,
        &format!("/api/v1/invoices/{}/actions/cancel", id(&void)),
        Some(json!({"comment": "Ошибка в реквизитах"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let started = tasks_titled("Выяснить причину отмены").await;
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["subject_id"], id(&void).as_str());

    // A company handed to a colleague: the new responsible gets the task.
    let (keeper, _) = user(&app, "keeper2@sdelka.local", &["sales_manager"], None).await;
    let (s, c) = post("/api/v1/companies", json!({"name": "Лютик"})).await;
    assert_eq!(s, 201, "{c}");
    assert!(tasks_titled("Познакомиться с клиентом").await.is_empty());
    let (s, u) = call(
        &app,
        &app.admin_token,
        Method::PATCH,
        &format!("/api/v1/companies/{}", id(&c)),
        Some(json!({"responsible_id": keeper})),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    let started = tasks_titled("Познакомиться с клиентом").await;
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0]["assignee"]["user_id"], keeper.as_str());
}
