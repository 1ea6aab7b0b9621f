//! REP-1: the funnel of a pipeline, against figures worked out by hand.

use reqwest::Method;
use sdelka_persistence::entity::deal_stage_change;
use sdelka_tests::TestApp;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};

async fn ok(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Seven deals move through «Новая → Переговоры → Договор → Выиграна» (and «Проиграна»), their
/// stays set to whole hours; four leads, one converted into a deal of the pipeline.
///
/// By hand: furthest stages 3, 1, 3, 1, 0, 0, 0 → reached 7, 4, 2, 2 (and 2 lost);
/// conversions 4/7, 2/4, 2/2; win rate 2/(2+2); leads 1/4. Ended stays in «Новая» 2, 4, 6, 1, 3
/// hours (mean 3.2 h = 11 520 s), in «Переговоры» 3 and 1 (7 200 s), in «Договор» 6 (21 600 s).
#[tokio::test]
async fn the_funnel_matches_the_figures_worked_out_by_hand() {
    let app = TestApp::spawn().await;
    let pipeline = ok(
        app.post(
            "/api/v1/pipelines",
            &json!({"name": "Воронка", "stages": [
                {"name": "Новая", "kind": "open"}, {"name": "Переговоры", "kind": "open"},
                {"name": "Договор", "kind": "open"}, {"name": "Выиграна", "kind": "won"},
                {"name": "Проиграна", "kind": "lost"}]}),
        )
        .await,
        201,
    )
    .await;
    let pid = pipeline["id"].as_str().unwrap().to_owned();
    let stage = |name: &str| {
        pipeline["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Each deal: the stages it moves to after «Новая», with the hour it enters each.
    let paths: [&[(&str, i64)]; 6] = [
        &[("Переговоры", 2), ("Договор", 5), ("Выиграна", 11)],
        &[("Переговоры", 4), ("Проиграна", 5)],
        &[("Выиграна", 6)],
        &[("Переговоры", 1)],
        &[],
        &[("Проиграна", 3)],
    ];
    let base = chrono::Utc::now() - chrono::Duration::days(1);
    let conn = &app.server.as_ref().unwrap().state.store.conn;
    for (i, path) in paths.iter().enumerate() {
        let deal = ok(
            app.post(
                "/api/v1/deals",
                &json!({"title": format!("Сделка {i}"), "pipeline_id": pid}),
            )
            .await,
            201,
        )
        .await;
        let id = deal["id"].as_str().unwrap().to_owned();
        for (name, _) in path.iter() {
            let mut body = json!({"stage_id": stage(name)});
            if *name == "Проиграна" {
                body["loss_reason"] = json!("Дорого");
            }
            ok(app.patch(&format!("/api/v1/deals/{id}"), &body).await, 200).await;
        }
        // The history as it happened, hour by hour.
        let changes = deal_stage_change::Entity::find()
            .filter(deal_stage_change::Column::DealId.eq(id.parse::<uuid::Uuid>().unwrap()))
            .order_by_asc(deal_stage_change::Column::ChangedAt)
            .order_by_asc(deal_stage_change::Column::Id)
            .all(conn)
            .await
            .unwrap();
        assert_eq!(changes.len(), path.len() + 1);
        let hours = std::iter::once(0).chain(path.iter().map(|(_, h)| *h));
        for (c, h) in changes.into_iter().zip(hours) {
            let mut c: deal_stage_change::ActiveModel = c.into();
            c.changed_at = Set(base + chrono::Duration::hours(h));
            c.update(conn).await.unwrap();
        }
    }
    // Leads: four; one becomes a deal of this pipeline (the seventh, in «Новая»), one a deal
    // of the default pipeline, two stay leads.
    let mut leads = Vec::new();
    for name in ["УК «Уют»", "ТСЖ «Берёзка»", "УК «Дом»", "ТСЖ «Сад»"]
    {
        let l = ok(
            app.post("/api/v1/leads", &json!({"company_name": name}))
                .await,
            201,
        )
        .await;
        leads.push(l["id"].as_str().unwrap().to_owned());
    }
    ok(
        app.post(
            &format!("/api/v1/leads/{}/convert", leads[0]),
            &json!({"create_deal": true, "pipeline_id": pid}),
        )
        .await,
        200,
    )
    .await;
    ok(
        app.post(
            &format!("/api/v1/leads/{}/convert", leads[1]),
            &json!({"create_deal": true}),
        )
        .await,
        200,
    )
    .await;

    let report = ok(
        app.get(&format!("/api/v1/reports/funnel?pipeline_id={pid}"))
            .await,
        200,
    )
    .await;
    let f = &report["pipelines"][0];
    assert_eq!(report["pipelines"].as_array().unwrap().len(), 1);
    assert_eq!(f["pipeline_name"], "Воронка");
    assert_eq!(f["deals"], 7);
    assert_eq!(f["won"], 2);
    assert_eq!(f["lost"], 2);
    assert_eq!(f["win_rate"], "0.5000");
    assert_eq!(f["leads"], 4);
    assert_eq!(f["leads_converted"], 1);
    assert_eq!(f["lead_to_deal_conversion"], "0.2500");
    let stages: Vec<(String, u64, u64, Value, Value, u64)> = f["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["current"].as_u64().unwrap(),
                s["reached"].as_u64().unwrap(),
                s["conversion_from_previous"].clone(),
                s["average_seconds_in_stage"].clone(),
                s["completed_stays"].as_u64().unwrap(),
            )
        })
        .collect();
    let want =
        |n: &str, cur, r, conv: Value, avg: Value, stays| (n.to_owned(), cur, r, conv, avg, stays);
    assert_eq!(
        stages,
        vec![
            want("Новая", 2, 7, Value::Null, json!(11520), 5),
            want("Переговоры", 1, 4, json!("0.5714"), json!(7200), 2),
            want("Договор", 0, 2, json!("0.5000"), json!(21600), 1),
            want("Выиграна", 2, 2, json!("1.0000"), Value::Null, 0),
            want("Проиграна", 2, 2, Value::Null, Value::Null, 0),
        ]
    );

    // The same as CSV: a row per stage.
    let res = app
        .request(
            Method::GET,
            &format!("/api/v1/reports/funnel?pipeline_id={pid}"),
            &app.admin_token,
        )
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap();
    let text = text.strip_prefix('\u{feff}').expect("UTF-8 with BOM");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 5);
    assert!(lines[0].starts_with("pipeline_id,pipeline_name,from,to,deals,won,lost,win_rate"));
    assert!(
        lines[2].ends_with(",Переговоры,open,1,4,0.5714,7200,2"),
        "{}",
        lines[2]
    );

    // A period without these deals and leads; a period that ends before it starts.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive();
    let later = ok(
        app.get(&format!(
            "/api/v1/reports/funnel?pipeline_id={pid}&from={tomorrow}&to={tomorrow}"
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(later["pipelines"][0]["deals"], 0);
    assert_eq!(later["pipelines"][0]["leads"], 0);
    assert_eq!(later["pipelines"][0]["win_rate"], Value::Null);
    let problem = ok(
        app.get(&format!(
            "/api/v1/reports/funnel?from={tomorrow}&to=2020-01-01"
        ))
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "to");
}

/// A sales manager's funnel counts only the deals he may see.
#[tokio::test]
async fn a_managers_funnel_counts_only_his_deals() {
    let app = TestApp::spawn().await;
    let (_, manager) = app
        .user_with_roles("manager@example.com", &["sales_manager"])
        .await;
    let pipelines = ok(app.get("/api/v1/pipelines").await, 200).await;
    let pid = pipelines["items"][0]["id"].as_str().unwrap().to_owned();
    ok(
        app.post("/api/v1/deals", &json!({"title": "Чужая"})).await,
        201,
    )
    .await;
    ok(
        app.request(Method::POST, "/api/v1/deals", &manager)
            .json(&json!({"title": "Своя"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let of = |token: String| {
        let app = &app;
        let pid = pid.clone();
        async move {
            let r = ok(
                app.request(
                    Method::GET,
                    &format!("/api/v1/reports/funnel?pipeline_id={pid}"),
                    &token,
                )
                .send()
                .await
                .unwrap(),
                200,
            )
            .await;
            r["pipelines"][0]["deals"].as_u64().unwrap()
        }
    };
    assert_eq!(of(app.admin_token.clone()).await, 2);
    assert_eq!(of(manager).await, 1);
}
