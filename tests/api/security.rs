//! Security and limits: rate limiting keyed on the authenticated credential (API-8), account
//! changes taking effect on the next request, the last admin, login throttling, and
//! idempotency keys surviving a crash of the server process (API-4).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, Response, StatusCode};
use sdelka_tests::child::ChildServer;
use sdelka_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, fresh_database, temp_dir};
use serde_json::{Value, json};

async fn problem(res: Response) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let status = res.status();
    let headers = res.headers().clone();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

fn header_u64(h: &reqwest::header::HeaderMap, name: &str) -> u64 {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} header in {h:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The limiter's key count as `/metrics` reports it.
async fn rate_limit_keys(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("sdelka_rate_limit_keys "))
        .unwrap_or_else(|| panic!("no sdelka_rate_limit_keys in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

// ---- Rate limiting -----------------------------------------------------------------------

/// A bucket of 20 that refills one request per 1 000 s: nothing refills during a test.
fn slow_bucket(c: &mut sdelka_api::config::Config) {
    c.rate_limit_burst = 20.0;
    c.rate_limit_per_second = 0.001;
}

#[tokio::test]
async fn invented_bearer_strings_share_one_anonymous_budget() {
    let app = TestApp::spawn_with(slow_bucket).await;
    let statuses = futures_util::stream::iter(0..1000u32)
        .map(|i| {
            let app = &app;
            async move {
                // Half of them look like API tokens, which the server must look up.
                let token = if i.is_multiple_of(2) {
                    format!("invented-{i}")
                } else {
                    format!("sdk_invented{i}")
                };
                let res = app
                    .client
                    .get(app.url("/api/v1/me"))
                    .bearer_auth(token)
                    // Not a trusted proxy: the forwarded address must not count.
                    .header("x-forwarded-for", format!("203.0.113.{}", i % 250))
                    .send()
                    .await
                    .unwrap();
                let (status, _, headers) = problem(res).await;
                if status == 429 {
                    assert!(header_u64(&headers, "retry-after") >= 1);
                    assert_eq!(header_u64(&headers, "ratelimit-remaining"), 0);
                    assert!(header_u64(&headers, "ratelimit-reset") >= 1);
                }
                status
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let unauthorised = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(unauthorised + limited, 1000, "{statuses:?}");
    // The admin's login at start-up was anonymous too: at most 19 of 20 are left.
    assert!(
        unauthorised <= 20,
        "{unauthorised} invented credentials were each given a budget of their own"
    );
    assert!(limited >= 980);
    let keys = rate_limit_keys(&app).await;
    assert!(
        keys <= 2,
        "1 000 invented credentials left {keys} keys in the limiter"
    );

    // The admin, authenticated from the same address, has a budget of his own.
    let res = app.get("/api/v1/me").await;
    assert_eq!(res.status(), 200);
    let limit = header_u64(res.headers(), "ratelimit-limit");
    let first = header_u64(res.headers(), "ratelimit-remaining");
    let reset = header_u64(res.headers(), "ratelimit-reset");
    assert_eq!(limit, 20);
    assert_eq!(first, 19);
    // Seconds until the bucket is full again: one used request takes 1 000 s to come back.
    assert_eq!(reset, 1000);
    assert_eq!(res.headers()["ratelimit-policy"], "20;w=20000");
    let res = app.get("/api/v1/me").await;
    assert_eq!(header_u64(res.headers(), "ratelimit-remaining"), 18);
    assert_eq!(header_u64(res.headers(), "ratelimit-reset"), 2000);
    assert!(rate_limit_keys(&app).await <= 2);
}

#[tokio::test]
async fn forwarded_addresses_count_only_through_a_trusted_proxy() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_burst = 3.0;
        c.rate_limit_per_second = 0.001;
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let anonymous = |forwarded: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/api/v1/me"))
                .header("x-forwarded-for", forwarded)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for _ in 0..3 {
        assert_eq!(anonymous("198.51.100.1").await, 401);
    }
    assert_eq!(anonymous("198.51.100.1").await, 429);
    // Another client behind the same proxy has a budget of its own ...
    assert_eq!(anonymous("198.51.100.2").await, 401);
    // ... and the chain is read from the right, past trusted proxies only: an address the
    // client put in front of its own is not believed.
    assert_eq!(
        anonymous("198.51.100.3, 198.51.100.1, 127.0.0.5").await,
        429
    );
    assert_eq!(anonymous("198.51.100.4, 198.51.100.1").await, 429);
    assert_eq!(anonymous("198.51.100.1, 198.51.100.5").await, 401);
}

// ---- Accounts ----------------------------------------------------------------------------

#[tokio::test]
async fn deactivation_and_role_changes_take_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let (id, token) = app
        .user_with_roles("deputy.admin@example.com", &["admin"])
        .await;
    let as_him = |method: Method, path: &str| app.request(method, path, &token);
    let res = as_him(Method::GET, "/api/v1/users").send().await.unwrap();
    assert_eq!(res.status(), 200);

    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"roles": ["sales_manager"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // The same access token, the next request: no admin powers any more.
    let res = as_him(Method::POST, "/api/v1/users")
        .json(&json!({"email": "x@example.com", "name": "X"}))
        .send()
        .await
        .unwrap();
    let (status, body, _) = problem(res).await;
    assert_eq!(status, 403, "{body}");
    // Still a sales manager.
    let res = as_him(Method::GET, "/api/v1/companies")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = app
        .patch(&format!("/api/v1/users/{id}"), &json!({"active": false}))
        .await;
    assert_eq!(res.status(), 200);
    let res = as_him(Method::GET, "/api/v1/me").send().await.unwrap();
    let (status, body, _) = problem(res).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "invalid_token");
    let res = as_him(Method::GET, "/api/v1/companies")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_last_active_admin_keeps_his_role_and_account() {
    let app = TestApp::spawn().await;
    let me: Value = app.get("/api/v1/me").await.json().await.unwrap();
    let my_id = me["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/users/{my_id}");
    // A deactivated admin does not count.
    let (other, _) = app
        .user_with_roles("former.admin@example.com", &["admin"])
        .await;
    let res = app
        .patch(&format!("/api/v1/users/{other}"), &json!({"active": false}))
        .await;
    assert_eq!(res.status(), 200);

    for change in [
        json!({"roles": ["head"]}),
        json!({"active": false}),
        json!({"roles": []}),
    ] {
        let (status, body, _) = problem(app.patch(&path, &change).await).await;
        assert_eq!(status, 409, "{change}: {body}");
        assert_eq!(body["code"], "last_admin");
        assert!(
            body["detail"].as_str().unwrap().contains("last_admin"),
            "{body}"
        );
    }
    let me: Value = app.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["admin"]));
    assert_eq!(me["active"], true);
    // Other changes of the last admin are fine.
    let res = app.patch(&path, &json!({"name": "Главный админ"})).await;
    assert_eq!(res.status(), 200);

    // With a second active admin, he may step down.
    app.user_with_roles("next.admin@example.com", &["admin"])
        .await;
    let res = app.patch(&path, &json!({"roles": ["head"]})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn failed_logins_back_off_per_account_without_locking_the_owner_out() {
    let app = TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.1".into()]).await;
    app.user_with_roles("target@example.com", &["sales_manager"])
        .await;
    app.user_with_roles("bystander@example.com", &["sales_manager"])
        .await;
    let login = |email: &'static str, password: &'static str, from: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", from)
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap();
            problem(res).await
        }
    };
    const ATTACKER: &str = "198.51.100.66";
    for _ in 0..5 {
        let (status, body, _) = login("target@example.com", "guess", ATTACKER).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body, headers) = login("target@example.com", "guess", ATTACKER).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "login_throttled");
    let first_wait = header_u64(&headers, "retry-after");
    assert!((1..=4).contains(&first_wait), "{first_wait}");
    // While the delay runs even the right password is not checked from there.
    let (status, _, _) = login("target@example.com", "password-123", ATTACKER).await;
    assert_eq!(status, 429);
    // However hard the attacker hammers, a delay never exceeds 30 s: refused attempts do not
    // lengthen it, and each admitted failure at most doubles it up to that cap.
    let mut throttled = 0;
    for _ in 0..60 {
        let (status, body, headers) = login("target@example.com", "guess", ATTACKER).await;
        match status.as_u16() {
            429 => {
                throttled += 1;
                assert!(header_u64(&headers, "retry-after") <= 30, "{headers:?}");
            }
            401 => {}
            other => panic!("{other}: {body}"),
        }
    }
    assert!(throttled > 0);
    // The owner, from his own address, is not locked out; another account from the
    // attacker's address is not either.
    let (status, body, _) = login("target@example.com", "password-123", "192.0.2.10").await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = login("bystander@example.com", "password-123", ATTACKER).await;
    assert_eq!(status, 200, "{body}");
}

// ---- Idempotency across a crash -----------------------------------------------------------

async fn login(client: &reqwest::Client, base: &str) -> String {
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

const CREATIONS: usize = 200;

/// Creation `i`: users and companies alternately, each with its key.
fn creation(i: usize) -> (&'static str, Value, String) {
    if i.is_multiple_of(2) {
        (
            "/api/v1/users",
            json!({"email": format!("crash-{i}@example.com"), "name": format!("Crash {i}")}),
            format!("crash-key-{i}"),
        )
    } else {
        (
            "/api/v1/companies",
            json!({"name": format!("Crash company {i}"), "types": ["client"]}),
            format!("crash-key-{i}"),
        )
    }
}

/// One attempt: the status, whether it was a replay, and the body; `None` when the server
/// did not answer (it was killed, or not up).
async fn send_creation(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    i: usize,
) -> Option<(u16, bool, Value)> {
    let (path, body, key) = creation(i);
    let res = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .ok()?;
    let status = res.status().as_u16();
    let replayed = res
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let body = res.json::<Value>().await.ok()?;
    Some((status, replayed, body))
}

async fn all_pages(client: &reqwest::Client, base: &str, token: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}{path}&limit=200");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

#[tokio::test]
async fn keyed_creations_land_exactly_once_across_a_sigkill() {
    let data_dir = temp_dir();
    let database = fresh_database(&data_dir).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut server = ChildServer::start(&database.url, &data_dir).await;
    let token = login(&client, &server.base).await;

    // 200 keyed creations, 12 at a time; the server is killed once 60 have answered.
    let answered = AtomicUsize::new(0);
    let mut first: HashMap<usize, Option<(u16, bool, Value)>> = HashMap::new();
    {
        let base = server.base.clone();
        let mut stream = futures_util::stream::iter(0..CREATIONS)
            .map(|i| {
                let (client, base, token, answered) = (&client, &base, &token, &answered);
                async move {
                    let r = send_creation(client, base, token, i).await;
                    if r.is_some() {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    (i, r)
                }
            })
            .buffer_unordered(12);
        let mut killed = false;
        while let Some((i, r)) = stream.next().await {
            first.insert(i, r);
            if !killed && answered.load(Ordering::SeqCst) >= 60 {
                server.kill().await;
                killed = true;
            }
        }
        assert!(killed);
    }
    let before_kill: Vec<usize> = (0..CREATIONS).filter(|i| first[i].is_some()).collect();
    assert!(
        before_kill.len() < CREATIONS,
        "every request was answered before the kill; nothing was interrupted"
    );
    eprintln!(
        "{} of {CREATIONS} keyed creations answered before the SIGKILL",
        before_kill.len()
    );
    for i in &before_kill {
        let (status, replayed, body) = first[i].as_ref().unwrap();
        assert_eq!(*status, 201, "creation {i} before the crash: {body}");
        assert!(!replayed);
    }

    // Restarted on the same database, every key retried until the server answers.
    let mut server = ChildServer::start(&database.url, &data_dir).await;
    let token = login(&client, &server.base).await;
    let mut answers: HashMap<usize, Value> = HashMap::new();
    for i in 0..CREATIONS {
        let mut answer = None;
        for _ in 0..20 {
            match send_creation(&client, &server.base, &token, i).await {
                Some((status, _, body)) if status >= 500 => {
                    eprintln!("creation {i}: {status} {body}");
                }
                Some(a) => {
                    answer = Some(a);
                    break;
                }
                None => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (status, replayed, body) =
            answer.unwrap_or_else(|| panic!("creation {i} never got an answer"));
        assert_eq!(
            status, 201,
            "creation {i} after the restart: not stuck, not refused as a duplicate: {body}"
        );
        if let Some((_, _, original)) = &first[&i] {
            assert!(replayed, "creation {i} had committed: it must be replayed");
            assert_eq!(&body, original, "creation {i} replays its first answer");
        }
        // Once more: from now on it is a replay of that answer.
        let (status, replayed, again) = send_creation(&client, &server.base, &token, i)
            .await
            .unwrap();
        assert_eq!((status, replayed), (201, true), "creation {i}");
        assert_eq!(again, body);
        answers.insert(i, body);
    }

    // Every creation landed exactly once, as the record its key answers.
    let users = all_pages(&client, &server.base, &token, "/api/v1/users?q=crash-").await;
    let companies = all_pages(
        &client,
        &server.base,
        &token,
        "/api/v1/companies?q=Crash%20company",
    )
    .await;
    for i in 0..CREATIONS {
        let (field, records) = if i.is_multiple_of(2) {
            ("email", &users)
        } else {
            ("name", &companies)
        };
        let (_, body, _) = creation(i);
        let matching: Vec<&Value> = records.iter().filter(|r| r[field] == body[field]).collect();
        assert_eq!(
            matching.len(),
            1,
            "creation {i} landed {} times",
            matching.len()
        );
        assert_eq!(matching[0]["id"], answers[&i]["id"], "creation {i}");
    }
    assert_eq!(users.len() + companies.len(), CREATIONS);
    server.kill().await;
}
