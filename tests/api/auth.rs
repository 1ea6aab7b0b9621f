use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use sdelka_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, JWT_SECRET, TestApp};
use serde_json::{Value, json};

async fn me_status(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app
        .request(Method::GET, "/api/v1/me", token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn forge(claims: Value, secret: &str, alg: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(app_user: &str, exp_offset: i64, aud: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": app_user, "exp": now + exp_offset, "iat": now, "iss": "sdelka", "aud": aud,
           "jti": uuid::Uuid::new_v4(), "roles": ["admin"], "purpose": "access"})
}

#[tokio::test]
async fn login_returns_tokens_and_me_works() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    assert!(body["refresh_token"].as_str().unwrap().len() > 20);
    let (status, me) = me_status(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["roles"], json!(["admin"]));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = TestApp::spawn().await;
    for (email, password) in [
        (ADMIN_EMAIL, "nope-nope"),
        ("ghost@example.com", ADMIN_PASSWORD),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalid_credentials");
    }
}

#[tokio::test]
async fn forged_and_stale_access_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let (status, me) = me_status(&app, &app.admin_token).await;
    assert_eq!(status, 200);
    let user = me["id"].as_str().unwrap().to_owned();

    // A well-formed token we signed ourselves is accepted: the forgeries below fail for the
    // one reason each changes, not for a mistake of the test.
    let good = forge(
        claims(&user, 300, "sdelka-api"),
        JWT_SECRET,
        Algorithm::HS256,
    );
    assert_eq!(me_status(&app, &good).await.0, 200);

    let expired = forge(
        claims(&user, -120, "sdelka-api"),
        JWT_SECRET,
        Algorithm::HS256,
    );
    let wrong_signature = forge(
        claims(&user, 300, "sdelka-api"),
        "another-secret-another-secret-another",
        Algorithm::HS256,
    );
    let wrong_audience = forge(
        claims(&user, 300, "someone-else"),
        JWT_SECRET,
        Algorithm::HS256,
    );
    let other_algorithm = forge(
        claims(&user, 300, "sdelka-api"),
        JWT_SECRET,
        Algorithm::HS512,
    );
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&user, 300, "sdelka-api").to_string());
    let alg_none = format!("{header}.{payload}.");
    let mut wrong_issuer_claims = claims(&user, 300, "sdelka-api");
    wrong_issuer_claims["iss"] = json!("evil");
    let wrong_issuer = forge(wrong_issuer_claims, JWT_SECRET, Algorithm::HS256);

    for (name, token) in [
        ("expired", expired),
        ("wrong signature", wrong_signature),
        ("wrong audience", wrong_audience),
        ("HS512", other_algorithm),
        ("alg none", alg_none),
        ("wrong issuer", wrong_issuer),
        ("garbage", "not-a-token".to_owned()),
    ] {
        let (status, body) = me_status(&app, &token).await;
        assert_eq!(status, 401, "{name} token was not refused: {body}");
        assert_eq!(body["code"], "invalid_token", "{name}");
    }
    let res = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "unauthenticated");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let login: Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = login["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(app.url("/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, second) = refresh(first.clone()).await;
    assert_eq!(status, 200);
    let second = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    // Replaying the spent token is theft: refused, and the whole family dies with it.
    let (status, body) = refresh(first).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "invalid_token");
    let (status, _) = refresh(second).await;
    assert_eq!(
        status, 401,
        "the newer token of the family must be revoked too"
    );
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = TestApp::spawn().await;
    let login: Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["refresh_token"].as_str().unwrap();
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn api_tokens_are_shown_once_limited_to_roles_and_revocable() {
    let app = TestApp::spawn().await;
    let (_, head_token) = app
        .user_with_roles("head@example.com", &["head", "sales_manager"])
        .await;
    // A token cannot carry a role its owner lacks.
    let res = app
        .request(Method::POST, "/api/v1/api-tokens", &head_token)
        .json(&json!({"name": "too much", "roles": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    let res = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "1C sync", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sdk_"));
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, me) = me_status(&app, &secret).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], ADMIN_EMAIL);
    // The secret is never listed again.
    let list: Value = app.get("/api/v1/api-tokens").await.json().await.unwrap();
    assert!(!list.to_string().contains(&secret));
    // A token limited to sales_manager cannot do admin work even though its owner could.
    let limited: Value = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "scripts", "roles": []}),
        )
        .await
        .json()
        .await
        .unwrap();
    let limited = limited["secret"].as_str().unwrap();
    let res = app
        .request(Method::POST, "/api/v1/departments", limited)
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let res = app
        .request(
            Method::DELETE,
            &format!("/api/v1/api-tokens/{id}"),
            &app.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, body) = me_status(&app, &secret).await;
    assert_eq!(status, 401, "revoked token still works: {body}");
}

#[tokio::test]
async fn roles_are_checked_by_the_extractors() {
    let app = TestApp::spawn().await;
    let (_, manager) = app
        .user_with_roles("manager@example.com", &["sales_manager"])
        .await;
    let res = app
        .request(Method::POST, "/api/v1/organizations", &manager)
        .json(&sdelka_tests::organization_body("RM", "Ромашка"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
    // Reading is open to every employee.
    let res = app
        .request(Method::GET, "/api/v1/organizations", &manager)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn deactivated_users_cannot_log_in() {
    let app = TestApp::spawn().await;
    let (id, _) = app
        .user_with_roles("leaver@example.com", &["sales_manager"])
        .await;
    let res = app
        .patch(&format!("/api/v1/users/{id}"), &json!({"active": false}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "leaver@example.com", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
