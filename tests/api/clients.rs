//! CRM-1..3: companies, legal entities with requisites, contacts, the many-to-many link
//! between contacts and legal entities, external ids, duplicate warnings, and visibility by
//! the responsible manager.

use reqwest::{Method, Response};
use sdelka_tests::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

/// A user in a department (or none), logged in: (id, access token).
async fn user(
    app: &TestApp,
    email: &str,
    roles: &[&str],
    department: Option<&str>,
) -> (String, String) {
    let res = app
        .post(
            "/api/v1/users",
            &json!({"email": email, "name": email, "password": "password-123", "roles": roles,
                    "department_id": department}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    (id, app.login(email, "password-123").await)
}

/// A sales department with its head and two managers: (head, manager A, manager B) tokens
/// and ids.
struct Team {
    head: (String, String),
    a: (String, String),
    b: (String, String),
}

async fn team(app: &TestApp) -> Team {
    let head = user(app, "head@example.com", &["head"], None).await;
    let dept: Value = app
        .post(
            "/api/v1/departments",
            &json!({"name": "Продажи", "head_id": head.0}),
        )
        .await
        .json()
        .await
        .unwrap();
    let dept_id = dept["id"].as_str().unwrap().to_owned();
    let a = user(app, "a@example.com", &["sales_manager"], Some(&dept_id)).await;
    let b = user(app, "b@example.com", &["sales_manager"], Some(&dept_id)).await;
    Team { head, a, b }
}

async fn send(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    body: Option<&Value>,
) -> Response {
    let mut req = app.request(method, path, token);
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

async fn post_as(app: &TestApp, token: &str, path: &str, body: &Value) -> Response {
    send(app, Method::POST, token, path, Some(body)).await
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> Response {
    send(app, Method::GET, token, path, None).await
}

async fn json_of(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn company(app: &TestApp, token: &str, body: Value) -> String {
    let c = json_of(post_as(app, token, "/api/v1/companies", &body).await, 201).await;
    c["id"].as_str().unwrap().to_owned()
}

/// An organisation-kind legal entity of `company_id`.
fn org_entity(company_id: &str, name: &str, inn: &str, kpp: &str) -> Value {
    json!({"company_id": company_id, "kind": "legal_entity", "full_name": format!("ООО «{name}»"),
           "short_name": name, "inn": inn, "kpp": kpp, "legal_address": "Москва",
           "signatory_name": "Иванов И. И.", "signatory_basis": "Устав"})
}

async fn legal_entity(app: &TestApp, token: &str, body: Value) -> Value {
    json_of(
        post_as(app, token, "/api/v1/legal-entities", &body).await,
        201,
    )
    .await
}

async fn contact(app: &TestApp, token: &str, body: Value) -> Value {
    json_of(post_as(app, token, "/api/v1/contacts", &body).await, 201).await
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .or_else(|| list["items"].as_array())
        .unwrap()
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

async fn list_ids(app: &TestApp, path: &str) -> Vec<String> {
    ids(&json_of(app.get(path).await, 200).await, "id")
}

#[tokio::test]
async fn contact_acts_for_several_legal_entities_and_a_legal_entity_has_several_contacts() {
    let app = TestApp::spawn().await;
    let t = &app.admin_token;
    let romashka = company(&app, t, json!({"name": "Ромашка"})).await;
    let vasilek = company(&app, t, json!({"name": "Василёк", "types": ["supplier"]})).await;
    let le1 = legal_entity(
        &app,
        t,
        org_entity(&romashka, "Ромашка", "7701000019", "770101001"),
    )
    .await;
    let le2 = legal_entity(
        &app,
        t,
        org_entity(&vasilek, "Василёк", "7702000029", "770201001"),
    )
    .await;
    let le1 = le1["id"].as_str().unwrap().to_owned();
    let le2 = le2["id"].as_str().unwrap().to_owned();

    let petrov = contact(
        &app,
        t,
        json!({"last_name": "Петров", "first_name": "Пётр"}),
    )
    .await;
    let petrov = petrov["id"].as_str().unwrap().to_owned();
    let links = format!("/api/v1/contacts/{petrov}/legal-entities");
    let l1 = json_of(
        app.post(
            &links,
            &json!({"legal_entity_id": le1, "role": "Генеральный директор"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(l1["company_id"], romashka);
    json_of(
        app.post(
            &links,
            &json!({"legal_entity_id": le2, "role": "Представитель по доверенности"}),
        )
        .await,
        201,
    )
    .await;
    let mut others = Vec::new();
    for (name, role) in [("Сидорова", "Главный бухгалтер"), ("Кузнецов", "Снабженец")]
    {
        let c = contact(&app, t, json!({"last_name": name})).await;
        let id = c["id"].as_str().unwrap().to_owned();
        json_of(
            app.post(
                &format!("/api/v1/contacts/{id}/legal-entities"),
                &json!({"legal_entity_id": le1, "role": role}),
            )
            .await,
            201,
        )
        .await;
        others.push(id);
    }

    // Contact → legal entities: two, of two different companies, each with its role.
    let of_contact = json_of(app.get(&links).await, 200).await;
    let items = of_contact["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let by_le = |id: &str| {
        items
            .iter()
            .find(|i| i["legal_entity_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_le(&le1)["role"], "Генеральный директор");
    assert_eq!(by_le(&le1)["company_id"], romashka);
    assert_eq!(by_le(&le2)["role"], "Представитель по доверенности");
    assert_eq!(by_le(&le2)["company_id"], vasilek);

    // Legal entity → contacts: three, with their roles.
    let of_le = json_of(
        app.get(&format!("/api/v1/legal-entities/{le1}/contacts"))
            .await,
        200,
    )
    .await;
    let mut got = ids(&of_le, "contact_id");
    got.sort();
    let mut want = vec![petrov.clone(), others[0].clone(), others[1].clone()];
    want.sort();
    assert_eq!(got, want);
    let sidorova = of_le["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["last_name"] == "Сидорова")
        .unwrap();
    assert_eq!(sidorova["role"], "Главный бухгалтер");
    let filtered = json_of(
        app.get(&format!("/api/v1/contacts?legal_entity_id={le1}"))
            .await,
        200,
    )
    .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 3);
    let of_le2 = json_of(
        app.get(&format!("/api/v1/legal-entities/{le2}/contacts"))
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&of_le2, "contact_id"), vec![petrov.clone()]);

    // Linking the same pair twice is a duplicate; an unknown legal entity names the field.
    let again = app
        .post(&links, &json!({"legal_entity_id": le1, "role": "Другое"}))
        .await;
    let problem = json_of(again, 409).await;
    assert_eq!(problem["code"], "duplicate");
    let unknown = json_of(
        app.post(&links, &json!({"legal_entity_id": Uuid::now_v7()}))
            .await,
        422,
    )
    .await;
    assert_eq!(unknown["errors"][0]["field"], "legal_entity_id");

    // Unlinking removes one direction and the other, and is journaled on the contact.
    let res = send(&app, Method::DELETE, t, &format!("{links}/{le2}"), None).await;
    assert_eq!(res.status(), 204);
    let of_contact = json_of(app.get(&links).await, 200).await;
    assert_eq!(ids(&of_contact, "legal_entity_id"), vec![le1.clone()]);
    let of_le2 = json_of(
        app.get(&format!("/api/v1/legal-entities/{le2}/contacts"))
            .await,
        200,
    )
    .await;
    assert_eq!(of_le2, json!({"items": []}));
    let res = send(&app, Method::DELETE, t, &format!("{links}/{le2}"), None).await;
    assert_eq!(res.status(), 404);
    let timeline = json_of(
        app.get(&format!(
            "/api/v1/contacts/{petrov}/timeline?sort=occurred_at"
        ))
        .await,
        200,
    )
    .await;
    let actions: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "legal_entity_linked",
            "legal_entity_linked",
            "legal_entity_unlinked"
        ]
    );
    let unlinked = &timeline["items"][3]["changes"];
    assert_eq!(unlinked["legal_entity_id"]["before"], le2);
    assert_eq!(unlinked["role"]["before"], "Представитель по доверенности");
}

#[tokio::test]
async fn requisites_errors_name_the_field_and_the_rule() {
    let app = TestApp::spawn().await;
    let t = &app.admin_token;
    let c = company(&app, t, json!({"name": "Ромашка"})).await;

    let mut bad_inn = org_entity(&c, "Ромашка", "7701000018", "770101001");
    bad_inn["ogrn"] = json!("1027700132194");
    let problem = json_of(app.post("/api/v1/legal-entities", &bad_inn).await, 422).await;
    let errors: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [("inn", "checksum_mismatch"), ("ogrn", "checksum_mismatch")]
    );

    // A legal entity cannot have a person's INN; an individual has no OGRN(IP) and no KPP.
    let mut person_inn = org_entity(&c, "Ромашка", "500100732259", "770101001");
    person_inn.as_object_mut().unwrap().remove("kpp");
    let problem = json_of(app.post("/api/v1/legal-entities", &person_inn).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "inn");
    assert_eq!(problem["errors"][0]["code"], "kind_mismatch");
    let individual = json!({"company_id": c, "kind": "individual", "full_name": "Иванов Иван Иванович",
                            "inn": "500100732259", "ogrn": "304500116000157"});
    let problem = json_of(app.post("/api/v1/legal-entities", &individual).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "ogrn");
    assert_eq!(problem["errors"][0]["code"], "not_applicable");
    let individual = json!({"company_id": c, "kind": "individual", "full_name": "Иванов Иван Иванович",
                            "inn": "500100732259"});
    let created = json_of(app.post("/api/v1/legal-entities", &individual).await, 201).await;
    assert_eq!(created["kind"], "individual");
    assert_eq!(created["short_name"], "Иванов Иван Иванович");
    let entrepreneur = json!({"company_id": c, "kind": "entrepreneur", "full_name": "ИП Иванов",
                              "inn": "500100732259", "ogrn": "304500116000157"});
    json_of(app.post("/api/v1/legal-entities", &entrepreneur).await, 201).await;

    // Bank accounts: checked against the BIK, on create and through the sub-resource.
    let mut with_account = org_entity(&c, "Ромашка", "7701000019", "770101001");
    with_account["bank_accounts"] = json!([{"bank_name": "ПАО Сбербанк", "bik": "044525225",
        "correspondent_account": "30101810400000000225", "settlement_account": "40702810838000000001"}]);
    let problem = json_of(app.post("/api/v1/legal-entities", &with_account).await, 422).await;
    assert_eq!(
        problem["errors"][0]["field"],
        "bank_accounts[0].settlement_account"
    );
    assert_eq!(problem["errors"][0]["code"], "checksum_mismatch");
    with_account["bank_accounts"][0]["settlement_account"] = json!("40702810938000000001");
    let le = json_of(app.post("/api/v1/legal-entities", &with_account).await, 201).await;
    assert_eq!(le["bank_accounts"][0]["bik"], "044525225");
    assert_eq!(le["signatory_basis"], "Устав");
    let le_id = le["id"].as_str().unwrap();
    let accounts = format!("/api/v1/legal-entities/{le_id}/bank-accounts");
    let problem = json_of(
        app.post(&accounts, &json!({"bank_name": "Сбер", "bik": "04452522", "correspondent_account": "30101810400000000225",
                                     "settlement_account": "40702810938000000001"})).await,
        422,
    ).await;
    assert_eq!(problem["errors"][0]["field"], "bik");
    assert_eq!(problem["errors"][0]["code"], "invalid_length");
    let second = json_of(
        app.post(&accounts, &json!({"bank_name": "Сбер", "bik": "044525225", "correspondent_account": "30101810400000000225",
                                     "settlement_account": "40702810238000000002", "currency": "usd"})).await,
        201,
    ).await;
    assert_eq!(second["currency"], "USD");
    let listed = json_of(app.get(&accounts).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let first_id = le["bank_accounts"][0]["id"].as_str().unwrap();
    let res = send(
        &app,
        Method::DELETE,
        t,
        &format!("{accounts}/{first_id}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    let listed = json_of(app.get(&accounts).await, 200).await;
    assert_eq!(
        ids(&listed, "id"),
        vec![second["id"].as_str().unwrap().to_owned()]
    );

    // PATCH re-checks the requisites as a whole.
    let res = app
        .patch(
            &format!("/api/v1/legal-entities/{le_id}"),
            &json!({"kpp": null}),
        )
        .await;
    let problem = json_of(res, 422).await;
    assert_eq!(problem["errors"][0]["field"], "kpp");
    assert_eq!(problem["errors"][0]["code"], "required");

    // A company that still has legal entities is not deleted.
    let res = send(
        &app,
        Method::DELETE,
        t,
        &format!("/api/v1/companies/{c}"),
        None,
    )
    .await;
    assert_eq!(json_of(res, 409).await["code"], "conflict");
}

#[tokio::test]
async fn a_manager_sees_only_his_clients_his_head_and_admin_see_all() {
    let app = TestApp::spawn().await;
    let tm = team(&app).await;
    let (a_id, a) = (&tm.a.0, &tm.a.1);
    let (b_id, b) = (&tm.b.0, &tm.b.1);
    let head = &tm.head.1;
    let outsider = user(&app, "c@example.com", &["head"], None).await.1;

    let a_company = company(&app, a, json!({"name": "Ромашка"})).await;
    let b_company = company(&app, b, json!({"name": "Ромашка-Юг"})).await;
    let a_le = legal_entity(
        &app,
        a,
        org_entity(&a_company, "Ромашка", "7701000019", "770101001"),
    )
    .await;
    let a_le = a_le["id"].as_str().unwrap().to_owned();
    let a_contact = contact(
        &app,
        a,
        json!({"last_name": "Петров", "emails": ["petrov@romashka.ru"]}),
    )
    .await;
    assert_eq!(a_contact["responsible_id"], a_id.as_str());
    let a_contact = a_contact["id"].as_str().unwrap().to_owned();
    let b_contact = contact(&app, b, json!({"last_name": "Сидоров"})).await;
    let b_contact = b_contact["id"].as_str().unwrap().to_owned();

    // B: A's records do not exist for him — by id, in lists, in search, on the timeline.
    for path in [
        format!("/api/v1/companies/{a_company}"),
        format!("/api/v1/legal-entities/{a_le}"),
        format!("/api/v1/legal-entities/{a_le}/bank-accounts"),
        format!("/api/v1/legal-entities/{a_le}/contacts"),
        format!("/api/v1/contacts/{a_contact}"),
        format!("/api/v1/contacts/{a_contact}/legal-entities"),
        format!("/api/v1/companies/{a_company}/timeline"),
        format!("/api/v1/legal-entities/{a_le}/timeline"),
        format!("/api/v1/contacts/{a_contact}/timeline"),
    ] {
        let res = get_as(&app, b, &path).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = send(
        &app,
        Method::PATCH,
        b,
        &format!("/api/v1/companies/{a_company}"),
        Some(&json!({"name": "Моя"})),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = send(
        &app,
        Method::DELETE,
        b,
        &format!("/api/v1/contacts/{a_contact}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 404);
    let seen = json_of(get_as(&app, b, "/api/v1/companies?q=ромашка").await, 200).await;
    assert_eq!(ids(&seen, "id"), vec![b_company.clone()]);
    let seen = json_of(
        get_as(&app, b, "/api/v1/companies?inn=7701000019").await,
        200,
    )
    .await;
    assert_eq!(seen["items"], json!([]));
    let seen = json_of(
        get_as(&app, b, "/api/v1/contacts?include_total=true").await,
        200,
    )
    .await;
    assert_eq!(ids(&seen, "id"), vec![b_contact.clone()]);
    assert_eq!(seen["total"], 1);
    let seen = json_of(
        get_as(&app, b, "/api/v1/contacts?email=petrov@romashka.ru").await,
        200,
    )
    .await;
    assert_eq!(seen["items"], json!([]));
    let seen = json_of(get_as(&app, b, "/api/v1/legal-entities").await, 200).await;
    assert_eq!(seen["items"], json!([]));
    // Nor can he attach his contact to A's legal entity, or put a legal entity under A's company.
    let res = post_as(
        &app,
        b,
        &format!("/api/v1/contacts/{b_contact}/legal-entities"),
        &json!({"legal_entity_id": a_le}),
    )
    .await;
    assert_eq!(
        json_of(res, 422).await["errors"][0]["field"],
        "legal_entity_id"
    );
    let res = post_as(
        &app,
        b,
        "/api/v1/legal-entities",
        &org_entity(&a_company, "X", "7702000029", "770201001"),
    )
    .await;
    assert_eq!(json_of(res, 422).await["errors"][0]["field"], "company_id");
    // A cannot hand a client to B, whose records he does not see.
    let res = post_as(
        &app,
        a,
        "/api/v1/companies",
        &json!({"name": "Чужая", "responsible_id": b_id}),
    )
    .await;
    let problem = json_of(res, 422).await;
    assert_eq!(problem["errors"][0]["field"], "responsible_id");
    // The same refusal as for a user that does not exist (one reference check).
    assert_eq!(problem["errors"][0]["code"], "not_found");

    // The head of their department sees both; he may reassign between them.
    let seen = json_of(get_as(&app, head, "/api/v1/companies?sort=name").await, 200).await;
    assert_eq!(ids(&seen, "id"), vec![a_company.clone(), b_company.clone()]);
    let seen = json_of(get_as(&app, head, "/api/v1/contacts").await, 200).await;
    assert_eq!(seen["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        get_as(&app, head, &format!("/api/v1/legal-entities/{a_le}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        get_as(
            &app,
            head,
            &format!("/api/v1/contacts/{a_contact}/timeline")
        )
        .await
        .status(),
        200
    );
    let moved = json_of(
        send(
            &app,
            Method::PATCH,
            head,
            &format!("/api/v1/companies/{a_company}"),
            Some(&json!({"responsible_id": b_id})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["responsible_id"], b_id.as_str());
    // Now B sees it, with its legal entity, and A no longer does.
    assert_eq!(
        get_as(&app, b, &format!("/api/v1/companies/{a_company}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        get_as(&app, b, &format!("/api/v1/legal-entities/{a_le}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        get_as(&app, a, &format!("/api/v1/companies/{a_company}"))
            .await
            .status(),
        404
    );

    // A head of another department sees none of it; admin sees all.
    let seen = json_of(get_as(&app, &outsider, "/api/v1/companies").await, 200).await;
    assert_eq!(seen["items"], json!([]));
    let seen = json_of(app.get("/api/v1/companies").await, 200).await;
    assert_eq!(seen["items"].as_array().unwrap().len(), 2);
    let seen = json_of(app.get("/api/v1/contacts").await, 200).await;
    assert_eq!(seen["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn external_ids_are_unique_per_type_and_source_and_can_be_looked_up() {
    let app = TestApp::spawn().await;
    let t = &app.admin_token;
    let guid = "6f1c2a9e-3b0d-11ee-be56-0242ac120002";
    let first = company(
        &app,
        t,
        json!({"name": "Ромашка", "external_ids": [{"source": "1C", "id": guid}]}),
    )
    .await;
    let res = app
        .post(
            "/api/v1/companies",
            &json!({"name": "Дубль", "external_ids": [{"source": "1c", "id": guid}]}),
        )
        .await;
    assert_eq!(json_of(res, 409).await["code"], "duplicate");
    // Nothing of the refused request was written.
    let all = json_of(app.get("/api/v1/companies?include_total=true").await, 200).await;
    assert_eq!(all["total"], 1);
    // Another source, or another record type, may use the same id.
    company(
        &app,
        t,
        json!({"name": "Ромашка (УТ)", "external_ids": [{"source": "ut", "id": guid}]}),
    )
    .await;
    let c = contact(
        &app,
        t,
        json!({"last_name": "Петров", "external_ids": [{"source": "1c", "id": guid}]}),
    )
    .await;

    let found = json_of(
        app.get(&format!("/api/v1/companies?external_id=1c:{guid}"))
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&found, "id"), vec![first.clone()]);
    assert_eq!(
        found["items"][0]["external_ids"],
        json!([{"source": "1c", "id": guid}])
    );
    let found = json_of(
        app.get(&format!("/api/v1/contacts?external_id=1c:{guid}"))
            .await,
        200,
    )
    .await;
    assert_eq!(
        ids(&found, "id"),
        vec![c["id"].as_str().unwrap().to_owned()]
    );
    let res = app.get("/api/v1/companies?external_id=no-colon").await;
    assert_eq!(json_of(res, 422).await["errors"][0]["field"], "external_id");

    // Taking an id away on PATCH frees it; a legal entity's id is checked the same way.
    json_of(
        app.patch(
            &format!("/api/v1/companies/{first}"),
            &json!({"external_ids": []}),
        )
        .await,
        200,
    )
    .await;
    let second = company(
        &app,
        t,
        json!({"name": "Наследник", "external_ids": [{"source": "1c", "id": guid}]}),
    )
    .await;
    let le_body = |inn: &str, kpp: &str| {
        let mut b = org_entity(&second, "Ромашка", inn, kpp);
        b["external_ids"] = json!([{"source": "1c", "id": "le-1"}]);
        b
    };
    legal_entity(&app, t, le_body("7701000019", "770101001")).await;
    let res = app
        .post(
            "/api/v1/legal-entities",
            &le_body("7702000029", "770201001"),
        )
        .await;
    assert_eq!(json_of(res, 409).await["code"], "duplicate");
}

#[tokio::test]
async fn possible_duplicates_are_warned_about_not_refused() {
    let app = TestApp::spawn().await;
    let tm = team(&app).await;
    let t = &app.admin_token;
    let c = company(&app, t, json!({"name": "Ромашка"})).await;
    let first = legal_entity(
        &app,
        t,
        org_entity(&c, "Ромашка", "7701000019", "770101001"),
    )
    .await;
    assert!(first.get("warnings").is_none(), "{first}");
    let twin = legal_entity(
        &app,
        t,
        org_entity(&c, "Ромашка-2", "7701000019", "770101001"),
    )
    .await;
    assert_eq!(
        twin["warnings"],
        json!([{"code": "possible_duplicate", "field": "inn_kpp", "existing_id": first["id"]}])
    );
    // Another KPP (a branch) is not a duplicate.
    let branch = legal_entity(
        &app,
        t,
        org_entity(&c, "Ромашка, филиал", "7701000019", "770102001"),
    )
    .await;
    assert!(branch.get("warnings").is_none(), "{branch}");

    let petrov = contact(&app, t, json!({"last_name": "Петров", "emails": ["Petrov@Romashka.ru"], "phones": ["+7 (495) 123-45-67"]})).await;
    let by_email = contact(
        &app,
        t,
        json!({"last_name": "Петров", "emails": ["petrov@romashka.ru"]}),
    )
    .await;
    assert_eq!(
        by_email["warnings"],
        json!([{"code": "possible_duplicate", "field": "emails", "existing_id": petrov["id"]}])
    );
    let by_phone = contact(
        &app,
        t,
        json!({"last_name": "Петрова", "phones": ["84951234567"]}),
    )
    .await;
    assert_eq!(
        by_phone["warnings"],
        json!([{"code": "possible_duplicate", "field": "phones", "existing_id": petrov["id"]}])
    );
    let unrelated = contact(
        &app,
        t,
        json!({"last_name": "Иванов", "phones": ["84951234568"]}),
    )
    .await;
    assert!(unrelated.get("warnings").is_none(), "{unrelated}");

    // Only records the caller may see are mentioned: manager A learns nothing of admin's contact.
    let a_twin = contact(
        &app,
        &tm.a.1,
        json!({"last_name": "Петров", "emails": ["petrov@romashka.ru"]}),
    )
    .await;
    assert!(a_twin.get("warnings").is_none(), "{a_twin}");
    // The warning is not stored: reading the record back shows none.
    let id = by_email["id"].as_str().unwrap();
    let read = json_of(app.get(&format!("/api/v1/contacts/{id}")).await, 200).await;
    assert!(read.get("warnings").is_none());
}

#[tokio::test]
async fn lists_filter_by_cyrillic_name_type_tag_inn_email_and_any_phone_notation() {
    let app = TestApp::spawn().await;
    let t = &app.admin_token;
    let romashka = company(
        &app,
        t,
        json!({"name": "ООО РОМАШКА", "types": ["client", "partner", "client"],
                                           "tags": ["Опт", "vip", "ОПТ"], "industry": "Торговля"}),
    )
    .await;
    let lyutik = company(
        &app,
        t,
        json!({"name": "Лютик", "types": ["supplier"], "tags": ["опт"]}),
    )
    .await;
    legal_entity(
        &app,
        t,
        org_entity(&lyutik, "Лютик", "7804000042", "780401001"),
    )
    .await;

    let read = json_of(app.get(&format!("/api/v1/companies/{romashka}")).await, 200).await;
    assert_eq!(read["types"], json!(["client", "partner"]));
    assert_eq!(read["tags"], json!(["Опт", "vip"]));
    assert_eq!(
        list_ids(&app, "/api/v1/companies?q=%D1%80%D0%BE%D0%BC%D0%B0%D1%88").await,
        vec![romashka.clone()]
    ); // "ромаш"
    assert_eq!(
        list_ids(&app, "/api/v1/companies?type=partner").await,
        vec![romashka.clone()]
    );
    assert_eq!(
        list_ids(&app, "/api/v1/companies?type=supplier").await,
        vec![lyutik.clone()]
    );
    assert_eq!(
        list_ids(&app, "/api/v1/companies?tag=%D0%BE%D0%BF%D1%82&sort=name").await,
        vec![lyutik.clone(), romashka.clone()]
    ); // "опт"
    assert_eq!(
        list_ids(&app, "/api/v1/companies?tag=VIP").await,
        vec![romashka.clone()]
    );
    assert_eq!(
        list_ids(&app, "/api/v1/companies?inn=7804000042").await,
        vec![lyutik.clone()]
    );
    let res = app.get("/api/v1/companies?type=competitor").await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        list_ids(
            &app,
            "/api/v1/legal-entities?q=%D0%BB%D1%8E%D1%82%D0%B8%D0%BA"
        )
        .await
        .len(),
        1
    ); // "лютик"

    let ivanov = contact(
        &app,
        t,
        json!({"last_name": "ИВАНОВ", "first_name": "Иван", "middle_name": "Иванович",
        "phones": ["+7 (495) 123-45-67", "8 916 000-00-01"], "emails": ["Ivan@Example.RU"],
        "messengers": [{"kind": "Telegram", "address": "@ivanov"}],
        "preferred_channel": "messenger", "preferred_address": "@ivanov"}),
    )
    .await;
    assert_eq!(ivanov["phones"], json!(["74951234567", "79160000001"]));
    assert_eq!(ivanov["emails"], json!(["ivan@example.ru"]));
    assert_eq!(
        ivanov["messengers"],
        json!([{"kind": "telegram", "address": "@ivanov"}])
    );
    let ivanov = ivanov["id"].as_str().unwrap().to_owned();
    contact(
        &app,
        t,
        json!({"last_name": "Смирнов", "phones": ["+7 495 765-43-21"]}),
    )
    .await;
    for path in [
        "/api/v1/contacts?q=%D0%B8%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2", // "иванов"
        "/api/v1/contacts?email=IVAN@example.ru",
        "/api/v1/contacts?phone=84951234567",
        "/api/v1/contacts?phone=%2B7%20(495)%20123-45-67",
        "/api/v1/contacts?phone=495-123-45-67",
        "/api/v1/contacts?phone=89160000001",
    ] {
        let found = json_of(app.get(path).await, 200).await;
        assert_eq!(ids(&found, "id"), vec![ivanov.clone()], "{path}");
    }
    let found = json_of(app.get("/api/v1/contacts?phone=84950000000").await, 200).await;
    assert_eq!(found["items"], json!([]));
    let res = app.get("/api/v1/contacts?phone=call-me").await;
    assert_eq!(json_of(res, 422).await["errors"][0]["field"], "phone");

    // Bad contact data names the field; the offer address must be one of the contact's own.
    let res = app.post("/api/v1/contacts", &json!({"last_name": "Х", "emails": ["ok@example.ru", "not-an-email"], "phones": ["12"]})).await;
    let problem = json_of(res, 422).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["phones[0]", "emails[1]"]);
    assert_eq!(problem["errors"][1]["code"], "invalid_email");
    let res = app
        .post(
            "/api/v1/contacts",
            &json!({"last_name": "Х", "emails": ["ok@example.ru"],
        "preferred_channel": "email", "preferred_address": "other@example.ru"}),
        )
        .await;
    let problem = json_of(res, 422).await;
    assert_eq!(problem["errors"][0]["field"], "preferred_address");
    assert_eq!(problem["errors"][0]["code"], "not_an_address_of_contact");
    let res = app
        .post(
            "/api/v1/contacts",
            &json!({"last_name": "Х", "postal_address": "Москва, Тверская, 1",
        "preferred_channel": "post", "preferred_address": "Москва, Тверская, 1"}),
        )
        .await;
    assert_eq!(json_of(res, 201).await["preferred_channel"], "post");
    // Removing the preferred phone from the contact is refused while it is preferred.
    let res = app
        .patch(
            &format!("/api/v1/contacts/{ivanov}"),
            &json!({"preferred_channel": "phone", "preferred_address": "8 (495) 123-45-67"}),
        )
        .await;
    assert_eq!(json_of(res, 200).await["preferred_address"], "74951234567");
    let res = app
        .patch(
            &format!("/api/v1/contacts/{ivanov}"),
            &json!({"phones": ["89160000001"]}),
        )
        .await;
    assert_eq!(
        json_of(res, 422).await["errors"][0]["field"],
        "preferred_address"
    );
    // Clearing the channel clears the address; then the phone may go.
    let res = app
        .patch(
            &format!("/api/v1/contacts/{ivanov}"),
            &json!({"preferred_channel": null, "phones": ["89160000001"]}),
        )
        .await;
    let cleared = json_of(res, 200).await;
    assert_eq!(cleared["preferred_address"], Value::Null);
    assert_eq!(cleared["phones"], json!(["79160000001"]));
}

#[tokio::test]
async fn timeline_shows_field_changes_and_stale_writes_are_refused() {
    let app = TestApp::spawn().await;
    let t = &app.admin_token;
    let c = company(&app, t, json!({"name": "Ромашка", "tags": ["опт"]})).await;
    let res = app
        .patch(
            &format!("/api/v1/companies/{c}"),
            &json!({"name": "Ромашка Плюс", "tags": ["опт", "vip"], "industry": "Торговля"}),
        )
        .await;
    assert_eq!(res.headers()["etag"], "\"2\"");
    json_of(res, 200).await;
    let timeline = json_of(
        app.get(&format!("/api/v1/companies/{c}/timeline")).await,
        200,
    )
    .await;
    let last = &timeline["items"][0];
    assert_eq!(last["action"], "updated");
    assert_eq!(
        last["changes"]["name"],
        json!({"before": "Ромашка", "after": "Ромашка Плюс"})
    );
    assert_eq!(
        last["changes"]["tags"],
        json!({"before": ["опт"], "after": ["опт", "vip"]})
    );
    assert_eq!(
        last["changes"]["industry"],
        json!({"before": null, "after": "Торговля"})
    );
    assert!(
        last["changes"].get("search_text").is_none(),
        "internal columns stay out: {last}"
    );

    let stale = app
        .request(Method::PATCH, &format!("/api/v1/companies/{c}"), t)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Поздно"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);

    let le = legal_entity(
        &app,
        t,
        org_entity(&c, "Ромашка", "7701000019", "770101001"),
    )
    .await;
    let le_id = le["id"].as_str().unwrap();
    json_of(
        app.patch(
            &format!("/api/v1/legal-entities/{le_id}"),
            &json!({"signatory_name": "Петров П. П.", "signatory_basis": "Доверенность № 5"}),
        )
        .await,
        200,
    )
    .await;
    let timeline = json_of(
        app.get(&format!("/api/v1/legal-entities/{le_id}/timeline"))
            .await,
        200,
    )
    .await;
    assert_eq!(
        timeline["items"][0]["changes"]["signatory_name"],
        json!({"before": "Иванов И. И.", "after": "Петров П. П."})
    );

    let p = contact(
        &app,
        t,
        json!({"last_name": "Петров", "phones": ["84951234567"]}),
    )
    .await;
    let p_id = p["id"].as_str().unwrap();
    json_of(
        app.patch(
            &format!("/api/v1/contacts/{p_id}"),
            &json!({"position": "Директор", "phones": ["84951234567", "+7 916 000 00 01"]}),
        )
        .await,
        200,
    )
    .await;
    let timeline = json_of(
        app.get(&format!("/api/v1/contacts/{p_id}/timeline")).await,
        200,
    )
    .await;
    assert_eq!(
        timeline["items"][0]["changes"]["phones"],
        json!({"before": ["74951234567"], "after": ["74951234567", "79160000001"]})
    );
    assert_eq!(
        timeline["items"][0]["changes"]["position"],
        json!({"before": null, "after": "Директор"})
    );

    // Deleted records disappear from reads and lists but keep their timeline.
    let res = send(
        &app,
        Method::DELETE,
        t,
        &format!("/api/v1/contacts/{p_id}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get(&format!("/api/v1/contacts/{p_id}")).await.status(),
        404
    );
    let timeline = json_of(
        app.get(&format!("/api/v1/contacts/{p_id}/timeline")).await,
        200,
    )
    .await;
    assert_eq!(timeline["items"][0]["action"], "deleted");
}

/// Integrators generate clients from the document; a repeated `operationId` (e.g. two
/// handlers named `list_bank_accounts`) makes those clients collide or fail.
#[tokio::test]
async fn every_operation_id_is_unique() {
    let app = TestApp::spawn().await;
    let doc = json_of(app.get("/api/v1/openapi.json").await, 200).await;
    let mut seen = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op["operationId"].as_str()
                && let Some(first) = seen.insert(id.to_owned(), format!("{method} {path}"))
            {
                panic!("operationId {id} is used by {first} and {method} {path}");
            }
        }
    }
    assert!(seen.contains_key("list_contact_legal_entities"));
}
