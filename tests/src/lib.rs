//! Test support: the real server on a free port, a fresh database per test (SQLite by
//! default, PostgreSQL when `SDELKA_TEST_DATABASE_URL` is set), and a real SMTP sink.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod child;
pub mod s3;
pub mod smtp;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use sdelka_api::config::{Config, Secret};
use sdelka_api::server::{RunningServer, build_state, start};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// Which database a test runs on, and the URL of its own fresh database.
pub struct TestDatabase {
    pub url: String,
    pub postgres: bool,
}

/// Creates a database for one test. On PostgreSQL a new database is created through the
/// server named by `SDELKA_TEST_DATABASE_URL`; failing to reach it fails the test loudly.
pub async fn fresh_database(data_dir: &std::path::Path) -> TestDatabase {
    match std::env::var("SDELKA_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                panic!("SDELKA_TEST_DATABASE_URL={admin_url} is set but PostgreSQL cannot be reached: {e}")
            });
            drop_leftovers_once(&admin).await;
            let name = format!(
                "sdelka_t_{}_{}",
                chrono::Utc::now().timestamp(),
                Uuid::new_v4().simple()
            );
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
            let _ = admin.close().await;
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .expect("SDELKA_TEST_DATABASE_URL must end with /DATABASE");
            TestDatabase {
                url: format!("{base}/{name}"),
                postgres: true,
            }
        }
        _ => TestDatabase {
            url: format!("sqlite://{}?mode=rwc", data_dir.join("sdelka.db").display()),
            postgres: false,
        },
    }
}

/// Databases of earlier runs (named with their creation time, older than an hour) are dropped
/// once per test process; a younger one may belong to a run still going on.
async fn drop_leftovers_once(admin: &sea_orm::DatabaseConnection) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let rows = admin
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT datname FROM pg_database WHERE datname LIKE 'sdelka\\_t\\_%'",
            ))
            .await
            .unwrap_or_default();
        for row in rows {
            let Ok(name) = row.try_get::<String>("", "datname") else {
                continue;
            };
            let created = name
                .strip_prefix("sdelka_t_")
                .and_then(|rest| rest.split('_').next())
                .and_then(|secs| secs.parse::<i64>().ok());
            let stale = created.is_some_and(|c| chrono::Utc::now().timestamp() - c > 3600);
            if stale {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                    .await;
            }
        }
    })
    .await;
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sdelka-test-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The configuration every test server starts from.
pub fn test_config(data_dir: &std::path::Path, database_url: &str) -> Config {
    Config {
        data_dir: data_dir.to_path_buf(),
        database_url: Some(Secret::new(database_url)),
        database_max_connections: 8,
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some(Secret::new(JWT_SECRET)),
        admin_email: ADMIN_EMAIL.into(),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        log: "warn".into(),
        rate_limit_per_second: 100_000.0,
        rate_limit_burst: 100_000.0,
        outbox_poll_ms: 50,
        outbox_retry_base_ms: 200,
        shutdown_timeout_seconds: 5,
        ..Config::default()
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub data_dir: PathBuf,
    pub database: TestDatabase,
    pub config: Config,
    pub server: Option<RunningServer>,
}

impl TestApp {
    /// A server with the default test configuration.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `tweak` may change first.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        if let Ok(filter) = std::env::var("SDELKA_TEST_LOG") {
            sdelka_api::telemetry::init(&filter, "text");
        }
        let data_dir = temp_dir();
        let database = fresh_database(&data_dir).await;
        let mut config = test_config(&data_dir, &database.url);
        tweak(&mut config);
        let server = boot(config.clone()).await;
        let base = format!("http://{}", server.addr);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut app = TestApp {
            base,
            client,
            admin_token: String::new(),
            data_dir,
            database,
            config,
            server: Some(server),
        };
        app.admin_token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        app
    }

    /// Stops this instance: gracefully, or abruptly as a crash would.
    pub async fn stop(&mut self, graceful: bool) {
        if let Some(s) = self.server.take() {
            s.stop(graceful).await;
        }
    }

    /// Starts a new instance on the same database and data folder (a restart).
    pub async fn restart_with(&mut self, tweak: impl FnOnce(&mut Config)) {
        self.stop(true).await;
        let mut config = self.config.clone();
        tweak(&mut config);
        let server = boot(config.clone()).await;
        self.base = format!("http://{}", server.addr);
        self.config = config;
        self.server = Some(server);
    }

    /// A second instance on the same database (a cluster of two behind a load balancer),
    /// with its own data folder; answers the running server and its base URL.
    pub async fn another_instance(&self) -> (RunningServer, String) {
        let mut config = self.config.clone();
        config.data_dir = temp_dir();
        let server = boot(config).await;
        let base = format!("http://{}", server.addr);
        (server, base)
    }

    /// A second instance on the same database, with a data folder of its own (instances
    /// behind a load balancer share the database and, with an S3 store, the bucket — nothing
    /// else).
    pub async fn spawn_beside(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = temp_dir();
        let mut config = self.config.clone();
        config.data_dir = data_dir.clone();
        tweak(&mut config);
        let server = boot(config.clone()).await;
        let mut app = TestApp {
            base: format!("http://{}", server.addr),
            client: self.client.clone(),
            admin_token: String::new(),
            data_dir,
            database: TestDatabase {
                url: self.database.url.clone(),
                postgres: self.database.postgres,
            },
            config,
            server: Some(server),
        };
        app.admin_token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let res = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login of {email} failed");
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, &self.admin_token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path, &self.admin_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, &self.admin_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a user with the given roles and returns (id, access token).
    pub async fn user_with_roles(&self, email: &str, roles: &[&str]) -> (Uuid, String) {
        let res = self
            .post(
                "/api/v1/users",
                &json!({"email": email, "name": email, "password": "password-123", "roles": roles}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        let id = body["id"].as_str().unwrap().parse().unwrap();
        (id, self.login(email, "password-123").await)
    }
}

async fn boot(config: Config) -> RunningServer {
    let state = build_state(config).await.expect("server state");
    sdelka_api::bootstrap::ensure_first_admin(&state)
        .await
        .expect("first admin");
    start(state, false).await.expect("server start")
}

/// A valid own organisation body.
pub fn organization_body(code: &str, name: &str) -> Value {
    json!({
        "name": name,
        "short_name": name,
        "code": code,
        "inn": "7707083893",
        "kpp": "773601001",
        "ogrn": "1027700132195",
        "vat_payer": true,
        "legal_address": "117997, Москва, ул. Вавилова, 19",
        "bank_accounts": [{
            "bank_name": "ПАО Сбербанк",
            "bik": "044525225",
            "correspondent_account": "30101810400000000225",
            "settlement_account": "40702810938000000001"
        }]
    })
}

/// Polls `check` until it returns Some or `timeout` passes. Used for effects of background
/// workers; it bounds waiting, it does not assert on time.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A 1C fixture file (`tests/fixtures/1c/`), byte for byte.
pub fn fixture_1c(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/1c/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text of a `200 text/plain` answer (the 1C exchange's protocol answers).
pub async fn plain_text(res: Response) -> String {
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

/// `/1c-exchange?type={kind}&mode=checkauth` with Basic credentials; answers the `Cookie`
/// header value of the session.
pub async fn exchange_cookie(
    base: &str,
    client: &reqwest::Client,
    kind: &str,
    user: &str,
    password: &str,
) -> String {
    let res = client
        .get(format!("{base}/1c-exchange?type={kind}&mode=checkauth"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    let body = plain_text(res).await;
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "success", "{body}");
    format!("{}={}", lines[1], lines[2])
}
