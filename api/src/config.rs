//! Configuration: defaults, then an optional TOML file (`SDELKA_CONFIG`), then `SDELKA_*`
//! environment variables. Secrets are wrapped so that they never reach a log line.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// A value that prints as `[redacted]` in `Debug` and `Display`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where SQLite, the JWT secret, mail files and uploads live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; unset means SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    pub database_max_connections: u32,
    pub bind: String,
    pub jwt_secret: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_days: i64,
    pub admin_email: String,
    pub admin_password: Option<Secret>,
    /// `smtp://host:port` (`smtps://` for implicit TLS); unset writes mail to `data_dir/mail`.
    pub smtp_url: Option<Secret>,
    pub mail_from: String,
    pub log: String,
    pub log_format: String,
    /// Origins allowed by CORS; `*` allows any.
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: f64,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` / `Forwarded`
    /// headers name the client; from anyone else those headers are ignored.
    pub trusted_proxies: Vec<String>,
    pub idempotency_retention_hours: i64,
    /// Run the background workers (outbox delivery, housekeeping) in this process.
    pub workers: bool,
    pub outbox_poll_ms: u64,
    /// How often an idle worker looks for queued CSV imports.
    pub import_poll_ms: u64,
    /// A bank statement of more documents than this is imported by the statement job, with
    /// progress, instead of in the request.
    pub bank_statement_job_documents: usize,
    pub outbox_retry_base_ms: u64,
    /// How long a message is retried before it is given up (at least 24 h by default).
    pub outbox_give_up_hours: i64,
    pub shutdown_timeout_seconds: u64,
    /// Public base URL used in emails (password-set links).
    pub public_url: String,
    /// How often an idle reminder worker looks for due reminders.
    pub reminder_poll_ms: u64,
    /// How long before a task's due time its holder is reminded.
    pub task_remind_before_minutes: u32,
    /// How long after a task's due time the holder's supervisor is told.
    pub task_escalate_after_minutes: u32,
    /// Largest file upload; larger uploads get 413 while they stream.
    pub max_upload_bytes: usize,
    /// How long the change feed keeps events (INT-2); an older cursor is `410 cursor_expired`.
    pub event_retention_days: u32,
    /// How often an idle feed sequencer looks for committed events to number.
    pub feed_sequence_ms: u64,
    /// INT-1: loopback, private or link-local webhook targets allowed anyway, comma-separated
    /// CIDRs, addresses or host names (`10.0.0.0/8,erp.local`); empty: none.
    pub webhook_allowed_targets: String,
    /// INT-1: the retry delays in milliseconds, comma-separated; empty: the Standard Webhooks
    /// schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
    pub webhook_retry_schedule_ms: String,
    /// How often idle webhook jobs look for events to dispatch and deliveries due.
    pub webhook_poll_ms: u64,
    /// How often housekeeping (expired idempotency keys, feed retention) runs.
    pub housekeeping_interval_seconds: u64,
    /// Largest CSV file of an import sent as `text/csv` or multipart (413 while it streams).
    pub max_import_bytes: usize,
    /// CommerceML exchange (`/1c-exchange`): items imported per `mode=import` call before the
    /// answer is `progress`.
    pub cml_import_step_items: usize,
    /// Where file contents live: unset for local disk (`data_dir/files`), or
    /// `s3://bucket/prefix` for an S3-compatible bucket that several instances share.
    pub files_url: Option<String>,
    /// The S3-compatible endpoint (`http://minio:9000`); unset: AWS (or `AWS_ENDPOINT`).
    pub s3_endpoint: Option<String>,
    /// The bucket's region; unset: `AWS_DEFAULT_REGION`/`AWS_REGION`, else `us-east-1`.
    pub s3_region: Option<String>,
    /// Credentials; unset: the usual `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<Secret>,
    /// Address the bucket as `bucket.endpoint` instead of `endpoint/bucket` (path style).
    pub s3_virtual_hosted_style: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 16,
            bind: "127.0.0.1:8080".into(),
            jwt_secret: None,
            jwt_issuer: "sdelka".into(),
            jwt_audience: "sdelka-api".into(),
            access_token_ttl_seconds: 900,
            refresh_token_ttl_days: 30,
            admin_email: "admin@sdelka.local".into(),
            admin_password: None,
            smtp_url: None,
            mail_from: "Sdelka <no-reply@sdelka.local>".into(),
            log: "info".into(),
            log_format: "text".into(),
            cors_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            rate_limit_per_second: 50.0,
            rate_limit_burst: 200.0,
            trusted_proxies: Vec::new(),
            idempotency_retention_hours: 24,
            workers: true,
            outbox_poll_ms: 500,
            import_poll_ms: 500,
            bank_statement_job_documents: 1000,
            outbox_retry_base_ms: 2000,
            outbox_give_up_hours: 48,
            shutdown_timeout_seconds: 30,
            public_url: "http://127.0.0.1:8080".into(),
            reminder_poll_ms: 1000,
            task_remind_before_minutes: 120,
            task_escalate_after_minutes: 1440,
            max_upload_bytes: 25 * 1024 * 1024,
            event_retention_days: 30,
            feed_sequence_ms: 100,
            webhook_allowed_targets: String::new(),
            webhook_retry_schedule_ms: String::new(),
            webhook_poll_ms: 200,
            housekeeping_interval_seconds: 600,
            max_import_bytes: 64 * 1024 * 1024,
            cml_import_step_items: 500,
            files_url: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_virtual_hosted_style: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("environment variable {name} is invalid: {reason}")]
    Env { name: String, reason: String },
}

impl Config {
    /// INT-1: the webhook targets allowed although internal.
    pub fn webhook_policy(&self) -> sdelka_persistence::ops::webhooks::TargetPolicy {
        sdelka_persistence::ops::webhooks::TargetPolicy {
            allow: sdelka_domain::webhook::parse_allow_list(&self.webhook_allowed_targets)
                .unwrap_or_default(),
        }
    }

    /// INT-1: the webhook retry delays.
    pub fn webhook_schedule(&self) -> Vec<std::time::Duration> {
        sdelka_domain::webhook::parse_schedule(&self.webhook_retry_schedule_ms)
            .unwrap_or_else(|_| sdelka_domain::webhook::default_schedule())
    }

    /// Reads the file named by `SDELKA_CONFIG` (if any), then the environment.
    pub fn load() -> Result<Config, ConfigError> {
        Self::load_from(|name| std::env::var(name).ok())
    }

    /// `load` with the environment read through `get`.
    pub fn load_from(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = match get("SDELKA_CONFIG") {
            Some(path) if !path.is_empty() => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path,
                    source: Box::new(source),
                })?
            }
            _ => Config::default(),
        };
        config.apply_env(get)?;
        Ok(config)
    }

    /// Applies `SDELKA_*` variables read through `get` (a function so tests need not touch the
    /// process environment).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError> {
            v.trim().parse().map_err(|_| ConfigError::Env {
                name: name.into(),
                reason: format!("`{v}` is not a valid value"),
            })
        }
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        if let Some(v) = get("SDELKA_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("SDELKA_DATABASE_URL") {
            self.database_url = Some(Secret::new(v));
        }
        if let Some(v) = get("SDELKA_DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections = parse("SDELKA_DATABASE_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = get("SDELKA_BIND") {
            self.bind = v;
        }
        if let Some(v) = get("SDELKA_JWT_SECRET") {
            self.jwt_secret = Some(Secret::new(v));
        }
        if let Some(v) = get("SDELKA_ACCESS_TOKEN_TTL_SECONDS") {
            self.access_token_ttl_seconds = parse("SDELKA_ACCESS_TOKEN_TTL_SECONDS", &v)?;
        }
        if let Some(v) = get("SDELKA_ADMIN_EMAIL") {
            self.admin_email = v;
        }
        if let Some(v) = get("SDELKA_ADMIN_PASSWORD") {
            self.admin_password = Some(Secret::new(v));
        }
        if let Some(v) = get("SDELKA_SMTP_URL") {
            self.smtp_url = Some(Secret::new(v));
        }
        if let Some(v) = get("SDELKA_MAIL_FROM") {
            self.mail_from = v;
        }
        if let Some(v) = get("SDELKA_LOG") {
            self.log = v;
        }
        if let Some(v) = get("SDELKA_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = get("SDELKA_CORS_ORIGINS") {
            self.cors_origins = v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = get("SDELKA_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("SDELKA_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = get("SDELKA_RATE_LIMIT_PER_SECOND") {
            self.rate_limit_per_second = parse("SDELKA_RATE_LIMIT_PER_SECOND", &v)?;
        }
        if let Some(v) = get("SDELKA_RATE_LIMIT_BURST") {
            self.rate_limit_burst = parse("SDELKA_RATE_LIMIT_BURST", &v)?;
        }
        if let Some(v) = get("SDELKA_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = get("SDELKA_WORKERS") {
            self.workers = parse("SDELKA_WORKERS", &v)?;
        }
        if let Some(v) = get("SDELKA_OUTBOX_POLL_MS") {
            self.outbox_poll_ms = parse("SDELKA_OUTBOX_POLL_MS", &v)?;
        }
        if let Some(v) = get("SDELKA_IMPORT_POLL_MS") {
            self.import_poll_ms = parse("SDELKA_IMPORT_POLL_MS", &v)?;
        }
        if let Some(v) = get("SDELKA_BANK_STATEMENT_JOB_DOCUMENTS") {
            self.bank_statement_job_documents = parse("SDELKA_BANK_STATEMENT_JOB_DOCUMENTS", &v)?;
        }
        if let Some(v) = get("SDELKA_OUTBOX_RETRY_BASE_MS") {
            self.outbox_retry_base_ms = parse("SDELKA_OUTBOX_RETRY_BASE_MS", &v)?;
        }
        if let Some(v) = get("SDELKA_PUBLIC_URL") {
            self.public_url = v;
        }
        if let Some(v) = get("SDELKA_SHUTDOWN_TIMEOUT_SECONDS") {
            self.shutdown_timeout_seconds = parse("SDELKA_SHUTDOWN_TIMEOUT_SECONDS", &v)?;
        }
        if let Some(v) = get("SDELKA_EVENT_RETENTION_DAYS") {
            self.event_retention_days = parse("SDELKA_EVENT_RETENTION_DAYS", &v)?;
        }
        if let Some(v) = get("SDELKA_FEED_SEQUENCE_MS") {
            self.feed_sequence_ms = parse("SDELKA_FEED_SEQUENCE_MS", &v)?;
        }
        if let Some(v) = get("SDELKA_WEBHOOK_ALLOWED_TARGETS") {
            sdelka_domain::webhook::parse_allow_list(&v).map_err(|reason| ConfigError::Env {
                name: "SDELKA_WEBHOOK_ALLOWED_TARGETS".into(),
                reason,
            })?;
            self.webhook_allowed_targets = v;
        }
        if let Some(v) = get("SDELKA_WEBHOOK_RETRY_SCHEDULE_MS") {
            sdelka_domain::webhook::parse_schedule(&v).map_err(|reason| ConfigError::Env {
                name: "SDELKA_WEBHOOK_RETRY_SCHEDULE_MS".into(),
                reason,
            })?;
            self.webhook_retry_schedule_ms = v;
        }
        if let Some(v) = get("SDELKA_WEBHOOK_POLL_MS") {
            self.webhook_poll_ms = parse("SDELKA_WEBHOOK_POLL_MS", &v)?;
        }
        if let Some(v) = get("SDELKA_HOUSEKEEPING_INTERVAL_SECONDS") {
            self.housekeeping_interval_seconds = parse("SDELKA_HOUSEKEEPING_INTERVAL_SECONDS", &v)?;
        }
        if let Some(v) = get("SDELKA_REMINDER_POLL_MS") {
            self.reminder_poll_ms = parse("SDELKA_REMINDER_POLL_MS", &v)?;
        }
        if let Some(v) = get("SDELKA_TASK_REMIND_BEFORE_MINUTES") {
            self.task_remind_before_minutes = parse("SDELKA_TASK_REMIND_BEFORE_MINUTES", &v)?;
        }
        if let Some(v) = get("SDELKA_TASK_ESCALATE_AFTER_MINUTES") {
            self.task_escalate_after_minutes = parse("SDELKA_TASK_ESCALATE_AFTER_MINUTES", &v)?;
        }
        if let Some(v) = get("SDELKA_MAX_UPLOAD_BYTES") {
            self.max_upload_bytes = parse("SDELKA_MAX_UPLOAD_BYTES", &v)?;
        }
        if let Some(v) = get("SDELKA_MAX_IMPORT_BYTES") {
            self.max_import_bytes = parse("SDELKA_MAX_IMPORT_BYTES", &v)?;
        }
        if let Some(v) = get("SDELKA_CML_IMPORT_STEP_ITEMS") {
            self.cml_import_step_items = parse("SDELKA_CML_IMPORT_STEP_ITEMS", &v)?;
        }
        if let Some(v) = get("SDELKA_FILES_URL") {
            self.files_url = Some(v);
        }
        if let Some(v) = get("SDELKA_S3_ENDPOINT") {
            self.s3_endpoint = Some(v);
        }
        if let Some(v) = get("SDELKA_S3_REGION") {
            self.s3_region = Some(v);
        }
        if let Some(v) = get("SDELKA_S3_ACCESS_KEY_ID") {
            self.s3_access_key_id = Some(v);
        }
        if let Some(v) = get("SDELKA_S3_SECRET_ACCESS_KEY") {
            self.s3_secret_access_key = Some(Secret::new(v));
        }
        if let Some(v) = get("SDELKA_S3_VIRTUAL_HOSTED_STYLE") {
            self.s3_virtual_hosted_style = parse("SDELKA_S3_VIRTUAL_HOSTED_STYLE", &v)?;
        }
        Ok(())
    }

    /// The database URL to use: the configured one, or SQLite inside the data folder.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("sdelka.db").display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut c = Config::default();
        c.apply_env(|n| (n == "SDELKA_JWT_SECRET").then(|| "hunter2".to_owned()))
            .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.jwt_secret.unwrap().expose(), "hunter2");
    }

    #[test]
    fn file_then_environment() {
        let path =
            std::env::temp_dir().join(format!("sdelka-config-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:9999\"\nrate_limit_burst = 5.0\ncors_origins = [\"https://a.example\"]\n",
        )
        .unwrap();
        let file = path.display().to_string();
        let c = Config::load_from(|n| match n {
            "SDELKA_CONFIG" => Some(file.clone()),
            "SDELKA_RATE_LIMIT_BURST" => Some("7".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.bind, "0.0.0.0:9999");
        assert_eq!(
            c.rate_limit_burst, 7.0,
            "the environment wins over the file"
        );
        assert_eq!(c.cors_origins, ["https://a.example"]);
        std::fs::write(&path, "colour = \"red\"\n").unwrap();
        let err = Config::load_from(|n| (n == "SDELKA_CONFIG").then(|| file.clone())).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn work_settings_come_from_the_environment() {
        let mut c = Config::default();
        assert_eq!(c.reminder_poll_ms, 1000);
        assert_eq!(c.max_upload_bytes, 26_214_400);
        c.apply_env(|n| match n {
            "SDELKA_REMINDER_POLL_MS" => Some("250".to_owned()),
            "SDELKA_MAX_UPLOAD_BYTES" => Some("1024".to_owned()),
            "SDELKA_TASK_REMIND_BEFORE_MINUTES" => Some("30".to_owned()),
            "SDELKA_TASK_ESCALATE_AFTER_MINUTES" => Some("90".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!((c.reminder_poll_ms, c.max_upload_bytes), (250, 1024));
        assert_eq!(
            (c.task_remind_before_minutes, c.task_escalate_after_minutes),
            (30, 90)
        );
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let mut c = Config::default();
        let err = c
            .apply_env(|n| (n == "SDELKA_RATE_LIMIT_BURST").then(|| "lots".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("SDELKA_RATE_LIMIT_BURST"));
    }
}
