use sdelka_tests::TestApp;

#[tokio::test]
async fn health_endpoints_answer() {
    let app = TestApp::spawn().await;
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert!(ready.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/organizations").await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("sdelka_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/v1/organizations\""), "{text}");
}

#[tokio::test]
async fn served_openapi_document_matches_the_committed_one() {
    let app = TestApp::spawn().await;
    let served: serde_json::Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("openapi/openapi.json is committed"),
    )
    .unwrap();
    assert!(
        served == committed,
        "the served OpenAPI document differs from openapi/openapi.json; \
         regenerate it with `cargo run -p sdelka-openapi` and review the diff"
    );
    for p in [
        "/api/v1/organizations",
        "/api/v1/auth/login",
        "/api/v1/users/{id}",
    ] {
        assert!(
            served["paths"][p].is_object(),
            "{p} missing from the document"
        );
    }
}

#[tokio::test]
async fn swagger_ui_is_served_without_internet() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("unpkg.com") && !html.contains("cdn.jsdelivr"),
        "{html}"
    );
    let js = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_burst = 3.0;
        c.rate_limit_per_second = 0.5;
    })
    .await;
    // The login of `spawn` used one token of the anonymous bucket; this caller has its own.
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let res = app.get("/api/v1/me").await;
        statuses.push(res.status().as_u16());
        last = Some(res);
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert_eq!(statuses[4], 429, "{statuses:?}");
    let res = last.unwrap();
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Health checks are never limited.
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn unknown_route_is_a_problem_404() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/v1/nothing-here").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert!(body["request_id"].is_string());
}

#[tokio::test]
async fn graceful_stop_lets_a_running_request_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut app = TestApp::spawn().await;
    let body = serde_json::json!({"email": sdelka_tests::ADMIN_EMAIL, "password": sdelka_tests::ADMIN_PASSWORD})
        .to_string();
    let (first, rest) = body.split_at(10);
    let addr = app.server.as_ref().unwrap().addr;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first.as_bytes()).await.unwrap();
    // The request is now in flight: its body is half sent. Ask the server to stop.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let server = app.server.take().unwrap();
    let stopping = tokio::spawn(server.stop(true));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stopping.await.unwrap();
    // And it no longer accepts new connections.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn cors_answers_preflight_for_configured_origins_only() {
    let app =
        TestApp::spawn_with(|c| c.cors_origins = vec!["https://crm.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/api/v1/organizations"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type, idempotency-key",
                )
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("https://crm.example.com").await;
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://crm.example.com"
    );
    let other = preflight("https://evil.example.com").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Frontends can read the headers they need.
    let res = app
        .request(reqwest::Method::GET, "/api/v1/me", &app.admin_token)
        .header("origin", "https://crm.example.com")
        .send()
        .await
        .unwrap();
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("x-request-id"),
        "{exposed}"
    );
}

#[tokio::test]
async fn shell_commands_create_users_and_api_tokens() {
    let app = TestApp::spawn().await;
    sdelka_api::cli::user(
        app.config.clone(),
        sdelka_api::cli::UserCommand::Create {
            email: "Script.User@Example.com".into(),
            name: "Скрипт".into(),
            password: Some("script-password".into()),
            roles: "sales_manager,head".into(),
        },
    )
    .await
    .unwrap();
    let token = app
        .login("script.user@example.com", "script-password")
        .await;
    let me: serde_json::Value = app
        .request(reqwest::Method::GET, "/api/v1/me", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], serde_json::json!(["head", "sales_manager"]));
    let bad = sdelka_api::cli::user(
        app.config.clone(),
        sdelka_api::cli::UserCommand::Create {
            email: "x@example.com".into(),
            name: "X".into(),
            password: None,
            roles: "overlord".into(),
        },
    )
    .await;
    assert!(bad.is_err());
    let refused = sdelka_api::cli::token(
        app.config.clone(),
        sdelka_api::cli::TokenCommand::Create {
            email: "script.user@example.com".into(),
            name: "too much".into(),
            roles: Some("admin".into()),
        },
    )
    .await;
    assert!(
        refused.is_err(),
        "a token cannot carry a role its owner lacks"
    );
}
