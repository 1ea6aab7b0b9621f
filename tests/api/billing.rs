//! WF-BILL-1, task billing into deals, over HTTP: a `task_completed` automation rule with a
//! `bill_time` action puts the time of a completed task into its deal — into the first
//! product row, as a catalog product found or created by the task's title, or as a plain
//! row — once per task, journalled, and tells the responsible when asked to.

use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

struct Shop {
    app: TestApp,
    manager: Uuid,
    token: String,
}

async fn shop() -> Shop {
    let app = TestApp::spawn().await;
    let (manager, token) = app
        .user_with_roles("p.sidorov@example.com", &["sales_manager"])
        .await;
    Shop {
        app,
        manager,
        token,
    }
}

impl Shop {
    async fn deal(&self, title: &str) -> String {
        let company = json_of(
            self.app
                .post(
                    "/api/v1/companies",
                    &json!({"name": format!("ООО «{title}»")}),
                )
                .await,
            201,
        )
        .await;
        let deal = json_of(
            self.app
                .post(
                    "/api/v1/deals",
                    &json!({"title": title, "company_id": company["id"], "responsible_id": self.manager}),
                )
                .await,
            201,
        )
        .await;
        deal["id"].as_str().unwrap().to_owned()
    }

    async fn rule(&self, conditions: Value, action: Value) -> String {
        let rule = json_of(
            self.app
                .post(
                    "/api/v1/automation-rules",
                    &json!({"name": "Биллинг задач", "trigger": {"type": "task_completed"},
                            "conditions": conditions, "actions": [action]}),
                )
                .await,
            201,
        )
        .await;
        rule["id"].as_str().unwrap().to_owned()
    }

    async fn disable(&self, rule: &str) {
        json_of(
            self.app
                .patch(
                    &format!("/api/v1/automation-rules/{rule}"),
                    &json!({"enabled": false}),
                )
                .await,
            200,
        )
        .await;
    }

    /// An activity of type task on the deal, for the manager; answers (activity, inbox task).
    async fn task(&self, deal: &str, title: &str) -> (String, String) {
        let activity = json_of(
            self.app
                .post(
                    "/api/v1/activities",
                    &json!({"type": "task", "subject": title, "owner_type": "deal",
                            "owner_id": deal, "responsible_id": self.manager}),
                )
                .await,
            201,
        )
        .await;
        let a = activity["id"].as_str().unwrap().to_owned();
        let tasks = json_of(
            self.app
                .request(
                    Method::GET,
                    &format!("/api/v1/tasks?subject_type=activity&subject_id={a}"),
                    &self.token,
                )
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        (a, tasks["items"][0]["id"].as_str().unwrap().to_owned())
    }

    async fn complete(&self, task: &str, body: Value) -> reqwest::Response {
        self.app
            .request(
                Method::POST,
                &format!("/api/v1/tasks/{task}/complete"),
                &self.token,
            )
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn rows(&self, deal: &str) -> Vec<Value> {
        let rows = json_of(
            self.app
                .get(&format!("/api/v1/deals/{deal}/product-rows"))
                .await,
            200,
        )
        .await;
        rows["items"].as_array().unwrap().clone()
    }

    async fn amount(&self, deal: &str) -> Value {
        json_of(self.app.get(&format!("/api/v1/deals/{deal}")).await, 200).await["amount"].clone()
    }

    async fn products_named(&self, name: &str) -> Vec<Value> {
        let page = json_of(
            self.app
                .get(&format!("/api/v1/products?limit=200&q={}", urlencode(name)))
                .await,
            200,
        )
        .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == name)
            .cloned()
            .collect()
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn total_of(rows: &[Value]) -> String {
    let kopecks: i64 = rows
        .iter()
        .map(|r| {
            let t = r["total"].as_str().unwrap().replace('.', "");
            t.parse::<i64>().unwrap()
        })
        .sum();
    format!("{}.{:02}", kopecks / 100, kopecks % 100)
}

#[tokio::test]
async fn a_plain_row_carries_the_hours_and_the_responsible_hears_of_it() {
    let s = shop().await;
    let deal = s.deal("Видеонаблюдение на складе").await;
    // A rule for other kinds of tasks does not bill an activity's task.
    s.rule(
        json!([{"type": "task_kind_in", "kinds": ["general"]}]),
        json!({"type": "bill_time", "mode": "add_as_row", "hourly_rate": "1.00"}),
    )
    .await;
    let (_, task) = s.task(&deal, "Осмотреть объект").await;
    json_of(
        s.complete(&task, json!({"outcome": "done", "time_spent_minutes": 30}))
            .await,
        200,
    )
    .await;
    assert!(s.rows(&deal).await.is_empty());

    s.rule(
        json!([{"type": "task_kind_in", "kinds": ["activity"]}]),
        json!({"type": "bill_time", "mode": "add_as_row", "hourly_rate": "1500.00", "notify_responsible": true}),
    )
    .await;
    let (_, task) = s.task(&deal, "Монтаж камер").await;
    let done = json_of(
        s.complete(&task, json!({"outcome": "done", "time_spent_minutes": 90}))
            .await,
        200,
    )
    .await;
    assert_eq!(done["time_spent_minutes"], 90);

    let rows = s.rows(&deal).await;
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["name"], "Монтаж камер");
    assert!(r["product_id"].is_null(), "a plain row, not the catalog");
    assert_eq!(
        (&r["quantity"], &r["unit_code"], &r["unit_name"]),
        (&json!("1.500"), &json!("356"), &json!("ч"))
    );
    assert_eq!(
        (&r["price"], &r["sum"]),
        (&json!("1500.00"), &json!("2250.00"))
    );
    assert_eq!(s.amount(&deal).await, json!(total_of(&rows)));
    assert!(s.products_named("Монтаж камер").await.is_empty());

    // The responsible is told, about the deal.
    let inbox = json_of(
        s.app
            .request(Method::GET, "/api/v1/notifications", &s.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let billed: Vec<&Value> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "task_billed")
        .collect();
    assert_eq!(billed.len(), 1, "{inbox}");
    assert_eq!(billed[0]["entity_type"], "deal");
    assert_eq!(billed[0]["entity_id"], json!(deal));
    assert!(billed[0]["body"].as_str().unwrap().contains("Монтаж камер"));

    // The billing is journalled: it is in the change feed with the row it added.
    let events = json_of(s.app.get("/api/v1/events?limit=500").await, 200).await;
    let types: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "task_billing.created")
            .count(),
        1,
        "{types:?}"
    );
    assert!(types.contains(&"product_row.created"));
}

#[tokio::test]
async fn a_product_row_finds_the_catalog_product_by_the_task_title_or_creates_it() {
    let s = shop().await;
    let deal = s.deal("Серверная").await;
    let existing = json_of(
        s.app
            .post(
                "/api/v1/products",
                &json!({"name": "Настройка сервера", "base_price": "2000.00", "unit_code": "356", "unit_name": "ч"}),
            )
            .await,
        201,
    )
    .await;
    let rule = s
        .rule(
            json!([]),
            json!({"type": "bill_time", "mode": "add_as_product"}),
        )
        .await;
    let (_, task) = s.task(&deal, "Настройка сервера").await;
    json_of(
        s.complete(&task, json!({"outcome": "done", "time_spent_minutes": 120}))
            .await,
        200,
    )
    .await;
    let rows = s.rows(&deal).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["product_id"], existing["id"]);
    assert_eq!(
        (&rows[0]["quantity"], &rows[0]["price"], &rows[0]["sum"]),
        (&json!("2.000"), &json!("2000.00"), &json!("4000.00"))
    );
    assert_eq!(s.products_named("Настройка сервера").await.len(), 1);

    // A title no product has: the product is created at the hourly rate, in hours.
    s.disable(&rule).await;
    s.rule(
        json!([]),
        json!({"type": "bill_time", "mode": "add_as_product", "hourly_rate": "1000.00"}),
    )
    .await;
    let (_, task) = s.task(&deal, "Выезд инженера").await;
    json_of(
        s.complete(&task, json!({"outcome": "done", "time_spent_minutes": 45}))
            .await,
        200,
    )
    .await;
    let created = s.products_named("Выезд инженера").await;
    assert_eq!(created.len(), 1);
    assert_eq!(
        (
            &created[0]["base_price"],
            &created[0]["unit_code"],
            &created[0]["unit_name"]
        ),
        (&json!("1000.00"), &json!("356"), &json!("ч"))
    );
    let rows = s.rows(&deal).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["product_id"], created[0]["id"]);
    assert_eq!(
        (&rows[1]["quantity"], &rows[1]["price"], &rows[1]["sum"]),
        (&json!("0.750"), &json!("1000.00"), &json!("750.00"))
    );
    assert_eq!(s.amount(&deal).await, json!(total_of(&rows)));
}

#[tokio::test]
async fn the_first_row_gathers_the_hours_of_every_task() {
    let s = shop().await;
    let deal = s.deal("Абонентское обслуживание").await;
    json_of(
        s.app
            .post(
                &format!("/api/v1/deals/{deal}/product-rows"),
                &json!({"name": "Часы работы", "quantity": "2", "price": "1200.00", "unit_code": "356", "unit_name": "ч"}),
            )
            .await,
        201,
    )
    .await;
    let rule = s
        .rule(
            json!([]),
            json!({"type": "bill_time", "mode": "update_first_row"}),
        )
        .await;
    let (_, task) = s.task(&deal, "Обновить прошивку").await;
    json_of(
        s.complete(&task, json!({"outcome": "done", "time_spent_minutes": 30}))
            .await,
        200,
    )
    .await;
    let rows = s.rows(&deal).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            &rows[0]["name"],
            &rows[0]["quantity"],
            &rows[0]["price"],
            &rows[0]["sum"]
        ),
        (
            &json!("Часы работы"),
            &json!("2.500"),
            &json!("1200.00"),
            &json!("3000.00")
        )
    );

    // Without minutes at completion the activity's time entries are the time; a rate given
    // by the rule becomes the row's price.
    s.disable(&rule).await;
    s.rule(
        json!([]),
        json!({"type": "bill_time", "mode": "update_first_row", "hourly_rate": "1300.00"}),
    )
    .await;
    let (activity, task) = s.task(&deal, "Проверить резервные копии").await;
    for minutes in [30, 15] {
        json_of(
            s.app
                .request(
                    Method::POST,
                    &format!("/api/v1/activities/{activity}/time-entries"),
                    &s.token,
                )
                .json(&json!({"minutes": minutes, "date": "2026-11-20"}))
                .send()
                .await
                .unwrap(),
            201,
        )
        .await;
    }
    json_of(s.complete(&task, json!({"outcome": "done"})).await, 200).await;
    let rows = s.rows(&deal).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (&rows[0]["quantity"], &rows[0]["price"], &rows[0]["sum"]),
        (&json!("3.250"), &json!("1300.00"), &json!("4225.00"))
    );
    assert_eq!(s.amount(&deal).await, json!(total_of(&rows)));
}

#[tokio::test]
async fn a_task_is_billed_once_however_often_its_completion_is_sent() {
    let s = shop().await;
    let deal = s.deal("Сопровождение").await;
    s.rule(
        json!([]),
        json!({"type": "bill_time", "mode": "add_as_row", "hourly_rate": "1000.00"}),
    )
    .await;
    let (_, task) = s.task(&deal, "Консультация").await;
    let send = |key: &'static str| {
        s.app
            .request(
                Method::POST,
                &format!("/api/v1/tasks/{task}/complete"),
                &s.token,
            )
            .header("Idempotency-Key", key)
            .json(&json!({"outcome": "done", "time_spent_minutes": 60}))
            .send()
    };
    // A retry with the same key answers the first completion again.
    json_of(send("complete-consultation").await.unwrap(), 200).await;
    json_of(send("complete-consultation").await.unwrap(), 200).await;
    // A second completion is refused: the task is completed.
    let again = s
        .complete(&task, json!({"outcome": "done", "time_spent_minutes": 60}))
        .await;
    assert_eq!(again.status(), 409, "{}", again.text().await.unwrap());
    let rows = s.rows(&deal).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["quantity"], "1.000");

    // The minutes are checked before anything is done.
    let (_, other) = s.task(&deal, "Ещё консультация").await;
    let problem = json_of(
        s.complete(
            &other,
            json!({"outcome": "done", "time_spent_minutes": 100001}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "time_spent_minutes");
    let problem = json_of(
        s.complete(&other, json!({"outcome": "done", "time_spent_minutes": -5}))
            .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "time_spent_minutes");
    assert_eq!(s.rows(&deal).await.len(), 1);

    // A rule that cannot bill is refused when it is saved, naming the field.
    let problem = json_of(
        s.app
            .post(
                "/api/v1/automation-rules",
                &json!({"name": "Без цены", "trigger": {"type": "task_completed"},
                        "actions": [{"type": "bill_time", "mode": "add_as_row"}]}),
            )
            .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "actions[0].hourly_rate");
}

#[tokio::test]
async fn completions_racing_on_one_title_create_one_product() {
    let s = shop().await;
    s.rule(
        json!([]),
        json!({"type": "bill_time", "mode": "add_as_product", "hourly_rate": "900.00"}),
    )
    .await;
    let deal_a = s.deal("Филиал на Ленина").await;
    let deal_b = s.deal("Филиал на Мира").await;
    for round in 0..4 {
        let title = format!("Аудит безопасности {round}");
        let (_, a) = s.task(&deal_a, &title).await;
        let (_, b) = s.task(&deal_b, &title).await;
        let body = json!({"outcome": "done", "time_spent_minutes": 60});
        let (ra, rb) = tokio::join!(s.complete(&a, body.clone()), s.complete(&b, body.clone()));
        assert_eq!(ra.status(), 200, "{}", ra.text().await.unwrap());
        assert_eq!(rb.status(), 200, "{}", rb.text().await.unwrap());
        let products = s.products_named(&title).await;
        assert_eq!(products.len(), 1, "one product for «{title}»: {products:?}");
        for deal in [&deal_a, &deal_b] {
            let rows = s.rows(deal).await;
            let row = rows.iter().find(|r| r["name"] == title.as_str()).unwrap();
            assert_eq!(row["product_id"], products[0]["id"]);
            assert_eq!(row["price"], "900.00");
        }
    }
}
