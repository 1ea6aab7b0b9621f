//! Cross-cutting request handling: request ids and logs, metrics, rate limits (API-8) and
//! `Idempotency-Key` replay (API-4).

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use dashmap::DashMap;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use sdelka_persistence::idempotency::{self, Finished, KeyedUnit, Lookup, StoredResponse};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode, REQUEST_ID};
use crate::extract::read_limited;
use crate::limits::{Admission, RateKey, client_address};
use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Assigns the request id (or keeps a sane one the caller sent), logs the request with it, and
/// returns it in `X-Request-Id`.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    // A NUL in the query or path reaches PostgreSQL as text it cannot store; no filter needs it.
    let uri = req.uri().to_string();
    if uri.contains("%00") {
        let err = crate::error::ApiError::field(
            "query",
            "nul_character",
            "the URL must not contain the NUL character (%00)",
        );
        let res = REQUEST_ID
            .scope(id.clone(), async { err.error_response() })
            .await;
        return Ok(req.into_response(res));
    }
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let result = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let mut res = match result {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => return Err(e),
    };
    let status = res.status();
    let elapsed = started.elapsed();
    if let Some(m) = metrics {
        m.observe(
            method.as_str(),
            &route,
            status.as_u16(),
            elapsed.as_secs_f64(),
        );
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "served"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    Ok(res)
}

/// Prometheus metrics of the HTTP layer.
pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Callers the rate limiter holds a bucket for (bounded, see `limits::MAX_KEYS`).
    pub rate_limit_keys: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("sdelka_http_requests_total", "HTTP requests served"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "sdelka_http_request_duration_seconds",
                "HTTP request latency",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )?;
        let rate_limit_keys = IntGauge::new(
            "sdelka_rate_limit_keys",
            "Callers the rate limiter currently holds a bucket for",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(rate_limit_keys.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            rate_limit_keys,
        })
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// The caller of `req`, authenticated once per request: the rate limiter, the idempotency
/// layer and the handlers' extractors share the answer.
pub async fn principal_of(state: &AppState, req: &HttpRequest) -> Option<Principal> {
    if let Some(p) = req.extensions().get::<Principal>() {
        return Some(p.clone());
    }
    if req.extensions().get::<Unauthenticated>().is_some() {
        return None;
    }
    match crate::auth::authenticate(state, req).await {
        Ok(p) => {
            req.extensions_mut().insert(p.clone());
            Some(p)
        }
        Err(_) => {
            req.extensions_mut().insert(Unauthenticated);
            None
        }
    }
}

/// Marks a request whose credential (if any) did not authenticate; its handler's extractor
/// still answers the precise 401.
#[derive(Clone, Copy)]
struct Unauthenticated;

/// Whom `req` is counted against: its authenticated credential, or else its client address.
fn rate_key(principal: Option<&Principal>, req: &HttpRequest, state: &AppState) -> RateKey {
    match principal {
        Some(p) => match p.api_token_id {
            Some(t) => RateKey::ApiToken(t),
            None => RateKey::User(p.user_id),
        },
        None => match client_address(req, &state.trusted_proxies) {
            Some(ip) => RateKey::address(ip),
            None => RateKey::Overflow,
        },
    }
}

fn rate_limit_headers(h: &mut header::HeaderMap, a: &Admission, window: u64) {
    h.insert(
        HeaderName::from_static("ratelimit-limit"),
        HeaderValue::from(a.limit),
    );
    h.insert(
        HeaderName::from_static("ratelimit-remaining"),
        HeaderValue::from(a.remaining),
    );
    h.insert(
        HeaderName::from_static("ratelimit-reset"),
        HeaderValue::from(a.reset_seconds),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("{};w={window}", a.limit)) {
        h.insert(HeaderName::from_static("ratelimit-policy"), v);
    }
}

/// API-8: at most `burst` requests at once and `per_second` sustained per caller — an
/// authenticated user or API token, or else (no or an invalid credential) the client
/// address; beyond that 429 with `Retry-After`. Every answer carries the draft IETF
/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the bucket is
/// full) and `RateLimit-Policy` fields. Health and metrics endpoints are not limited.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    // The first operation of a batch was counted as the batch request itself.
    let prepaid = req
        .extensions()
        .get::<crate::batch::BatchOperation>()
        .is_some_and(|b| b.prepaid);
    if prepaid {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let principal = principal_of(&state, req.request()).await;
    let key = rate_key(principal.as_ref(), req.request(), &state);
    let limiter = &state.rate_limiter;
    let admission = limiter.admit(key);
    if admission.allowed {
        let mut res = next.call(req).await?.map_into_boxed_body();
        rate_limit_headers(res.headers_mut(), &admission, limiter.window_seconds());
        Ok(res)
    } else {
        let wait = admission.retry_after_seconds;
        let mut err = ApiError::new(
            ErrorCode::RateLimited,
            format!("slow down: retry in {wait} s"),
        );
        err.retry_after = Some(wait);
        let mut res = err.error_response();
        rate_limit_headers(res.headers_mut(), &admission, limiter.window_seconds());
        Ok(req.into_response(res))
    }
}

/// Response headers worth replaying with a stored response.
const REPLAYED_HEADERS: [&str; 3] = ["content-type", "etag", "location"];

/// Keys whose first request runs in this process now. Only a fast path for an impatient
/// retry: nothing about a running request is stored, so a crash leaves no key stuck.
#[derive(Default)]
pub struct KeysInFlight(DashMap<(String, String), ()>);

struct InFlightGuard<'a> {
    keys: &'a KeysInFlight,
    id: (String, String),
}

impl KeysInFlight {
    fn claim(&self, scope: &str, key: &str) -> Option<InFlightGuard<'_>> {
        let id = (scope.to_owned(), key.to_owned());
        match self.0.entry(id.clone()) {
            dashmap::Entry::Occupied(_) => None,
            dashmap::Entry::Vacant(v) => {
                v.insert(());
                Some(InFlightGuard { keys: self, id })
            }
        }
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.keys.0.remove(&self.id);
    }
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let mut res =
        HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
    for (k, v) in &stored.headers {
        res.insert_header((k.as_str(), v.as_str()));
    }
    res.insert_header(("idempotent-replayed", "true"));
    res.body(stored.body)
}

fn key_reused() -> HttpResponse {
    ApiError::new(
        ErrorCode::IdempotencyKeyReused,
        "this Idempotency-Key was already used with a different request; use a new key",
    )
    .error_response()
}

/// API-4: a POST with `Idempotency-Key` runs once per caller and key; repeats replay the
/// first answer (`Idempotent-Replayed: true`), a different body is 422, a repeat while the
/// first still runs on this instance is 409. Answers of 5xx are not kept (everything the
/// request wrote is rolled back), so the client may retry them.
///
/// The request runs as a keyed unit of work ([`idempotency::KeyedUnit`]): its writes and the
/// key's answer commit in one transaction, after the answer is known. A crash before that
/// commit leaves neither; a crash after it leaves both.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() != Method::POST {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let Some(raw_key) = req.headers().get("idempotency-key").cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let key = match raw_key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k.to_owned(),
        _ => {
            let err = ApiError::new(
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            );
            return Ok(req.into_response(err.error_response()));
        }
    };
    // Uploads have their own, larger limit (the upload handler enforces the exact one while
    // it streams); the margin covers the multipart framing and the small form fields.
    let limit = if req.path() == sdelka_persistence::ops::files::UPLOAD_PATH {
        state.config.max_upload_bytes.saturating_add(64 * 1024)
    } else if req.path() == sdelka_persistence::ops::imports::IMPORTS_PATH {
        state.config.max_import_bytes.saturating_add(64 * 1024)
    } else {
        state.config.max_body_bytes
    };
    let (http_req, payload) = req.parts_mut();
    let body = match read_limited(payload.take(), limit).await {
        Ok(b) => b,
        Err(e) => {
            let res = e.error_response();
            return Ok(req.into_response(res));
        }
    };
    let scope = match principal_of(&state, http_req).await {
        Some(p) => format!("user:{}", p.user_id),
        None => match client_address(http_req, &state.trusted_proxies) {
            Some(ip) => format!("anonymous:{ip}"),
            None => "anonymous".to_owned(),
        },
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(req.uri().to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    let request_hash = hex::encode(hasher.finalize());
    let retention = chrono::Duration::hours(state.config.idempotency_retention_hours);
    let store = &state.store;
    match idempotency::lookup(&store.conn, &scope, &key, &request_hash).await {
        Err(e) => return Ok(req.into_response(ApiError::from(e).error_response())),
        Ok(Lookup::Mismatch) => return Ok(req.into_response(key_reused())),
        Ok(Lookup::Replay(stored)) => return Ok(req.into_response(replay(stored))),
        Ok(Lookup::Unknown) => {}
    }
    let Some(_running) = state.keys_in_flight.claim(&scope, &key) else {
        let mut err = ApiError::new(
            ErrorCode::IdempotencyKeyInFlight,
            "the first request with this Idempotency-Key is still running; retry shortly",
        );
        err.retry_after = Some(1);
        return Ok(req.into_response(err.error_response()));
    };
    req.set_payload(bytes_payload(body));
    let unit = KeyedUnit::new();
    let res = match unit.run(async { next.call(req).await }).await {
        Ok(res) => res,
        Err(e) => {
            unit.abandon().await;
            return Err(e);
        }
    };
    let status = res.status();
    let (http_req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes(body).await else {
        unit.abandon().await;
        let err = ApiError::internal("the answer could not be read");
        return Ok(ServiceResponse::new(http_req, err.error_response()));
    };
    if status.is_server_error() {
        unit.abandon().await;
        let res = head.set_body(bytes).map_into_boxed_body();
        return Ok(ServiceResponse::new(http_req, res));
    }
    let headers = REPLAYED_HEADERS
        .iter()
        .filter_map(|h| {
            head.headers()
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(|v| ((*h).to_owned(), v.to_owned()))
        })
        .collect();
    let stored = StoredResponse {
        status: status.as_u16(),
        headers,
        body: bytes.to_vec(),
    };
    let finished = idempotency::finish(
        store,
        &unit,
        &scope,
        &key,
        &request_hash,
        retention,
        &stored,
    )
    .await;
    let res = match finished {
        Ok(Finished::Committed) => head.set_body(bytes).map_into_boxed_body(),
        Ok(Finished::Lost(Lookup::Replay(first))) => replay(first),
        Ok(Finished::Lost(Lookup::Mismatch)) => key_reused(),
        Ok(Finished::Lost(Lookup::Unknown)) => {
            let mut err = ApiError::new(
                ErrorCode::IdempotencyKeyInFlight,
                "another request with this Idempotency-Key was running at the same time; retry",
            );
            err.retry_after = Some(1);
            err.error_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not commit the keyed request");
            ApiError::from(e).error_response()
        }
    };
    Ok(ServiceResponse::new(http_req, res))
}

fn bytes_payload(body: web::Bytes) -> actix_web::dev::Payload {
    actix_web::dev::Payload::from(body)
}
