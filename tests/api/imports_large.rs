//! INT-CSV large imports: the CSV file itself (`text/csv` or multipart) with its own size
//! limit, streamed to the file store; windows-1251 (Excel's Russian CSV) as well as UTF-8,
//! named or detected; and `GET /imports`.

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use sdelka_tests::{TestApp, eventually};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ROWS: u64 = 50_000;

fn mapping() -> String {
    json!({"Наименование": "company_name", "Телефон": "phone", "E-mail": "email",
           "Категория": "category", "Потенциал": "potential_amount", "Адрес": "address",
           "Примечание": "comment"})
    .to_string()
}

fn name_of(i: u64) -> String {
    format!("ТСЖ «Дом на Садовой-Кудринской, {i}»")
}

/// The "large list of housing companies in a file": 50 000 rows, `;`-separated, about 8 MB
/// once saved by Excel in windows-1251.
fn housing_file() -> Vec<u8> {
    let mut csv =
        String::from("Наименование;Телефон;E-mail;Категория;Потенциал;Адрес;Примечание\n");
    for i in 1..=ROWS {
        csv.push_str(&format!(
            "{};+7 (495) {:03}-{:02}-{:02};tsj{i}@example.ru;{};{} 000,00;г. Москва, ул. Садовая-Кудринская, д. {i}, корп. 2;Звонить председателю\n",
            name_of(i),
            i % 1000,
            i % 100,
            (i / 100) % 100,
            ["A", "B", "C"][(i % 3) as usize],
            i % 900 + 10,
        ));
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&csv);
    assert!(!unmappable);
    bytes.into_owned()
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn post_csv(
    app: &TestApp,
    token: &str,
    query: &[(&str, &str)],
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/imports", token)
        .query(query)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn finished(app: &TestApp, location: &str, timeout: Duration) -> Value {
    eventually(timeout, || async {
        let job = json_of(app.get(location).await).await;
        (job["state"] == "completed" || job["state"] == "failed").then_some(job)
    })
    .await
    .expect("the import finishes")
}

#[tokio::test]
async fn a_50_000_row_windows_1251_file_of_8_mb_is_imported_from_its_own_body() {
    let app = TestApp::spawn().await;
    let bytes = housing_file();
    assert!(
        bytes.len() > 7_500_000 && bytes.len() < 9_000_000,
        "about 8 MB: {}",
        bytes.len()
    );
    assert!(
        bytes.len() > 7 * app.config.max_body_bytes,
        "far beyond the JSON body limit"
    );
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the file is not UTF-8"
    );

    // A dry run as a multipart form naming the charset: every row is checked, nothing written.
    let form = Form::new()
        .text("entity", "leads")
        .text("mapping", mapping())
        .text("dry_run", "true")
        .text("charset", "windows-1251")
        .part(
            "file",
            Part::bytes(bytes.clone())
                .file_name("ТСЖ Москва.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    let res = app
        .request(Method::POST, "/api/v1/imports", &app.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let report = json_of(res).await;
    assert_eq!(report["total_rows"], ROWS, "{report}");
    assert_eq!(report["valid_rows"], ROWS, "{}", report["errors"]);
    assert_eq!(report["would_create"], ROWS);

    // The real run: the file itself as `text/csv`, its encoding detected from the bytes.
    let mapping = mapping();
    let res = post_csv(
        &app,
        &app.admin_token,
        &[("entity", "leads"), ("mapping", &mapping)],
        "text/csv",
        bytes.clone(),
    )
    .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let queued = json_of(res).await;
    assert_eq!(queued["encoding"], "windows-1251");
    assert_eq!(queued["total_rows"], ROWS);
    assert_eq!(
        queued["content_sha256"],
        hex::encode(Sha256::digest(&bytes)),
        "the hash is of the file as sent"
    );
    let done = finished(&app, &location, Duration::from_secs(1800)).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["created_count"], ROWS, "{done}");
    assert_eq!(done["error_count"], 0);
    assert_eq!(done["processed_rows"], ROWS);

    let page = json_of(
        app.get(&format!(
            "/api/v1/leads?include_total=true&limit=200&import_id={}",
            done["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(page["total"], ROWS, "{}", page["total"]);
    let titles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["company_name"].as_str())
        .collect();
    assert!(
        titles
            .iter()
            .all(|t| t.starts_with("ТСЖ «Дом на Садовой-Кудринской, ")),
        "Cyrillic decoded: {:?}",
        &titles[..3]
    );
}

#[tokio::test]
async fn the_file_forms_have_their_own_limit_and_the_json_form_keeps_working() {
    let app = TestApp::spawn_with(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_import_bytes = 512 * 1024;
    })
    .await;
    let mut csv = String::from("Наименование;Отрасль\n");
    let mut i = 0;
    while csv.len() < 200 * 1024 {
        i += 1;
        csv.push_str(&format!("Управляющая компания «Жилсервис-{i}»;ЖКХ\n"));
    }
    let rows = i;
    let mapping = json!({"Наименование": "name", "Отрасль": "industry"});
    // Beyond the JSON body limit as JSON…
    let res = app
        .post(
            "/api/v1/imports",
            &json!({"entity": "companies", "content": csv, "mapping": mapping}),
        )
        .await;
    assert_eq!(res.status(), 413);
    // …but within the import limit as the file itself.
    let m = mapping.to_string();
    let res = post_csv(
        &app,
        &app.admin_token,
        &[("entity", "companies"), ("mapping", &m)],
        "text/csv; charset=utf-8",
        csv.clone().into_bytes(),
    )
    .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let done = finished(&app, &location, Duration::from_secs(300)).await;
    assert_eq!(done["created_count"], rows, "{done}");
    assert_eq!(done["encoding"], "UTF-8");

    // Beyond the import limit: 413 while it streams, as text/csv and as multipart.
    let big = "x;y\n".repeat(200 * 1024).into_bytes();
    let res = post_csv(
        &app,
        &app.admin_token,
        &[("entity", "companies"), ("mapping", &m)],
        "text/csv",
        big.clone(),
    )
    .await;
    assert_eq!(res.status(), 413);
    let form = Form::new()
        .text("entity", "companies")
        .text("mapping", m.clone())
        .part("file", Part::bytes(big).file_name("big.csv"));
    let res = app
        .request(Method::POST, "/api/v1/imports", &app.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);

    // The JSON form still imports.
    let res = app
        .post(
            "/api/v1/imports",
            &json!({"entity": "companies", "content": "Наименование;Отрасль\nТСЖ «Лето»;ЖКХ\n", "mapping": mapping}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let done = finished(&app, &location, Duration::from_secs(120)).await;
    assert_eq!(done["created_count"], 1, "{done}");

    // Settings of the file forms are checked like the JSON form's.
    let res = post_csv(
        &app,
        &app.admin_token,
        &[("mapping", &m)],
        "text/csv",
        b"a\n".to_vec(),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "entity");
    let res = post_csv(
        &app,
        &app.admin_token,
        &[("entity", "companies"), ("mapping", "not json")],
        "text/csv",
        b"a\n".to_vec(),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "mapping");
    let res = app
        .request(Method::POST, "/api/v1/imports", &app.admin_token)
        .header("content-type", "application/vnd.ms-excel")
        .body("a;b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
}

#[tokio::test]
async fn the_encoding_is_named_or_detected() {
    let app = TestApp::spawn().await;
    let text = "Наименование;Отрасль\nТСЖ «Ёлки»;ЖКХ\n";
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    let m = json!({"Наименование": "name", "Отрасль": "industry"}).to_string();
    let q = [
        ("entity", "companies"),
        ("mapping", m.as_str()),
        ("dry_run", "true"),
    ];
    let dry = |content_type: &'static str, bytes: Vec<u8>| {
        let app = &app;
        let q = &q;
        async move { post_csv(app, &app.admin_token, q, content_type, bytes).await }
    };
    // Detected: UTF-8 with or without BOM, windows-1251.
    for bytes in [
        text.as_bytes().to_vec(),
        [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        cp1251.to_vec(),
    ] {
        let res = dry("text/csv", bytes).await;
        assert_eq!(res.status(), 200);
        assert_eq!(json_of(res).await["valid_rows"], 1);
    }
    // Named by the Content-Type, and refused when the bytes disagree.
    let res = dry("text/csv; charset=windows-1251", cp1251.to_vec()).await;
    assert_eq!(res.status(), 200);
    let res = dry("text/csv; charset=utf-8", cp1251.to_vec()).await;
    assert_eq!(res.status(), 422);
    let body = json_of(res).await;
    assert_eq!(body["errors"][0]["field"], "file", "{body}");
    assert_eq!(body["errors"][0]["code"], "invalid_encoding", "{body}");
    let res = dry("text/csv; charset=klingon", cp1251.to_vec()).await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "charset");

    // The real run reads the stored bytes in the encoding found at upload.
    let res = post_csv(
        &app,
        &app.admin_token,
        &[("entity", "companies"), ("mapping", m.as_str())],
        "text/csv",
        cp1251.to_vec(),
    )
    .await;
    assert_eq!(res.status(), 202);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let done = finished(&app, &location, Duration::from_secs(120)).await;
    assert_eq!(done["created_count"], 1, "{done}");
    let page = json_of(
        app.get("/api/v1/companies?q=%D0%81%D0%BB%D0%BA%D0%B8")
            .await,
    )
    .await;
    assert_eq!(page["items"][0]["name"], "ТСЖ «Ёлки»", "{page}");
    assert_eq!(page["items"][0]["industry"], "ЖКХ", "{page}");
}

#[tokio::test]
async fn get_imports_lists_the_imports_the_caller_may_see() {
    let app = TestApp::spawn_with(|c| c.workers = false).await;
    let (_, a) = app
        .user_with_roles("a@example.com", &["sales_manager"])
        .await;
    let (_, b) = app
        .user_with_roles("b@example.com", &["sales_manager"])
        .await;
    let m = json!({"Наименование": "name"}).to_string();
    let mut mine = Vec::new();
    for (token, name) in [(&a, "Первый"), (&a, "Второй"), (&b, "Третий")] {
        let res = post_csv(
            &app,
            token,
            &[("entity", "companies"), ("mapping", m.as_str())],
            "text/csv",
            format!("Наименование\n{name}\n").into_bytes(),
        )
        .await;
        assert_eq!(res.status(), 202);
        mine.push(json_of(res).await["id"].as_str().unwrap().to_owned());
    }
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |token: String, path: &'static str| {
        let app = &app;
        async move {
            let res = app.request(Method::GET, path, &token).send().await.unwrap();
            assert_eq!(res.status(), 200);
            json_of(res).await
        }
    };
    // Newest first; each manager sees his own, the admin sees all.
    let seen = list(a.clone(), "/api/v1/imports").await;
    assert_eq!(ids(&seen), vec![mine[1].clone(), mine[0].clone()], "{seen}");
    assert_eq!(seen["items"][0]["state"], "queued");
    let seen = list(b.clone(), "/api/v1/imports").await;
    assert_eq!(ids(&seen), vec![mine[2].clone()]);
    let all = list(
        app.admin_token.clone(),
        "/api/v1/imports?include_total=true",
    )
    .await;
    assert_eq!(all["total"], 3);
    assert_eq!(
        ids(&all),
        vec![mine[2].clone(), mine[1].clone(), mine[0].clone()]
    );

    // Paginated in the common envelope.
    let first = list(app.admin_token.clone(), "/api/v1/imports?limit=2").await;
    assert_eq!(ids(&first).len(), 2);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let res = app
        .get(&format!("/api/v1/imports?limit=2&cursor={cursor}"))
        .await;
    let second = json_of(res).await;
    assert_eq!(ids(&second), vec![mine[0].clone()]);
    assert!(second.get("next_cursor").is_none());

    // Filters.
    let queued = list(
        app.admin_token.clone(),
        "/api/v1/imports?state=queued&entity=companies",
    )
    .await;
    assert_eq!(ids(&queued).len(), 3);
    let none = list(app.admin_token.clone(), "/api/v1/imports?state=completed").await;
    assert!(ids(&none).is_empty());
    let res = app.get("/api/v1/imports?state=lost").await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["errors"][0]["field"], "state");
    // Another manager's import stays hidden by id as well.
    let res = app
        .request(Method::GET, &format!("/api/v1/imports/{}", mine[0]), &b)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
