//! Jobs that every instance runs (see [`crate::jobs`]): outbox delivery, activity reminders
//! and housekeeping. Claims are
//! leases in the database, so any number of instances can run these loops against one
//! PostgreSQL without sending anything twice in the normal case (at-least-once on crashes).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sdelka_persistence::outbox::{self, OutboxMessage};
use sdelka_persistence::{Store, StoreError, idempotency};
use tracing::Instrument;

use crate::config::Config;
use crate::jobs::{Job, jitter};
use crate::mail::{MailError, Mailer};

const LEASE_SECONDS: i64 = 60;
const BATCH: u64 = 20;

pub struct OutboxWorker {
    pub store: Store,
    pub mailer: Arc<Mailer>,
    pub config: Arc<Config>,
    pub owner: String,
}

impl Job for OutboxWorker {
    const NAME: &'static str = "outbox";
    type Error = StoreError;

    fn idle_interval(&self) -> Duration {
        Duration::from_millis(self.config.outbox_poll_ms.max(10))
    }

    async fn pass(&self) -> Result<usize, StoreError> {
        self.tick().await
    }
}

impl OutboxWorker {
    /// One pass: claim due messages and deliver them. Returns how many were claimed.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let claimed = outbox::claim_due(
            &self.store.conn,
            &self.owner,
            chrono::Duration::seconds(LEASE_SECONDS),
            BATCH,
        )
        .await?;
        let n = claimed.len();
        for msg in claimed {
            let span = tracing::info_span!("outbox_message", outbox_id = %msg.id, kind = %msg.kind);
            let outcome = match OutboxMessage::decode(&msg.kind, &msg.payload) {
                Ok(OutboxMessage::Email(email)) => {
                    self.mailer.deliver(msg.id, &email).instrument(span).await
                }
                Err(reason) => Err(MailError::Permanent(reason)),
            };
            match outcome {
                Ok(()) => {
                    outbox::mark_sent(&self.store.conn, msg.id, &self.owner).await?;
                    tracing::info!(outbox_id = %msg.id, attempts = msg.attempts, "message delivered");
                }
                Err(e) => {
                    let give_up = matches!(e, MailError::Permanent(_))
                        || Utc::now() - msg.created_at
                            > chrono::Duration::hours(self.config.outbox_give_up_hours);
                    let retry_at = (!give_up).then(|| Utc::now() + self.backoff(msg.attempts));
                    tracing::warn!(outbox_id = %msg.id, attempts = msg.attempts, error = %e, give_up, "delivery failed");
                    outbox::mark_failed(
                        &self.store.conn,
                        msg.id,
                        &self.owner,
                        &e.to_string(),
                        retry_at,
                    )
                    .await?;
                }
            }
        }
        Ok(n)
    }

    /// Exponential backoff from the configured base, capped at one hour, with ±20 % jitter so
    /// that messages that failed together are not retried together.
    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let base = self.config.outbox_retry_base_ms.max(1) as i64;
        let exp = attempts.clamp(1, 20) as u32 - 1;
        let ms = base.saturating_mul(1i64 << exp.min(20)).min(3_600_000);
        let spread = jitter(Duration::from_millis(ms as u64));
        chrono::Duration::milliseconds(spread.as_millis() as i64)
    }
}

/// ACT-2: fires due reminders into the responsible user's inbox. Nothing is kept in memory:
/// a reminder is a row until its transaction marks it fired together with its notification.
pub struct ReminderWorker {
    pub store: sdelka_persistence::Store,
    pub config: Arc<Config>,
    pub owner: String,
}

impl Job for ReminderWorker {
    const NAME: &'static str = "reminders";
    type Error = StoreError;

    fn idle_interval(&self) -> Duration {
        Duration::from_millis(self.config.reminder_poll_ms.max(10))
    }

    async fn pass(&self) -> Result<usize, StoreError> {
        self.tick().await
    }
}

impl ReminderWorker {
    /// One pass: claim due reminders and fire each in its own transaction. Returns how many
    /// were claimed.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        use sdelka_persistence::reminders;
        let claimed = reminders::claim_due(
            &self.store.conn,
            &self.owner,
            chrono::Duration::seconds(LEASE_SECONDS),
            BATCH,
        )
        .await?;
        let n = claimed.len();
        for r in claimed {
            // One failed reminder (e.g. a busy database) must not hold the others, nor itself,
            // until the lease runs out: it is given back and retried on the next pass.
            if let Err(e) = self.fire_one(&r).await {
                tracing::warn!(reminder_id = %r.id, error = %e, "firing a reminder failed; will retry");
                if let Err(e) = reminders::release(&self.store.conn, r.id, &self.owner).await {
                    tracing::warn!(reminder_id = %r.id, error = %e, "releasing the reminder failed");
                }
            }
        }
        Ok(n)
    }

    async fn fire_one(
        &self,
        r: &sdelka_persistence::entity::reminder::Model,
    ) -> Result<(), sdelka_persistence::StoreError> {
        use sdelka_persistence::reminders::{self, FireOutcome};
        let txn = self.store.begin().await?;
        match reminders::fire(&txn, r, &self.owner).await? {
            FireOutcome::LeaseLost => {
                txn.rollback().await?;
                tracing::info!(reminder_id = %r.id, "reminder taken over by another instance");
            }
            outcome => {
                txn.commit().await?;
                tracing::info!(reminder_id = %r.id, ?outcome, "reminder fired");
            }
        }
        Ok(())
    }
}

/// Forgets expired idempotency keys, every ten minutes.
pub struct Housekeeping {
    pub store: Store,
    pub config: Arc<Config>,
}

impl Job for Housekeeping {
    const NAME: &'static str = "housekeeping";
    type Error = StoreError;

    fn idle_interval(&self) -> Duration {
        Duration::from_secs(self.config.housekeeping_interval_seconds.max(1))
    }

    async fn pass(&self) -> Result<usize, StoreError> {
        idempotency::purge_expired(&self.store.conn).await?;
        let keep = chrono::Duration::days(i64::from(self.config.event_retention_days.max(1)));
        sdelka_persistence::feed::prune(&self.store, chrono::Utc::now() - keep).await?;
        // The pass is done until the next interval, whatever it removed.
        Ok(0)
    }
}

/// INT-2: numbers committed domain events into the change feed (`sdelka_persistence::feed`).
/// Every instance runs one; they take turns on the feed head's row lock.
pub struct FeedSequencer {
    pub store: Store,
    pub config: Arc<Config>,
}

impl Job for FeedSequencer {
    const NAME: &'static str = "feed-sequencer";
    type Error = StoreError;

    fn idle_interval(&self) -> Duration {
        Duration::from_millis(self.config.feed_sequence_ms.max(10))
    }

    async fn pass(&self) -> Result<usize, StoreError> {
        sdelka_persistence::feed::sequence(&self.store).await
    }
}
