use std::sync::Arc;

use sdelka_persistence::Store;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::middleware::{Metrics, RateLimiter};
use crate::storage::FileStorage;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    pub metrics: Arc<Metrics>,
    pub rate_limiter: Arc<RateLimiter>,
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
