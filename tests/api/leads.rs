//! CRM-4 leads and INT-CSV imports of the "large list of housing companies in a file".

use std::time::Duration;

use reqwest::Method;
use sdelka_tests::{TestApp, eventually};
use serde_json::{Value, json};

/// 1 000 housing-management companies, `;`-separated as Excel writes them in Russia, with
/// bad rows planted at known lines.
fn housing_list() -> (String, Vec<(u64, &'static str)>) {
    let mut csv = String::from("Наименование;ИНН;Телефон;E-mail;Категория;Потенциал\n");
    let mut planted = Vec::new();
    for i in 1..=1000u64 {
        let line = i + 1;
        let name = format!("ТСЖ «Дом {i}»");
        match i {
            17 => {
                csv.push_str(&format!(
                    "{name};7707083894;+7 495 000-00-{:02};tsj{i}@example.com;A;100000\n",
                    i % 100
                ));
                planted.push((line, "ИНН"));
            }
            250 => {
                csv.push_str(&format!("{name};;звоните;tsj{i}@example.com;B;\n"));
                planted.push((line, "Телефон"));
            }
            499 => {
                csv.push_str(&format!("{name};;;не-почта;C;\n"));
                planted.push((line, "E-mail"));
            }
            777 => {
                csv.push_str(&format!("{name};;;;Z;10,5.5\n"));
                planted.push((line, "Категория"));
                planted.push((line, "Потенциал"));
            }
            900 => {
                csv.push_str(";;;;;\n;;;;A;\n");
                planted.push((line + 1, "Наименование"));
            }
            _ => csv.push_str(&format!(
                "{name};;+7 (495) {:03}-{:02}-{:02};tsj{i}@example.com;{};{} 000,00\n",
                i % 1000,
                i % 100,
                (i / 100) % 100,
                ["A", "B", "C"][(i % 3) as usize],
                i * 10
            )),
        }
    }
    (csv, planted)
}

fn mapping() -> Value {
    json!({"Наименование": "company_name", "ИНН": "inn", "Телефон": "phone", "E-mail": "email",
           "Категория": "category", "Потенциал": "potential_amount"})
}

async fn lead_total(app: &TestApp) -> u64 {
    let page: Value = app
        .get("/api/v1/leads?include_total=true&limit=1")
        .await
        .json()
        .await
        .unwrap();
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn dry_run_reports_every_bad_row_then_the_real_run_is_idempotent() {
    let app = TestApp::spawn().await;
    let (csv, planted) = housing_list();

    let res = app
        .post(
            "/api/v1/imports",
            &json!({"entity": "leads", "content": csv, "mapping": mapping(), "dry_run": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    let reported: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = planted.iter().map(|(l, c)| (*l, (*c).to_owned())).collect();
    assert_eq!(reported, expected, "{report}");
    assert_eq!(report["total_rows"], 1000);
    assert_eq!(report["valid_rows"], 995);
    assert_eq!(report["would_create"], 995);
    assert_eq!(lead_total(&app).await, 0, "a dry run writes nothing");

    let res = app
        .post(
            "/api/v1/imports",
            &json!({"entity": "leads", "content": csv, "mapping": mapping()}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let done = eventually(Duration::from_secs(120), || async {
        let job: Value = app.get(&location).await.json().await.unwrap();
        (job["state"] == "completed").then_some(job)
    })
    .await
    .expect("the import completes");
    assert_eq!(done["created_count"], 995, "{done}");
    assert_eq!(done["error_count"], 6);
    assert_eq!(done["processed_rows"], done["total_rows"]);
    assert_eq!(lead_total(&app).await, 995);

    let again: Value = app
        .post(
            "/api/v1/imports",
            &json!({"entity": "leads", "content": csv, "mapping": mapping(), "dry_run": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["would_create"], 0);
    let res = app
        .post(
            "/api/v1/imports",
            &json!({"entity": "leads", "content": csv, "mapping": mapping()}),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let rerun = eventually(Duration::from_secs(120), || async {
        let job: Value = app.get(&location).await.json().await.unwrap();
        (job["state"] == "completed").then_some(job)
    })
    .await
    .unwrap();
    assert_eq!(rerun["created_count"], 0);
    assert_eq!(rerun["skipped_count"], 995);
    assert_eq!(
        lead_total(&app).await,
        995,
        "the same file twice creates nothing twice"
    );

    let page: Value = app
        .get("/api/v1/leads?q=%D0%B4%D0%BE%D0%BC%20500%C2%BB&include_total=true") // "дом 500»"
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 1, "{page}");
    let lead = &page["items"][0];
    assert_eq!(lead["source"], "import");
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["potential_amount"], "5000000.00");
    assert_eq!(lead["category"], ["A", "B", "C"][500 % 3]);
}

#[tokio::test]
async fn a_bad_mapping_is_refused_naming_the_column() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/api/v1/imports",
            &json!({"entity": "leads", "content": "Имя;Телефон\nИван;123456\n",
                    "mapping": {"Имя": "contact_name", "Адрес": "address", "Телефон": "fax"}}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert!(fields.contains(&"mapping.Адрес".to_owned()), "{body}");
    assert!(fields.contains(&"mapping.Телефон".to_owned()), "{body}");
}

#[tokio::test]
async fn lead_status_follows_its_machine_and_filters_work() {
    let app = TestApp::spawn().await;
    let res = app
        .post("/api/v1/leads", &json!({"company_name": "УК «Уют»", "phone": "8 (812) 555-12-12", "category": "B",
                                        "potential_amount": "350000.00", "probability": 30, "source": "call"}))
        .await;
    assert_eq!(res.status(), 201);
    let lead: Value = res.json().await.unwrap();
    assert_eq!(lead["title"], "УК «Уют»");
    let path = format!("/api/v1/leads/{}", lead["id"].as_str().unwrap());

    let res = app.patch(&path, &json!({"status": "qualified"})).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_transition");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("allowed: in_work, junk"),
        "{body}"
    );

    for (to, status) in [
        ("in_work", 200),
        ("qualified", 200),
        ("junk", 409),
        ("in_work", 200),
        ("junk", 200),
    ] {
        let res = app.patch(&path, &json!({"status": to})).await;
        assert_eq!(res.status(), status, "to {to}");
    }
    let res = app.patch(&path, &json!({"probability": 130})).await;
    assert_eq!(res.status(), 422);
    let res = app.patch(&path, &json!({"email": "broken"})).await;
    assert_eq!(res.status(), 422);

    let junk: Value = app
        .get("/api/v1/leads?status=junk&category=B")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(junk["items"].as_array().unwrap().len(), 1);
    let none: Value = app
        .get("/api/v1/leads?status=new")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"], json!([]));
    let res = app.get("/api/v1/leads?status=lost").await;
    assert_eq!(res.status(), 422);

    let timeline: Value = app
        .get(&format!("{path}/timeline"))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<_> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["changes"]["status"]["after"]
                .as_str()
                .unwrap_or("-")
                .to_owned()
        })
        .collect();
    // Newest first; refused changes left no entry.
    assert_eq!(
        statuses,
        ["junk", "in_work", "qualified", "in_work", "new"],
        "{timeline}"
    );
}

#[tokio::test]
async fn managers_see_only_their_leads_and_heads_their_department() {
    let app = TestApp::spawn().await;
    let (a_id, a) = app
        .user_with_roles("a@example.com", &["sales_manager"])
        .await;
    let (_, b) = app
        .user_with_roles("b@example.com", &["sales_manager"])
        .await;
    let (head_id, head) = app.user_with_roles("head@example.com", &["head"]).await;
    let dept: Value = app
        .post(
            "/api/v1/departments",
            &json!({"name": "Продажи", "head_id": head_id}),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .patch(
            &format!("/api/v1/users/{a_id}"),
            &json!({"department_id": dept["id"]}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let mine: Value = app
        .request(Method::POST, "/api/v1/leads", &a)
        .json(&json!({"company_name": "ТСЖ «Секрет»"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/leads/{}", mine["id"].as_str().unwrap());
    let read = |token: &str| app.request(Method::GET, &path, token).send();
    assert_eq!(read(&a).await.unwrap().status(), 200);
    assert_eq!(
        read(&b).await.unwrap().status(),
        404,
        "another manager cannot read it"
    );
    assert_eq!(
        read(&head).await.unwrap().status(),
        200,
        "the head of the department can"
    );
    assert_eq!(read(&app.admin_token).await.unwrap().status(), 200);
    let listed: Value = app
        .request(
            Method::GET,
            "/api/v1/leads?q=%D1%81%D0%B5%D0%BA%D1%80%D0%B5%D1%82",
            &b,
        ) // "секрет"
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]), "nor find it by search");
    let res = app
        .request(Method::PATCH, &path, &b)
        .json(&json!({"status": "junk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "nor change it");
    let res = app
        .request(Method::GET, &format!("{path}/timeline"), &b)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "nor read its history");
}

#[tokio::test]
async fn conversion_creates_company_contact_and_deal_exactly_once() {
    let app = TestApp::spawn().await;
    let (_, manager) = app
        .user_with_roles("m@example.com", &["sales_manager"])
        .await;
    let lead: Value = app
        .request(Method::POST, "/api/v1/leads", &manager)
        .json(
            &json!({"company_name": "ТСЖ «Берёзка»", "contact_name": "Петрова Анна Сергеевна",
                      "phone": "8 (495) 123-45-67", "email": "anna@berezka.example",
                      "potential_amount": "480000.00", "category": "A"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/leads/{}", lead["id"].as_str().unwrap());
    let convert = |token: String| {
        let app = &app;
        let path = path.clone();
        async move {
            app.request(Method::POST, &format!("{path}/convert"), &token)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
        }
    };
    // Two conversions at once: exactly one wins.
    let (a, b) = tokio::join!(convert(manager.clone()), convert(manager.clone()));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let winner = if a.status() == 200 { a } else { b };
    let done: Value = winner.json().await.unwrap();
    assert_eq!(done["lead"]["status"], "qualified");
    let company_id = done["company_id"].as_str().unwrap();
    let contact_id = done["contact_id"].as_str().unwrap();
    let deal_id = done["deal_id"].as_str().unwrap();
    assert_eq!(done["lead"]["converted_deal_id"], deal_id);

    let company: Value = app
        .request(
            Method::GET,
            &format!("/api/v1/companies/{company_id}"),
            &manager,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(company["name"], "ТСЖ «Берёзка»");
    let contact: Value = app
        .request(
            Method::GET,
            &format!("/api/v1/contacts/{contact_id}"),
            &manager,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(contact["last_name"], "Петрова");
    assert_eq!(contact["first_name"], "Анна");
    assert_eq!(contact["middle_name"], "Сергеевна");
    assert_eq!(contact["phones"], json!(["74951234567"]));
    let deal: Value = app
        .request(Method::GET, &format!("/api/v1/deals/{deal_id}"), &manager)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deal["company_id"], company_id);
    assert_eq!(deal["contact_ids"], json!([contact_id]));
    assert_eq!(deal["amount"], "480000.00");
    assert_eq!(deal["title"], "ТСЖ «Берёзка»");

    let again = convert(manager.clone()).await;
    assert_eq!(again.status(), 409);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["code"], "already_converted");
    let companies: Value = app
        .get("/api/v1/companies?include_total=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        companies["total"], 1,
        "the losing conversion left nothing behind"
    );

    // A junk lead is not converted, and nothing is created for it.
    let junk: Value = app
        .post("/api/v1/leads", &json!({"company_name": "Спам"}))
        .await
        .json()
        .await
        .unwrap();
    let junk_path = format!("/api/v1/leads/{}", junk["id"].as_str().unwrap());
    assert_eq!(
        app.patch(&junk_path, &json!({"status": "junk"}))
            .await
            .status(),
        200
    );
    let res = app.post(&format!("{junk_path}/convert"), &json!({})).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_transition");
}

async fn run_import(app: &TestApp, body: Value) -> Value {
    let res = app.post("/api/v1/imports", &body).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    eventually(Duration::from_secs(120), || async {
        let job: Value = app.get(&location).await.json().await.unwrap();
        (job["state"] == "completed").then_some(job)
    })
    .await
    .expect("the import completes")
}

#[tokio::test]
async fn companies_and_contacts_are_imported_idempotently() {
    let app = TestApp::spawn().await;
    let companies =
        "Название,Отрасль,Метки\nУК «Уют»,ЖКХ,\"лифты, крыши\"\nТСЖ «Берёзка»,ЖКХ,\n,ЖКХ,\n";
    let mapping = json!({"Название": "name", "Отрасль": "industry", "Метки": "tags"});
    let report: Value = app
        .post("/api/v1/imports", &json!({"entity": "companies", "content": companies, "mapping": mapping, "dry_run": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["valid_rows"], 2, "{report}");
    assert_eq!(report["errors"][0]["line"], 4);
    assert_eq!(report["errors"][0]["column"], "Название");
    let job = run_import(
        &app,
        json!({"entity": "companies", "content": companies, "mapping": mapping}),
    )
    .await;
    assert_eq!(job["created_count"], 2, "{job}");
    let again = run_import(
        &app,
        json!({"entity": "companies", "content": companies, "mapping": mapping}),
    )
    .await;
    assert_eq!(
        (
            again["created_count"].as_i64(),
            again["skipped_count"].as_i64()
        ),
        (Some(0), Some(2))
    );
    let page: Value = app
        .get("/api/v1/companies?tag=%D0%BB%D0%B8%D1%84%D1%82%D1%8B")
        .await
        .json()
        .await
        .unwrap(); // "лифты"
    assert_eq!(page["items"][0]["name"], "УК «Уют»", "{page}");

    let contacts = "ФИО;Телефон;Почта;Код 1С\nПетрова Анна Сергеевна;8 (495) 123-45-67;anna@example.com;000123\nИванов;плохой;ivanov@example.com;000124\n";
    let mapping =
        json!({"ФИО": "full_name", "Телефон": "phone", "Почта": "email", "Код 1С": "external_id"});
    let job = run_import(
        &app,
        json!({"entity": "contacts", "content": contacts, "mapping": mapping}),
    )
    .await;
    assert_eq!(job["created_count"], 1, "{job}");
    assert_eq!(job["errors"][0]["column"], "Телефон");
    let found: Value = app
        .get("/api/v1/contacts?phone=84951234567")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["middle_name"], "Сергеевна", "{found}");
    let by_ext: Value = app
        .get("/api/v1/contacts?external_id=import:000123")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_ext["items"].as_array().unwrap().len(), 1, "{by_ext}");
    let rerun = run_import(
        &app,
        json!({"entity": "contacts", "content": contacts, "mapping": mapping}),
    )
    .await;
    assert_eq!(rerun["created_count"], 0);

    let res = app
        .post(
            "/api/v1/imports",
            &json!({"entity": "contacts", "content": contacts, "mapping": {"ФИО": "company_name"}}),
        )
        .await;
    assert_eq!(res.status(), 422, "a lead field is not a contact field");
}
