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
}

impl Receiver {
    async fn start(answers: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            got: Arc::default(),
            answers: Arc::new(Mutex::new(answers.to_vec())),
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
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
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
