//! The CRM core's seed scenario end to end: a cold list of 1 000 housing-management companies
//! is imported as leads, some are qualified and converted, deals get product rows in the
//! default pipeline and move through its stages, and a planned call reminds its manager —
//! the reminder reaches his inbox by itself.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use sdelka_tests::{TestApp, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);

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
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn cold_list_to_deals_with_a_call_reminder() {
    let app = TestApp::spawn_with(|c| {
        c.reminder_poll_ms = 100;
        c.import_poll_ms = 50;
    })
    .await;
    let (manager_id, manager) = app
        .user_with_roles("manager@example.com", &["sales_manager"])
        .await;

    // 1. The list, with three planted bad rows.
    let mut csv = String::from("Управляющая компания;Контактное лицо;Телефон;ИНН\n");
    for i in 1..=1000u32 {
        match i {
            100 => csv.push_str("УК «Сотая»;Иванов Иван;нет телефона;\n"),
            200 => csv.push_str(";;;\n;Без Компании;;\n"),
            300 => csv.push_str("УК «Трёхсотая»;Петров Пётр;+7 495 000 03 00;1234567890\n"),
            _ => csv.push_str(&format!(
                "УК «Дом {i}»;Сидоров{i} Сидор;+7 (495) {:03}-{:02}-{:02};\n",
                i % 1000,
                i % 100,
                (i / 7) % 100
            )),
        }
    }
    let mapping = json!({"Управляющая компания": "company_name", "Контактное лицо": "contact_name",
                         "Телефон": "phone", "ИНН": "inn"});
    let (status, report) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/imports",
        Some(json!({"entity": "leads", "content": csv, "mapping": mapping, "dry_run": true})),
    )
    .await;
    assert_eq!(status, 200);
    let bad_lines: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    // Line 202 is blank (skipped, not counted), so the 300th company stands on line 302.
    assert_eq!(bad_lines, [101, 302], "{report}");
    assert_eq!(report["valid_rows"], 998, "{report}");

    let (status, job) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/imports",
        Some(json!({"entity": "leads", "content": csv, "mapping": mapping})),
    )
    .await;
    assert_eq!(status, 202);
    let job_path = format!("/api/v1/imports/{}", job["id"].as_str().unwrap());
    let done = eventually(WAIT, || async {
        let (_, j) = call(&app, &manager, Method::GET, &job_path, None).await;
        (j["state"] == "completed").then_some(j)
    })
    .await
    .expect("the import completes");
    assert_eq!(done["created_count"], 998);

    // 2. Qualify and convert three of them.
    let (_, page) = call(
        &app,
        &manager,
        Method::GET,
        "/api/v1/leads?limit=3&sort=title&q=%D0%B4%D0%BE%D0%BC",
        None,
    )
    .await;
    let leads: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(leads.len(), 3);
    let mut deals = Vec::new();
    for id in &leads {
        let path = format!("/api/v1/leads/{id}");
        for step in [
            json!({"status": "in_work"}),
            json!({"category": "A", "probability": 60}),
            json!({"status": "qualified"}),
        ] {
            let (status, body) = call(&app, &manager, Method::PATCH, &path, Some(step)).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, conv) = call(
            &app,
            &manager,
            Method::POST,
            &format!("{path}/convert"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 200, "{conv}");
        assert!(conv["company_id"].is_string() && conv["contact_id"].is_string());
        deals.push(conv["deal_id"].as_str().unwrap().to_owned());
    }

    // 3. Product rows and stage moves in the default pipeline.
    let (_, pipelines) = call(&app, &manager, Method::GET, "/api/v1/pipelines", None).await;
    let default = pipelines["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["is_default"] == true)
        .cloned()
        .unwrap();
    let stage = |name: &str| {
        default["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for deal in &deals {
        let rows = format!("/api/v1/deals/{deal}/product-rows");
        for row in [
            json!({"name": "Обследование лифта", "quantity": "2", "price": "15000.00", "vat_rate": "22"}),
            json!({"name": "Замена тросов", "quantity": "4", "price": "8250.50", "vat_rate": "22", "discount_percent": "5"}),
            json!({"name": "Выезд инженера", "quantity": "1", "price": "3000.00", "vat_rate": "none"}),
        ] {
            let (status, body) = call(&app, &manager, Method::POST, &rows, Some(row)).await;
            assert_eq!(status, 201, "{body}");
        }
        let (_, d) = call(
            &app,
            &manager,
            Method::GET,
            &format!("/api/v1/deals/{deal}"),
            None,
        )
        .await;
        // 2 × 15000 = 30000.00 + 22 % = 36600.00; 4 × 8250.50 = 33002.00 − 5 % = 31351.90
        // + 22 % = 38249.32; 3000.00 without VAT. Total 77849.32.
        assert_eq!(d["amount"], "77849.32", "{d}");
        for name in [
            "В работе",
            "Коммерческое предложение",
            "Счёт выставлен",
            "Успешно",
        ] {
            let (status, body) = call(
                &app,
                &manager,
                Method::PATCH,
                &format!("/api/v1/deals/{deal}"),
                Some(json!({"stage_id": stage(name)})),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        let (_, history) = call(
            &app,
            &manager,
            Method::GET,
            &format!("/api/v1/deals/{deal}/stage-history"),
            None,
        )
        .await;
        let names: Vec<&str> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["to_stage_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Новая",
                "В работе",
                "Коммерческое предложение",
                "Счёт выставлен",
                "Успешно"
            ]
        );
    }

    // 4. A planned call with a reminder: it reaches the manager's inbox without anyone asking.
    let (status, activity) = call(
        &app,
        &manager,
        Method::POST,
        "/api/v1/activities",
        Some(
            json!({"type": "call", "subject": "Обсудить график работ", "owner_type": "deal",
                    "owner_id": deals[0], "call_direction": "out",
                    "remind_at": Utc::now() + chrono::Duration::seconds(1),
                    "reminder_message": "Позвонить председателю ТСЖ"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{activity}");
    let note = eventually(WAIT, || async {
        let (_, page) = call(&app, &manager, Method::GET, "/api/v1/notifications", None).await;
        page["items"].as_array().and_then(|i| i.first().cloned())
    })
    .await
    .expect("the reminder arrives");
    assert_eq!(note["kind"], "reminder");
    assert_eq!(note["body"], "Позвонить председателю ТСЖ");
    let (_, me) = call(&app, &manager, Method::GET, "/api/v1/me", None).await;
    assert_eq!(me["id"], manager_id.to_string());
}
