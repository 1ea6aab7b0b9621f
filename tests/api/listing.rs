//! Request bodies and lists across the whole API: every JSON body refuses bad input naming the
//! field, every list answers one envelope and CSV, keyset pages and sorts.
//!
//! The body checks walk the request bodies of the served OpenAPI document, so an endpoint
//! added later is covered without a new case.

use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};

/// The served OpenAPI document.
async fn document(app: &TestApp) -> Value {
    app.get("/api/v1/openapi.json").await.json().await.unwrap()
}

/// `schema` with a `$ref` followed (once per level; the document's refs are flat).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..8 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                s = &doc["components"]["schemas"][name];
            }
            None => break,
        }
    }
    s
}

/// The JSON types a schema admits (`type` as a string or a list, `oneOf`/`anyOf` branches,
/// an `allOf` wrapper).
fn types(doc: &Value, schema: &Value) -> Vec<String> {
    let s = resolve(doc, schema);
    let mut out = Vec::new();
    match &s["type"] {
        Value::String(t) => out.push(t.clone()),
        Value::Array(ts) => out.extend(ts.iter().filter_map(|t| t.as_str().map(str::to_owned))),
        _ => {}
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(branches) = s[key].as_array() {
            for b in branches {
                out.extend(types(doc, b));
            }
        }
    }
    if out.is_empty() && s.get("enum").is_some() {
        out.push("string".into());
    }
    if out.is_empty() && s.get("properties").is_some() {
        out.push("object".into());
    }
    out
}

/// The properties of an object schema (through `allOf`).
fn properties(doc: &Value, schema: &Value) -> Vec<(String, Value)> {
    let s = resolve(doc, schema);
    let mut out = Vec::new();
    if let Some(props) = s["properties"].as_object() {
        out.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(parts) = s["allOf"].as_array() {
        for p in parts {
            out.extend(properties(doc, p));
        }
    }
    out
}

/// Every operation with a JSON request body: (method, concrete path, body schema).
fn json_bodies(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema")
            else {
                continue;
            };
            let method: Method = method.to_uppercase().parse().unwrap();
            // Path parameters: an id that names nothing (the body is read before any
            // lookup), a choice's first value, a number.
            let param = |name: &str| -> String {
                let schema = op["parameters"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["in"] == "path" && p["name"] == name))
                    .map(|p| p["schema"].clone())
                    .unwrap_or(Value::Null);
                if let Some(first) = schema["enum"][0].as_str() {
                    first.to_owned()
                } else if schema["type"] == "integer" {
                    "1".to_owned()
                } else if name == "action" {
                    "send".to_owned()
                } else {
                    "00000000-0000-4000-8000-000000000001".to_owned()
                }
            };
            let mut concrete = String::new();
            let mut rest = path.as_str();
            while let Some(open) = rest.find('{') {
                concrete.push_str(&rest[..open]);
                let close = rest[open..].find('}').unwrap() + open;
                concrete.push_str(&param(&rest[open + 1..close]));
                rest = &rest[close + 1..];
            }
            concrete.push_str(rest);
            out.push((method, concrete, schema.clone()));
        }
    }
    out
}

async fn send_raw(app: &TestApp, method: &Method, path: &str, body: String) -> (u16, Value) {
    let res = app
        .request(method.clone(), path, &app.admin_token)
        .header("content-type", "application/json")
        .body(body)
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

/// The bad values a property of these types is tried with, as JSON text.
fn bad_values(types: &[String]) -> Vec<(&'static str, String)> {
    let mut out = vec![("1e400", "1e400".to_owned())];
    if types.iter().any(|t| t == "string") {
        out.push(("a number for a string", "12345".into()));
        out.push(("a boolean for a string", "true".into()));
        out.push(("a NUL byte", r#""a\u0000b""#.into()));
    }
    if types.iter().any(|t| t == "array") {
        out.push(("an array of nulls", "[null, null]".into()));
    }
    out
}

/// The fields a body `{field: bad}` is allowed to be refused on: the field itself or a part
/// of it (an array's element).
fn names(errors: &Value, field: &str) -> bool {
    errors.as_array().is_some_and(|es| {
        es.iter().any(|e| {
            let f = e["field"].as_str().unwrap_or("");
            f == field || f.starts_with(&format!("{field}[")) || f.starts_with(&format!("{field}."))
        })
    })
}

#[tokio::test]
async fn every_refused_body_field_is_named_and_bad_json_is_malformed() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let ops = json_bodies(&doc);
    assert!(
        ops.len() > 40,
        "the document lists {} JSON bodies",
        ops.len()
    );
    let mut failures = Vec::new();
    let mut tried = 0;
    for (method, path, schema) in &ops {
        // A trailing comma is not JSON, on every endpoint.
        let (status, body) = send_raw(&app, method, path, r#"{"a": 1,}"#.into()).await;
        if status != 400 || body["code"] != "malformed_request" {
            failures.push(format!("{method} {path} trailing comma: {status} {body}"));
        }
        for (field, prop) in properties(&doc, schema) {
            let ts = types(&doc, &prop);
            let mut cases: Vec<(String, &'static str, String)> = bad_values(&ts)
                .into_iter()
                .map(|(what, v)| (field.clone(), what, format!(r#"{{"{field}": {v}}}"#)))
                .collect();
            // One level down: the fields of the objects in an array (`rows[0].price`).
            let items = resolve(&doc, &prop)["items"].clone();
            if ts.iter().any(|t| t == "array") && !items.is_null() {
                for (sub, sub_prop) in properties(&doc, &items) {
                    for (what, v) in bad_values(&types(&doc, &sub_prop)) {
                        cases.push((
                            format!("{field}[0].{sub}"),
                            what,
                            format!(r#"{{"{field}": [{{"{sub}": {v}}}]}}"#),
                        ));
                    }
                }
            }
            for (name, what, text) in cases {
                tried += 1;
                let (status, body) = send_raw(&app, method, path, text.clone()).await;
                if status != 422 || !names(&body["errors"], &name) {
                    failures.push(format!(
                        "{method} {path} {name} ({what}): {status} {body} for {text}"
                    ));
                }
            }
        }
    }
    assert!(tried > 300, "only {tried} bad fields were tried");
    assert!(
        failures.is_empty(),
        "{} of {tried} refusals do not name their field:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_nul_byte_and_a_huge_number_are_refused_on_their_field() {
    let app = TestApp::spawn().await;
    let (status, body) = send_raw(
        &app,
        &Method::POST,
        "/api/v1/companies",
        r#"{"name": "Ромашка", "industry": "x\u0000y"}"#.into(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "industry", "{body}");
    assert_eq!(body["errors"][0]["code"], "nul_character", "{body}");
    let (status, body) = send_raw(
        &app,
        &Method::POST,
        "/api/v1/deals",
        r#"{"title": "Сделка", "amount": 1e400}"#.into(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "amount", "{body}");
    let _ = json!({});
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let res = app.post(path, &body).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "POST {path}: {body}");
    body
}

async fn page(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The `id`s (or `key`s) of a page's items; a bare array is not a page.
fn item_keys(page: &Value, key: &str) -> Vec<String> {
    assert!(
        page.is_object(),
        "a list answers {{items, next_cursor}}: {page}"
    );
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|i| i[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_list_answers_the_same_envelope() {
    let app = TestApp::spawn().await;
    // The document: no GET answers a bare array.
    let doc = document(&app).await;
    let mut bare = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let schema = &get["responses"]["200"]["content"]["application/json"]["schema"];
        if resolve(&doc, schema)["type"] == "array" {
            bare.push(path.clone());
        }
    }
    assert!(bare.is_empty(), "bare arrays: {bare:?}");

    // And the answers.
    let company = created(&app, "/api/v1/companies", json!({"name": "Ромашка"})).await;
    let company = company["id"].as_str().unwrap();
    let le = created(
        &app,
        "/api/v1/legal-entities",
        json!({"company_id": company, "kind": "legal_entity", "full_name": "ООО «Ромашка»",
               "short_name": "Ромашка", "inn": "7701000019", "kpp": "770101001",
               "legal_address": "Москва", "signatory_name": "Иванов И. И.",
               "signatory_basis": "Устав",
               "bank_accounts": [{"bank_name": "ПАО Сбербанк", "bik": "044525225",
                   "correspondent_account": "30101810400000000225",
                   "settlement_account": "40702810938000000001"}]}),
    )
    .await;
    let le = le["id"].as_str().unwrap();
    let contact = created(&app, "/api/v1/contacts", json!({"last_name": "Петров"})).await;
    let contact = contact["id"].as_str().unwrap();
    created(
        &app,
        &format!("/api/v1/contacts/{contact}/legal-entities"),
        json!({"legal_entity_id": le, "role": "Директор"}),
    )
    .await;
    let deal = created(&app, "/api/v1/deals", json!({"title": "Поставка"})).await;
    let deal = deal["id"].as_str().unwrap();
    created(
        &app,
        &format!("/api/v1/deals/{deal}/product-rows"),
        json!({"name": "Насос", "quantity": "2", "price": "100.00"}),
    )
    .await;
    let accounts = page(&app, &format!("/api/v1/legal-entities/{le}/bank-accounts")).await;
    assert_eq!(item_keys(&accounts, "bik"), ["044525225"]);
    let contacts = page(&app, &format!("/api/v1/legal-entities/{le}/contacts")).await;
    assert_eq!(item_keys(&contacts, "contact_id").len(), 1, "{contacts}");
    let links = page(&app, &format!("/api/v1/contacts/{contact}/legal-entities")).await;
    assert_eq!(item_keys(&links, "legal_entity_id"), [le]);
    let rows = page(&app, &format!("/api/v1/deals/{deal}/product-rows")).await;
    assert_eq!(item_keys(&rows, "name"), ["Насос"]);
    let history = page(&app, &format!("/api/v1/deals/{deal}/stage-history")).await;
    assert_eq!(item_keys(&history, "id").len(), 1, "{history}");
    assert!(rows.get("next_cursor").is_none(), "one page: {rows}");
}

#[tokio::test]
async fn api_tokens_are_paginated_like_every_list() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let t = created(
            &app,
            "/api/v1/api-tokens",
            json!({"name": format!("token {i}")}),
        )
        .await;
        ids.push(t["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/api-tokens?limit=2&include_total=true".to_owned();
    loop {
        let p = page(&app, &path).await;
        if seen.is_empty() {
            assert_eq!(p["total"], 5, "{p}");
        }
        assert!(p["items"].as_array().unwrap().len() <= 2);
        seen.extend(item_keys(&p, "id"));
        match p["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/api-tokens?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let by_name = page(&app, "/api/v1/api-tokens?sort=-name&limit=1").await;
    assert_eq!(item_keys(&by_name, "name"), ["token 4"]);
    let res = app.get("/api/v1/api-tokens?limit=0").await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn an_entity_tag_the_server_never_issued_fails_the_precondition() {
    let app = TestApp::spawn().await;
    let company = created(&app, "/api/v1/companies", json!({"name": "Ромашка"})).await;
    let url = format!("/api/v1/companies/{}", company["id"].as_str().unwrap());
    for tag in [
        "\"stale-version\"",
        "\"0\"",
        "W/\"x\"",
        "garbage",
        "\"1\", \"2\"",
    ] {
        let res = app
            .request(Method::PATCH, &url, &app.admin_token)
            .header("if-match", tag)
            .json(&json!({"name": "Василёк"}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 412, "If-Match: {tag}: {body}");
        assert_eq!(body["code"], "stale_version");
    }
    let res = app
        .request(Method::PATCH, &url, &app.admin_token)
        .header("if-match", "*")
        .json(&json!({"name": "Василёк"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(page(&app, &url).await["name"], "Василёк");
}

#[tokio::test]
async fn supplier_invoices_sort_by_amount_invoice_date_and_due_date() {
    use crate::approvals::{SUPPLIER_EMAIL, json_of, world_with};
    let w = world_with(|_| {}).await;
    // (number, amount, invoice date, due date)
    let invoices = [
        ("A-1", "500.00", "2026-11-02", Some("2026-12-20")),
        ("A-2", "125000.50", "2026-11-01", None),
        ("A-3", "99.99", "2026-11-03", Some("2026-11-10")),
    ];
    for (number, amount, date, due) in invoices {
        let file = w
            .upload(&w.manager, "company", &w.company, &format!("{number}.pdf"))
            .await;
        let mut body = json!({
            "organization_id": w.org, "supplier_legal_entity_id": w.supplier,
            "supplier_email": SUPPLIER_EMAIL, "number": number, "invoice_date": date,
            "amount": amount, "file_ids": [file],
        });
        if let Some(d) = due {
            body["due_date"] = json!(d);
        }
        let res = w
            .call(
                &w.manager,
                Method::POST,
                "/api/v1/supplier-invoices",
                Some(&body),
            )
            .await;
        json_of(res, 201).await;
    }
    let order = |sort: &'static str| {
        let w = &w;
        async move {
            // One row a page, so that every step goes through a cursor.
            let mut numbers = Vec::new();
            let mut path = format!("/api/v1/supplier-invoices?limit=1&sort={sort}");
            loop {
                let res = w.call(&w.manager, Method::GET, &path, None).await;
                let p = json_of(res, 200).await;
                numbers.extend(item_keys(&p, "number"));
                match p["next_cursor"].as_str() {
                    Some(c) => {
                        path = format!("/api/v1/supplier-invoices?limit=1&sort={sort}&cursor={c}")
                    }
                    None => return numbers,
                }
            }
        }
    };
    assert_eq!(order("-amount").await, ["A-2", "A-1", "A-3"]);
    assert_eq!(order("amount").await, ["A-3", "A-1", "A-2"]);
    assert_eq!(order("invoice_date").await, ["A-2", "A-1", "A-3"]);
    assert_eq!(order("-invoice_date").await, ["A-3", "A-1", "A-2"]);
    // Without a due date last ascending, first descending.
    assert_eq!(order("due_date").await, ["A-3", "A-1", "A-2"]);
    assert_eq!(order("-due_date").await, ["A-2", "A-1", "A-3"]);
}

/// A CSV answer: its content type, the BOM, and the parsed rows (header first).
async fn csv_of(res: reqwest::Response) -> Vec<Vec<String>> {
    let status = res.status();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    let bytes = res.bytes().await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "UTF-8 BOM first");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..]);
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let at = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[at].clone()).collect()
}

#[tokio::test]
async fn every_list_answers_csv_through_all_pages_with_its_filters() {
    let app = TestApp::spawn().await;
    // More deals than one page of the CSV reader holds (200).
    for i in 0..203 {
        created(
            &app,
            "/api/v1/deals",
            json!({"title": format!("Поставка {i:03}"), "amount": format!("{i}.50")}),
        )
        .await;
    }
    for i in 0..3 {
        created(
            &app,
            "/api/v1/deals",
            json!({"title": format!("Ремонт «{i}»"), "amount": "1250000.05"}),
        )
        .await;
    }
    let all = csv_of(app.get("/api/v1/deals?format=csv&sort=created_at").await).await;
    assert_eq!(all.len(), 1 + 206, "a header and every deal");
    let titles = column(&all, "title");
    assert_eq!(titles[0], "Поставка 000");
    assert_eq!(titles[205], "Ремонт «2»");
    let amounts = column(&all, "amount");
    assert_eq!(amounts[1], "1.50", "money as a decimal string");
    assert_eq!(amounts[205], "1250000.05");
    // The same filters and sort as the JSON list; Accept asks the same as format.
    let repairs = csv_of(
        app.request(
            Method::GET,
            "/api/v1/deals?q=%D0%A0%D0%B5%D0%BC%D0%BE%D0%BD%D1%82&sort=-created_at",
            &app.admin_token,
        )
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        column(&repairs, "title"),
        ["Ремонт «2»", "Ремонт «1»", "Ремонт «0»"]
    );
    let problem = app.get("/api/v1/deals?format=csv&sort=colour").await;
    assert_eq!(problem.status(), 422, "a refused sort is still a problem");
    let problem = app.get("/api/v1/deals?format=xml").await;
    assert_eq!(problem.status(), 422);

    // Every list of the document, top-level and sub-collection, answers CSV with a header.
    let deal = page(&app, "/api/v1/deals?limit=1").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    created(
        &app,
        &format!("/api/v1/deals/{deal}/product-rows"),
        json!({"name": "Насос", "quantity": "2", "price": "100.00"}),
    )
    .await;
    let doc = document(&app).await;
    let mut lists = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let schema = &get["responses"]["200"]["content"]["application/json"]["schema"];
        let name = schema["$ref"].as_str().unwrap_or("");
        if !name.starts_with("#/components/schemas/ListPage_") {
            continue;
        }
        let concrete = path
            .trim_start_matches("/api/v1")
            .replace("{entity}", "deals")
            .replace("{id}", &deal);
        if concrete.contains('{')
            || (path.contains("{id}") && !path.contains("/deals/") && !path.contains("{entity}"))
        {
            continue;
        }
        lists += 1;
        let rows = csv_of(app.get(&format!("/api/v1{concrete}?format=csv")).await).await;
        assert!(
            !rows.is_empty() && !rows[0].is_empty(),
            "{path}: a header row"
        );
        let json = page(&app, &format!("/api/v1{concrete}?include_total=true")).await;
        let count = json["total"]
            .as_u64()
            .unwrap_or(json["items"].as_array().unwrap().len() as u64);
        assert_eq!(
            rows.len() as u64 - 1,
            count,
            "{path}: as many rows as the list has items"
        );
    }
    assert!(lists >= 25, "only {lists} lists answered CSV");
}
