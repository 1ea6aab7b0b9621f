//! The task deadline worker: runs the reminder and escalation pass of
//! [`sdelka_persistence::ops::approvals::remind_due_tasks`] on every instance.

use std::sync::Arc;

use sdelka_persistence::Store;
use sdelka_persistence::ops::OpResult;
use sdelka_persistence::ops::approvals::{DeadlineOffsets, remind_due_tasks};
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Reminds holders of tasks coming due and escalates overdue ones, every
/// `SDELKA_REMINDER_POLL_MS`.
pub struct TaskDeadlineWorker {
    pub store: Store,
    pub config: Arc<Config>,
}

impl TaskDeadlineWorker {
    pub async fn run(self, stop: CancellationToken) {
        let poll = std::time::Duration::from_millis(self.config.reminder_poll_ms.max(10));
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "task deadline pass failed; will retry");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// One pass; answers how many reminders and escalations were sent.
    pub async fn tick(&self) -> OpResult<usize> {
        let offsets = DeadlineOffsets {
            remind_before_minutes: self.config.task_remind_before_minutes,
            escalate_after_minutes: self.config.task_escalate_after_minutes,
        };
        remind_due_tasks(&self.store, offsets).await
    }
}
