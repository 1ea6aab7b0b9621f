//! The CSV import worker: runs [`sdelka_persistence::ops::import_jobs::ImportRunner`] until
//! stopped, polling every `SDELKA_IMPORT_POLL_MS` while idle.

use std::sync::Arc;
use std::time::Duration;

use sdelka_persistence::Store;
use sdelka_persistence::ops::import_jobs::ImportRunner;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Runs queued imports. Any instance may run this; a lease keeps one import on one worker.
pub struct ImportWorker {
    pub store: Store,
    pub config: Arc<Config>,
    pub owner: String,
}

impl ImportWorker {
    pub async fn run(self, stop: CancellationToken) {
        let poll = Duration::from_millis(self.config.import_poll_ms.max(10));
        let runner = ImportRunner {
            store: self.store,
            owner: self.owner,
        };
        loop {
            let worked = match runner.tick().await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "import pass failed; will retry");
                    false
                }
            };
            if worked {
                if stop.is_cancelled() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}
