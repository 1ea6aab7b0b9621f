//! One 409 for every workflow: whichever state machine refuses an action because of the state
//! a record is in, the problem is `invalid_transition` with `current_state` (the state its
//! `GET` shows) and `allowed_actions` (what that state allows). The expectations come from the
//! tables below, not from the server's answers.

use std::collections::BTreeSet;

use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};

use crate::approvals::{json_of, world_with};

async fn call(app: &TestApp, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let res = app
        .request(method, path, &app.admin_token)
        .json(body)
        .send()
        .await
        .unwrap();
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

fn set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn names(a: &[&str]) -> BTreeSet<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

/// The shape every wrong-state refusal has.
#[track_caller]
fn assert_refused(what: &str, action: &str, status: u16, p: &Value, state: &str, allowed: &[&str]) {
    assert_eq!(status, 409, "{what} {state} {action}: {p}");
    assert_eq!(
        p["code"], "invalid_transition",
        "{what} {state} {action}: {p}"
    );
    assert_eq!(p["current_state"], state, "{what} {state} {action}: {p}");
    assert_eq!(
        set(&p["allowed_actions"]),
        names(allowed),
        "{what} {state} {action}: {p}"
    );
}

const QUOTE_ACTIONS: [&str; 5] = ["edit", "send", "accept", "reject", "new-version"];

fn quote_allows(state: &str) -> &'static [&'static str] {
    match state {
        "draft" => &["edit", "send"],
        "sent" => &["accept", "reject", "new-version"],
        "rejected" => &["new-version"],
        _ => &[],
    }
}

const ORDER_ACTIONS: [&str; 3] = ["confirm-terms", "complete", "cancel"];

fn order_allows(state: &str) -> &'static [&'static str] {
    match state {
        "draft" => &["confirm-terms", "cancel"],
        "awaiting_advance" => &["cancel"],
        "confirmed" => &["complete", "cancel"],
        _ => &[],
    }
}

/// The actions of a customer invoice that have a route of their own (payments are applied
/// through `/payments`).
const INVOICE_ACTIONS: [&str; 3] = ["edit", "issue", "cancel"];

fn invoice_allows(state: &str) -> &'static [&'static str] {
    match state {
        "draft" => &["edit", "issue", "cancel"],
        "issued" => &["apply_payment", "cancel"],
        "partially_paid" => &["apply_payment", "unapply_payment"],
        "paid" => &["unapply_payment"],
        _ => &[],
    }
}

/// A lead's actions are the statuses it may move to.
const LEAD_STATUSES: [&str; 4] = ["new", "in_work", "qualified", "junk"];

fn lead_allows(state: &str) -> &'static [&'static str] {
    match state {
        "new" => &["in_work", "junk"],
        "in_work" => &["qualified", "junk"],
        "qualified" | "junk" => &["in_work"],
        _ => &[],
    }
}

#[tokio::test]
async fn every_wrong_state_refusal_of_every_workflow_has_one_shape() {
    let app = TestApp::spawn().await;
    let s = crate::documents::setup(&app, "workflows@example.com").await;
    let mut checked = 0;

    // Quotes: the way to each state, then every action it does not allow.
    for (state, path) in [
        ("draft", &[][..]),
        ("sent", &["send"][..]),
        ("accepted", &["send", "accept"][..]),
        ("rejected", &["send", "reject"][..]),
    ] {
        let q = crate::documents::new_quote(&app, &s).await;
        let qid = id(&q);
        for a in path {
            let (st, r) = call(
                &app,
                Method::POST,
                &format!("/api/v1/quotes/{qid}/actions/{a}"),
                &json!({}),
            )
            .await;
            assert_eq!(st, 200, "{r}");
        }
        let (_, seen) = call(
            &app,
            Method::GET,
            &format!("/api/v1/quotes/{qid}"),
            &json!({}),
        )
        .await;
        assert_eq!(seen["status"], state, "{seen}");
        for a in QUOTE_ACTIONS
            .iter()
            .filter(|a| !quote_allows(state).contains(a))
        {
            let (st, p) = match *a {
                "new-version" => {
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/quotes/{qid}/versions"),
                        &json!({}),
                    )
                    .await
                }
                "edit" => {
                    call(
                        &app,
                        Method::PATCH,
                        &format!("/api/v1/quotes/{qid}/versions/1"),
                        &json!({"comment": "x"}),
                    )
                    .await
                }
                other => {
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/quotes/{qid}/actions/{other}"),
                        &json!({}),
                    )
                    .await
                }
            };
            assert_refused("quote", a, st, &p, state, quote_allows(state));
            checked += 1;
        }
    }

    // Orders.
    for (state, path) in [
        ("draft", &[][..]),
        ("awaiting_advance", &["confirm-terms"][..]),
        ("confirmed", &["confirm-terms", "pay"][..]),
        ("completed", &["confirm-terms", "pay", "complete"][..]),
        ("cancelled", &["cancel"][..]),
    ] {
        let (st, o) = call(
            &app,
            Method::POST,
            "/api/v1/orders",
            &json!({"deal_id": s.deal, "organization_id": s.org}),
        )
        .await;
        assert_eq!(st, 201, "{o}");
        let oid = id(&o);
        for a in path {
            if *a == "pay" {
                crate::documents::record_payment(&app, &oid, 8_300_000).await;
                continue;
            }
            let (st, r) = call(
                &app,
                Method::POST,
                &format!("/api/v1/orders/{oid}/actions/{a}"),
                &json!({"reason": "клиент передумал"}),
            )
            .await;
            assert_eq!(st, 200, "{r}");
        }
        let (_, seen) = call(
            &app,
            Method::GET,
            &format!("/api/v1/orders/{oid}"),
            &json!({}),
        )
        .await;
        assert_eq!(seen["status"], state, "{seen}");
        for a in ORDER_ACTIONS
            .iter()
            .filter(|a| !order_allows(state).contains(a))
        {
            let (st, p) = call(
                &app,
                Method::POST,
                &format!("/api/v1/orders/{oid}/actions/{a}"),
                &json!({"reason": "ещё раз"}),
            )
            .await;
            assert_refused("order", a, st, &p, state, order_allows(state));
            checked += 1;
        }
    }

    // Customer invoices.
    let (org, buyer) = crate::money::seller_and_buyer(&app, "WF").await;
    crate::money::template(&app, &org, "СЧ-{N:4}", "never").await;
    for (state, path) in [
        ("draft", &[][..]),
        ("issued", &["issue"][..]),
        ("cancelled", &["issue", "cancel"][..]),
        ("cancelled", &["cancel"][..]),
    ] {
        let inv = crate::money::draft(&app, &org, &buyer, "2026-11-20", "1000.00").await;
        let iid = id(&inv);
        for a in path {
            let (st, r) = call(
                &app,
                Method::POST,
                &format!("/api/v1/invoices/{iid}/actions/{a}"),
                &json!({"comment": "ошибка в реквизитах"}),
            )
            .await;
            assert_eq!(st, 200, "{r}");
        }
        let (_, seen) = call(
            &app,
            Method::GET,
            &format!("/api/v1/invoices/{iid}"),
            &json!({}),
        )
        .await;
        assert_eq!(seen["status"], state, "{seen}");
        for a in INVOICE_ACTIONS
            .iter()
            .filter(|a| !invoice_allows(state).contains(a))
        {
            let (st, p) = match *a {
                "edit" => {
                    call(
                        &app,
                        Method::PATCH,
                        &format!("/api/v1/invoices/{iid}"),
                        &json!({"comment": "x"}),
                    )
                    .await
                }
                other => {
                    call(
                        &app,
                        Method::POST,
                        &format!("/api/v1/invoices/{iid}/actions/{other}"),
                        &json!({"comment": "ещё раз"}),
                    )
                    .await
                }
            };
            assert_refused("invoice", a, st, &p, state, invoice_allows(state));
            checked += 1;
        }
    }

    // Leads: each status, then every move it does not allow (staying put is no move).
    for (state, path) in [
        ("new", &[][..]),
        ("in_work", &["in_work"][..]),
        ("qualified", &["in_work", "qualified"][..]),
        ("junk", &["junk"][..]),
    ] {
        let (st, lead) = call(
            &app,
            Method::POST,
            "/api/v1/leads",
            &json!({"company_name": format!("УК «{state}»"), "source": "call"}),
        )
        .await;
        assert_eq!(st, 201, "{lead}");
        let lid = id(&lead);
        let lead_path = format!("/api/v1/leads/{lid}");
        for to in path {
            let (st, r) = call(&app, Method::PATCH, &lead_path, &json!({"status": to})).await;
            assert_eq!(st, 200, "{r}");
        }
        let (_, seen) = call(&app, Method::GET, &lead_path, &json!({})).await;
        assert_eq!(seen["status"], state, "{seen}");
        for to in LEAD_STATUSES
            .iter()
            .filter(|t| **t != state && !lead_allows(state).contains(t))
        {
            let (st, p) = call(&app, Method::PATCH, &lead_path, &json!({"status": to})).await;
            assert_refused("lead", to, st, &p, state, lead_allows(state));
            checked += 1;
        }
        if state == "junk" {
            let (st, p) = call(
                &app,
                Method::POST,
                &format!("{lead_path}/convert"),
                &json!({}),
            )
            .await;
            assert_refused("lead", "convert", st, &p, state, lead_allows(state));
            checked += 1;
        }
    }
    assert_eq!(checked, 14 + 10 + 8 + 7);
}

const SUPPLIER_STATES: [&str; 8] = [
    "awaiting_decision",
    "under_decision",
    "returned",
    "awaiting_accountant",
    "in_work_at_accountant",
    "awaiting_closing_documents",
    "completed",
    "cancelled",
];

const SUPPLIER_ACTIONS: [&str; 8] = [
    "take",
    "approve",
    "return",
    "resubmit",
    "claim",
    "mark-paid",
    "attach-closing-documents",
    "cancel",
];

fn supplier_allows(state: &str) -> &'static [&'static str] {
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

const TASK_ACTIONS: [&str; 3] = ["claim", "complete", "delegate"];

#[tokio::test]
async fn supplier_invoices_and_tasks_refuse_in_the_same_shape() {
    let w = world_with(|_| {}).await;
    let admin = w.admin();
    let mut checked = 0;
    for (n, state) in SUPPLIER_STATES.iter().enumerate() {
        let id = w.invoice_in(state, &format!("WF-{n}")).await;
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
        for a in SUPPLIER_ACTIONS
            .iter()
            .filter(|a| !supplier_allows(state).contains(a))
        {
            let body = json!({"comment": "причина", "file_ids": [],
                "payment": {"paid_on": "2026-11-23", "amount": "1.00", "order_number": "1"}});
            let res = w.act(&admin, &id, a, body).await;
            let status = res.status().as_u16();
            let p: Value = res.json().await.unwrap();
            assert_refused(
                "supplier invoice",
                a,
                status,
                &p,
                state,
                supplier_allows(state),
            );
            checked += 1;
        }
    }

    // A finished task takes no more actions.
    let t = json_of(
        w.call(
            &w.manager,
            Method::POST,
            "/api/v1/tasks",
            Some(&json!({"title": "Позвонить в ТСЖ", "user_id": w.manager.id})),
        )
        .await,
        201,
    )
    .await;
    let path = format!("/api/v1/tasks/{}", t["id"].as_str().unwrap());
    json_of(
        w.call(
            &w.manager,
            Method::POST,
            &format!("{path}/complete"),
            Some(&json!({"outcome": "done", "comment": "Дозвонился"})),
        )
        .await,
        200,
    )
    .await;
    let seen = json_of(w.call(&w.manager, Method::GET, &path, None).await, 200).await;
    let state = seen["state"].as_str().unwrap().to_owned();
    assert_eq!(state, "completed");
    for a in TASK_ACTIONS {
        let body = match a {
            "complete" => json!({"outcome": "done", "comment": "ещё раз"}),
            "delegate" => json!({"user_id": w.head1.id}),
            _ => json!({}),
        };
        let res = w
            .call(
                &w.manager,
                Method::POST,
                &format!("{path}/{a}"),
                Some(&body),
            )
            .await;
        let status = res.status().as_u16();
        let p: Value = res.json().await.unwrap();
        assert_refused("task", a, status, &p, &state, &[]);
        checked += 1;
    }
    assert_eq!(checked, 64 - 12 + 3);
}
