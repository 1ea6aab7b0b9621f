//! Wiring: the application state, the HTTP server with its middleware, and the background
//! workers, started and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::ServerHandle;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use sdelka_persistence::Store;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::extract::{no_route, path_error, query_error};
use crate::jobs;
use crate::limits::{RateLimiter, TrustedProxies};
use crate::mail::Mailer;
use crate::middleware::{KeysInFlight, Metrics, idempotency, rate_limit, request_context};
use crate::openapi::ApiDoc;
use crate::routes::{api_v1, health};
use crate::state::AppState;
use crate::workers::{OutboxWorker, ReminderWorker};

/// The `/api/v1` scope: its query and path error handlers, the rate limiter, the idempotency
/// layer and every route. The HTTP server, the batch dispatcher (`crate::batch`) and the
/// OpenAPI document all mount this one, so they cannot drift apart.
pub fn api_v1_scope() -> scope::Scope<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody + 'static>,
        Error = actix_web::Error,
        InitError = (),
    > + 'static,
> {
    scope::scope("/api/v1")
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .wrap(from_fn(idempotency))
        .wrap(from_fn(rate_limit))
        .configure(api_v1)
}

/// The OpenAPI document of every registered route.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(health::live)
        .service(health::ready)
        .service(health::metrics)
        .service(health::openapi_json)
        .service(api_v1_scope())
        .split_for_parts();
    let mut doc = doc;
    crate::openapi::apply_conventions(&mut doc);
    doc
}

pub fn openapi_json_pretty() -> String {
    let doc = openapi_document();
    let mut s = doc.to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}

/// Connects, migrates and assembles the shared state.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::connect(
        &config.effective_database_url(),
        config.database_max_connections,
    )
    .await?;
    store.migrate().await?;
    let secret = crate::bootstrap::jwt_secret(&config)?;
    let jwt = JwtKeys::new(
        &secret,
        &config.jwt_issuer,
        &config.jwt_audience,
        config.access_token_ttl_seconds,
    );
    let rate_limiter = RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst);
    let trusted_proxies = TrustedProxies::parse(&config.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("SDELKA_TRUSTED_PROXIES: {e}"))?;
    let files = crate::storage::file_storage(&config).await?;
    let openapi_json = serde_json::to_string(&openapi_document())?;
    crate::heap::release_freed_memory();
    Ok(AppState {
        store,
        config: Arc::new(config),
        jwt: Arc::new(jwt),
        metrics: Arc::new(Metrics::new()?),
        rate_limiter: Arc::new(rate_limiter),
        trusted_proxies: Arc::new(trusted_proxies),
        keys_in_flight: Arc::new(KeysInFlight::default()),
        login_throttle: Arc::new(sdelka_persistence::ops::auth::LoginThrottle::default()),
        files,
        openapi_json: Arc::new(openapi_json),
    })
}

/// A running instance: the HTTP server and its workers.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    handle: ServerHandle,
    stop_workers: CancellationToken,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    worker_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting connections, lets in-flight requests finish (graceful) or drops them,
    /// then stops the workers.
    pub async fn stop(self, graceful: bool) {
        self.handle.stop(graceful).await;
        self.stop_workers.cancel();
        let _ = self.server_task.await;
        for w in self.worker_tasks {
            let _ = w.await;
        }
    }

    /// Runs until the server stops by itself (SIGTERM / SIGINT), then stops the workers.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.server_task.await;
        self.stop_workers.cancel();
        for w in self.worker_tasks {
            let _ = w.await;
        }
        result??;
        Ok(())
    }
}

/// Starts the server on `state.config.bind`. With `handle_signals`, SIGTERM and SIGINT stop it
/// gracefully: in-flight requests finish within the shutdown timeout.
pub async fn start(state: AppState, handle_signals: bool) -> anyhow::Result<RunningServer> {
    let config = state.config.clone();
    let data = web::Data::new(state.clone());
    let cors_origins = config.cors_origins.clone();
    let cml_file_limit = config.max_import_bytes;
    let mut server = HttpServer::new(move || {
        let cors = cors(&cors_origins);
        let (app, _) = App::new()
            .into_utoipa_app()
            .app_data(data.clone())
            .app_data(crate::batch::Dispatcher::default())
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .service(health::live)
            .service(health::ready)
            .service(health::metrics)
            .service(health::openapi_json)
            .service(api_v1_scope())
            .split_for_parts();
        // The route descriptions built while registering are dropped by now; give their pages
        // back before the worker starts serving.
        crate::heap::release_freed_memory();
        app.service(
            crate::routes::commerceml::service()
                .app_data(web::PayloadConfig::new(cml_file_limit))
                .wrap(from_fn(rate_limit)),
        )
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")),
        )
        .service(web::redirect("/docs", "/docs/"))
        .default_service(web::to(no_route))
        .wrap(Condition::new(!cors_origins.is_empty(), cors))
        .wrap(from_fn(request_context))
    })
    .shutdown_timeout(config.shutdown_timeout_seconds)
    .workers(std::thread::available_parallelism().map_or(2, |n| n.get()));
    if !handle_signals {
        server = server.disable_signals();
    }
    let server = server.bind(&config.bind)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no address bound"))?;
    let server = server.run();
    let handle = server.handle();
    let server_task = tokio::spawn(server);

    let stop_workers = CancellationToken::new();
    let mut worker_tasks = Vec::new();
    if config.workers {
        let mailer = Mailer::new(
            config.smtp_url.as_ref().map(|s| s.expose()),
            &config.mail_from,
            &config.data_dir,
        )?;
        let worker = OutboxWorker {
            store: state.store.clone(),
            mailer: Arc::new(mailer),
            config: config.clone(),
            owner: format!("{}:{}", hostname(), uuid::Uuid::now_v7()),
        };
        worker_tasks.push(tokio::spawn(jobs::run(worker, stop_workers.clone())));
        let reminders = ReminderWorker {
            store: state.store.clone(),
            config: config.clone(),
            owner: format!("{}:{}", hostname(), uuid::Uuid::now_v7()),
        };
        worker_tasks.push(tokio::spawn(jobs::run(reminders, stop_workers.clone())));
        let imports = crate::imports::ImportWorker {
            store: state.store.clone(),
            config: config.clone(),
            owner: format!("{}:{}", hostname(), uuid::Uuid::now_v7()),
            files: state.files.clone(),
        };
        worker_tasks.push(tokio::spawn(jobs::run(imports, stop_workers.clone())));
        let statements = crate::imports::StatementWorker {
            store: state.store.clone(),
            config: config.clone(),
            owner: format!("{}:{}", hostname(), uuid::Uuid::now_v7()),
        };
        worker_tasks.push(tokio::spawn(jobs::run(statements, stop_workers.clone())));
        let deadlines = crate::approvals::TaskDeadlineWorker {
            store: state.store.clone(),
            config: config.clone(),
        };
        worker_tasks.push(tokio::spawn(jobs::run(deadlines, stop_workers.clone())));
        let process_timers = crate::workers::ProcessTimerWorker {
            store: state.store.clone(),
            config: config.clone(),
            owner: format!("{}:{}", hostname(), uuid::Uuid::now_v7()),
        };
        worker_tasks.push(tokio::spawn(jobs::run(
            process_timers,
            stop_workers.clone(),
        )));
        let housekeeping = crate::workers::Housekeeping {
            store: state.store.clone(),
            config: config.clone(),
        };
        let sequencer = crate::workers::FeedSequencer {
            store: state.store.clone(),
            config: config.clone(),
        };
        worker_tasks.push(tokio::spawn(jobs::run(sequencer, stop_workers.clone())));
        worker_tasks.push(tokio::spawn(jobs::run(housekeeping, stop_workers.clone())));
        let dispatcher = crate::workers::WebhookDispatcher {
            store: state.store.clone(),
            config: config.clone(),
        };
        worker_tasks.push(tokio::spawn(jobs::run(dispatcher, stop_workers.clone())));
        let deliveries = crate::workers::WebhookWorker::new(
            state.store.clone(),
            config.clone(),
            format!("{}:{}", hostname(), uuid::Uuid::now_v7()),
        )?;
        worker_tasks.push(tokio::spawn(jobs::run(deliveries, stop_workers.clone())));
    }
    Ok(RunningServer {
        addr,
        state,
        handle,
        stop_workers,
        server_task,
        worker_tasks,
    })
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_headers([
            "etag",
            "location",
            "x-request-id",
            "retry-after",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "ratelimit-policy",
            "idempotent-replayed",
        ])
        .max_age(3600);
    for o in origins {
        cors = if o == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(o)
        };
    }
    cors
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "sdelka".into())
}

/// Sleeps that end early when asked to stop; used by workers.
pub async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}
