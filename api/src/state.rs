use std::sync::Arc;

use sdelka_persistence::Store;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::limits::{RateLimiter, TrustedProxies};
use crate::middleware::{KeysInFlight, Metrics};
use crate::storage::FileStorage;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    pub metrics: Arc<Metrics>,
    pub rate_limiter: Arc<RateLimiter>,
    /// Proxies whose forwarded-for headers name the client (`SDELKA_TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<TrustedProxies>,
    /// `Idempotency-Key`s whose first request runs in this process.
    pub keys_in_flight: Arc<KeysInFlight>,
    /// Per-account backoff after failed logins.
    pub login_throttle: Arc<sdelka_persistence::ops::auth::LoginThrottle>,
    /// Where file contents live (attachments and uploaded import files).
    pub files: Arc<dyn FileStorage>,
    /// The OpenAPI document, serialised once at start.
    pub openapi_json: Arc<String>,
}

impl AppState {
    /// Where an operation called by a handler runs: on the store, in its own transaction.
    pub fn db(&self) -> sdelka_persistence::ops::Db<'_> {
        sdelka_persistence::ops::Db::Store(&self.store)
    }
}
