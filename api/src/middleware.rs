//! Cross-cutting request handling: request ids and logs, metrics, rate limits (API-8) and
//! `Idempotency-Key` replay (API-4).

use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError, web};
use dashmap::DashMap;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use sdelka_persistence::idempotency::{self, Reservation, StoredResponse};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::error::{ApiError, ErrorCode, REQUEST_ID};
use crate::extract::read_limited;
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
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
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

/// Token buckets keyed by credential (or by client address for anonymous calls).
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: DashMap<String, Mutex<Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub enum Admission {
    Allowed { remaining: u64 },
    Refused { retry_after_seconds: u64 },
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: f64) -> Self {
        RateLimiter {
            per_second: per_second.max(0.001),
            burst: burst.max(1.0),
            buckets: DashMap::new(),
        }
    }

    pub fn admit(&self, key: &str) -> Admission {
        let now = Instant::now();
        let entry = self.buckets.entry(key.to_owned()).or_insert_with(|| {
            Mutex::new(Bucket {
                tokens: self.burst,
                at: now,
            })
        });
        let Ok(mut b) = entry.lock() else {
            return Admission::Allowed { remaining: 0 };
        };
        let refill = now.duration_since(b.at).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Admission::Allowed {
                remaining: b.tokens as u64,
            }
        } else {
            let wait = ((1.0 - b.tokens) / self.per_second).ceil() as u64;
            Admission::Refused {
                retry_after_seconds: wait.max(1),
            }
        }
    }

    pub fn limit(&self) -> u64 {
        self.burst as u64
    }
}

fn client_key(req: &ServiceRequest) -> String {
    match req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        // The credential itself identifies the caller; hashing keeps it out of memory dumps.
        Some(auth) => format!(
            "cred:{}",
            hex::encode(&Sha256::digest(auth.as_bytes())[..12])
        ),
        None => format!(
            "ip:{}",
            req.connection_info()
                .realip_remote_addr()
                .unwrap_or("unknown")
        ),
    }
}

/// API-8: at most `burst` requests at once and `per_second` sustained per caller; beyond
/// that 429 with `Retry-After`. Health and metrics endpoints are not limited.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let limiter = &state.rate_limiter;
    match limiter.admit(&client_key(&req)) {
        Admission::Allowed { remaining } => {
            let mut res = next.call(req).await?.map_into_boxed_body();
            let h = res.headers_mut();
            h.insert(
                HeaderName::from_static("ratelimit-limit"),
                HeaderValue::from(limiter.limit()),
            );
            h.insert(
                HeaderName::from_static("ratelimit-remaining"),
                HeaderValue::from(remaining),
            );
            h.insert(
                HeaderName::from_static("ratelimit-reset"),
                HeaderValue::from(0u64),
            );
            Ok(res)
        }
        Admission::Refused {
            retry_after_seconds,
        } => {
            let mut err = ApiError::new(
                ErrorCode::RateLimited,
                format!("slow down: retry in {retry_after_seconds} s"),
            );
            err.retry_after = Some(retry_after_seconds);
            let mut res = err.error_response();
            let h = res.headers_mut();
            h.insert(
                HeaderName::from_static("ratelimit-limit"),
                HeaderValue::from(limiter.limit()),
            );
            h.insert(
                HeaderName::from_static("ratelimit-remaining"),
                HeaderValue::from(0u64),
            );
            h.insert(
                HeaderName::from_static("ratelimit-reset"),
                HeaderValue::from(retry_after_seconds),
            );
            Ok(req.into_response(res))
        }
    }
}

/// Response headers worth replaying with a stored response.
const REPLAYED_HEADERS: [&str; 3] = ["content-type", "etag", "location"];

/// API-4: a POST with `Idempotency-Key` runs once per caller and key; repeats replay the
/// first answer (`Idempotent-Replayed: true`), a different body is 422, a repeat while the
/// first still runs is 409. Answers of 5xx are not kept, so the client may retry them.
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
    let scope = match crate::auth::authenticate(&state, http_req).await {
        Ok(p) => {
            http_req.extensions_mut().insert(p.clone());
            format!("user:{}", p.user_id)
        }
        Err(_) => client_key(&req),
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(req.uri().to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    let request_hash = hex::encode(hasher.finalize());
    let retention = chrono::Duration::hours(state.config.idempotency_retention_hours);
    let db = &state.store.conn;
    match idempotency::reserve(db, &scope, &key, &request_hash, retention).await {
        Err(e) => Ok(req.into_response(ApiError::from(e).error_response())),
        Ok(Reservation::InFlight) => {
            let mut err = ApiError::new(
                ErrorCode::IdempotencyKeyInFlight,
                "the first request with this Idempotency-Key is still running; retry shortly",
            );
            err.retry_after = Some(1);
            Ok(req.into_response(err.error_response()))
        }
        Ok(Reservation::Mismatch) => Ok(req.into_response(
            ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was already used with a different request; use a new key",
            )
            .error_response(),
        )),
        Ok(Reservation::Replay(stored)) => {
            let mut res =
                HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
            for (k, v) in &stored.headers {
                res.insert_header((k.as_str(), v.as_str()));
            }
            res.insert_header(("idempotent-replayed", "true"));
            Ok(req.into_response(res.body(stored.body)))
        }
        Ok(Reservation::Proceed) => {
            req.set_payload(bytes_payload(body));
            let res = next.call(req).await?;
            let status = res.status();
            let (http_req, res) = res.into_parts();
            let (head, body) = res.into_parts();
            let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
            if status.is_server_error() {
                let _ = idempotency::release(db, &scope, &key).await;
            } else {
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
                if let Err(e) = idempotency::complete(db, &scope, &key, &stored).await {
                    tracing::warn!(error = %e, "could not store the idempotent response");
                }
            }
            let res = head.set_body(bytes).map_into_boxed_body();
            Ok(ServiceResponse::new(http_req, res))
        }
    }
}

fn bytes_payload(body: web::Bytes) -> actix_web::dev::Payload {
    actix_web::dev::Payload::from(body)
}
