//! API-3: cursor pagination, sorting, filters, `updated_since`, `total`.

use sdelka_tests::{TestApp, organization_body};
use serde_json::Value;
use std::collections::HashSet;

async fn seed(app: &TestApp, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let res = app
            .post(
                "/api/v1/organizations",
                &organization_body(&format!("C{i}"), name),
            )
            .await;
        assert_eq!(res.status(), 201);
        ids.push(
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids
}

async fn walk(app: &TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/organizations?{query}&cursor={c}"),
            None => format!("/api/v1/organizations?{query}"),
        };
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
        let page: Value = res.json().await.unwrap();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn pages_cover_every_record_once_in_a_stable_order() {
    let app = TestApp::spawn().await;
    let names = ["Б", "А", "Г", "В", "Д", "Е", "Ж"];
    let ids = seed(&app, &names).await;
    let all = walk(&app, "limit=3").await;
    let got: Vec<_> = all
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids, "default order is creation order");

    let by_name = walk(&app, "limit=2&sort=-name").await;
    let names_desc: Vec<_> = by_name
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names_desc, ["Ж", "Е", "Д", "Г", "В", "Б", "А"]);
    let unique: HashSet<_> = by_name.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), 7);

    let page: Value = app
        .get("/api/v1/organizations?limit=2&include_total=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 7);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_cursor_is_bound_to_its_sort_and_garbage_is_refused() {
    let app = TestApp::spawn().await;
    seed(&app, &["А", "Б", "В"]).await;
    let page: Value = app
        .get("/api/v1/organizations?limit=1")
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    let res = app
        .get(&format!(
            "/api/v1/organizations?limit=1&sort=name&cursor={cursor}"
        ))
        .await;
    assert_eq!(res.status(), 422);
    let res = app.get("/api/v1/organizations?cursor=%25%25garbage").await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "cursor");
    let res = app.get("/api/v1/organizations?sort=inn").await;
    assert_eq!(res.status(), 422);
    // A hand-made cursor whose value does not fit the sort column is refused, not sent to SQL.
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::json!({"s": "created_at", "k": {"t": "int", "v": 5}, "id": uuid::Uuid::nil()})
            .to_string(),
    );
    let res = app
        .get(&format!("/api/v1/organizations?cursor={forged}"))
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn search_is_case_insensitive_for_cyrillic_and_filters_combine() {
    let app = TestApp::spawn().await;
    seed(&app, &["ООО «РОМАШКА»", "АО Лютик", "ИП Ромашкин"]).await;
    let found = walk(&app, "q=%D1%80%D0%BE%D0%BC%D0%B0%D1%88%D0%BA").await; // "ромашк"
    let names: HashSet<_> = found
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["ООО «РОМАШКА»".to_owned(), "ИП Ромашкин".to_owned()])
    );
    // `%` is taken literally, not as a wildcard.
    assert!(walk(&app, "q=%25").await.is_empty());
    let by_inn = walk(&app, "inn=7707083893&vat_payer=true").await;
    assert_eq!(by_inn.len(), 3);
    let res = app.get("/api/v1/organizations?vat_payer=maybe").await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn updated_since_returns_only_later_changes() {
    let app = TestApp::spawn().await;
    let ids = seed(&app, &["А", "Б"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mark = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let res = app
        .patch(
            &format!("/api/v1/organizations/{}", ids[0]),
            &serde_json::json!({"short_name": "А2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let since = mark
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .replace('+', "%2B");
    let changed = walk(&app, &format!("updated_since={since}")).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["id"], ids[0].as_str());
}
