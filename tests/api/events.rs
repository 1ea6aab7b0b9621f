//! EVT-1: every write operation of the OpenAPI document, called once with a valid request,
//! records exactly one domain event for the record it answers, and that event carries the
//! record's public representation — what its `GET` answers right after the write — or, for a
//! delete, a tombstone naming the record's id and type.
//!
//! The operations are read from the served document, so a new write operation without a case
//! here (and not in [`EXEMPT`]) fails this test.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use sdelka_tests::{TestApp, organization_body};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use sdelka_persistence::entity::domain_event;

/// Write operations that record no business record, with the reason.
const EXEMPT: &[(&str, &str)] = &[
    // Session credentials: a login, a refresh, a logout and a password set change what a
    // person holds to sign in, not a record of the CRM.
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/password-set"),
    // Shows the number a template would give; takes none.
    ("POST", "/api/v1/numbering-templates/{id}/preview"),
    // The reader's own inbox state.
    ("POST", "/api/v1/notifications/{id}/read"),
    ("POST", "/api/v1/notifications/read-all"),
    // A change-feed reader's offset: bookkeeping of reading, which would otherwise always
    // leave the reader one more event to read (tests/api/feed.rs checks it leaves none).
    ("PUT", "/api/v1/event-consumers/{name}"),
    ("DELETE", "/api/v1/event-consumers/{name}"),
    // Bulk upserts answer a result per item, not a record: each item is the record's own
    // creation or change (journalled as that operation is); tests/api/bulk.rs counts their
    // events, and that an unchanged item leaves none.
    ("POST", "/api/v1/companies/bulk-upsert"),
    ("POST", "/api/v1/contacts/bulk-upsert"),
    ("POST", "/api/v1/legal-entities/bulk-upsert"),
    ("POST", "/api/v1/products/bulk-upsert"),
    ("POST", "/api/v1/invoices/bulk-upsert"),
    ("POST", "/api/v1/payments/bulk-upsert"),
    // A batch answers a result per operation; each operation is the endpoint it names,
    // journalled as that endpoint is (tests/api/batch.rs reads their events back).
    ("POST", "/api/v1/batch"),
];

enum Body {
    None,
    Json(Value),
    Form(Form),
}

/// One write as it was sent: its operation, its answer and its request id.
struct Written {
    key: (String, String),
    request_id: String,
    body: Value,
}

impl Written {
    fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{:?} answers an id: {}", self.key, self.body))
            .to_owned()
    }
}

/// How the answered record is read back.
enum ReadBack<'a> {
    /// Its own `GET`.
    Get(&'a str),
    /// A list `GET` (a page's `items` or a bare array) and the field naming the record in it.
    InList(&'a str, &'a str),
    /// An array field of another record's `GET`, picked by `id`.
    Within(&'a str, &'a str),
}

struct Walk {
    app: TestApp,
    covered: BTreeSet<(String, String)>,
    failures: Vec<String>,
}

impl Walk {
    /// Sends one request; it must succeed. `template` is the operation's path in the
    /// document (without `/api/v1`); `None` marks a setup write that is not a case.
    async fn send(
        &self,
        token: &str,
        method: Method,
        template: &str,
        path: &str,
        body: Body,
    ) -> Written {
        let mut req = self.app.request(method.clone(), path, token);
        req = match body {
            Body::None => req,
            Body::Json(b) => req.json(&b),
            Body::Form(f) => req.multipart(f),
        };
        let res = req.send().await.unwrap();
        let status = res.status();
        let request_id = res
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = res.text().await.unwrap();
        assert!(
            status.is_success(),
            "{method} {path} ({template}) answered {status}: {text}"
        );
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Written {
            key: (method.to_string(), format!("/api/v1{template}")),
            request_id,
            body,
        }
    }

    async fn json(
        &self,
        token: &str,
        method: Method,
        template: &str,
        path: &str,
        b: Value,
    ) -> Written {
        self.send(token, method, template, path, Body::Json(b))
            .await
    }

    async fn admin(&self, method: Method, template: &str, path: &str, b: Value) -> Written {
        let token = self.app.admin_token.clone();
        // A delete sends no body.
        let body = if method == Method::DELETE {
            Body::None
        } else {
            Body::Json(b)
        };
        self.send(&token, method, template, path, body).await
    }

    /// The events written under `request_id`, oldest first.
    async fn events(&self, request_id: &str) -> Vec<domain_event::Model> {
        domain_event::Entity::find()
            .filter(domain_event::Column::CorrelationId.eq(request_id))
            .order_by_asc(domain_event::Column::Seq)
            .all(&self.app.server.as_ref().unwrap().state.store.conn)
            .await
            .unwrap()
    }

    fn fail(&mut self, w: &Written, what: String) {
        self.failures
            .push(format!("{} {}: {what}", w.key.0, w.key.1));
    }

    /// The one event of `w` about `id`, parsed; a failure when there is not exactly one.
    async fn the_event(&mut self, w: &Written, id: &str) -> Option<Value> {
        self.covered.insert(w.key.clone());
        if w.request_id.is_empty() {
            self.fail(w, "the answer has no x-request-id".into());
            return None;
        }
        let events = self.events(&w.request_id).await;
        let about: Vec<&domain_event::Model> = events
            .iter()
            .filter(|e| e.entity_id.to_string() == id)
            .collect();
        if about.len() != 1 {
            let all: Vec<String> = events
                .iter()
                .map(|e| format!("{} {}", e.event_type, e.entity_id))
                .collect();
            self.fail(
                w,
                format!(
                    "{} events about {id}, want 1 (all events: {all:?})",
                    about.len()
                ),
            );
            return None;
        }
        let payload: Value = serde_json::from_str(&about[0].payload).unwrap();
        Some(payload["object"].clone())
    }

    /// The event's object equals what reading the record back answers, less the named
    /// only-on-read `extras`.
    async fn check(&mut self, w: &Written, id: &str, read: ReadBack<'_>, extras: &[&str]) {
        let Some(mut object) = self.the_event(w, id).await else {
            return;
        };
        let (url, array, pick) = match read {
            ReadBack::Get(url) => (url, "items", None),
            ReadBack::InList(url, field) => (url, "items", Some(field)),
            ReadBack::Within(url, array) => (url, array, Some("id")),
        };
        let res = self.app.get(url).await;
        let status = res.status();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            self.fail(w, format!("GET {url} answered {status}: {answer}"));
            return;
        }
        let mut read_back = match pick {
            None => answer,
            Some(field) => {
                let items = answer
                    .get(array)
                    .unwrap_or(&answer)
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                match items.into_iter().find(|i| i[field] == id) {
                    Some(item) => item,
                    None => {
                        self.fail(w, format!("GET {url} lists no {field} = {id}: {answer}"));
                        return;
                    }
                }
            }
        };
        for extra in extras {
            strip(&mut object, extra);
            strip(&mut read_back, extra);
        }
        if object != read_back {
            self.fail(w, difference(&object, &read_back));
        }
    }

    async fn check_get(&mut self, w: &Written, id: &str, url: &str) {
        self.check(w, id, ReadBack::Get(url), &[]).await;
    }

    /// A delete's event is a tombstone: `{"id", "type", "deleted": true, …}`.
    async fn check_tombstone(&mut self, w: &Written, id: &str, entity_type: &str) {
        let Some(object) = self.the_event(w, id).await else {
            return;
        };
        if object["id"] != id || object["type"] != entity_type || object["deleted"] != true {
            self.fail(
                w,
                format!("want a tombstone of {entity_type} {id}, the event carries {object}"),
            );
        }
    }
}

fn strip(v: &mut Value, key: &str) {
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
}

/// The fields in which the event's object and the read-back differ.
fn difference(event: &Value, read: &Value) -> String {
    let (Some(e), Some(r)) = (event.as_object(), read.as_object()) else {
        return format!("event {event} ≠ GET {read}");
    };
    let keys: BTreeSet<&String> = e.keys().chain(r.keys()).collect();
    let diffs: BTreeMap<&String, String> = keys
        .into_iter()
        .filter(|k| e.get(*k) != r.get(*k))
        .map(|k| {
            let show = |v: Option<&Value>| v.map_or("—".to_owned(), Value::to_string);
            (
                k,
                format!("event {} / GET {}", show(e.get(k)), show(r.get(k))),
            )
        })
        .collect();
    format!("the event's object is not the GET representation: {diffs:?}")
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn pdf(name: &str, entity_type: &str, entity_id: &str) -> Body {
    let bytes = format!("%PDF-1.4\n% {name}\n").into_bytes();
    Body::Form(
        Form::new()
            .percent_encode_noop()
            .text("entity_type", entity_type.to_owned())
            .text("entity_id", entity_id.to_owned())
            .text("document_type", "invoice_scan")
            .part("file", Part::bytes(bytes).file_name(name.to_owned())),
    )
}

#[tokio::test]
async fn every_write_records_one_event_carrying_the_public_representation() {
    // No background worker runs: what a GET answers right after a write is that write's
    // doing, not an import, a reminder or the outbox having moved on since.
    let app = TestApp::spawn_with(|c| {
        c.workers = false;
        c.webhook_allowed_targets = "127.0.0.0/8".into();
    })
    .await;
    let document: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let mut w = Walk {
        app,
        covered: BTreeSet::new(),
        failures: Vec::new(),
    };
    use Method as M;

    // People.
    let r = w
        .admin(
            M::POST,
            "/users",
            "/api/v1/users",
            json!({
            "email": "boss@example.com", "name": "Пётр Начальников", "password": "password-123",
            "roles": ["head"]}),
        )
        .await;
    let boss = r.id();
    w.check_get(&r, &boss, &format!("/api/v1/users/{boss}"))
        .await;
    let r = w
        .admin(
            M::PATCH,
            "/users/{id}",
            &format!("/api/v1/users/{boss}"),
            json!({"name": "Пётр Главный"}),
        )
        .await;
    w.check_get(&r, &boss, &format!("/api/v1/users/{boss}"))
        .await;
    let mut people = BTreeMap::new();
    for (email, role) in [
        ("manager@example.com", "sales_manager"),
        ("head2@example.com", "head"),
        ("acc.a@example.com", "accountant"),
        ("acc.b@example.com", "accountant"),
    ] {
        let (uid, tok) = w.app.user_with_roles(email, &[role]).await;
        people.insert(email, (uid.to_string(), tok));
    }
    let manager = people["manager@example.com"].clone();
    let head2 = people["head2@example.com"].clone();
    let acc_a = people["acc.a@example.com"].clone();
    let acc_b = people["acc.b@example.com"].clone();
    let admin = w.app.admin_token.clone();
    let boss_token = w.app.login("boss@example.com", "password-123").await;

    // Departments.
    let r = w
        .admin(
            M::POST,
            "/departments",
            "/api/v1/departments",
            json!({"name": "Отдел продаж", "head_id": boss}),
        )
        .await;
    let dept = r.id();
    w.check_get(&r, &dept, &format!("/api/v1/departments/{dept}"))
        .await;
    let r = w
        .admin(
            M::PATCH,
            "/departments/{id}",
            &format!("/api/v1/departments/{dept}"),
            json!({"name": "Продажи"}),
        )
        .await;
    w.check_get(&r, &dept, &format!("/api/v1/departments/{dept}"))
        .await;
    let gone = w
        .admin(
            M::POST,
            "/departments",
            "/api/v1/departments",
            json!({"name": "Временный"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/departments/{id}",
            &format!("/api/v1/departments/{gone}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &gone, "department").await;

    // The own organisation, its bank accounts, pools and numbering.
    let r = w
        .admin(
            M::POST,
            "/organizations",
            "/api/v1/organizations",
            organization_body("SV", "ООО «Сдельно»"),
        )
        .await;
    let org = r.id();
    let org_url = format!("/api/v1/organizations/{org}");
    w.check_get(&r, &org, &org_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/organizations/{id}",
            &org_url,
            json!({"director_name": "Иванов И. И."}),
        )
        .await;
    w.check_get(&r, &org, &org_url).await;
    let r = w
        .admin(
            M::POST,
            "/organizations/{id}/bank-accounts",
            &format!("{org_url}/bank-accounts"),
            json!({
            "bank_name": "ПАО Сбербанк", "bik": "044525225",
            "correspondent_account": "30101810400000000225",
            "settlement_account": "40702810238000000002"}),
        )
        .await;
    let account = r.id();
    w.check(
        &r,
        &account,
        ReadBack::InList(&format!("{org_url}/bank-accounts"), "id"),
        &[],
    )
    .await;
    let r = w
        .admin(
            M::DELETE,
            "/organizations/{id}/bank-accounts/{account_id}",
            &format!("{org_url}/bank-accounts/{account}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &account, "organization_bank_account")
        .await;
    let r = w
        .admin(
            M::PUT,
            "/organizations/{id}/pools/{kind}",
            &format!("{org_url}/pools/accountants"),
            json!({"member_ids": [acc_a.0, acc_b.0]}),
        )
        .await;
    let pool = r.id();
    w.check(
        &r,
        &pool,
        ReadBack::InList(&format!("{org_url}/pools"), "id"),
        &[],
    )
    .await;
    w.admin(
        M::PUT,
        "/organizations/{id}/pools/{kind}",
        &format!("{org_url}/pools/decision_makers"),
        json!({"member_ids": [boss, head2.0]}),
    )
    .await;
    let mut first_template = None;
    for (doc, template) in [
        ("quote", "КП-{N:3}"),
        ("order", "З-{N:4}"),
        ("invoice", "СЧ-{N:5}"),
    ] {
        let r = w
            .admin(M::POST, "/numbering-templates", "/api/v1/numbering-templates", json!({
                "organization_id": org, "document_type": doc, "template": template, "reset": "never"}))
            .await;
        if first_template.is_none() {
            let t = r.id();
            w.check_get(&r, &t, &format!("/api/v1/numbering-templates/{t}"))
                .await;
            first_template = Some(t);
        }
    }
    let template = first_template.unwrap();
    let r = w
        .admin(
            M::PATCH,
            "/numbering-templates/{id}",
            &format!("/api/v1/numbering-templates/{template}"),
            json!({"template": "КП-{N:4}"}),
        )
        .await;
    w.check_get(
        &r,
        &template,
        &format!("/api/v1/numbering-templates/{template}"),
    )
    .await;
    let act = w
        .admin(
            M::POST,
            "/numbering-templates",
            "/api/v1/numbering-templates",
            json!({
            "organization_id": org, "document_type": "act", "template": "А-{N:3}", "reset": "never"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/numbering-templates/{id}",
            &format!("/api/v1/numbering-templates/{act}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &act, "numbering_template").await;
    let other_org = w
        .admin(
            M::POST,
            "/organizations",
            "/api/v1/organizations",
            organization_body("TMP", "ООО «Временное»"),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/organizations/{id}",
            &format!("/api/v1/organizations/{other_org}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &other_org, "organization").await;

    // Pipelines and stages.
    let r = w
        .admin(
            M::POST,
            "/pipelines",
            "/api/v1/pipelines",
            json!({"name": "Проекты", "stages": [
            {"name": "Новая", "kind": "open"}, {"name": "Успех", "kind": "won"},
            {"name": "Провал", "kind": "lost"}]}),
        )
        .await;
    let pipeline = r.id();
    let pipeline_url = format!("/api/v1/pipelines/{pipeline}");
    w.check_get(&r, &pipeline, &pipeline_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/pipelines/{id}",
            &pipeline_url,
            json!({"name": "Проекты 2026"}),
        )
        .await;
    w.check_get(&r, &pipeline, &pipeline_url).await;
    let r = w
        .admin(
            M::POST,
            "/pipelines/{id}/stages",
            &format!("{pipeline_url}/stages"),
            json!({"name": "Переговоры", "kind": "open", "sort": 2}),
        )
        .await;
    // The answer is the pipeline; the new stage is in its stages.
    let stage = r.body["stages"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "Переговоры"))
        .map_or_else(|| r.id(), id);
    w.check(&r, &stage, ReadBack::Within(&pipeline_url, "stages"), &[])
        .await;
    let r = w
        .admin(
            M::PATCH,
            "/pipelines/{id}/stages/{stage_id}",
            &format!("{pipeline_url}/stages/{stage}"),
            json!({"name": "Торг"}),
        )
        .await;
    w.check(&r, &stage, ReadBack::Within(&pipeline_url, "stages"), &[])
        .await;
    let r = w
        .admin(
            M::DELETE,
            "/pipelines/{id}/stages/{stage_id}",
            &format!("{pipeline_url}/stages/{stage}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &stage, "pipeline_stage").await;
    let spare = w
        .admin(
            M::POST,
            "/pipelines",
            "/api/v1/pipelines",
            json!({"name": "Лишняя", "stages": [
            {"name": "Новая", "kind": "open"}, {"name": "Успех", "kind": "won"}]}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/pipelines/{id}",
            &format!("/api/v1/pipelines/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "pipeline").await;

    // The client: a company, its legal entity, a contact.
    let r = w
        .admin(
            M::POST,
            "/companies",
            "/api/v1/companies",
            json!({"name": "ТСЖ «Берёзка»", "types": ["client", "supplier"]}),
        )
        .await;
    let company = r.id();
    let company_url = format!("/api/v1/companies/{company}");
    w.check_get(&r, &company, &company_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/companies/{id}",
            &company_url,
            json!({"industry": "ЖКХ"}),
        )
        .await;
    w.check_get(&r, &company, &company_url).await;
    let spare = w
        .admin(
            M::POST,
            "/companies",
            "/api/v1/companies",
            json!({"name": "Лишняя"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/companies/{id}",
            &format!("/api/v1/companies/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "company").await;

    let r = w
        .admin(M::POST, "/legal-entities", "/api/v1/legal-entities", json!({
            "company_id": company, "kind": "legal_entity", "full_name": "ТСЖ «Берёзка»",
            "short_name": "Берёзка", "inn": "7707083893", "kpp": "773601001", "legal_address": "Москва"}))
        .await;
    let buyer = r.id();
    let buyer_url = format!("/api/v1/legal-entities/{buyer}");
    w.check_get(&r, &buyer, &buyer_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/legal-entities/{id}",
            &buyer_url,
            json!({"signatory_name": "Петрова А. С."}),
        )
        .await;
    w.check_get(&r, &buyer, &buyer_url).await;
    let r = w
        .admin(
            M::POST,
            "/legal-entities/{id}/bank-accounts",
            &format!("{buyer_url}/bank-accounts"),
            json!({
            "bank_name": "ПАО Сбербанк", "bik": "044525225",
            "correspondent_account": "30101810400000000225",
            "settlement_account": "40702810938000000001"}),
        )
        .await;
    let account = r.id();
    w.check(
        &r,
        &account,
        ReadBack::InList(&format!("{buyer_url}/bank-accounts"), "id"),
        &[],
    )
    .await;
    let r = w
        .admin(
            M::DELETE,
            "/legal-entities/{id}/bank-accounts/{account_id}",
            &format!("{buyer_url}/bank-accounts/{account}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &account, "legal_entity_bank_account")
        .await;
    let spare = w
        .admin(
            M::POST,
            "/legal-entities",
            "/api/v1/legal-entities",
            json!({
            "company_id": company, "kind": "legal_entity", "full_name": "ООО «Лишнее»",
            "inn": "7702000029", "kpp": "770201001", "legal_address": "Москва"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/legal-entities/{id}",
            &format!("/api/v1/legal-entities/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "legal_entity").await;

    let r = w
        .admin(
            M::POST,
            "/contacts",
            "/api/v1/contacts",
            json!({
            "last_name": "Покупателев", "first_name": "Иван", "emails": ["buyer@example.com"]}),
        )
        .await;
    let contact = r.id();
    let contact_url = format!("/api/v1/contacts/{contact}");
    w.check_get(&r, &contact, &contact_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/contacts/{id}",
            &contact_url,
            json!({"position": "Председатель"}),
        )
        .await;
    w.check_get(&r, &contact, &contact_url).await;
    // A link has no id of its own: its event is about the contact, and it is read in the
    // contact's list of legal entities.
    let r = w
        .admin(
            M::POST,
            "/contacts/{id}/legal-entities",
            &format!("{contact_url}/legal-entities"),
            json!({"legal_entity_id": buyer, "role": "Председатель"}),
        )
        .await;
    let link_event = w.the_event(&r, &contact).await;
    if let Some(object) = link_event {
        let list: Value = w
            .app
            .get(&format!("{contact_url}/legal-entities"))
            .await
            .json()
            .await
            .unwrap();
        let items = list
            .get("items")
            .unwrap_or(&list)
            .as_array()
            .cloned()
            .unwrap_or_default();
        let read = items
            .into_iter()
            .find(|i| i["legal_entity_id"] == buyer.as_str());
        if read.as_ref() != Some(&object) {
            w.fail(
                &r,
                format!("the event's object {object} is not the listed link {read:?}"),
            );
        }
    }
    let r = w
        .admin(
            M::DELETE,
            "/contacts/{id}/legal-entities/{legal_entity_id}",
            &format!("{contact_url}/legal-entities/{buyer}"),
            json!({}),
        )
        .await;
    // The link's tombstone is about the contact, under the link's type.
    w.check_tombstone(&r, &contact, "contact_legal_entity")
        .await;
    let spare = w
        .admin(
            M::POST,
            "/contacts",
            "/api/v1/contacts",
            json!({"last_name": "Лишний"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/contacts/{id}",
            &format!("/api/v1/contacts/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "contact").await;

    // Products.
    let r = w
        .admin(
            M::POST,
            "/products",
            "/api/v1/products",
            json!({
            "name": "Камера IP 4 Мп", "sku": "CAM-4", "base_price": "12500.00", "vat_rate": "22"}),
        )
        .await;
    let product = r.id();
    let product_url = format!("/api/v1/products/{product}");
    w.check_get(&r, &product, &product_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/products/{id}",
            &product_url,
            json!({"base_price": "12000.00"}),
        )
        .await;
    w.check_get(&r, &product, &product_url).await;
    let r = w
        .admin(M::POST, "/products/find-or-create", "/api/v1/products/find-or-create",
            json!({"name": "Монтаж", "unit_name": "усл", "base_price": "20000.00", "vat_rate": "10"}))
        .await;
    let service = r.id();
    w.check_get(&r, &service, &format!("/api/v1/products/{service}"))
        .await;
    let spare = w
        .admin(
            M::POST,
            "/products",
            "/api/v1/products",
            json!({"name": "Лишний"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/products/{id}",
            &format!("/api/v1/products/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "product").await;

    // The deal and its rows.
    let r = w
        .admin(
            M::POST,
            "/deals",
            "/api/v1/deals",
            json!({
            "title": "Видеонаблюдение для ТСЖ", "pipeline_id": pipeline, "company_id": company,
            "legal_entity_id": buyer, "contact_ids": [contact], "responsible_id": manager.0}),
        )
        .await;
    let deal = r.id();
    let deal_url = format!("/api/v1/deals/{deal}");
    w.check_get(&r, &deal, &deal_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/deals/{id}",
            &deal_url,
            json!({"expected_close_date": "2099-12-31"}),
        )
        .await;
    w.check_get(&r, &deal, &deal_url).await;
    let rows_url = format!("{deal_url}/product-rows");
    let r = w
        .admin(
            M::POST,
            "/deals/{id}/product-rows",
            &rows_url,
            json!({"product_id": product, "quantity": "4", "price": "12500.00", "vat_rate": "22"}),
        )
        .await;
    let row = r.id();
    w.check(&r, &row, ReadBack::InList(&rows_url, "id"), &[])
        .await;
    let r = w
        .admin(
            M::PATCH,
            "/deals/{id}/product-rows/{row_id}",
            &format!("{rows_url}/{row}"),
            json!({"quantity": "5"}),
        )
        .await;
    w.check(&r, &row, ReadBack::InList(&rows_url, "id"), &[])
        .await;
    let spare = w
        .admin(
            M::POST,
            "/deals/{id}/product-rows",
            &rows_url,
            json!({"name": "Кабель", "quantity": "1", "price": "100.00"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/deals/{id}/product-rows/{row_id}",
            &format!("{rows_url}/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "product_row").await;
    w.admin(
        M::POST,
        "/deals/{id}/product-rows",
        &rows_url,
        json!({"product_id": service, "quantity": "1", "price": "20000.00", "vat_rate": "10"}),
    )
    .await;
    let spare = w
        .admin(
            M::POST,
            "/deals",
            "/api/v1/deals",
            json!({"title": "Лишняя"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/deals/{id}",
            &format!("/api/v1/deals/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "deal").await;

    // The quote, its versions and its actions.
    let r = w
        .admin(
            M::POST,
            "/quotes",
            "/api/v1/quotes",
            json!({"deal_id": deal, "organization_id": org, "contact_id": contact}),
        )
        .await;
    let quote = r.id();
    let quote_url = format!("/api/v1/quotes/{quote}");
    w.check_get(&r, &quote, &quote_url).await;
    let r = w
        .admin(
            M::POST,
            "/quotes/{id}/actions/{action}",
            &format!("{quote_url}/actions/send"),
            json!({}),
        )
        .await;
    w.check_get(&r, &quote, &quote_url).await;
    let rows = json!([
        {"name": "Камера IP 4 Мп", "quantity": "4", "price": "12500.00", "discount_percent": "5", "vat_rate": "22"},
        {"name": "Монтаж", "quantity": "1", "price": "20000.00", "vat_rate": "10", "unit_name": "усл"}]);
    let r = w
        .admin(
            M::POST,
            "/quotes/{id}/versions",
            &format!("{quote_url}/versions"),
            json!({"comment": "Скидка 5 % на камеры", "rows": rows}),
        )
        .await;
    check_quote_version(&mut w, &r, &quote_url).await;
    let n = r.body["number"].as_i64().unwrap();
    let r = w
        .admin(
            M::PATCH,
            "/quotes/{id}/versions/{n}",
            &format!("{quote_url}/versions/{n}"),
            json!({"comment": "Скидка 5 % на камеры, монтаж в декабре"}),
        )
        .await;
    check_quote_version(&mut w, &r, &quote_url).await;
    // Sent, then a new version after the client's feedback, edited and sent again.
    w.admin(
        M::POST,
        "/quotes/{id}/actions/{action}",
        &format!("{quote_url}/actions/send"),
        json!({}),
    )
    .await;
    w.admin(
        M::POST,
        "/quotes/{id}/actions/{action}",
        &format!("{quote_url}/actions/accept"),
        json!({}),
    )
    .await;

    // The order.
    let r = w
        .admin(
            M::POST,
            "/orders",
            "/api/v1/orders",
            json!({"quote_id": quote, "advance_percent": "50"}),
        )
        .await;
    let order = r.id();
    let order_url = format!("/api/v1/orders/{order}");
    w.check_get(&r, &order, &order_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/orders/{id}",
            &order_url,
            json!({"title": "Видеонаблюдение, 1 очередь"}),
        )
        .await;
    w.check_get(&r, &order, &order_url).await;
    let r = w
        .admin(
            M::POST,
            "/orders/{id}/actions/{action}",
            &format!("{order_url}/actions/confirm-terms"),
            json!({}),
        )
        .await;
    w.check_get(&r, &order, &order_url).await;

    // Invoices: one for the order, issued; one cancelled.
    let r = w
        .admin(
            M::POST,
            "/invoices",
            "/api/v1/invoices",
            json!({"organization_id": org, "order_id": order, "due_date": "2099-12-31"}),
        )
        .await;
    let invoice = r.id();
    let invoice_url = format!("/api/v1/invoices/{invoice}");
    w.check_get(&r, &invoice, &invoice_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/invoices/{id}",
            &invoice_url,
            json!({"comment": "Оплата в течение 5 дней"}),
        )
        .await;
    w.check_get(&r, &invoice, &invoice_url).await;
    let r = w
        .admin(
            M::POST,
            "/invoices/{id}/actions/issue",
            &format!("{invoice_url}/actions/issue"),
            json!({}),
        )
        .await;
    w.check_get(&r, &invoice, &invoice_url).await;
    let spare = w
        .admin(
            M::POST,
            "/invoices",
            "/api/v1/invoices",
            json!({"organization_id": org, "deal_id": deal,
            "buyer_legal_entity_id": buyer}),
        )
        .await
        .id();
    w.admin(
        M::POST,
        "/invoices/{id}/actions/issue",
        &format!("/api/v1/invoices/{spare}/actions/issue"),
        json!({}),
    )
    .await;
    let r = w
        .admin(
            M::POST,
            "/invoices/{id}/actions/cancel",
            &format!("/api/v1/invoices/{spare}/actions/cancel"),
            json!({"comment": "Выставлен по ошибке"}),
        )
        .await;
    w.check_get(&r, &spare, &format!("/api/v1/invoices/{spare}"))
        .await;

    // Payments: one applied on registration, one applied later and unapplied.
    let r = w
        .admin(
            M::POST,
            "/payments",
            "/api/v1/payments",
            json!({
            "date": "2026-11-21", "amount": "10000.00", "payer_legal_entity_id": buyer,
            "payment_order_number": "101", "purpose": "Аванс",
            "applications": [{"invoice_id": invoice, "amount": "10000.00"}]}),
        )
        .await;
    let payment = r.id();
    w.check_get(&r, &payment, &format!("/api/v1/payments/{payment}"))
        .await;
    let second = w
        .admin(
            M::POST,
            "/payments",
            "/api/v1/payments",
            json!({
            "date": "2026-11-22", "amount": "5000.00", "payer_legal_entity_id": buyer,
            "payment_order_number": "102", "purpose": "Оплата"}),
        )
        .await
        .id();
    let payment_url = format!("/api/v1/payments/{second}");
    let r = w
        .admin(
            M::POST,
            "/payments/{id}/applications",
            &format!("{payment_url}/applications"),
            json!({"invoice_id": invoice, "amount": "1000.00"}),
        )
        .await;
    // An application is part of its payment: the payment is the answered record.
    w.check_get(&r, &second, &payment_url).await;
    let application = r.body["applications"]
        .as_array()
        .and_then(|a| a.last())
        .map(id)
        .unwrap_or_else(|| id(&r.body));
    let r = w
        .admin(
            M::DELETE,
            "/payments/{id}/applications/{application_id}",
            &format!("{payment_url}/applications/{application}"),
            json!({}),
        )
        .await;
    // An unapplication marks the application, it deletes nothing: the payment is answered.
    w.check_get(&r, &second, &payment_url).await;

    // A bank statement: two incoming payments naming no invoice wait for review; one is
    // confirmed onto the invoice, the other rejected. The payments are journalled by their own
    // operation; the statement and each decision have their own event.
    let text = "1CClientBankExchange\r\nВерсияФормата=1.03\r\nКодировка=Windows\r\n\
        РасчСчет=40702810938000000001\r\n\
        СекцияДокумент=Платежное поручение\r\nНомер=901\r\nДата=23.11.2026\r\nСумма=100.00\r\n\
        ПлательщикСчет=40702810400000000002\r\nПлательщикИНН=7707083893\r\nПлательщик1=ТСЖ «Берёзка»\r\n\
        ПолучательСчет=40702810938000000001\r\nДатаПоступило=23.11.2026\r\nНазначениеПлатежа=Аванс\r\nКонецДокумента\r\n\
        СекцияДокумент=Платежное поручение\r\nНомер=902\r\nДата=23.11.2026\r\nСумма=200.00\r\n\
        ПлательщикСчет=40702810400000000002\r\nПлательщикИНН=7707083893\r\nПлательщик1=ТСЖ «Берёзка»\r\n\
        ПолучательСчет=40702810938000000001\r\nДатаПоступило=23.11.2026\r\nНазначениеПлатежа=Аванс\r\nКонецДокумента\r\n\
        КонецФайла\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    let r = w
        .send(
            &admin,
            M::POST,
            "/bank-statements",
            "/api/v1/bank-statements",
            Body::Form(Form::new().part(
                "file",
                Part::bytes(bytes.into_owned()).file_name("kl_to_1c.txt"),
            )),
        )
        .await;
    let statement = r.id();
    w.check_get(
        &r,
        &statement,
        &format!("/api/v1/bank-statements/{statement}"),
    )
    .await;
    let review: Vec<String> = r.body["review"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["document_id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(review.len(), 2, "{}", r.body);
    let r = w
        .admin(
            M::POST,
            "/bank-statement-documents/{id}/confirm",
            &format!("/api/v1/bank-statement-documents/{}/confirm", review[0]),
            json!({"invoice_id": invoice}),
        )
        .await;
    w.check_get(
        &r,
        &review[0],
        &format!("/api/v1/bank-statement-documents/{}", review[0]),
    )
    .await;
    let r = w
        .admin(
            M::POST,
            "/bank-statement-documents/{id}/reject",
            &format!("/api/v1/bank-statement-documents/{}/reject", review[1]),
            json!({}),
        )
        .await;
    w.check_get(
        &r,
        &review[1],
        &format!("/api/v1/bank-statement-documents/{}", review[1]),
    )
    .await;

    // Files and a supplier invoice with its approval.
    let r = w
        .send(
            &admin,
            M::POST,
            "/files",
            "/api/v1/files",
            pdf("Счёт 17.pdf", "company", &company),
        )
        .await;
    let file = r.id();
    w.check_get(&r, &file, &format!("/api/v1/files/{file}"))
        .await;
    let spare = w
        .send(
            &admin,
            M::POST,
            "/files",
            "/api/v1/files",
            pdf("Лишний.pdf", "company", &company),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/files/{id}",
            &format!("/api/v1/files/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "file").await;
    let r = w
        .json(
            &admin,
            M::POST,
            "/supplier-invoices",
            "/api/v1/supplier-invoices",
            json!({
            "organization_id": org, "supplier_legal_entity_id": buyer,
            "supplier_email": "sales@supplier.example", "number": "17",
            "invoice_date": "2026-11-20", "amount": "125000.50", "vat_amount": "20833.42",
            "due_date": "2026-11-30", "file_ids": [file]}),
        )
        .await;
    let supplier_invoice = r.id();
    let si_url = format!("/api/v1/supplier-invoices/{supplier_invoice}");
    w.check_get(&r, &supplier_invoice, &si_url).await;
    let r = w
        .json(
            &boss_token,
            M::POST,
            "/supplier-invoices/{id}/actions/{action}",
            &format!("{si_url}/actions/take"),
            json!({}),
        )
        .await;
    w.check_get(&r, &supplier_invoice, &si_url).await;

    // Tasks: set for the accountants, claimed, handed on, completed.
    let r = w
        .json(&manager.1, M::POST, "/tasks", "/api/v1/tasks", json!({
            "title": "Подготовить акт сверки", "role": "accountant", "due_at": "2030-01-01T10:00:00Z"}))
        .await;
    let task = r.id();
    let task_url = format!("/api/v1/tasks/{task}");
    w.check_get(&r, &task, &task_url).await;
    let r = w
        .send(
            &acc_a.1,
            M::POST,
            "/tasks/{id}/claim",
            &format!("{task_url}/claim"),
            Body::None,
        )
        .await;
    w.check_get(&r, &task, &task_url).await;
    let r = w
        .json(
            &acc_a.1,
            M::POST,
            "/tasks/{id}/delegate",
            &format!("{task_url}/delegate"),
            json!({"user_id": acc_b.0, "comment": "Посмотри, пожалуйста"}),
        )
        .await;
    w.check_get(&r, &task, &task_url).await;
    let r = w
        .json(
            &acc_b.1,
            M::POST,
            "/tasks/{id}/complete",
            &format!("{task_url}/complete"),
            json!({"outcome": "done", "comment": "Акт отправлен"}),
        )
        .await;
    w.check_get(&r, &task, &task_url).await;

    // Leads.
    let r = w
        .admin(
            M::POST,
            "/leads",
            "/api/v1/leads",
            json!({
            "company_name": "ТСЖ «Рябинка»", "contact_name": "Сидорова Анна Сергеевна",
            "phone": "8 (495) 123-45-67", "email": "anna@ryabinka.example",
            "potential_amount": "480000.00", "category": "A"}),
        )
        .await;
    let lead = r.id();
    let lead_url = format!("/api/v1/leads/{lead}");
    w.check_get(&r, &lead, &lead_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/leads/{id}",
            &lead_url,
            json!({"comment": "Просят перезвонить"}),
        )
        .await;
    w.check_get(&r, &lead, &lead_url).await;
    let r = w
        .admin(
            M::POST,
            "/leads/{id}/convert",
            &format!("{lead_url}/convert"),
            json!({}),
        )
        .await;
    w.check_get(&r, &lead, &lead_url).await;
    let spare = w
        .admin(
            M::POST,
            "/leads",
            "/api/v1/leads",
            json!({"company_name": "Лишний"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/leads/{id}",
            &format!("/api/v1/leads/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "lead").await;

    // Activities and time.
    let r = w
        .admin(M::POST, "/activities", "/api/v1/activities", json!({
            "type": "task", "subject": "Настроить обмен с 1С", "owner_type": "deal", "owner_id": deal}))
        .await;
    let activity = r.id();
    let activity_url = format!("/api/v1/activities/{activity}");
    w.check_get(&r, &activity, &activity_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/activities/{id}",
            &activity_url,
            json!({"description": "Выгрузка контрагентов"}),
        )
        .await;
    w.check_get(&r, &activity, &activity_url).await;
    let entries_url = format!("{activity_url}/time-entries");
    let r = w
        .admin(
            M::POST,
            "/activities/{id}/time-entries",
            &entries_url,
            json!({"minutes": 90, "date": "2026-11-20", "comment": "выгрузка контрагентов"}),
        )
        .await;
    let entry = r.id();
    w.check(&r, &entry, ReadBack::InList(&entries_url, "id"), &[])
        .await;
    let r = w
        .admin(
            M::POST,
            "/activities/{id}/complete",
            &format!("{activity_url}/complete"),
            json!({"result": "Обмен настроен"}),
        )
        .await;
    w.check_get(&r, &activity, &activity_url).await;
    let spare = w
        .admin(
            M::POST,
            "/activities",
            "/api/v1/activities",
            json!({"type": "call", "subject": "Лишний звонок"}),
        )
        .await
        .id();
    let r = w
        .admin(
            M::DELETE,
            "/activities/{id}",
            &format!("/api/v1/activities/{spare}"),
            json!({}),
        )
        .await;
    w.check_tombstone(&r, &spare, "activity").await;

    // Calendar.
    let r = w
        .admin(
            M::POST,
            "/calendar-events",
            "/api/v1/calendar-events",
            json!({
            "title": "Встреча с ТСЖ", "starts_at": "2030-01-10T10:00:00Z",
            "ends_at": "2030-01-10T11:00:00Z", "place": "Переговорная 2",
            "participants": [manager.0]}),
        )
        .await;
    let event = r.id();
    let event_url = format!("/api/v1/calendar-events/{event}");
    w.check_get(&r, &event, &event_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/calendar-events/{id}",
            &event_url,
            json!({"place": "Переговорная 3"}),
        )
        .await;
    w.check_get(&r, &event, &event_url).await;
    let r = w
        .admin(M::DELETE, "/calendar-events/{id}", &event_url, json!({}))
        .await;
    w.check_tombstone(&r, &event, "calendar_event").await;

    // A comment on the deal.
    let comments_url = format!("/api/v1/deals/{deal}/comments");
    let r = w
        .admin(
            M::POST,
            "/{entity}/{id}/comments",
            &comments_url,
            json!({"text": "Клиент просит скидку"}),
        )
        .await;
    let comment = r.id();
    w.check(&r, &comment, ReadBack::InList(&comments_url, "id"), &[])
        .await;

    // API tokens.
    let r = w
        .admin(
            M::POST,
            "/api-tokens",
            "/api/v1/api-tokens",
            json!({"name": "1C sync"}),
        )
        .await;
    let api_token = r.id();
    // The secret is shown once, in the creation's answer; the list never has it, nor the event.
    w.check(
        &r,
        &api_token,
        ReadBack::InList("/api/v1/api-tokens", "id"),
        &[],
    )
    .await;
    let r = w
        .admin(
            M::DELETE,
            "/api-tokens/{id}",
            &format!("/api/v1/api-tokens/{api_token}"),
            json!({}),
        )
        .await;
    // A revoked token stays listed with its revocation time: the event is that change.
    w.check(
        &r,
        &api_token,
        ReadBack::InList("/api/v1/api-tokens", "id"),
        &[],
    )
    .await;

    // Webhook subscriptions and their deliveries (the secret is in the creation's answer only,
    // never in an event).
    let r = w
        .admin(
            M::POST,
            "/webhooks",
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "event_types": ["company.*"]}),
        )
        .await;
    let hook = r.id();
    let hook_url = format!("/api/v1/webhooks/{hook}");
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    w.check_get(&r, &hook, &hook_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/webhooks/{id}",
            &hook_url,
            json!({"description": "1C"}),
        )
        .await;
    w.check_get(&r, &hook, &hook_url).await;
    let r = w
        .admin(
            M::POST,
            "/webhooks/{id}/rotate-secret",
            &format!("{hook_url}/rotate-secret"),
            json!({"grace_period_seconds": 3600}),
        )
        .await;
    let rotated = r.body["secret"].as_str().unwrap().to_owned();
    w.check_get(&r, &hook, &hook_url).await;
    let r = w
        .admin(
            M::POST,
            "/webhooks/{id}/test",
            &format!("{hook_url}/test"),
            json!({}),
        )
        .await;
    let delivery = r.id();
    let deliveries = format!("/api/v1/webhook-deliveries?webhook_id={hook}");
    w.check(&r, &delivery, ReadBack::InList(&deliveries, "id"), &[])
        .await;
    // No worker runs here: the test delivery is failed by hand so that recover and redeliver
    // have something to send again.
    fail_delivery(&w.app, &delivery).await;
    let r = w
        .admin(
            M::POST,
            "/webhooks/{id}/recover",
            &format!("{hook_url}/recover"),
            json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.body["requeued"], 1, "{}", r.body);
    w.check_get(&r, &hook, &hook_url).await;
    fail_delivery(&w.app, &delivery).await;
    let r = w
        .admin(
            M::POST,
            "/webhook-deliveries/{id}/redeliver",
            &format!("/api/v1/webhook-deliveries/{delivery}/redeliver"),
            json!({}),
        )
        .await;
    w.check(&r, &delivery, ReadBack::InList(&deliveries, "id"), &[])
        .await;
    let r = w
        .admin(M::DELETE, "/webhooks/{id}", &hook_url, json!({}))
        .await;
    w.check_tombstone(&r, &hook, "webhook").await;
    let journalled = domain_event::Entity::find()
        .filter(domain_event::Column::EventType.starts_with("webhook"))
        .all(&w.app.server.as_ref().unwrap().state.store.conn)
        .await
        .unwrap();
    assert!(journalled.len() >= 7);
    assert!(
        journalled
            .iter()
            .all(|e| !e.payload.contains(&secret) && !e.payload.contains(&rotated)),
        "no webhook event carries the secret"
    );

    // Automation rules.
    let r = w
        .admin(
            M::POST,
            "/automation-rules",
            "/api/v1/automation-rules",
            json!({
            "name": "Контроль оплаты проектов", "trigger": {"type": "deal_payment_percent_changed"},
            "conditions": [], "actions": [{"type": "notify_supervisor", "email": false}],
            "pipeline_ids": [pipeline]}),
        )
        .await;
    let rule = r.id();
    let rule_url = format!("/api/v1/automation-rules/{rule}");
    w.check_get(&r, &rule, &rule_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/automation-rules/{id}",
            &rule_url,
            json!({"enabled": false}),
        )
        .await;
    w.check_get(&r, &rule, &rule_url).await;
    let r = w
        .admin(M::DELETE, "/automation-rules/{id}", &rule_url, json!({}))
        .await;
    w.check_tombstone(&r, &rule, "automation_rule").await;

    // Business processes: a template, a draft, its publication, an instance and its cancel.
    let definition = json!({
        "entity_type": "deal", "name": "Проверка сделки",
        "steps": [{ "id": "check", "kind": "task", "title": "Проверить сделку", "assignees": [{ "type": "responsible" }] }]
    });
    let r = w
        .admin(
            M::POST,
            "/process-templates",
            "/api/v1/process-templates",
            json!({"code": "deal_check", "name": "Проверка", "entity_type": "deal"}),
        )
        .await;
    let template = r.id();
    let template_url = format!("/api/v1/process-templates/{template}");
    w.check_get(&r, &template, &template_url).await;
    let r = w
        .admin(
            M::PATCH,
            "/process-templates/{id}",
            &template_url,
            json!({"name": "Проверка сделки"}),
        )
        .await;
    w.check_get(&r, &template, &template_url).await;
    let r = w
        .admin(
            M::POST,
            "/process-templates/{id}/versions",
            &format!("{template_url}/versions"),
            json!({"definition": definition}),
        )
        .await;
    let version = r.id();
    let version_url = format!("{template_url}/versions/2");
    w.check_get(&r, &version, &version_url).await;
    let r = w
        .admin(
            M::PUT,
            "/process-templates/{id}/versions/{number}",
            &version_url,
            json!({"definition": {
                "entity_type": "deal", "name": "Проверка сделки",
                "steps": [{ "id": "check", "kind": "task", "title": "Проверить сделку и договор", "assignees": [{ "type": "responsible" }] }]
            }}),
        )
        .await;
    w.check_get(&r, &version, &version_url).await;
    let r = w
        .admin(
            M::POST,
            "/process-templates/{id}/versions/{number}/publish",
            &format!("{version_url}/publish"),
            json!({}),
        )
        .await;
    w.check_get(&r, &version, &version_url).await;
    let r = w
        .admin(
            M::POST,
            "/process-instances",
            "/api/v1/process-instances",
            json!({"template_id": template, "entity_id": deal}),
        )
        .await;
    let instance = r.id();
    let instance_url = format!("/api/v1/process-instances/{instance}");
    w.check_get(&r, &instance, &instance_url).await;
    let r = w
        .admin(
            M::POST,
            "/process-instances/{id}/cancel",
            &format!("{instance_url}/cancel"),
            json!({"reason": "Проверка журнала"}),
        )
        .await;
    w.check_get(&r, &instance, &instance_url).await;

    // A CSV import: the answered record is the import.
    let r = w
        .admin(
            M::POST,
            "/imports",
            "/api/v1/imports",
            json!({
            "entity": "leads", "content": "Название;Телефон\nТСЖ «Клён»;+7 495 000-00-01\n",
            "mapping": {"Название": "company_name", "Телефон": "phone"}, "delimiter": ";"}),
        )
        .await;
    let import = r.id();
    w.check_get(&r, &import, &format!("/api/v1/imports/{import}"))
        .await;

    // A handover: the leaving user's timeline records it; his company moves with its own event.
    let mut leaving = Vec::new();
    for email in ["leaving@example.com", "colleague@example.com"] {
        let r = w
            .json(
                &w.app.admin_token.clone(),
                M::POST,
                "/users",
                "/api/v1/users",
                json!({"email": email, "name": "Сотрудник", "password": "password-123",
                       "roles": ["sales_manager"]}),
            )
            .await;
        leaving.push(r.id());
    }
    let (from, to) = (leaving[0].clone(), leaving[1].clone());
    let r = w
        .json(
            &w.app.admin_token.clone(),
            M::POST,
            "/companies",
            "/api/v1/companies",
            json!({"name": "ООО «Передача»", "responsible_id": from}),
        )
        .await;
    let moved = r.id();
    let r = w
        .admin(
            M::POST,
            "/users/{id}/handover",
            &format!("/api/v1/users/{from}/handover"),
            json!({"to_user_id": to}),
        )
        .await;
    w.check_get(&r, &from, &format!("/api/v1/users/{from}"))
        .await;
    let events = w.events(&r.request_id).await;
    assert!(
        events
            .iter()
            .any(|e| e.entity_id.to_string() == moved && e.event_type == "company.updated"),
        "the moved company's event"
    );

    // Every write operation of the document has a case here, or is exempt.
    let exempt: BTreeSet<(String, String)> = EXEMPT
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            if ["POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
                operations.insert((m, path.clone()));
            }
        }
    }
    let uncovered: Vec<String> = operations
        .iter()
        .filter(|op| !w.covered.contains(*op) && !exempt.contains(*op))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    let stray: Vec<String> = w
        .covered
        .iter()
        .chain(exempt.iter())
        .filter(|op| !operations.contains(*op))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        uncovered.is_empty() && stray.is_empty(),
        "write operations without a case: {uncovered:?}; cases of no operation: {stray:?}"
    );
    assert!(
        w.failures.is_empty(),
        "{} of {} cases fail:\n{}",
        w.failures.len(),
        w.covered.len(),
        w.failures.join("\n")
    );
}

/// A quote version's view names it by its quote and number; its record id (the event's
/// subject) is read from the database.
async fn check_quote_version(w: &mut Walk, r: &Written, quote_url: &str) {
    use sdelka_persistence::entity::quote_version;
    let quote: uuid::Uuid = r.body["quote_id"].as_str().unwrap().parse().unwrap();
    let n = r.body["number"].as_i64().unwrap();
    let version = quote_version::Entity::find()
        .filter(quote_version::Column::QuoteId.eq(quote))
        .filter(quote_version::Column::Number.eq(i32::try_from(n).unwrap()))
        .one(&w.app.server.as_ref().unwrap().state.store.conn)
        .await
        .unwrap()
        .unwrap();
    w.check_get(
        r,
        &version.id.to_string(),
        &format!("{quote_url}/versions/{n}"),
    )
    .await;
}

/// Marks a webhook delivery failed, as an exhausted schedule would.
async fn fail_delivery(app: &TestApp, id: &str) {
    use sdelka_persistence::entity::webhook_delivery;
    use sea_orm::sea_query::Expr;
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::State, Expr::value("failed"))
        .filter(webhook_delivery::Column::Id.eq(id.parse::<uuid::Uuid>().unwrap()))
        .exec(&app.server.as_ref().unwrap().state.store.conn)
        .await
        .unwrap();
}
