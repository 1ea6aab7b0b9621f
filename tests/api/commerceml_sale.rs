//! INT-1C-1, orders: `type=sale&mode=query` answers our orders as 1C reads them, `mode=success`
//! marks them exported, and `mode=file` brings 1C's order documents and status changes in —
//! with the fixture files of 1C and Bitrix.

use std::collections::BTreeSet;
use std::str::FromStr;

use reqwest::Response;
use rust_decimal::Decimal;
use sdelka_domain::commerceml::{self, Node};
use sdelka_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, fixture_1c as fixture, organization_body,
    plain_text as text,
};
use serde_json::{Value, json};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn json_of(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

struct Exchange {
    base: String,
    client: reqwest::Client,
    cookie: String,
}

impl Exchange {
    async fn open(base: &str) -> Exchange {
        let client = reqwest::Client::new();
        let cookie =
            sdelka_tests::exchange_cookie(base, &client, "sale", ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let x = Exchange {
            base: base.to_owned(),
            client,
            cookie,
        };
        let init = x.call("type=sale&mode=init", None).await;
        assert!(init.contains("file_limit="), "{init}");
        x
    }

    async fn send(&self, query: &str, body: Option<Vec<u8>>) -> Response {
        let url = format!("{}/1c-exchange?{query}", self.base);
        let req = match body {
            Some(b) => self.client.post(url).body(b),
            None => self.client.get(url),
        };
        req.header("cookie", &self.cookie).send().await.unwrap()
    }

    async fn call(&self, query: &str, body: Option<Vec<u8>>) -> String {
        text(self.send(query, body).await).await
    }

    /// `mode=query`: the raw answer and what our own reader makes of it.
    async fn query(&self, version: &str) -> (Vec<u8>, commerceml::CommerceInfo) {
        let res = self
            .send(&format!("type=sale&mode=query&version={version}"), None)
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "application/xml; charset=windows-1251"
        );
        let bytes = res.bytes().await.unwrap().to_vec();
        let info = commerceml::parse(&bytes).unwrap();
        (bytes, info)
    }

    /// Posts a file of orders in `parts` pieces; answers the last answer.
    async fn post_orders(&self, filename: &str, bytes: &[u8], parts: usize) -> String {
        let mut last = String::new();
        for part in bytes.chunks(bytes.len().div_ceil(parts)) {
            last = self
                .call(
                    &format!("type=sale&mode=file&filename={filename}"),
                    Some(part.to_vec()),
                )
                .await;
            assert!(last.starts_with("success"), "{last}");
        }
        last
    }
}

/// Every element path of a document, root first, by local names.
fn paths(bytes: &[u8]) -> BTreeSet<String> {
    fn walk(n: &Node, prefix: &str, out: &mut BTreeSet<String>) {
        let p = if prefix.is_empty() {
            n.name.clone()
        } else {
            format!("{prefix}/{}", n.name)
        };
        out.insert(p.clone());
        for c in &n.children {
            walk(c, &p, out);
        }
    }
    let text = commerceml::decode(bytes).unwrap();
    let root = commerceml::parse_tree(&text).unwrap();
    let mut out = BTreeSet::new();
    walk(&root, "", &mut out);
    out
}

/// The structure our answer may have: that of the order fixtures of 1C and Bitrix.
fn fixture_paths() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for f in [
        "cml2.03_orders_site_to_1c_cp1251.xml",
        "cml2.05_sale_query_response_cp1251.xml",
        "cml2.09_orders_1c_to_site_with_vat.xml",
    ] {
        all.extend(paths(&fixture(f)));
    }
    all
}

struct Seller {
    org: String,
    company: String,
    legal_entity: String,
    product: String,
}

const BUYER_GUID: &str = "d1a0c3e3-5b7f-11ee-8c99-0242ac120002";
const PRODUCT_GUID: &str = "cbcf493f-55bc-11d9-848a-00112f43529a";

async fn seller(app: &TestApp) -> Seller {
    let org = json_of(
        app.post(
            "/api/v1/organizations",
            &organization_body("SV", "ООО «Сдельно»"),
        )
        .await,
        201,
    )
    .await;
    let company = json_of(
        app.post("/api/v1/companies", &json!({"name": "Ромашка"}))
            .await,
        201,
    )
    .await;
    let le = json_of(
        app.post(
            "/api/v1/legal-entities",
            &json!({"company_id": company["id"], "kind": "legal_entity",
                    "full_name": "Общество с ограниченной ответственностью «Ромашка»",
                    "short_name": "ООО «Ромашка»", "inn": "7701000019", "kpp": "770101001",
                    "legal_address": "101000, г. Москва, ул. Мясницкая, д. 1",
                    "external_ids": [{"source": "1c", "id": BUYER_GUID}],
                    "bank_accounts": [{"bank_name": "ПАО Сбербанк", "bik": "044525225",
                        "correspondent_account": "30101810400000000225",
                        "settlement_account": "40702810938000000001"}]}),
        )
        .await,
        201,
    )
    .await;
    let product = json_of(
        app.post(
            "/api/v1/products",
            &json!({"name": "Вентилятор напольный", "sku": "ВН-160", "external_id": PRODUCT_GUID,
                    "base_price": "3338.00", "vat_rate": "22"}),
        )
        .await,
        201,
    )
    .await;
    Seller {
        org: org["id"].as_str().unwrap().to_owned(),
        company: company["id"].as_str().unwrap().to_owned(),
        legal_entity: le["id"].as_str().unwrap().to_owned(),
        product: product["id"].as_str().unwrap().to_owned(),
    }
}

/// A deal of the buyer with a catalog row (2 × 3 338.00 at 22 % on top) and a service
/// (1 × 20 000.00 at 10 %, VAT included), and an order of it with the given advance.
async fn order(app: &TestApp, s: &Seller, title: &str, advance: &str) -> Value {
    let deal = json_of(
        app.post(
            "/api/v1/deals",
            &json!({"title": title, "company_id": s.company, "legal_entity_id": s.legal_entity}),
        )
        .await,
        201,
    )
    .await;
    let deal_id = deal["id"].as_str().unwrap();
    for row in [
        json!({"product_id": s.product, "quantity": "2", "price": "3338.00", "vat_rate": "22"}),
        json!({"name": "Монтаж", "quantity": "1", "price": "20000.00", "vat_rate": "10",
               "vat_included": true, "unit_code": "356", "unit_name": "ч"}),
    ] {
        json_of(
            app.post(&format!("/api/v1/deals/{deal_id}/product-rows"), &row)
                .await,
            201,
        )
        .await;
    }
    json_of(
        app.post(
            "/api/v1/orders",
            &json!({"deal_id": deal_id, "organization_id": s.org, "title": title,
                    "advance_amount": advance}),
        )
        .await,
        201,
    )
    .await
}

async fn act(app: &TestApp, order: &str, action: &str, body: Value) -> Value {
    json_of(
        app.post(&format!("/api/v1/orders/{order}/actions/{action}"), &body)
            .await,
        200,
    )
    .await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn orders_go_to_1c_in_the_version_it_asks_for_until_it_confirms_them() {
    let app = TestApp::spawn().await;
    let s = seller(&app).await;
    // Sent: an order awaiting its advance. Not sent: a draft, and one cancelled before 1C
    // ever had it.
    let sent = order(&app, &s, "Вентиляция склада", "1000.00").await;
    let sent_id = id(&sent);
    act(&app, &sent_id, "confirm-terms", json!({})).await;
    let draft = order(&app, &s, "Черновик", "0.00").await;
    let gone = order(&app, &s, "Передумали", "0.00").await;
    act(&app, &id(&gone), "confirm-terms", json!({})).await;
    act(
        &app,
        &id(&gone),
        "cancel",
        json!({"reason": "Клиент передумал"}),
    )
    .await;

    let x = Exchange::open(&app.base).await;
    let allowed = fixture_paths();
    for version in ["2.03", "2.05", "2.08", "2.10"] {
        let (bytes, info) = x.query(version).await;
        assert!(
            bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>"),
            "{}",
            String::from_utf8_lossy(&bytes[..60])
        );
        let ours = paths(&bytes);
        let foreign: Vec<&String> = ours.difference(&allowed).collect();
        assert!(
            foreign.is_empty(),
            "{version}: elements no order file of 1C has: {foreign:?}"
        );
        assert_eq!(info.documents.len(), 1, "{version}");
        let d = &info.documents[0];
        assert_eq!(d.id, sent_id);
        assert_eq!(d.operation.as_deref(), Some("Заказ товара"));
        assert_eq!(d.role.as_deref(), Some("Продавец"));
        // 2 × 3 338.00 + 22 % = 8 144.72; 20 000.00 with 10 % inside: 28 144.72 in all,
        // VAT 1 468.72 + 1 818.18.
        assert_eq!(d.total, Some(dec("28144.72")), "{version}");
        let vat: Decimal = d
            .taxes
            .iter()
            .filter(|t| t.name == "НДС")
            .filter_map(|t| t.amount)
            .sum();
        assert_eq!(vat, dec("3286.90"), "{version}");
        let buyer = &d.counterparties[0];
        assert_eq!(buyer.id.as_deref(), Some(BUYER_GUID));
        assert_eq!(buyer.role.as_deref(), Some("Покупатель"));
        assert_eq!(buyer.inn.as_deref(), Some("7701000019"));
        assert_eq!(buyer.kpp.as_deref(), Some("770101001"));
        assert_eq!(buyer.name.as_deref(), Some("ООО «Ромашка»"));
        assert_eq!(buyer.accounts.len(), 1);
        assert_eq!(buyer.accounts[0].bik.as_deref(), Some("044525225"));
        assert_eq!(d.lines.len(), 2);
        let fan = &d.lines[0];
        assert_eq!(fan.id.as_deref(), Some(PRODUCT_GUID));
        assert_eq!(fan.quantity, Some(dec("2")));
        assert_eq!(fan.price, Some(dec("3338.00")));
        assert_eq!(fan.amount, Some(dec("6676.00")));
        assert_eq!(fan.vat.as_deref(), Some("22"));
        let fan_vat: Decimal = fan.taxes.iter().filter_map(|t| t.amount).sum();
        assert_eq!(fan_vat, dec("1468.72"));
        let work = &d.lines[1];
        assert_eq!(work.amount, Some(dec("20000.00")));
        assert_eq!(work.kind.as_deref(), Some("Услуга"));
        assert!(work.taxes.iter().all(|t| t.included));
        assert_eq!(d.requisite("Статус заказа ИД"), Some("awaiting_advance"));
        assert_eq!(d.requisite("Отменен"), Some("false"));
    }

    // Until 1C confirms, the same order is offered again; after success, nothing.
    let (_, again) = x.query("2.05").await;
    assert_eq!(again.documents.len(), 1);
    let ok = x.call("type=sale&mode=success", None).await;
    assert!(ok.starts_with("success\n1 orders"), "{ok}");
    let (_, after) = x.query("2.05").await;
    assert!(after.documents.is_empty());
    let ok = x.call("type=sale&mode=success", None).await;
    assert!(ok.starts_with("success\n0 orders"), "{ok}");

    // A change here sends it again, the cancellation with it; the draft never goes.
    act(&app, &sent_id, "cancel", json!({"reason": "Нет на складе"})).await;
    let (_, changed) = x.query("2.05").await;
    assert_eq!(changed.documents.len(), 1);
    let d = &changed.documents[0];
    assert_eq!(d.id, sent_id);
    assert_eq!(d.requisite("Отменен"), Some("true"));
    assert_eq!(d.requisite("Причина отмены"), Some("Нет на складе"));
    assert!(changed.documents.iter().all(|d| d.id != id(&draft)));

    // A query another session made is confirmed only by that session.
    let other = Exchange::open(&app.base).await;
    let (_, seen) = other.query("2.05").await;
    assert_eq!(seen.documents.len(), 1);
    let ok = x.call("type=sale&mode=success", None).await;
    assert!(ok.starts_with("success\n0 orders"), "{ok}");
    other.call("type=sale&mode=success", None).await;
    let (_, none) = x.query("2.05").await;
    assert!(none.documents.is_empty());

    // A version that is no version is refused in the protocol's words.
    let bad = x.call("type=sale&mode=query&version=abc", None).await;
    assert!(bad.starts_with("failure"), "{bad}");
}

#[tokio::test]
async fn statuses_from_1c_cancel_and_complete_our_orders() {
    let app = TestApp::spawn().await;
    let s = seller(&app).await;
    let shipped = order(&app, &s, "Отгрузка", "0.00").await;
    let shipped_id = id(&shipped);
    let o = act(&app, &shipped_id, "confirm-terms", json!({})).await;
    assert_eq!(o["status"], "confirmed");
    let cancelled = order(&app, &s, "Отмена", "0.00").await;
    let cancelled_id = id(&cancelled);

    let x = Exchange::open(&app.base).await;
    let (bytes, _) = x.query("2.09").await;
    x.call("type=sale&mode=success", None).await;
    assert!(!bytes.is_empty());
    // 1C answers with its numbers: the first shipped, the second cancelled (by our ids).
    let doc = |id: &str, number_1c: &str, reqs: &str| {
        format!(
            "<Документ><Ид>{id}</Ид><Номер>{id}</Номер><Номер1С>{number_1c}</Номер1С>\
             <Дата>2026-12-01</Дата><ХозОперация>Заказ товара</ХозОперация><Роль>Продавец</Роль>\
             <Валюта>RUB</Валюта><Сумма>28144.72</Сумма><ЗначенияРеквизитов>{reqs}</ЗначенияРеквизитов></Документ>"
        )
    };
    let req = |k: &str, v: &str| {
        format!(
            "<ЗначениеРеквизита><Наименование>{k}</Наименование><Значение>{v}</Значение></ЗначениеРеквизита>"
        )
    };
    let file = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <КоммерческаяИнформация xmlns=\"urn:1C.ru:commerceml_2\" ВерсияСхемы=\"2.09\">{}{}</КоммерческаяИнформация>",
        doc(
            &shipped_id,
            "ТДЦУ-000123",
            &(req("Номер отгрузки по 1С", "ТДЦУ-000124")
                + &req("Дата отгрузки по 1С", "2026-12-02T10:00:00"))
        ),
        doc(&cancelled_id, "ТДЦУ-000125", &req("Отменен", "true")),
    );
    let answer = x.post_orders("orders.xml", file.as_bytes(), 1).await;
    assert!(answer.contains("updated 2"), "{answer}");
    let o = json_of(app.get(&format!("/api/v1/orders/{shipped_id}")).await, 200).await;
    assert_eq!(o["status"], "completed");
    let tr = json_of(
        app.get(&format!("/api/v1/orders/{shipped_id}/transitions"))
            .await,
        200,
    )
    .await;
    let last = tr["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "complete");
    assert_eq!(last["comment"], "Отгружен в 1С 2026-12-02T10:00:00");
    let o = json_of(
        app.get(&format!("/api/v1/orders/{cancelled_id}")).await,
        200,
    )
    .await;
    assert_eq!(o["status"], "cancelled");
    assert_eq!(o["cancel_reason"], "Отменён в 1С");

    // The same file again changes nothing.
    let x2 = Exchange::open(&app.base).await;
    let answer = x2.post_orders("orders.xml", file.as_bytes(), 2).await;
    assert!(answer.contains("updated 0, unchanged 2"), "{answer}");

    // 1C's number goes back to 1C with the order's next change.
    let (_, info) = x.query("2.09").await;
    let d = info
        .documents
        .iter()
        .find(|d| d.id == shipped_id)
        .expect("the completed order goes to 1C again");
    assert_eq!(d.requisite("Номер1С"), Some("ТДЦУ-000123"));
}

#[tokio::test]
async fn order_files_of_1c_and_bitrix_become_deals_and_orders_once() {
    let app = TestApp::spawn().await;
    let s = seller(&app).await;
    let before = json_of(app.get("/api/v1/orders?limit=100").await, 200).await;
    assert!(before["items"].as_array().unwrap().is_empty());

    // 1C's documents with VAT (2.09), posted in two parts: the first part waits.
    let x = Exchange::open(&app.base).await;
    let file = fixture("cml2.09_orders_1c_to_site_with_vat.xml");
    let info = commerceml::parse(&file).unwrap();
    let half = file.len() / 2;
    let first = x
        .call(
            "type=sale&mode=file&filename=documents.xml",
            Some(file[..half].to_vec()),
        )
        .await;
    assert!(
        first.contains("not a whole CommerceML document yet"),
        "{first}"
    );
    let answer = x
        .call(
            "type=sale&mode=file&filename=documents.xml",
            Some(file[half..].to_vec()),
        )
        .await;
    assert!(
        answer.contains(&format!("created {}", info.documents.len())),
        "{answer}"
    );
    let orders = json_of(app.get("/api/v1/orders?limit=100").await, 200).await;
    let orders = orders["items"].as_array().unwrap().clone();
    assert_eq!(orders.len(), info.documents.len());
    for d in &info.documents {
        let number = d.number_1c.clone().or(d.number.clone()).unwrap();
        let o = orders
            .iter()
            .find(|o| o["title"].as_str().unwrap().contains(&number))
            .unwrap_or_else(|| panic!("no order for {number}"));
        let full = json_of(
            app.get(&format!("/api/v1/orders/{}", o["id"].as_str().unwrap()))
                .await,
            200,
        )
        .await;
        let rows = full["rows"].as_array().unwrap();
        assert_eq!(rows.len(), d.lines.len(), "{number}");
        // The rows carry 1C's prices and quantities; VAT is today's rate.
        for (row, line) in rows.iter().zip(&d.lines) {
            assert_eq!(
                dec(row["quantity"].as_str().unwrap()),
                line.quantity.unwrap()
            );
            assert_eq!(dec(row["price"].as_str().unwrap()), line.price.unwrap());
        }
        // The buyer is a company of the CRM, by its 1C id.
        let deal = json_of(
            app.get(&format!(
                "/api/v1/deals/{}",
                full["deal_id"].as_str().unwrap()
            ))
            .await,
            200,
        )
        .await;
        assert!(deal["company_id"].is_string(), "{deal}");
    }
    // A known product is matched by its 1C id.
    let fan = orders
        .iter()
        .find(|o| o["title"].as_str().unwrap().contains("ТДЦУ-000001"));
    let fan = json_of(
        app.get(&format!(
            "/api/v1/orders/{}",
            fan.unwrap()["id"].as_str().unwrap()
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(fan["rows"][0]["product_id"], s.product.as_str(), "{fan}");
    let companies = json_of(app.get("/api/v1/companies?limit=100").await, 200).await;
    let kikinda: Vec<&Value> = companies["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "Kikinda (Сербия)")
        .collect();
    assert_eq!(kikinda.len(), 1, "one company per 1C counterparty");

    // The same file again, and Bitrix's windows-1251 export twice at the same moment from two
    // sessions: every document is one order.
    let answer = x.post_orders("documents.xml", &file, 1).await;
    assert!(answer.contains("created 0"), "{answer}");
    let bitrix = fixture("cml2.03_orders_site_to_1c_cp1251.xml");
    let bitrix_docs = commerceml::parse(&bitrix).unwrap().documents.len();
    let (a, b) = (
        Exchange::open(&app.base).await,
        Exchange::open(&app.base).await,
    );
    let (ra, rb) = tokio::join!(
        a.post_orders("orders.xml", &bitrix, 1),
        b.post_orders("orders.xml", &bitrix, 1)
    );
    let created = |a: &str| -> usize {
        let n = a.split("created ").nth(1).unwrap_or_else(|| panic!("{a}"));
        n.split(',').next().unwrap().trim().parse().unwrap()
    };
    assert_eq!(created(&ra) + created(&rb), bitrix_docs, "{ra} / {rb}");
    let after = json_of(app.get("/api/v1/orders?limit=100").await, 200).await;
    assert_eq!(
        after["items"].as_array().unwrap().len(),
        info.documents.len() + bitrix_docs,
        "{ra} / {rb}"
    );
    // The delivery pseudo-line of Bitrix is a row like the others.
    let delivery = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["title"].as_str().unwrap().contains("№ 20 "))
        .expect("Bitrix order 20");
    let full = json_of(
        app.get(&format!(
            "/api/v1/orders/{}",
            delivery["id"].as_str().unwrap()
        ))
        .await,
        200,
    )
    .await;
    assert!(
        full["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "Доставка заказа"),
        "{full}"
    );
}

#[tokio::test]
async fn a_document_whose_numbers_are_no_price_is_skipped_with_its_reason() {
    let app = TestApp::spawn().await;
    seller(&app).await;
    let x = Exchange::open(&app.base).await;
    let file = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <КоммерческаяИнформация ВерсияСхемы=\"2.09\"><Документ><Ид>big-1</Ид><Номер>1</Номер>\
        <ХозОперация>Заказ товара</ХозОперация><Валюта>RUB</Валюта>\
        <Контрагенты><Контрагент><Ид>c-1</Ид><Наименование>Покупатель</Наименование>\
        <Роль>Покупатель</Роль></Контрагент></Контрагенты>\
        <Товары><Товар><Ид>x</Ид><Наименование>Много</Наименование>\
        <Количество>0.001</Количество><Сумма>79228162514264337593543950335</Сумма></Товар></Товары>\
        </Документ></КоммерческаяИнформация>";
    let answer = x.post_orders("orders.xml", file.as_bytes(), 1).await;
    assert!(answer.contains("skipped 1"), "{answer}");
    assert!(answer.contains("(Сумма)"), "{answer}");
    let orders = json_of(app.get("/api/v1/orders").await, 200).await;
    assert!(orders["items"].as_array().unwrap().is_empty(), "{orders}");
    let companies = json_of(app.get("/api/v1/companies?limit=100").await, 200).await;
    assert!(
        companies["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "Покупатель"),
        "nothing of the document is kept: {companies}"
    );
}
