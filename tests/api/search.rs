//! `q=` finds the same records on SQLite (through its FTS5 trigram index, m0019) as on
//! PostgreSQL (through `pg_trgm`): a case-insensitive substring of the search text, Cyrillic
//! included, for short queries too, and it follows renames and deletions.

use reqwest::{Method, Response};
use sdelka_tests::TestApp;
use serde_json::{Value, json};

async fn json_of(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The names `q` finds among the companies, sorted.
async fn found(app: &TestApp, path: &str, q: &str) -> Vec<String> {
    let list = json_of(
        app.get(&format!("{path}?q={}&limit=200&sort=name", encode(q)))
            .await,
        200,
    )
    .await;
    let mut names: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// What a case-insensitive substring match over `names` gives.
fn expected(names: &[&str], q: &str) -> Vec<String> {
    let q = q.to_lowercase();
    let mut hit: Vec<String> = names
        .iter()
        .filter(|n| n.to_lowercase().contains(&q))
        .map(|n| n.to_string())
        .collect();
    hit.sort();
    hit
}

const QUERIES: &[&str] = &[
    "РОМАШ",  // upper case Cyrillic
    "ашка-п", // inside a word, across a hyphen
    "ёлк",    // ё
    "Trade",  // Latin, mixed case
    "ro",     // two characters: no trigram, still matched
    "о",      // one Cyrillic character
    "плюс»",  // punctuation
    "\"",     // the index's own quoting character
    "a\"b",   //   … inside a term
    "100%",   // LIKE's wildcard, literally
    "ка пл",  // a space inside the substring
    "нет-такой-компании",
];

#[tokio::test]
async fn q_finds_the_same_companies_on_both_backends_after_renames_and_deletions() {
    let app = TestApp::spawn().await;
    let t = &app.admin_token;
    let mut names = vec![
        "ООО «Ромашка-Плюс»",
        "Ромашка ПЛЮС",
        "Romashka Trade",
        "TRADE house",
        "Ёлки-Палки",
        "Зелёная ёлка",
        "Лютик",
        "Скидка 100% a\"b",
        "Roza",
    ];
    let mut ids = std::collections::HashMap::new();
    for name in &names {
        let c = json_of(
            app.post("/api/v1/companies", &json!({"name": name})).await,
            201,
        )
        .await;
        ids.insert(name.to_string(), c["id"].as_str().unwrap().to_owned());
    }
    for q in QUERIES {
        assert_eq!(
            found(&app, "/api/v1/companies", q).await,
            expected(&names, q),
            "q={q}"
        );
    }

    // A rename: the old name is no longer found, the new one is.
    let id = ids["Лютик"].clone();
    let res = app
        .request(Method::PATCH, &format!("/api/v1/companies/{id}"), t)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Василёк Трейд"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    names.retain(|n| *n != "Лютик");
    names.push("Василёк Трейд");
    for q in ["лютик", "ЮТИ", "трейд", "василёк", "trade"] {
        assert_eq!(
            found(&app, "/api/v1/companies", q).await,
            expected(&names, q),
            "after the rename, q={q}"
        );
    }

    // A deletion: the company is gone from every search.
    let id = ids["Зелёная ёлка"].clone();
    let res = app
        .request(Method::DELETE, &format!("/api/v1/companies/{id}"), t)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    names.retain(|n| *n != "Зелёная ёлка");
    for q in ["ёлк", "зелёная", "ка"] {
        assert_eq!(
            found(&app, "/api/v1/companies", q).await,
            expected(&names, q),
            "after the deletion, q={q}"
        );
    }
}

#[tokio::test]
async fn q_finds_products_by_substrings_of_three_and_fewer_characters() {
    let app = TestApp::spawn().await;
    let products = [
        "Кирпич облицовочный",
        "Цемент М500",
        "Клей плиточный",
        "Плитка",
    ];
    for name in products {
        json_of(
            app.post(
                "/api/v1/products",
                &json!({"name": name, "unit_code": "796", "unit_name": "шт",
                        "base_price": "10.00", "vat_rate": "22"}),
            )
            .await,
            201,
        )
        .await;
    }
    for q in ["ПЛИТ", "м5", "ц", "облицов", "чный", "xyz"] {
        assert_eq!(
            found(&app, "/api/v1/products", q).await,
            expected(&products, q),
            "q={q}"
        );
    }
}

/// A `q` held by more records than the index hands out as candidates
/// (`persistence::search::INDEX_CANDIDATE_LIMIT`, 2 000) is matched while the list's sort index
/// is read: every page of it, followed by cursor, still gives exactly the records holding it.
#[tokio::test]
async fn a_common_q_pages_through_every_holder_and_nothing_else() {
    let app = TestApp::spawn().await;
    let holders: usize = 2_050;
    for chunk in 0..holders.div_ceil(1_000) {
        let items: Vec<Value> = (chunk * 1_000..((chunk + 1) * 1_000).min(holders))
            .map(|i| json!({"external_id": {"source": "1c", "id": format!("c-{i}")}, "name": format!("Лифтовая компания {i:05}")}))
            .collect();
        let res = json_of(
            app.post("/api/v1/companies/bulk-upsert", &json!({"items": items}))
                .await,
            200,
        )
        .await;
        assert_eq!(res["errors"], 0, "{res}");
    }
    for name in [
        "Лифт без компании",
        "Ромашка",
        "лифтовАЯ КОМПАНИЯ ЗАГЛАВНЫМИ",
    ] {
        json_of(
            app.post("/api/v1/companies", &json!({"name": name})).await,
            201,
        )
        .await;
    }
    for (q, want) in [
        ("лифтовая компания", holders + 1),
        ("ЛИФТ", holders + 2),
        ("компания 0204", 10),
        ("компания 02049", 1),
    ] {
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/companies?q={}&limit=200&sort=name", encode(q));
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = json_of(app.get(&path).await, 200).await;
            for item in page["items"].as_array().unwrap() {
                let name = item["name"].as_str().unwrap().to_owned();
                assert!(
                    name.to_lowercase().contains(&q.to_lowercase()),
                    "q={q}: {name}"
                );
                names.push(name);
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "q={q}: a record twice");
        assert_eq!(names.len(), want, "q={q}");
    }
}
