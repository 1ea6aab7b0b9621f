//! The task deadline job: each pass is
//! [`sdelka_persistence::ops::approvals::remind_due_tasks`] on every instance.

use std::sync::Arc;

use sdelka_persistence::Store;
use sdelka_persistence::ops::OpResult;
use sdelka_persistence::ops::approvals::{DeadlineOffsets, remind_due_tasks};

use crate::config::Config;
use crate::jobs::Job;

/// Reminds holders of tasks coming due and escalates overdue ones, every
/// `SDELKA_REMINDER_POLL_MS`.
pub struct TaskDeadlineWorker {
    pub store: Store,
    pub config: Arc<Config>,
}

impl Job for TaskDeadlineWorker {
    const NAME: &'static str = "task_deadlines";
    type Error = sdelka_persistence::ops::Error;

    fn idle_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config.reminder_poll_ms.max(10))
    }

    async fn pass(&self) -> OpResult<usize> {
        self.tick().await
    }
}

impl TaskDeadlineWorker {
    /// One pass; answers how many reminders and escalations were sent.
    pub async fn tick(&self) -> OpResult<usize> {
        let offsets = DeadlineOffsets {
            remind_before_minutes: self.config.task_remind_before_minutes,
            escalate_after_minutes: self.config.task_escalate_after_minutes,
        };
        remind_due_tasks(&self.store, offsets).await
    }
}
