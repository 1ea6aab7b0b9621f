//! The CSV import job: one batch of a queued import per pass
//! ([`sdelka_persistence::ops::import_jobs::ImportRunner`]), polling every
//! `SDELKA_IMPORT_POLL_MS` while idle.

use std::sync::Arc;
use std::time::Duration;

use sdelka_persistence::ops::import_jobs::ImportRunner;
use sdelka_persistence::{Store, StoreError};

use crate::config::Config;
use crate::jobs::Job;
use crate::storage::{FileStorage, ImportFilesIn};

/// Runs queued imports. Any instance may run this; a lease keeps one import on one worker.
pub struct ImportWorker {
    pub store: Store,
    pub config: Arc<Config>,
    pub owner: String,
    /// Where uploaded import files are kept.
    pub files: Arc<dyn FileStorage>,
}

impl Job for ImportWorker {
    const NAME: &'static str = "imports";
    type Error = StoreError;

    fn idle_interval(&self) -> Duration {
        Duration::from_millis(self.config.import_poll_ms.max(10))
    }

    async fn pass(&self) -> Result<usize, StoreError> {
        let runner = ImportRunner {
            store: self.store.clone(),
            owner: self.owner.clone(),
            files: Arc::new(ImportFilesIn(self.files.clone())),
        };
        Ok(usize::from(runner.tick().await?))
    }
}

/// The bank statement job (INT-1C-2): a large statement's documents in batches
/// ([`sdelka_persistence::ops::bank_statements::StatementRunner`]), polling like the CSV
/// imports while idle.
pub struct StatementWorker {
    pub store: Store,
    pub config: Arc<Config>,
    pub owner: String,
}

impl Job for StatementWorker {
    const NAME: &'static str = "bank_statements";
    type Error = String;

    fn idle_interval(&self) -> Duration {
        Duration::from_millis(self.config.import_poll_ms.max(10))
    }

    async fn pass(&self) -> Result<usize, String> {
        let runner = sdelka_persistence::ops::bank_statements::StatementRunner {
            store: self.store.clone(),
            owner: self.owner.clone(),
        };
        runner
            .tick()
            .await
            .map(usize::from)
            .map_err(|e| format!("{}: {}", e.detail, e.cause.unwrap_or_default()))
    }
}
