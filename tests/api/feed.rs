//! INT-2, the change feed: order, tombstones, the initial-sync recipe, filters, visibility,
//! retention, consumer offsets, and gap-free reading during concurrent writes on two
//! instances of one database.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};

async fn feed(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    let res = app
        .request(Method::GET, &format!("/api/v1/events?{query}"), token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Everything after `after`, page by page; answers the events and the last cursor.
async fn read_all(app: &TestApp, token: &str, after: &str, extra: &str) -> (Vec<Value>, String) {
    let mut cursor = after.to_owned();
    let mut out = Vec::new();
    loop {
        let (status, page) = feed(app, token, &format!("after={cursor}&limit=50{extra}")).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap().clone();
        let next = page["next_cursor"].as_str().unwrap().to_owned();
        let more = page["has_more"].as_bool().unwrap();
        out.extend(items);
        assert!(
            next.parse::<i64>().unwrap() >= cursor.parse::<i64>().unwrap(),
            "the cursor went back"
        );
        cursor = next;
        if !more {
            return (out, cursor);
        }
    }
}

async fn head(app: &TestApp, token: &str) -> String {
    let res = app
        .request(Method::GET, "/api/v1/events/head", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["cursor"].as_str().unwrap().to_owned()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_feed_shows_every_change_in_order_with_deletions_as_tombstones() {
    let app = TestApp::spawn().await;
    let token = app.admin_token.clone();
    let start = head(&app, &token).await;

    let res = app
        .post(
            "/api/v1/companies",
            &json!({"name": "Берёзка", "external_ids": [{"source": "1c", "id": "c-1"}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let company: Value = res.json().await.unwrap();
    let id = company["id"].as_str().unwrap().to_owned();
    let res = app
        .patch(
            &format!("/api/v1/companies/{id}"),
            &json!({"name": "Берёзка-2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    let res = app
        .request(Method::DELETE, &format!("/api/v1/companies/{id}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // Read at once: the reader's own writes are numbered before it reads.
    let (events, cursor) = read_all(&app, &token, &start, "").await;
    let ours: Vec<&Value> = events.iter().filter(|e| e["entity_id"] == id).collect();
    assert_eq!(
        ours.iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["company.created", "company.updated", "company.deleted"]
    );
    let positions: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(cursor, head(&app, &token).await);

    // What each event carries, captured when it happened.
    let created = ours[0];
    assert_eq!(created["data"]["object"]["name"], "Берёзка");
    assert_eq!(created["data"]["sequence"], created["sequence"]);
    assert!(created["id"].as_str().is_some());
    let change = ours[1];
    assert_eq!(change["data"]["object"], updated);
    assert_eq!(change["data"]["changed_fields"], json!(["name"]));
    assert_eq!(change["data"]["version"], updated["version"]);
    assert!(change["data"]["correlation_id"].as_str().is_some());
    let tombstone = &ours[2]["data"]["object"];
    assert_eq!(tombstone["deleted"], true);
    assert_eq!(tombstone["id"], id.as_str());
    assert_eq!(tombstone["type"], "company");
    assert_eq!(tombstone["version"], updated["version"]);
    assert_eq!(tombstone["external_ids"][0]["id"], "c-1");

    // Polling at the head answers nothing new, with the same cursor; reading is not consuming.
    let (status, page) = feed(&app, &token, &format!("after={cursor}")).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["next_cursor"], cursor.as_str());
    assert_eq!(page["has_more"], false);
    let (again, _) = read_all(&app, &token, &start, "").await;
    assert_eq!(again, events);

    // Filters: by type (exact or `company.*`) and by record type; the cursor still moves on.
    let (only, last) = read_all(
        &app,
        &token,
        &start,
        "&types=company.updated,company.deleted",
    )
    .await;
    assert_eq!(types(&only), ["company.updated", "company.deleted"]);
    assert_eq!(last, cursor);
    let (all_company, _) = read_all(&app, &token, &start, "&types=company.*").await;
    assert_eq!(all_company.len(), 3);
    let (by_entity, _) = read_all(&app, &token, &start, "&entity_type=company").await;
    assert_eq!(by_entity.len(), 3);
    let (none, _) = read_all(&app, &token, &start, "&entity_type=deal").await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn an_initial_sync_reads_the_head_lists_then_follows_the_feed() {
    let app = TestApp::spawn().await;
    let token = app.admin_token.clone();
    for name in ["Один", "Два"] {
        assert_eq!(
            app.post("/api/v1/companies", &json!({"name": name}))
                .await
                .status(),
            201
        );
    }
    // 1. the head; 2. the list; 3. the feed after the head shows only what came later.
    let cursor = head(&app, &token).await;
    let list: Value = app.get("/api/v1/companies").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.post("/api/v1/companies", &json!({"name": "Три"}))
            .await
            .status(),
        201
    );
    let (events, _) = read_all(&app, &token, &cursor, "").await;
    assert_eq!(types(&events), ["company.created"]);
    assert_eq!(events[0]["data"]["object"]["name"], "Три");
}

#[tokio::test]
async fn bad_feed_parameters_are_named() {
    let app = TestApp::spawn().await;
    let token = app.admin_token.clone();
    for (query, field) in [
        ("after=abc", "after"),
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("types=DROP%20TABLE", "types"),
        ("types=*", "types"),
    ] {
        let (status, body) = feed(&app, &token, query).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let res = app
        .client
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_manager_sees_the_events_of_the_records_he_may_read() {
    let app = TestApp::spawn().await;
    let (_, anna) = app
        .user_with_roles("anna@example.com", &["sales_manager"])
        .await;
    let (_, boris) = app
        .user_with_roles("boris@example.com", &["sales_manager"])
        .await;
    let start = head(&app, &app.admin_token).await;
    let create = |token: String, name: &'static str| {
        let app = &app;
        async move {
            let res = app
                .request(Method::POST, "/api/v1/companies", &token)
                .json(&json!({"name": name}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            let v: Value = res.json().await.unwrap();
            v["id"].as_str().unwrap().to_owned()
        }
    };
    let annas = create(anna.clone(), "Анны").await;
    let boris_company = create(boris.clone(), "Бориса").await;
    // A catalogue record: everyone reads products, and their events.
    let res = app
        .post(
            "/api/v1/products",
            &json!({"name": "Камера", "base_price": "100.00"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    // A deal of Anna's, and a product row on it.
    let res = app
        .request(Method::POST, "/api/v1/deals", &anna)
        .json(&json!({"title": "Сделка Анны", "company_id": annas}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let deal: Value = res.json().await.unwrap();
    let res = app
        .request(
            Method::POST,
            &format!(
                "/api/v1/deals/{}/product-rows",
                deal["id"].as_str().unwrap()
            ),
            &anna,
        )
        .json(&json!({"name": "Монтаж", "price": "10.00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let (as_anna, _) = read_all(&app, &anna, &start, "").await;
    let seen: HashSet<&str> = as_anna
        .iter()
        .map(|e| e["entity_id"].as_str().unwrap())
        .collect();
    assert!(seen.contains(annas.as_str()));
    assert!(
        !seen.contains(boris_company.as_str()),
        "Anna saw Boris's company"
    );
    assert!(types(&as_anna).contains(&"product.created"));
    assert!(types(&as_anna).contains(&"deal.created"));
    assert!(types(&as_anna).contains(&"product_row.created"));

    let (as_boris, _) = read_all(&app, &boris, &start, "").await;
    let seen: HashSet<&str> = as_boris
        .iter()
        .map(|e| e["entity_id"].as_str().unwrap())
        .collect();
    assert!(seen.contains(boris_company.as_str()));
    assert!(!seen.contains(annas.as_str()), "Boris saw Anna's company");
    assert!(
        !types(&as_boris).contains(&"deal.created"),
        "Boris saw Anna's deal"
    );
    assert!(!types(&as_boris).contains(&"product_row.created"));

    // Anna deletes her company: she sees the tombstone, Boris does not.
    let res = app
        .request(Method::DELETE, &format!("/api/v1/companies/{annas}"), &anna)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (after_delete, _) = read_all(&app, &anna, &start, "&types=company.deleted").await;
    assert_eq!(after_delete.len(), 1);
    let (boris_deletes, _) = read_all(&app, &boris, &start, "&types=company.deleted").await;
    assert!(boris_deletes.is_empty());

    // The admin sees everything.
    let (all, _) = read_all(&app, &app.admin_token, &start, "").await;
    assert!(all.len() > as_anna.len() && all.len() > as_boris.len());
}

#[tokio::test]
async fn a_cursor_older_than_retention_is_expired() {
    let app = TestApp::spawn_with(|c| {
        c.housekeeping_interval_seconds = 1;
        c.event_retention_days = 30;
    })
    .await;
    let token = app.admin_token.clone();
    for name in ["Старая", "Новая"] {
        assert_eq!(
            app.post("/api/v1/companies", &json!({"name": name}))
                .await
                .status(),
            201
        );
    }
    let (events, _) = read_all(&app, &token, "0", "").await;
    let old = events
        .iter()
        .find(|e| e["data"]["object"]["name"] == "Старая")
        .unwrap();
    let old_position: i64 = old["sequence"].as_str().unwrap().parse().unwrap();
    // Make everything up to the old company's event 40 days old, as time would.
    {
        use sea_orm::{ConnectionTrait, Statement};
        let store = &app.server.as_ref().unwrap().state.store;
        let backend = store.conn.get_database_backend();
        let forty_days_ago = chrono::Utc::now() - chrono::Duration::days(40);
        let sql = if app.database.postgres {
            "UPDATE domain_events SET occurred_at = $1 WHERE position <= $2"
        } else {
            "UPDATE domain_events SET occurred_at = ?1 WHERE position <= ?2"
        };
        store
            .conn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [forty_days_ago.into(), old_position.into()],
            ))
            .await
            .unwrap();
    }
    let expired = sdelka_tests::eventually(Duration::from_secs(30), || async {
        let (status, body) = feed(&app, &token, "after=0").await;
        (status == 410).then_some(body)
    })
    .await
    .expect("the old events were never pruned");
    assert_eq!(expired["code"], "cursor_expired");
    let res = app
        .request(Method::GET, "/api/v1/events/head", &token)
        .send()
        .await
        .unwrap();
    let h: Value = res.json().await.unwrap();
    assert_eq!(h["oldest_cursor"], old_position.to_string());
    assert_eq!(h["retention_days"], 30);
    // From the oldest kept cursor on, the feed reads.
    let (kept, _) = read_all(&app, &token, h["oldest_cursor"].as_str().unwrap(), "").await;
    assert!(kept.iter().any(|e| e["data"]["object"]["name"] == "Новая"));
    assert!(!kept.iter().any(|e| e["data"]["object"]["name"] == "Старая"));
}

#[tokio::test]
async fn named_consumers_record_offsets_and_lag() {
    let app = TestApp::spawn().await;
    let token = app.admin_token.clone();
    let (_, anna) = app
        .user_with_roles("anna@example.com", &["sales_manager"])
        .await;
    assert_eq!(
        app.post("/api/v1/companies", &json!({"name": "Одна"}))
            .await
            .status(),
        201
    );
    let h: i64 = head(&app, &token).await.parse().unwrap();
    let put = |token: String, name: &'static str, cursor: String| {
        let app = &app;
        async move {
            let res = app
                .request(
                    Method::PUT,
                    &format!("/api/v1/event-consumers/{name}"),
                    &token,
                )
                .json(&json!({"cursor": cursor}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, c) = put(token.clone(), "1c-sync", "0".into()).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["lag"], h);
    let (status, c) = put(token.clone(), "1c-sync", h.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(c["lag"], 0);
    assert_eq!(c["cursor"], h.to_string());
    // Committing an offset is bookkeeping: it leaves no event, so the head stays.
    assert_eq!(head(&app, &token).await, h.to_string());
    let (status, body) = put(token.clone(), "1c-sync", (h + 5).to_string()).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "cursor");
    let (status, body) = put(token.clone(), "bad name!", "0".into()).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "name");
    // Another user neither sees nor moves it.
    let res = app
        .request(Method::GET, "/api/v1/event-consumers/1c-sync", &anna)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let (status, _) = put(anna.clone(), "1c-sync", "0".into()).await;
    assert_eq!(status, 404);
    let list: Value = app
        .request(Method::GET, "/api/v1/event-consumers", &anna)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
    // New writes show as lag.
    assert_eq!(
        app.post("/api/v1/companies", &json!({"name": "Две"}))
            .await
            .status(),
        201
    );
    head(&app, &token).await;
    let c: Value = app
        .get("/api/v1/event-consumers/1c-sync")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["lag"], 1);
    let res = app
        .request(Method::DELETE, "/api/v1/event-consumers/1c-sync", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get("/api/v1/event-consumers/1c-sync").await.status(),
        404
    );
}

/// A reader following the feed during 1 000 concurrent writes spread over two instances of
/// one database sees every event exactly once, in increasing positions, none behind its
/// cursor.
#[tokio::test]
async fn a_reader_sees_every_event_once_during_concurrent_writes_on_two_instances() {
    let app = TestApp::spawn().await;
    let token = app.admin_token.clone();
    let (second, second_base) = app.another_instance().await;
    let start: i64 = head(&app, &token).await.parse().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    let reader = {
        let client = app.client.clone();
        let base = app.base.clone();
        let token = token.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page: Value = client
                    .get(format!("{base}/api/v1/events?after={cursor}&limit=200"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for e in page["items"].as_array().unwrap() {
                    let p: i64 = e["sequence"].as_str().unwrap().parse().unwrap();
                    assert!(
                        p > cursor,
                        "event at {p} appeared behind the cursor {cursor}"
                    );
                    cursor = p;
                    seen.push((p, e["id"].as_str().unwrap().to_owned()));
                }
                let next: i64 = page["next_cursor"].as_str().unwrap().parse().unwrap();
                assert!(next >= cursor);
                cursor = next;
                if finished && !page["has_more"].as_bool().unwrap() {
                    return seen;
                }
                if !page["has_more"].as_bool().unwrap() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };

    let bases = [app.base.clone(), second_base.clone()];
    let writes = futures_util::stream::iter(0..1000)
        .map(|i| {
            let client = app.client.clone();
            let base = bases[i % 2].clone();
            let token = token.clone();
            async move {
                let res = client
                    .post(format!("{base}/api/v1/companies"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("Компания {i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
            }
        })
        .buffer_unordered(16);
    writes.collect::<Vec<()>>().await;
    // Every write has committed; the reader stops once it has read to the head.
    head(&app, &token).await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let ids: HashSet<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), seen.len(), "an event was read twice");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    // Exactly what the journal holds after the start.
    let (all, _) = read_all(&app, &token, &start.to_string(), "").await;
    let all_ids: HashSet<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, all_ids);
    let created = all
        .iter()
        .filter(|e| e["type"] == "company.created")
        .count();
    assert_eq!(created, 1000);
    second.stop(true).await;
}
