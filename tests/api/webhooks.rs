//! INT-1 webhooks against a real local HTTP receiver: signed deliveries of the feed's events,
//! retries with the same `webhook-id`, 410 disabling and notifying, redelivery and recovery,
//! `skip_own_credential`, refused private targets, and the owner's visibility.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sdelka_tests::{TestApp, eventually};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1:0 recording every request and answering with the
/// status at the head of `answers` (the last one stays).
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<Vec<u16>>>,
    /// A header line added to every answer (`retry-after: …`).
    extra_header: Arc<Mutex<Option<String>>>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Receiver {
        Self::start_on(0, answers).await
    }

    /// On a given port of 127.0.0.1 (0: any free one).
    async fn start_on(port: u16, answers: &[u16]) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            got: Arc::default(),
            answers: Arc::new(Mutex::new(answers.to_vec())),
            extra_header: Arc::default(),
        };
        let rr = r.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let rr = rr.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let (head_end, len) = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..p]).to_string();
                            let len = head
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            break (p + 4, len);
                        }
                    };
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut headers = HeaderMap::new();
                    for l in head.lines().skip(1) {
                        if let Some((k, v)) = l.split_once(':')
                            && let (Ok(k), Ok(v)) = (
                                HeaderName::from_bytes(k.trim().as_bytes()),
                                HeaderValue::from_str(v.trim()),
                            )
                        {
                            headers.insert(k, v);
                        }
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
                    let status = {
                        let mut a = rr.answers.lock().unwrap();
                        if a.len() > 1 { a.remove(0) } else { a[0] }
                    };
                    rr.got.lock().unwrap().push(Received { headers, body });
                    let extra = rr
                        .extra_header
                        .lock()
                        .unwrap()
                        .as_ref()
                        .map(|h| format!("{h}\r\n"))
                        .unwrap_or_default();
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\n{extra}content-length: 2\r\nconnection: close\r\n\r\nok"
                    );
                    let _ = sock.write_all(answer.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        r
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn answer(&self, status: u16) {
        *self.answers.lock().unwrap() = vec![status];
    }

    /// Waits until a delivery about record `id` of event type `ty` arrived.
    async fn wait_for(&self, ty: &str, id: &str) -> Received {
        eventually(Duration::from_secs(20), || async {
            self.got().into_iter().find(|r| {
                let v = r.json();
                v["type"] == ty && v["data"]["object"]["id"] == id
            })
        })
        .await
        .unwrap_or_else(|| panic!("no {ty} for {id} arrived; got {:?}", self.got()))
    }
}

async fn fast_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.webhook_allowed_targets = "127.0.0.0/8".into();
        c.webhook_retry_schedule_ms = "50,50,50".into();
        c.webhook_poll_ms = 20;
        c.feed_sequence_ms = 20;
    })
    .await
}

async fn subscribe(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app
        .request(Method::POST, "/api/v1/webhooks", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn create(app: &TestApp, token: &str, path: &str, body: Value) -> String {
    let res = app
        .request(Method::POST, path, token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{path}: {}", res.text().await.unwrap());
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

fn verify(secret: &str, r: &Received) {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    wh.verify(r.body.as_bytes(), &r.headers)
        .expect("the signature verifies with the official crate");
}

#[tokio::test]
async fn writes_of_several_record_types_reach_a_matching_subscription_once_signed() {
    let app = fast_app().await;
    let rx = Receiver::start(&[200]).await;
    let token = app.admin_token.clone();
    let hook = subscribe(
        &app,
        &token,
        json!({"url": rx.url, "event_types": ["company.*", "contact.*", "deal.*", "product.*"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    // The secret is shown once.
    let res = app
        .request(
            Method::GET,
            &format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap()),
            &token,
        )
        .send()
        .await
        .unwrap();
    let shown: Value = res.json().await.unwrap();
    assert!(shown.get("secret").is_none());

    let company = create(
        &app,
        &token,
        "/api/v1/companies",
        json!({"name": "Берёзка"}),
    )
    .await;
    let contact = create(
        &app,
        &token,
        "/api/v1/contacts",
        json!({"last_name": "Иванов"}),
    )
    .await;
    let deal = create(
        &app,
        &token,
        "/api/v1/deals",
        json!({"title": "Поставка", "company_id": company}),
    )
    .await;
    let product = create(
        &app,
        &token,
        "/api/v1/products",
        json!({"name": "Камера", "base_price": "100.00"}),
    )
    .await;
    let res = app
        .patch(
            &format!("/api/v1/companies/{company}"),
            &json!({"name": "Берёзка-2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // An event type outside the filter, written before the last one awaited.
    create(
        &app,
        &token,
        "/api/v1/departments",
        json!({"name": "Склад"}),
    )
    .await;
    let last = create(
        &app,
        &token,
        "/api/v1/companies",
        json!({"name": "Последняя"}),
    )
    .await;

    for (ty, id) in [
        ("company.created", &company),
        ("contact.created", &contact),
        ("deal.created", &deal),
        ("product.created", &product),
        ("company.updated", &company),
        ("company.created", &last),
    ] {
        let r = rx.wait_for(ty, id).await;
        verify(secret, &r);
        let v = r.json();
        assert_eq!(
            v["id"].as_str().unwrap(),
            r.id(),
            "webhook-id is the event id"
        );
        for k in [
            "object",
            "changed_fields",
            "actor",
            "credential",
            "correlation_id",
            "version",
            "sequence",
        ] {
            assert!(v["data"].get(k).is_some(), "data.{k} missing in {v}");
        }
    }
    let got = rx.got();
    let ids: Vec<String> = got.iter().map(Received::id).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "each event arrives once");
    assert!(got.iter().all(|r| {
        !r.json()["type"]
            .as_str()
            .unwrap()
            .starts_with("department.")
    }));
    // The same ids as the feed's events.
    let res = app
        .get("/api/v1/events?types=company.created&limit=1000")
        .await;
    let feed: Value = res.json().await.unwrap();
    let feed_ids: HashSet<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for r in got.iter().filter(|r| r.json()["type"] == "company.created") {
        assert!(feed_ids.contains(r.id().as_str()));
    }
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_webhook_id_and_the_log_shows_both_attempts() {
    let app = fast_app().await;
    let rx = Receiver::start(&[500, 200]).await;
    let token = app.admin_token.clone();
    let hook = subscribe(
        &app,
        &token,
        json!({"url": rx.url, "event_types": ["company.created"]}),
    )
    .await;
    let company = create(&app, &token, "/api/v1/companies", json!({"name": "Ретрай"})).await;
    let deliveries = eventually(Duration::from_secs(20), || async {
        let page: Value = app
            .get(&format!(
                "/api/v1/webhook-deliveries?webhook_id={}&state=delivered",
                hook["id"].as_str().unwrap()
            ))
            .await
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap().clone();
        (!items.is_empty()).then_some(items)
    })
    .await
    .expect("the delivery succeeds on the retry");
    let log = deliveries[0]["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["status"], 500);
    assert_eq!(log[1]["status"], 200);
    assert_eq!(log[1]["response"], "ok");
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].id(),
        got[1].id(),
        "the retry carries the same webhook-id"
    );
    assert_eq!(got[1].json()["data"]["object"]["id"], company.as_str());
    verify(hook["secret"].as_str().unwrap(), &got[1]);
}

#[tokio::test]
async fn a_410_disables_and_notifies_then_recover_and_redeliver_send_again() {
    let app = fast_app().await;
    let rx = Receiver::start(&[410]).await;
    let token = app.admin_token.clone();
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let hook = subscribe(
        &app,
        &token,
        json!({"url": rx.url, "event_types": ["company.created"]}),
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let company = create(&app, &token, "/api/v1/companies", json!({"name": "Гоне"})).await;
    let disabled = eventually(Duration::from_secs(20), || async {
        let w: Value = app
            .get(&format!("/api/v1/webhooks/{hook_id}"))
            .await
            .json()
            .await
            .unwrap();
        (w["active"] == false).then_some(w)
    })
    .await
    .expect("a 410 disables the subscription");
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    let inbox: Value = app.get("/api/v1/notifications").await.json().await.unwrap();
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "webhook_disabled"),
        "{inbox}"
    );
    let events: Value = app
        .get("/api/v1/events?types=webhook.disabled")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
    assert_eq!(rx.got().len(), 1);

    // Re-enable and recover what failed.
    rx.answer(200);
    let res = app
        .patch(
            &format!("/api/v1/webhooks/{hook_id}"),
            &json!({"active": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(
            &format!("/api/v1/webhooks/{hook_id}/recover"),
            &json!({"since": since}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["requeued"], 1);
    eventually(Duration::from_secs(20), || async {
        (rx.got().len() == 2).then_some(())
    })
    .await
    .expect("the recovered delivery arrives");
    let got = rx.got();
    assert_eq!(got[0].id(), got[1].id());
    assert_eq!(got[1].json()["data"]["object"]["id"], company.as_str());

    // Redeliver the (now delivered) delivery: the same body and id once more.
    let page: Value = app
        .get(&format!(
            "/api/v1/webhook-deliveries?webhook_id={hook_id}&state=delivered"
        ))
        .await
        .json()
        .await
        .unwrap();
    let delivery = page["items"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            &format!("/api/v1/webhook-deliveries/{delivery}/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    eventually(Duration::from_secs(20), || async {
        (rx.got().len() == 3).then_some(())
    })
    .await
    .expect("the redelivery arrives");
    let got = rx.got();
    assert_eq!(got[2].id(), got[0].id());
    assert_eq!(
        got[2].body, got[0].body,
        "the body is the one captured, not rebuilt"
    );

    // A test event.
    let res = app
        .post(&format!("/api/v1/webhooks/{hook_id}/test"), &json!({}))
        .await;
    assert_eq!(res.status(), 202);
    eventually(Duration::from_secs(20), || async {
        rx.got()
            .iter()
            .any(|r| r.json()["type"] == "webhook.test")
            .then_some(())
    })
    .await
    .expect("the test event arrives");
}

#[tokio::test]
async fn events_of_the_subscriptions_own_credential_are_skipped_when_asked() {
    let app = fast_app().await;
    let rx = Receiver::start(&[200]).await;
    let res = app.post("/api/v1/api-tokens", &json!({"name": "1C"})).await;
    assert_eq!(res.status(), 201);
    let tok: Value = res.json().await.unwrap();
    let integration = tok["secret"].as_str().unwrap().to_owned();
    subscribe(
        &app,
        &integration,
        json!({"url": rx.url, "event_types": ["company.created"], "skip_own_credential": true}),
    )
    .await;
    let own = create(
        &app,
        &integration,
        "/api/v1/companies",
        json!({"name": "Своя"}),
    )
    .await;
    let other = create(
        &app,
        &app.admin_token,
        "/api/v1/companies",
        json!({"name": "Чужая"}),
    )
    .await;
    rx.wait_for("company.created", &other).await;
    assert!(
        rx.got()
            .iter()
            .all(|r| r.json()["data"]["object"]["id"] != own.as_str()),
        "the integration's own write came back"
    );
}

#[tokio::test]
async fn a_private_target_is_refused_unless_allow_listed() {
    let app = TestApp::spawn().await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest",
        "http://[::1]:8080/",
        "http://localhost:9/x",
    ] {
        let res = app.post("/api/v1/webhooks", &json!({"url": url})).await;
        assert_eq!(res.status(), 422, "{url}");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "url", "{p}");
        assert_eq!(p["errors"][0]["code"], "target_not_allowed", "{p}");
    }
    let res = app
        .post("/api/v1/webhooks", &json!({"url": "ftp://example.com/"}))
        .await;
    assert_eq!(res.status(), 422);
    let allowed = fast_app().await;
    let res = allowed
        .post("/api/v1/webhooks", &json!({"url": "http://127.0.0.1:9/x"}))
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn a_managers_subscription_gets_no_events_of_records_he_may_not_read() {
    let app = fast_app().await;
    let rx = Receiver::start(&[200]).await;
    let (_, anna) = app
        .user_with_roles("anna@example.com", &["sales_manager"])
        .await;
    let (_, boris) = app
        .user_with_roles("boris@example.com", &["sales_manager"])
        .await;
    subscribe(
        &app,
        &anna,
        json!({"url": rx.url, "event_types": ["company.*"]}),
    )
    .await;
    let hidden = create(&app, &boris, "/api/v1/companies", json!({"name": "Бориса"})).await;
    let seen = create(&app, &anna, "/api/v1/companies", json!({"name": "Анны"})).await;
    rx.wait_for("company.created", &seen).await;
    assert!(
        rx.got()
            .iter()
            .all(|r| r.json()["data"]["object"]["id"] != hidden.as_str()),
        "Anna received an event of Boris's company"
    );
    // Anna sees only her subscriptions' deliveries.
    let res = app
        .request(Method::GET, "/api/v1/webhook-deliveries", &boris)
        .send()
        .await
        .unwrap();
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
}

/// Sends one request as `token`; it must succeed. Answers the body.
async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Value {
    let res = app
        .request(method.clone(), path, token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn verifies(secret: &str, r: &Received) -> bool {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(r.body.as_bytes(), &r.headers)
        .is_ok()
}

fn signatures(r: &Received) -> Vec<String> {
    r.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_during_the_grace_period_only() {
    let app = fast_app().await;
    let rx = Receiver::start(&[200]).await;
    let token = app.admin_token.clone();
    let hook = subscribe(
        &app,
        &token,
        json!({"url": rx.url, "event_types": ["company.*"]}),
    )
    .await;
    let id = hook["id"].as_str().unwrap();
    let first = hook["secret"].as_str().unwrap().to_owned();
    let rotate = format!("/api/v1/webhooks/{id}/rotate-secret");

    // The default grace period: a day.
    let rotated = call(&app, &token, Method::POST, &rotate, json!({})).await;
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whsec_") && second != first);
    let until: chrono::DateTime<chrono::Utc> = rotated["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let updated: chrono::DateTime<chrono::Utc> =
        rotated["updated_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(until - updated, chrono::Duration::hours(24));
    let shown = call(
        &app,
        &token,
        Method::GET,
        &format!("/api/v1/webhooks/{id}"),
        json!({}),
    )
    .await;
    assert!(
        shown.get("secret").is_none(),
        "the new secret is shown once"
    );

    let a = create(
        &app,
        &token,
        "/api/v1/companies",
        json!({"name": "Ротация"}),
    )
    .await;
    let r = rx.wait_for("company.created", &a).await;
    assert_eq!(signatures(&r).len(), 2, "new and old: {:?}", signatures(&r));
    assert!(verifies(&second, &r), "the new secret verifies");
    assert!(verifies(&first, &r), "the old secret still verifies");

    // No grace: the secret before stops signing at once.
    let rotated = call(
        &app,
        &token,
        Method::POST,
        &rotate,
        json!({"grace_period_seconds": 0}),
    )
    .await;
    let third = rotated["secret"].as_str().unwrap().to_owned();
    assert!(rotated["previous_secret_expires_at"].is_null());
    let b = create(&app, &token, "/api/v1/companies", json!({"name": "После"})).await;
    let r = rx.wait_for("company.created", &b).await;
    assert_eq!(signatures(&r).len(), 1);
    assert!(verifies(&third, &r));
    assert!(!verifies(&second, &r) && !verifies(&first, &r));

    // A grace period longer than a week is refused, by field.
    let res = app
        .request(Method::POST, &rotate, &token)
        .json(&json!({"grace_period_seconds": 604_801}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(
        problem["errors"][0]["field"], "grace_period_seconds",
        "{problem}"
    );
}

#[tokio::test]
async fn a_retry_after_http_date_postpones_the_next_attempt() {
    let app = fast_app().await;
    let rx = Receiver::start(&[503]).await;
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    *rx.extra_header.lock().unwrap() = Some(format!(
        "retry-after: {}",
        later.format("%a, %d %b %Y %H:%M:%S GMT")
    ));
    let token = app.admin_token.clone();
    let hook = subscribe(
        &app,
        &token,
        json!({"url": rx.url, "event_types": ["company.created"]}),
    )
    .await;
    let c = create(&app, &token, "/api/v1/companies", json!({"name": "Занято"})).await;
    rx.wait_for("company.created", &c).await;
    let list = format!(
        "/api/v1/webhook-deliveries?webhook_id={}",
        hook["id"].as_str().unwrap()
    );
    let d = eventually(Duration::from_secs(20), || async {
        let page = call(&app, &token, Method::GET, &list, json!({})).await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["last_status"] == 503)
            .cloned()
    })
    .await
    .expect("the 503 attempt is logged");
    let next: chrono::DateTime<chrono::Utc> =
        d["next_attempt_at"].as_str().unwrap().parse().unwrap();
    // The schedule alone would retry after 50 ms; the date asks for two hours.
    assert!(
        next >= later - chrono::Duration::seconds(5),
        "next attempt {next}, Retry-After {later}"
    );
    assert_eq!(d["attempts"], 1, "{d}");
}

#[tokio::test]
async fn a_host_name_target_is_checked_at_every_connection_by_the_addresses_it_resolves_to() {
    let mut app = fast_app().await;
    let rx = Receiver::start(&[200]).await;
    let token = app.admin_token.clone();
    // `localhost` resolves to 127.0.0.1 here, which the allow-list admits.
    let url = rx.url.replace("127.0.0.1", "localhost");
    let hook = subscribe(
        &app,
        &token,
        json!({"url": url, "event_types": ["company.created"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let a = create(
        &app,
        &token,
        "/api/v1/companies",
        json!({"name": "По имени"}),
    )
    .await;
    verify(&secret, &rx.wait_for("company.created", &a).await);

    // The same name once its address is no longer admitted (as if it had been re-pointed at
    // an internal address after the subscription was made): the resolver refuses it, so no
    // connection is made.
    app.restart_with(|c| c.webhook_allowed_targets = String::new())
        .await;
    let b = create(&app, &token, "/api/v1/companies", json!({"name": "Отказ"})).await;
    let list = format!(
        "/api/v1/webhook-deliveries?webhook_id={}",
        hook["id"].as_str().unwrap()
    );
    let refused = eventually(Duration::from_secs(20), || async {
        let page = call(&app, &token, Method::GET, &list, json!({})).await;
        page["items"].as_array().unwrap().iter().find_map(|d| {
            let err = d["last_error"].as_str()?;
            (d["attempts"].as_i64() >= Some(1) && err.contains("loopback, private or link-local"))
                .then(|| err.to_owned())
        })
    })
    .await
    .expect("the attempt is refused");
    assert!(refused.contains("127.0.0.1"), "{refused}");
    assert!(
        rx.got()
            .iter()
            .all(|r| r.json()["data"]["object"]["id"] != b.as_str()),
        "nothing reached the receiver"
    );
}

/// Every write of every record type — companies, contacts, legal entities, deals and their
/// product rows, leads, products, quotes, orders, invoices, payments, tasks — reaches a
/// subscription to every event exactly once, signed: the ids the receiver got are exactly the
/// feed's events.
#[tokio::test]
async fn every_write_of_every_record_type_reaches_a_matching_subscription_once() {
    let app = fast_app().await;
    let rx = Receiver::start(&[200]).await;
    let t = app.admin_token.clone();
    let head: Value = call(&app, &t, Method::GET, "/api/v1/events/head", json!({})).await;
    let start = head["cursor"].as_str().unwrap().to_owned();
    // The subscription's own creation is an event too, and is delivered.
    let hook = subscribe(&app, &t, json!({"url": rx.url})).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let (post, patch, delete) = (Method::POST, Method::PATCH, Method::DELETE);
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();

    let org = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/organizations",
        sdelka_tests::organization_body("WH", "ООО «Крюк»"),
    )
    .await);
    for (doc, template) in [
        ("quote", "КП-{N:5}"),
        ("order", "З-{N:5}"),
        ("invoice", "СЧ-{N:5}"),
    ] {
        call(
            &app,
            &t,
            post.clone(),
            "/api/v1/numbering-templates",
            json!({
            "organization_id": org, "document_type": doc, "template": template, "reset": "never"}),
        )
        .await;
    }
    let company = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/companies",
        json!({"name": "ТСЖ «Берёзка»", "types": ["client"]}),
    )
    .await);
    call(
        &app,
        &t,
        patch.clone(),
        &format!("/api/v1/companies/{company}"),
        json!({"name": "ТСЖ «Берёзка-2»"}),
    )
    .await;
    let spare = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/companies",
        json!({"name": "Лишняя"}),
    )
    .await);
    call(
        &app,
        &t,
        delete.clone(),
        &format!("/api/v1/companies/{spare}"),
        Value::Null,
    )
    .await;
    let buyer = id(&call(&app, &t, post.clone(), "/api/v1/legal-entities", json!({
        "company_id": company, "kind": "legal_entity", "full_name": "ТСЖ «Берёзка»",
        "short_name": "Берёзка", "inn": "7707083893", "kpp": "773601001", "legal_address": "Москва"})).await);
    call(
        &app,
        &t,
        patch.clone(),
        &format!("/api/v1/legal-entities/{buyer}"),
        json!({"signatory_name": "Петрова А. С."}),
    )
    .await;
    let contact = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/contacts",
        json!({"last_name": "Покупателев", "first_name": "Иван",
               "emails": ["buyer@example.com"]}),
    )
    .await);
    call(
        &app,
        &t,
        patch.clone(),
        &format!("/api/v1/contacts/{contact}"),
        json!({"first_name": "Пётр"}),
    )
    .await;
    let product = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/products",
        json!({"name": "Камера IP", "sku": "CAM-WH", "base_price": "12500.00", "vat_rate": "22"}),
    )
    .await);
    call(
        &app,
        &t,
        patch.clone(),
        &format!("/api/v1/products/{product}"),
        json!({"base_price": "12000.00"}),
    )
    .await;
    let lead = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/leads",
        json!({"company_name": "ТСЖ «Рябинка»", "phone": "8 (495) 123-45-67"}),
    )
    .await);
    call(
        &app,
        &t,
        patch.clone(),
        &format!("/api/v1/leads/{lead}"),
        json!({"category": "A"}),
    )
    .await;
    let deal = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/deals",
        json!({
        "title": "Видеонаблюдение", "company_id": company, "legal_entity_id": buyer,
        "contact_ids": [contact]}),
    )
    .await);
    call(
        &app,
        &t,
        patch.clone(),
        &format!("/api/v1/deals/{deal}"),
        json!({"expected_close_date": "2099-12-31"}),
    )
    .await;
    call(
        &app,
        &t,
        post.clone(),
        &format!("/api/v1/deals/{deal}/product-rows"),
        json!({"product_id": product, "quantity": "4", "price": "12500.00", "vat_rate": "22"}),
    )
    .await;
    let quote = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/quotes",
        json!({"deal_id": deal, "organization_id": org, "contact_id": contact}),
    )
    .await);
    for action in ["send", "accept"] {
        call(
            &app,
            &t,
            post.clone(),
            &format!("/api/v1/quotes/{quote}/actions/{action}"),
            json!({}),
        )
        .await;
    }
    let order = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/orders",
        json!({"quote_id": quote, "advance_percent": "50"}),
    )
    .await);
    let invoice = id(&call(
        &app,
        &t,
        post.clone(),
        "/api/v1/invoices",
        json!({"organization_id": org, "order_id": order, "due_date": "2099-12-31"}),
    )
    .await);
    call(
        &app,
        &t,
        post.clone(),
        &format!("/api/v1/invoices/{invoice}/actions/issue"),
        json!({}),
    )
    .await;
    call(
        &app,
        &t,
        post.clone(),
        "/api/v1/payments",
        json!({
        "date": "2026-11-21", "amount": "10000.00", "payer_legal_entity_id": buyer,
        "payment_order_number": "101", "purpose": "Аванс",
        "applications": [{"invoice_id": invoice, "amount": "10000.00"}]}),
    )
    .await;
    call(
        &app,
        &t,
        post.clone(),
        "/api/v1/tasks",
        json!({
        "title": "Акт сверки", "role": "accountant", "due_at": "2030-01-01T10:00:00Z"}),
    )
    .await;

    // What the feed holds from the subscription's own creation on is what must arrive
    // (events committed before it may still be positioned after `start`, and are not).
    let mut expected = feed_since(&app, &t, &start).await;
    let created = expected
        .iter()
        .position(|(_, ty)| ty == "webhook.created")
        .expect("the subscription's creation is in the feed");
    expected.drain(..created);
    let types: HashSet<&str> = expected
        .iter()
        .filter_map(|(_, ty)| ty.split('.').next())
        .collect();
    for kind in [
        "company",
        "legal_entity",
        "contact",
        "product",
        "lead",
        "deal",
        "product_row",
        "quote",
        "order",
        "invoice",
        "payment",
        "task",
    ] {
        assert!(types.contains(kind), "no {kind} event among {types:?}");
    }
    let want: HashSet<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
    let arrived = eventually(Duration::from_secs(60), || async {
        let got: HashSet<String> = rx.got().iter().map(Received::id).collect();
        want.iter().all(|id| got.contains(*id)).then_some(())
    })
    .await;
    let got = rx.got();
    let ids: Vec<String> = got.iter().map(Received::id).collect();
    assert!(
        arrived.is_some(),
        "missing: {:?}",
        want.iter()
            .filter(|id| !ids.iter().any(|g| g == *id))
            .collect::<Vec<_>>()
    );
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event arrived twice");
    // Anything else that arrived is an event of the feed too (written since by a worker).
    let feed = feed_since(&app, &t, &start).await;
    for r in &got {
        verify(&secret, r);
        let (_, ty) = feed
            .iter()
            .find(|(id, _)| *id == r.id())
            .unwrap_or_else(|| panic!("an event not in the feed arrived: {}", r.body));
        assert_eq!(r.json()["type"], ty.as_str());
    }
}

/// The feed's events after `cursor`: (id, type).
async fn feed_since(app: &TestApp, token: &str, cursor: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cursor = cursor.to_owned();
    loop {
        let page = call(
            app,
            token,
            Method::GET,
            &format!("/api/v1/events?after={cursor}&limit=500"),
            json!({}),
        )
        .await;
        for e in page["items"].as_array().unwrap() {
            out.push((
                e["id"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
            ));
        }
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if !page["has_more"].as_bool().unwrap() {
            return out;
        }
    }
}

/// Nothing is lost across a crash: 500 deliveries queued while the receiver is down, the
/// server (a child process) killed with SIGKILL, started again with the receiver up — every
/// event arrives, and a repeat is only ever the same event under the same `webhook-id`.
#[tokio::test]
async fn five_hundred_queued_deliveries_survive_a_sigkill() {
    use sdelka_tests::child::{ChildServer, free_port};
    let data_dir = sdelka_tests::temp_dir();
    let database = sdelka_tests::fresh_database(&data_dir).await;
    let rx_port = free_port();
    // Half a second between attempts, for long enough that the subscription is not disabled
    // while the receiver is down.
    let schedule = vec!["500"; 400].join(",");
    let env = [
        ("SDELKA_WEBHOOK_ALLOWED_TARGETS", "127.0.0.0/8".to_owned()),
        ("SDELKA_WEBHOOK_RETRY_SCHEDULE_MS", schedule),
        ("SDELKA_WEBHOOK_POLL_MS", "20".to_owned()),
        ("SDELKA_FEED_SEQUENCE_MS", "20".to_owned()),
    ];
    let mut server = ChildServer::start_with(&database.url, &data_dir, &env).await;
    let client = reqwest::Client::new();
    let token = {
        let res = client
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&json!({"email": sdelka_tests::ADMIN_EMAIL, "password": sdelka_tests::ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let post = |base: String, path: &'static str, body: Value| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            let res = client
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let v: Value = res.json().await.unwrap();
            assert!(status.is_success(), "{path}: {status} {v}");
            v
        }
    };
    let hook = post(
        server.base.clone(),
        "/api/v1/webhooks",
        json!({"url": format!("http://127.0.0.1:{rx_port}/hook"), "event_types": ["company.created"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let items: Vec<Value> = (0..500)
        .map(|i| {
            json!({"external_id": {"source": "1c", "id": format!("crash-{i:04}")},
                        "name": format!("Компания {i}")})
        })
        .collect();
    let bulk = post(
        server.base.clone(),
        "/api/v1/companies/bulk-upsert",
        json!({"items": items}),
    )
    .await;
    assert_eq!(bulk["created"], 500, "{bulk}");

    // Wait until deliveries are queued and failing (the receiver is down), then kill.
    let deliveries = |base: String| {
        let (client, token, hook_id) = (client.clone(), token.clone(), hook_id.clone());
        async move {
            client
                .get(format!(
                    "{base}/api/v1/webhook-deliveries?webhook_id={hook_id}&limit=200"
                ))
                .bearer_auth(token)
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()
        }
    };
    let base = server.base.clone();
    eventually(Duration::from_secs(120), || async {
        let page = deliveries(base.clone()).await?;
        let items = page["items"].as_array()?;
        (items.len() >= 100 && items.iter().any(|d| d["attempts"].as_i64() >= Some(1)))
            .then_some(())
    })
    .await
    .expect("deliveries are queued and attempted");
    server.kill().await;

    // The receiver comes up where the subscription points; the server starts again.
    let rx = Receiver::start_on(rx_port, &[200]).await;
    let mut server = ChildServer::start_with(&database.url, &data_dir, &env).await;
    let events: Vec<String> = {
        let mut out = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let page: Value = client
                .get(format!(
                    "{}/api/v1/events?after={cursor}&limit=500&types=company.created",
                    server.base
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for e in page["items"].as_array().unwrap() {
                out.push(e["id"].as_str().unwrap().to_owned());
            }
            cursor = page["next_cursor"].as_str().unwrap().to_owned();
            if !page["has_more"].as_bool().unwrap() {
                break out;
            }
        }
    };
    assert_eq!(events.len(), 500);
    // Deliveries leased by the killed process are sent once their lease (a minute) runs out.
    let all = eventually(Duration::from_secs(240), || async {
        let got: HashSet<String> = rx.got().iter().map(Received::id).collect();
        events.iter().all(|e| got.contains(e)).then_some(())
    })
    .await;
    let got = rx.got();
    let ids: HashSet<String> = got.iter().map(Received::id).collect();
    assert!(
        all.is_some(),
        "{} of 500 events arrived after the restart",
        events.iter().filter(|e| ids.contains(*e)).count()
    );
    assert_eq!(ids.len(), 500, "only the 500 events arrive");
    let mut bodies: std::collections::HashMap<String, String> = Default::default();
    for r in &got {
        verify(&secret, r);
        let body = bodies.entry(r.id()).or_insert_with(|| r.body.clone());
        assert_eq!(
            *body, r.body,
            "a repeat under one webhook-id is the same event"
        );
        assert_eq!(r.json()["id"].as_str().unwrap(), r.id());
    }
    eprintln!(
        "{} requests for 500 events ({} repeats)",
        got.len(),
        got.len() - 500
    );
    server.kill().await;
}

/// A subscription receives the events positioned after it was created or switched back on,
/// however far the dispatcher lags: with the dispatcher held back, a company written before
/// the subscription and one written while it was off never arrive; the rest do.
#[tokio::test]
async fn a_subscription_gets_only_what_was_written_while_it_was_on() {
    let mut app = TestApp::spawn_with(|c| {
        c.webhook_allowed_targets = "127.0.0.0/8".into();
        c.webhook_retry_schedule_ms = "50,50,50".into();
        c.webhook_poll_ms = 3_600_000;
        c.feed_sequence_ms = 20;
    })
    .await;
    let rx = Receiver::start(&[200]).await;
    let t = app.admin_token.clone();
    let before = create(
        &app,
        &t,
        "/api/v1/companies",
        json!({"name": "До подписки"}),
    )
    .await;
    positioned(&app, &t, &before).await;
    let hook = subscribe(
        &app,
        &t,
        json!({"url": rx.url, "event_types": ["company.*"]}),
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let on = create(
        &app,
        &t,
        "/api/v1/companies",
        json!({"name": "Пока включена"}),
    )
    .await;
    let off = |active: bool| json!({ "active": active });
    call(
        &app,
        &t,
        Method::PATCH,
        &format!("/api/v1/webhooks/{hook_id}"),
        off(false),
    )
    .await;
    let while_off = create(
        &app,
        &t,
        "/api/v1/companies",
        json!({"name": "Пока выключена"}),
    )
    .await;
    positioned(&app, &t, &while_off).await;
    call(
        &app,
        &t,
        Method::PATCH,
        &format!("/api/v1/webhooks/{hook_id}"),
        off(true),
    )
    .await;
    let again = create(
        &app,
        &t,
        "/api/v1/companies",
        json!({"name": "Снова включена"}),
    )
    .await;
    positioned(&app, &t, &again).await;
    assert!(rx.got().is_empty(), "the dispatcher was held back");

    app.restart_with(|c| c.webhook_poll_ms = 20).await;
    let object = |r: &Received| {
        r.json()["data"]["object"]["id"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    eventually(Duration::from_secs(60), || async {
        let got: Vec<String> = rx.got().iter().map(object).collect();
        (got.contains(&on) && got.contains(&again)).then_some(())
    })
    .await
    .expect("what was written while the subscription was on arrives");
    // Once the last one arrived the dispatcher has passed every earlier position, so the
    // delivery log holds every delivery it will ever write for them.
    let got: Vec<String> = rx.got().iter().map(object).collect();
    assert!(
        !got.contains(&before),
        "an event from before the subscription arrived"
    );
    assert!(
        !got.contains(&while_off),
        "an event from while it was off arrived"
    );
    let log: Value = call(
        &app,
        &t,
        Method::GET,
        "/api/v1/webhook-deliveries?limit=200",
        json!({}),
    )
    .await;
    let logged = log["items"].as_array().map_or(0, Vec::len);
    assert_eq!(logged, 2, "{log}");
}

/// Waits until the feed holds an event of the record `id`.
async fn positioned(app: &TestApp, token: &str, id: &str) {
    eventually(Duration::from_secs(30), || async {
        let page: Value = call(
            app,
            token,
            Method::GET,
            "/api/v1/events?limit=500",
            json!({}),
        )
        .await;
        page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["data"]["object"]["id"] == id)
            .then_some(())
    })
    .await
    .expect("the write reaches the feed");
}

#[tokio::test]
async fn a_process_step_calls_the_subscription_of_its_url_once_signed() {
    let app = fast_app().await;
    let rx = Receiver::start(&[204]).await;
    let token = app.admin_token.clone();
    let definition = json!({"entity_type": "deal", "name": "Сделка в 1С", "steps": [
        {"id": "tell_1c", "kind": "action",
         "action": {"type": "call_webhook", "url": rx.url, "event": "crm.deal_opened"}},
        {"id": "work", "kind": "task", "title": "Работать", "assignees": [{"type": "responsible"}]}
    ]});
    let template = create(
        &app,
        &token,
        "/api/v1/process-templates",
        json!({"code": "deal_to_1c", "name": "Сделка в 1С", "entity_type": "deal",
               "start_mode": "on_create", "definition": definition}),
    )
    .await;
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/process-templates/{template}/versions/1/publish"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // No subscription for the URL yet: the step's action fails and nothing is sent.
    let before = create(
        &app,
        &token,
        "/api/v1/deals",
        json!({"title": "До подписки"}),
    )
    .await;
    // The subscription of the integration, for other events; the process calls it all the same.
    let sub = subscribe(
        &app,
        &token,
        json!({"url": rx.url, "event_types": ["invoice.paid"]}),
    )
    .await;
    let secret = sub["secret"].as_str().unwrap().to_owned();
    let deal = create(
        &app,
        &token,
        "/api/v1/deals",
        json!({"title": "Камеры для склада"}),
    )
    .await;
    let got = rx.wait_for("crm.deal_opened", &deal).await;
    verify(&secret, &got);
    let body = got.json();
    assert_eq!(body["data"]["object"]["title"], "Камеры для склада");
    assert_eq!(body["data"]["process"]["step"], "tell_1c");
    assert_eq!(body["data"]["process"]["round"], 1);
    assert_eq!(got.id(), body["id"].as_str().unwrap());
    // The delivery is in the subscription's log like any other.
    let log = call(
        &app,
        &token,
        Method::GET,
        &format!(
            "/api/v1/webhook-deliveries?webhook_id={}",
            sub["id"].as_str().unwrap()
        ),
        Value::Null,
    )
    .await;
    let calls: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event_type"] == "crm.deal_opened")
        .collect();
    assert_eq!(calls.len(), 1, "{log}");
    // Once: the instance moving on, and a while later, sends nothing again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mine: Vec<Received> = rx
        .got()
        .into_iter()
        .filter(|r| r.json()["type"] == "crm.deal_opened")
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].json()["data"]["object"]["id"], deal.as_str());
    assert!(
        mine.iter()
            .all(|r| r.json()["data"]["object"]["id"] != before.as_str())
    );
}
