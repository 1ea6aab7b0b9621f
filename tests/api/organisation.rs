//! ORG-1..3: own organisations with requisites, users, departments and supervisors.

use reqwest::Method;
use sdelka_tests::{TestApp, organization_body};
use serde_json::{Value, json};

#[tokio::test]
async fn organisation_with_bank_accounts_round_trips() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/api/v1/organizations",
            &organization_body("RM", "ООО «Ромашка»"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = res.json().await.unwrap();
    let read: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(read, created);
    assert_eq!(read["bank_accounts"][0]["bik"], "044525225");

    let id = read["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/v1/organizations/{id}/bank-accounts"),
            &json!({"bank_name": "Сбер", "bik": "044525225", "correspondent_account": "30101810400000000225",
                    "settlement_account": "40702810838000000001"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "settlement_account");

    let accounts: Value = app
        .get(&format!("/api/v1/organizations/{id}/bank-accounts"))
        .await
        .json()
        .await
        .unwrap();
    let account_id = accounts["items"][0]["id"].as_str().unwrap();
    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/organizations/{id}/bank-accounts/{account_id}"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let read: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(read["bank_accounts"], json!([]));
}

#[tokio::test]
async fn requisites_must_fit_together() {
    let app = TestApp::spawn().await;
    let mut body = organization_body("RM", "Ромашка");
    body.as_object_mut().unwrap().remove("kpp");
    let res = app.post("/api/v1/organizations", &body).await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "kpp");
    assert_eq!(problem["errors"][0]["code"], "required");

    // An entrepreneur: 12-digit INN, OGRNIP, no KPP.
    let ip = json!({"name": "ИП Иванов Иван Иванович", "short_name": "ИП Иванов", "code": "IVA",
                    "inn": "500100732259", "ogrn": "304500116000157", "vat_payer": false,
                    "legal_address": "Московская обл."});
    let res = app.post("/api/v1/organizations", &ip).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn duplicate_code_is_a_conflict_and_deleted_is_gone() {
    let app = TestApp::spawn().await;
    let first: Value = app
        .post("/api/v1/organizations", &organization_body("RM", "Ромашка"))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post(
            "/api/v1/organizations",
            &organization_body("RM", "Ромашка-2"),
        )
        .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "duplicate");
    let path = format!("/api/v1/organizations/{}", first["id"].as_str().unwrap());
    let res = app
        .request(Method::DELETE, &path, &app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&path).await.status(), 404);
    let list: Value = app.get("/api/v1/organizations").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn departments_heads_and_supervisors() {
    let app = TestApp::spawn().await;
    let (head_id, _) = app.user_with_roles("head@example.com", &["head"]).await;
    let res = app
        .post(
            "/api/v1/departments",
            &json!({"name": "Отдел продаж", "head_id": head_id}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let dept: Value = res.json().await.unwrap();
    let dept_id = dept["id"].as_str().unwrap();
    let res = app
        .post(
            "/api/v1/users",
            &json!({"email": "m@example.com", "name": "Менеджер", "roles": ["sales_manager"], "department_id": dept_id}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let manager: Value = res.json().await.unwrap();
    assert_eq!(manager["department_id"], dept_id);

    let store = &app.server.as_ref().unwrap().state.store;
    let manager_id = manager["id"].as_str().unwrap().parse().unwrap();
    let sup = sdelka_persistence::people::supervisor_of(&store.conn, manager_id)
        .await
        .unwrap();
    assert_eq!(
        sup,
        Some(head_id),
        "the department head supervises its members"
    );

    // References to missing records are named, not 500s.
    let res = app
        .post(
            "/api/v1/departments",
            &json!({"name": "X", "parent_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "parent_id");

    let res = app
        .post(
            "/api/v1/users",
            &json!({"email": "m@example.com", "name": "Дубль"}),
        )
        .await;
    assert_eq!(res.status(), 409, "the same email twice");
    let res = app
        .post(
            "/api/v1/users",
            &json!({"email": "not-an-email", "name": "X"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/api/v1/users",
            &json!({"email": "r@example.com", "name": "X", "roles": ["overlord"]}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "unknown_value");

    let list: Value = app
        .get(&format!(
            "/api/v1/users?department_id={dept_id}&role=sales_manager"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}
