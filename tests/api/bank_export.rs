//! Payment orders out (INT-1C-2) over HTTP: the approved, unpaid supplier invoices of an
//! organisation as a `1CClientBankExchange` 1.03 file (windows-1251, CRLF, only keys the
//! standard defines), read back by our own importer: its outgoing payments are matched to the
//! supplier invoices and mark them paid through the workflow, sure ones at once, unsure ones
//! after review.

use reqwest::Method;
use serde_json::{Value, json};

use crate::approvals::{Person, SUPPLIER_EMAIL, World, json_of, world_with};

/// The keys of the exchange standard (1.03) a payment-order file may carry.
const STANDARD_KEYS: &[&str] = &[
    "ВерсияФормата",
    "Кодировка",
    "Отправитель",
    "Получатель",
    "ДатаСоздания",
    "ВремяСоздания",
    "ДатаНачала",
    "ДатаКонца",
    "РасчСчет",
    "Документ",
    "СекцияДокумент",
    "Номер",
    "Дата",
    "Сумма",
    "ПлательщикСчет",
    "ПлательщикИНН",
    "Плательщик1",
    "ПлательщикРасчСчет",
    "ПлательщикБанк1",
    "ПлательщикБИК",
    "ПлательщикКорсчет",
    "ПлательщикКПП",
    "ПолучательСчет",
    "ПолучательИНН",
    "Получатель1",
    "ПолучательРасчСчет",
    "ПолучательБанк1",
    "ПолучательБИК",
    "ПолучательКорсчет",
    "ПолучательКПП",
    "ВидОплаты",
    "Очередность",
    "НазначениеПлатежа",
];

async fn register(w: &World, number: &str, amount: &str, vat: Option<&str>) -> String {
    let file = w
        .upload(
            &w.manager,
            "company",
            &w.company,
            &format!("Счёт {number}.pdf"),
        )
        .await;
    let mut body = json!({
        "organization_id": w.org, "supplier_legal_entity_id": w.supplier,
        "supplier_email": SUPPLIER_EMAIL, "number": number, "invoice_date": "2026-11-20",
        "amount": amount, "due_date": "2026-11-30", "file_ids": [file]});
    if let Some(v) = vat {
        body["vat_amount"] = json!(v);
    }
    let res = w
        .call(
            &w.manager,
            Method::POST,
            "/api/v1/supplier-invoices",
            Some(&body),
        )
        .await;
    let id = json_of(res, 201).await["id"].as_str().unwrap().to_owned();
    w.act_ok(&w.head1, &id, "take", json!({})).await;
    w.act_ok(&w.head1, &id, "approve", json!({})).await;
    id
}

async fn export(w: &World, who: &Person, date: &str) -> (Vec<u8>, String) {
    let res = w
        .call(
            who,
            Method::GET,
            &format!(
                "/api/v1/bank-exports/payment-orders?organization_id={}&date={date}",
                w.org
            ),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=windows-1251"
    );
    let count = res.headers()["x-payment-orders"]
        .to_str()
        .unwrap()
        .to_owned();
    (res.bytes().await.unwrap().to_vec(), count)
}

async fn import(w: &World, who: &Person, bytes: Vec<u8>) -> Value {
    let res = w
        .app
        .request(Method::POST, "/api/v1/bank-statements", &who.token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    json_of(res, 201).await
}

async fn state_of(w: &World, id: &str) -> Value {
    let res = w
        .call(
            &w.admin(),
            Method::GET,
            &format!("/api/v1/supplier-invoices/{id}"),
            None,
        )
        .await;
    json_of(res, 200).await
}

#[tokio::test]
async fn payment_orders_round_trip_and_pay_the_supplier_invoices() {
    let w = world_with(|_| {}).await;
    let res = w
        .call(
            &w.admin(),
            Method::POST,
            &format!("/api/v1/legal-entities/{}/bank-accounts", w.supplier),
            Some(&json!({"bank_name": "ПАО Сбербанк", "bik": "044525225",
                "correspondent_account": "30101810400000000225",
                "settlement_account": "40702810400000002003"})),
        )
        .await;
    json_of(res, 201).await;
    let with_vat = register(&w, "ПС-101", "12200.00", Some("2200.00")).await;
    let without = register(&w, "ПС-102", "5000.00", None).await;
    // Claimed already: the accountant who holds it pays it.
    w.act_ok(&w.acc_a, &without, "claim", json!({})).await;
    // Not approved: not paid out.
    let file = w
        .upload(&w.manager, "company", &w.company, "Счёт ПС-103.pdf")
        .await;
    let res = w
        .call(
            &w.manager,
            Method::POST,
            "/api/v1/supplier-invoices",
            Some(&json!({
            "organization_id": w.org, "supplier_legal_entity_id": w.supplier,
            "supplier_email": SUPPLIER_EMAIL, "number": "ПС-103", "invoice_date": "2026-11-20",
            "amount": "300.00", "file_ids": [file]})),
        )
        .await;
    json_of(res, 201).await;

    let (bytes, count) = export(&w, &w.acc_a, "2026-12-05").await;
    assert_eq!(count, "2");
    // windows-1251, not UTF-8; every line ends CRLF; every line is a key the standard defines.
    assert!(std::str::from_utf8(&bytes).is_err());
    let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
    assert!(!bad);
    assert!(text.ends_with("\r\n"));
    let lines: Vec<&str> = text.strip_suffix("\r\n").unwrap().split("\r\n").collect();
    assert!(lines.iter().all(|l| !l.contains('\n') && !l.contains('\r')));
    assert_eq!(lines[0], "1CClientBankExchange");
    assert_eq!(lines[1], "ВерсияФормата=1.03");
    assert_eq!(*lines.last().unwrap(), "КонецФайла");
    for l in &lines[1..lines.len() - 1] {
        if *l == "КонецДокумента" {
            continue;
        }
        let (key, _) = l
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {l}"));
        assert!(
            STANDARD_KEYS.contains(&key),
            "not a key of the standard: {l}"
        );
    }
    assert!(lines.contains(&"Кодировка=Windows"));
    assert!(lines.contains(&"РасчСчет=40702810938000000001"));
    assert_eq!(
        lines
            .iter()
            .filter(|l| **l == "СекцияДокумент=Платежное поручение")
            .count(),
        2
    );
    assert!(lines.contains(
        &"НазначениеПлатежа=Оплата по счету № ПС-101 от 20.11.2026, в т.ч. НДС 22 % — 2 200,00 руб."
    ));
    assert!(
        lines.contains(
            &"НазначениеПлатежа=Оплата по счету № ПС-102 от 20.11.2026, НДС не облагается"
        )
    );
    assert!(lines.contains(&"ПолучательИНН=7702000029"));
    assert!(lines.contains(&"ПолучательРасчСчет=40702810400000002003"));
    assert!(lines.contains(&"ПлательщикИНН=7707083893"));
    assert!(lines.contains(&"Сумма=12200.00"));

    // Read back by our own importer: two outgoing payment orders, each paying its invoice.
    let st = import(&w, &w.acc_a, bytes.clone()).await;
    assert_eq!(st["format_version"], "1.03");
    assert_eq!(st["encoding"], "windows-1251");
    assert!(
        st["warnings"].as_array().unwrap().is_empty(),
        "{}",
        st["warnings"]
    );
    let docs = st["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 2);
    for (d, (id, amount)) in docs
        .iter()
        .zip([(&with_vat, "12200.00"), (&without, "5000.00")])
    {
        assert_eq!(d["kind"], "payment_order");
        assert_eq!(d["direction"], "outgoing");
        assert_eq!(d["amount"], amount);
        assert_eq!(d["result"], "applied", "{d}");
        assert_eq!(d["confidence"], "sure");
        assert_eq!(d["supplier_invoice_id"], id.as_str());
        let inv = state_of(&w, id).await;
        assert_eq!(inv["state"], "awaiting_closing_documents", "{inv}");
        assert_eq!(inv["payment"]["amount"], amount, "{inv}");
        assert_eq!(inv["payment"]["paid_on"], "2026-12-05", "{inv}");
    }
    assert_eq!(st["applied"], 2);
    // Nothing is left to pay, and the file again changes nothing.
    assert_eq!(export(&w, &w.acc_a, "2026-12-06").await.1, "0");
    let again = import(&w, &w.acc_a, bytes).await;
    assert_eq!(again["duplicate"], 2);

    // An outgoing payment naming no invoice: the supplier's only invoice of that amount is
    // suggested, waits for review, and the confirming accountant's workflow pays it.
    let later = register(&w, "ПС-104", "777.00", None).await;
    let (bytes, count) = export(&w, &w.acc_a, "2026-12-07").await;
    assert_eq!(count, "1");
    let (text, _, _) = encoding_rs::WINDOWS_1251.decode(&bytes);
    let vague: String = text
        .split("\r\n")
        .map(|l| {
            if l.starts_with("НазначениеПлатежа=") {
                "НазначениеПлатежа=Оплата поставщику"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    let (vague, _, _) = encoding_rs::WINDOWS_1251.encode(&vague);
    let st = import(&w, &w.acc_a, vague.into_owned()).await;
    assert_eq!(st["documents"][0]["result"], "matched", "{st}");
    let review = st["review"].as_array().unwrap();
    assert_eq!(review.len(), 1, "{st}");
    assert_eq!(review[0]["supplier_invoice_id"], later.as_str());
    assert_eq!(review[0]["direction"], "outgoing");
    assert_eq!(review[0]["confidence"], "unsure");
    assert_eq!(state_of(&w, &later).await["state"], "awaiting_accountant");
    let doc = review[0]["document_id"].as_str().unwrap();
    // A sales manager outside the workflow does not see it.
    let res = w
        .call(
            &w.outsider,
            Method::GET,
            &format!("/api/v1/bank-statement-documents/{doc}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = w
        .call(
            &w.acc_b,
            Method::POST,
            &format!("/api/v1/bank-statement-documents/{doc}/confirm"),
            Some(&json!({})),
        )
        .await;
    let confirmed = json_of(res, 200).await;
    assert_eq!(confirmed["status"], "confirmed");
    let inv = state_of(&w, &later).await;
    assert_eq!(inv["state"], "awaiting_closing_documents", "{inv}");
    assert_eq!(inv["payer_id"], w.acc_b.id.as_str(), "{inv}");
}
