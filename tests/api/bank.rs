//! Bank statements (INT-1C-2) over HTTP: the 1C fixture statement read whole, incoming money
//! matched to customer invoices, re-imports and concurrent imports that create nothing twice.

use reqwest::Method;
use sdelka_tests::TestApp;
use serde_json::{Value, json};

use crate::money::{draft, seller_and_buyer, template};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/1c/client-bank-exchange_v1.02_cp1251_one_day.txt"
);

async fn import(app: &TestApp, bytes: Vec<u8>) -> (u16, Value) {
    let res = app
        .client
        .request(Method::POST, format!("{}/api/v1/bank-statements", app.base))
        .bearer_auth(&app.admin_token)
        .header("content-type", "text/plain")
        .body(bytes)
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

async fn call(app: &TestApp, m: Method, path: &str, b: Option<&Value>) -> (u16, Value) {
    let mut req = app
        .client
        .request(m, format!("{}{path}", app.base))
        .bearer_auth(&app.admin_token);
    if let Some(b) = b {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn the_fixture_statement_is_read_whole_and_only_once() {
    let app = TestApp::spawn().await;
    let bytes = std::fs::read(FIXTURE).unwrap();
    assert_eq!(bytes.len(), 11605);
    let (s, st) = import(&app, bytes.clone()).await;
    assert_eq!(s, 201, "{st}");
    assert_eq!(st["format_version"], "1.02");
    assert_eq!(st["encoding"], "windows-1251");
    assert_eq!(st["account"], "40702810200000000001");
    let b = &st["balances"][0];
    assert_eq!(b["opening"], "45329.91");
    assert_eq!(b["incoming"], "40000.00");
    assert_eq!(b["outgoing"], "41184.00");
    assert_eq!(b["closing"], "44145.91");
    assert_eq!(b["adds_up"], true);
    let docs = st["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 13);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "bank_order").count(), 6);
    assert_eq!(kinds.iter().filter(|k| **k == "payment_order").count(), 7);
    assert_eq!(docs[0]["number"], "697162");
    assert_eq!(docs[0]["amount"], "83.23");
    assert_eq!(docs[0]["direction"], "outgoing");
    let incoming: Vec<&Value> = docs
        .iter()
        .filter(|d| d["direction"] == "incoming")
        .collect();
    assert_eq!(incoming.len(), 3);
    // The anonymised requisites are warnings naming the document, the key and the rule.
    let w = st["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["document"] == 0 && w["key"] == "ПлательщикИНН")
        .unwrap();
    assert_eq!(w["rule"], "checksum_mismatch");
    assert_eq!(w["document_number"], "697162");
    assert!(
        st["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["key"] == "ПлательщикРасчСчет" && w["rule"] == "invalid_length")
    );
    // No account of ours is named: nothing became a payment, every document is recorded.
    assert!(docs.iter().all(|d| d["payment_id"].is_null()));

    let (s, again) = import(&app, bytes).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(again["duplicate"], 13);
    let (s, read) = call(
        &app,
        Method::GET,
        &format!("/api/v1/bank-statements/{}", st["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(s, 200, "{read}");
    assert_eq!(read["documents"], st["documents"]);

    let (s, bad) = import(&app, b"not a statement".to_vec()).await;
    assert_eq!(s, 422, "{bad}");
}

const OUR_ACCOUNT: &str = "40702810938000000001";
const BUYER_INN: &str = "7707083893";

fn statement(docs: &[(String, String, &str, String)]) -> Vec<u8> {
    let mut t = format!(
        "1CClientBankExchange\nВерсияФормата=1.03\nКодировка=Windows\nОтправитель=Сбербанк\n\
         ДатаНачала=03.12.2026\nДатаКонца=03.12.2026\nРасчСчет={OUR_ACCOUNT}\n"
    );
    for (number, amount, inn, purpose) in docs {
        t.push_str(&format!(
            "СекцияДокумент=Платежное поручение\nНомер={number}\nДата=03.12.2026\nСумма={amount}\n\
             ПлательщикСчет=40702810400000000002\nПлательщикИНН={inn}\nПлательщик1=ТСЖ «Берёзка»\n\
             ПолучательСчет={OUR_ACCOUNT}\nДатаПоступило=03.12.2026\nПолучательИНН=7707083893\n\
             ПолучательБИК=044525225\nНазначениеПлатежа={purpose}\nКонецДокумента\n"
        ));
    }
    t.push_str("КонецФайла\n");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&t);
    bytes.into_owned()
}

async fn payments_count(app: &TestApp) -> usize {
    let (s, page) = call(app, Method::GET, "/api/v1/payments?limit=200", None).await;
    assert_eq!(s, 200, "{page}");
    page["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn payments_are_matched_applied_or_reviewed_and_never_twice() {
    let app = TestApp::spawn().await;
    let (org, buyer) = seller_and_buyer(&app, "RM").await;
    template(&app, &org, "СЧ-{N:5}", "never").await;
    let mut invoices = Vec::new();
    for i in 1..=20 {
        let inv = draft(
            &app,
            &org,
            &buyer,
            "2026-12-01",
            &format!("{}.00", 1000 + i),
        )
        .await;
        let (s, inv) = call(
            &app,
            Method::POST,
            &format!(
                "/api/v1/invoices/{}/actions/issue",
                inv["id"].as_str().unwrap()
            ),
            Some(&json!({})),
        )
        .await;
        assert_eq!(s, 200, "{inv}");
        invoices.push(inv);
    }
    assert_eq!(invoices[0]["number"], "СЧ-00001");
    let mut docs = Vec::new();
    for i in 1..=18 {
        let purpose = match i % 4 {
            0 => format!("Оплата по счету № СЧ-{i:05} от 01.12.2026, НДС не облагается"),
            1 => format!("оплата сч.{i}"),
            2 => format!("Оплата по счету {i} от 01.12.2026"),
            _ => format!("Оплата по счёту СЧ-{i:05}"),
        };
        docs.push((format!("{}", 100 + i), BUYER_INN, purpose, 1000 + i));
    }
    // No invoice named, a wrong amount, an unknown payer.
    docs.push((
        "201".to_owned(),
        BUYER_INN,
        "Аванс по договору".to_owned(),
        5000,
    ));
    docs.push(("202".to_owned(), BUYER_INN, "Оплата сч.19".to_owned(), 900));
    docs.push((
        "203".to_owned(),
        "500100732259",
        "Оплата по счету № 20".to_owned(),
        1020,
    ));
    let docs: Vec<(String, String, &str, String)> = docs
        .into_iter()
        .map(|(n, inn, p, a)| (n, format!("{a}.00"), inn, p))
        .collect();
    let file = statement(&docs);
    let (s, st) = import(&app, file.clone()).await;
    assert_eq!(s, 201, "{st}");
    assert_eq!(st["organization_id"], org.as_str());
    assert_eq!(st["applied"], 18, "{st}");
    assert_eq!(st["created"], 3, "{st}");
    let review = st["review"].as_array().unwrap();
    assert_eq!(review.len(), 3);
    assert!(
        review[0]["reason"]
            .as_str()
            .unwrap()
            .contains("names no invoice")
    );
    assert!(
        review[1]["reason"]
            .as_str()
            .unwrap()
            .contains("the amount 900.00 differs from the outstanding 1019.00")
    );
    assert!(
        review[2]["reason"]
            .as_str()
            .unwrap()
            .contains("not the buyer's")
    );
    for inv in &invoices[..18] {
        let (_, now) = call(
            &app,
            Method::GET,
            &format!("/api/v1/invoices/{}", inv["id"].as_str().unwrap()),
            None,
        )
        .await;
        assert_eq!(now["status"], "paid", "{now}");
    }
    assert_eq!(payments_count(&app).await, 21);

    // The same file again changes nothing.
    let (s, again) = import(&app, file).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(again["duplicate"], 21);
    assert_eq!(payments_count(&app).await, 21);

    // Confirming the unknown payer's payment applies it to the suggested invoice 20.
    let doc = review[2]["document_id"].as_str().unwrap();
    let (s, c) = call(
        &app,
        Method::POST,
        &format!("/api/v1/bank-statement-documents/{doc}/confirm"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    let (_, inv20) = call(
        &app,
        Method::GET,
        &format!("/api/v1/invoices/{}", invoices[19]["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(inv20["status"], "paid", "{inv20}");
    let (s, twice) = call(
        &app,
        Method::POST,
        &format!("/api/v1/bank-statement-documents/{doc}/confirm"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(s, 409, "{twice}");
    let doc = review[0]["document_id"].as_str().unwrap();
    let (s, r) = call(
        &app,
        Method::POST,
        &format!("/api/v1/bank-statement-documents/{doc}/reject"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "rejected");

    // Two imports of one new file at once: each payment once.
    let new = statement(&[
        (
            "301".to_owned(),
            "10.00".to_owned(),
            BUYER_INN,
            "аванс".to_owned(),
        ),
        (
            "302".to_owned(),
            "20.00".to_owned(),
            BUYER_INN,
            "аванс".to_owned(),
        ),
    ]);
    let (a, b) = tokio::join!(import(&app, new.clone()), import(&app, new));
    assert_eq!((a.0, b.0), (201, 201), "{} {}", a.1, b.1);
    let dup = a.1["duplicate"].as_u64().unwrap() + b.1["duplicate"].as_u64().unwrap();
    assert_eq!(dup, 2);
    assert_eq!(payments_count(&app).await, 23);
}

async fn call_as(
    app: &TestApp,
    token: &str,
    m: Method,
    path: &str,
    b: Option<&Value>,
) -> (u16, Value) {
    let mut req = app.request(m, path, token);
    if let Some(b) = b {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_manager_reviews_only_the_payments_he_may_see() {
    let app = TestApp::spawn().await;
    let (org, _) = seller_and_buyer(&app, "RM").await;
    template(&app, &org, "СЧ-{N:5}", "never").await;
    let (_, anna) = app
        .user_with_roles("anna@example.com", &["sales_manager"])
        .await;
    let (_, boris) = app
        .user_with_roles("boris@example.com", &["sales_manager"])
        .await;
    // Anna's own client and invoice.
    let (s, company) = call_as(
        &app,
        &anna,
        Method::POST,
        "/api/v1/companies",
        Some(&json!({"name": "ООО «Клён»"})),
    )
    .await;
    assert_eq!(s, 201, "{company}");
    let (s, le) = call_as(
        &app,
        &anna,
        Method::POST,
        "/api/v1/legal-entities",
        Some(&json!({"company_id": company["id"], "kind": "legal_entity", "full_name": "ООО «Клён»",
            "short_name": "Клён", "inn": "7728168971", "kpp": "772801001", "legal_address": "Москва"})),
    )
    .await;
    assert_eq!(s, 201, "{le}");
    let buyer = le["id"].as_str().unwrap().to_owned();
    let (s, inv) = call_as(
        &app,
        &anna,
        Method::POST,
        "/api/v1/invoices",
        Some(&json!({"organization_id": org, "buyer_legal_entity_id": buyer, "date": "2026-12-01",
            "lines": [{"name": "Монтаж", "quantity": "1", "price": "1001.00", "vat_rate": "none"}]})),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    let inv_id = inv["id"].as_str().unwrap().to_owned();
    let (s, inv) = call_as(
        &app,
        &anna,
        Method::POST,
        &format!("/api/v1/invoices/{inv_id}/actions/issue"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(s, 200, "{inv}");
    assert_eq!(inv["number"], "СЧ-00001");
    // One payment names her invoice with a wrong amount, one names nothing.
    let file = statement(&[
        (
            "401".to_owned(),
            "900.00".to_owned(),
            BUYER_INN,
            "Оплата сч.1".to_owned(),
        ),
        (
            "402".to_owned(),
            "50.00".to_owned(),
            BUYER_INN,
            "аванс".to_owned(),
        ),
    ]);
    let (s, st) = import(&app, file).await;
    assert_eq!(s, 201, "{st}");
    let review = st["review"].as_array().unwrap();
    assert_eq!(review.len(), 2, "{st}");
    assert_eq!(review[0]["invoice_id"], inv_id.as_str());
    let (hers, other) = (
        review[0]["document_id"].as_str().unwrap(),
        review[1]["document_id"].as_str().unwrap(),
    );

    let listed = |token: String| {
        let app = &app;
        async move {
            let (s, page) = call_as(
                app,
                &token,
                Method::GET,
                "/api/v1/bank-statements/review",
                None,
            )
            .await;
            assert_eq!(s, 200, "{page}");
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["document_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(app.admin_token.clone()).await.len(), 2);
    assert_eq!(listed(anna.clone()).await, vec![hers.to_owned()]);
    assert!(listed(boris.clone()).await.is_empty());
    let doc = |id: &str| format!("/api/v1/bank-statement-documents/{id}");
    assert_eq!(
        call_as(&app, &anna, Method::GET, &doc(hers), None).await.0,
        200
    );
    assert_eq!(
        call_as(&app, &anna, Method::GET, &doc(other), None).await.0,
        404
    );
    assert_eq!(
        call_as(&app, &boris, Method::GET, &doc(hers), None).await.0,
        404
    );
    // Someone else's statement is not his to read; nor is a decision on what he cannot see.
    let statement_url = format!("/api/v1/bank-statements/{}", st["id"].as_str().unwrap());
    assert_eq!(
        call_as(&app, &anna, Method::GET, &statement_url, None)
            .await
            .0,
        404
    );
    let (s, _) = call_as(
        &app,
        &boris,
        Method::POST,
        &format!("{}/reject", doc(hers)),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, r) = call_as(
        &app,
        &anna,
        Method::POST,
        &format!("{}/reject", doc(hers)),
        None,
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "rejected");
}

#[tokio::test]
async fn a_large_statement_runs_as_a_job_with_progress() {
    let app = TestApp::spawn_with(|c| {
        c.bank_statement_job_documents = 5;
        c.import_poll_ms = 20;
    })
    .await;
    seller_and_buyer(&app, "RM").await;
    let docs: Vec<(String, String, &str, String)> = (1..=12)
        .map(|i| {
            (
                format!("{}", 500 + i),
                format!("{i}.00"),
                BUYER_INN,
                "аванс".to_owned(),
            )
        })
        .collect();
    let file = statement(&docs);
    let (s, st) = import(&app, file.clone()).await;
    assert_eq!(s, 202, "{st}");
    assert_eq!(st["state"], "queued");
    assert_eq!(st["document_count"], 12);
    assert_eq!(st["processed_documents"], 0);
    let url = format!("/api/v1/bank-statements/{}", st["id"].as_str().unwrap());
    let done = |url: String| {
        let app = &app;
        async move {
            sdelka_tests::eventually(std::time::Duration::from_secs(60), || {
                let url = url.clone();
                async move {
                    let (_, now) = call(app, Method::GET, &url, None).await;
                    (now["state"] == "completed").then_some(now)
                }
            })
            .await
            .expect("the statement job completes")
        }
    };
    let finished = done(url).await;
    assert_eq!(finished["processed_documents"], 12);
    assert_eq!(finished["documents"].as_array().unwrap().len(), 12);
    assert_eq!(finished["created"], 12, "{finished}");
    assert_eq!(finished["review"].as_array().unwrap().len(), 12);
    assert_eq!(payments_count(&app).await, 12);
    // Again: queued, and every document a duplicate.
    let (s, again) = import(&app, file).await;
    assert_eq!(s, 202, "{again}");
    let again = done(format!(
        "/api/v1/bank-statements/{}",
        again["id"].as_str().unwrap()
    ))
    .await;
    assert_eq!(again["duplicate"], 12, "{again}");
    assert_eq!(payments_count(&app).await, 12);
}
