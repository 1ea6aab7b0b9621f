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

/// INT-1: follows the change feed and writes a webhook delivery per matching subscription and
/// event, in the transaction that moves its offset (`sdelka_persistence::ops::webhooks`).
pub struct WebhookDispatcher {
    pub store: Store,
    pub config: Arc<Config>,
}

impl Job for WebhookDispatcher {
    const NAME: &'static str = "webhook-dispatcher";
    type Error = sdelka_persistence::ops::Error;

    fn idle_interval(&self) -> Duration {
        Duration::from_millis(self.config.webhook_poll_ms.max(10))
    }

    async fn pass(&self) -> Result<usize, Self::Error> {
        sdelka_persistence::ops::webhooks::dispatch(&self.store).await
    }
}

/// INT-1: sends due webhook deliveries, signed as Standard Webhooks 1.0 says, and records each
/// attempt; retries follow the schedule, a 410 or an exhausted schedule disables the
/// subscription.
pub struct WebhookWorker {
    pub store: Store,
    pub config: Arc<Config>,
    pub owner: String,
    pub client: reqwest::Client,
}

/// How long one attempt may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);

/// Resolves a webhook target's host name once, checks every address it resolves to against
/// the target policy, and answers only those: the client connects to exactly the addresses
/// that were checked, so a name that resolves elsewhere between a check and the connection
/// (DNS rebinding) cannot reach an internal address. IP literals never reach a resolver;
/// [`WebhookWorker`] checks them itself.
pub struct CheckedResolver {
    pub policy: sdelka_persistence::ops::webhooks::TargetPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.policy.allow.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<std::net::IpAddr> = addrs.iter().map(|a| a.ip()).collect();
            sdelka_domain::webhook::check_target(&host, &ips, &allow)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl WebhookWorker {
    pub fn new(store: Store, config: Arc<Config>, owner: String) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Sdelka-Webhooks/1")
            // Straight to the checked address: a proxy would resolve the name again itself.
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: config.webhook_policy(),
            }))
            .build()?;
        Ok(WebhookWorker {
            store,
            config,
            owner,
            client,
        })
    }

    /// One attempt: the answer (status, `Retry-After`, the first KiB) or why there was none.
    async fn attempt(
        &self,
        c: &sdelka_persistence::ops::webhooks::ClaimedDelivery,
    ) -> (
        sdelka_domain::webhook::AttemptResult,
        sdelka_persistence::ops::webhooks::DeliveryAttempt,
    ) {
        use sdelka_domain::webhook::{AttemptResult, Secret};
        use sdelka_persistence::ops::webhooks::{DeliveryAttempt, RESPONSE_KEPT};
        let at = sdelka_persistence::journal::now();
        let started = std::time::Instant::now();
        let failed = |error: String| {
            (
                AttemptResult::Failed,
                DeliveryAttempt {
                    at,
                    status: None,
                    latency_ms: started.elapsed().as_millis() as u64,
                    error: Some(error),
                    response: None,
                },
            )
        };
        // Checked again at each attempt: an address literal here, a host name by the client's
        // resolver when it connects (`CheckedResolver`), so the address checked is the one
        // connected to.
        match sdelka_domain::webhook::url_host_port(&c.url) {
            Ok((host, _)) => {
                if let Ok(ip) = host.parse::<std::net::IpAddr>()
                    && let Err(e) = sdelka_domain::webhook::check_target(
                        &host,
                        &[ip],
                        &self.config.webhook_policy().allow,
                    )
                {
                    return failed(format!("target refused: {e}"));
                }
            }
            Err(e) => return failed(format!("target refused: {e}")),
        }
        let secrets = match c
            .secrets
            .iter()
            .map(|s| Secret::parse(s))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(s) => s,
            Err(e) => return failed(e.to_string()),
        };
        let id = c.delivery.event_id.to_string();
        let ts = Utc::now().timestamp();
        let keys: Vec<&Secret> = secrets.iter().collect();
        let signature =
            sdelka_domain::webhook::signature_header(&keys, &id, ts, &c.delivery.payload);
        let sent = self
            .client
            .post(&c.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(c.delivery.payload.clone())
            .send()
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => return failed(error_chain(&e)),
        };
        let code = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| sdelka_domain::webhook::parse_retry_after(v, Utc::now()));
        let mut kept: Vec<u8> = Vec::new();
        while kept.len() < RESPONSE_KEPT {
            match resp.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                _ => break,
            }
        }
        kept.truncate(RESPONSE_KEPT);
        (
            AttemptResult::Status { code, retry_after },
            DeliveryAttempt {
                at,
                status: Some(code),
                latency_ms: started.elapsed().as_millis() as u64,
                error: (!(200..300).contains(&code)).then(|| format!("HTTP {code}")),
                response: Some(String::from_utf8_lossy(&kept).into_owned()),
            },
        )
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

impl Job for WebhookWorker {
    const NAME: &'static str = "webhook-delivery";
    type Error = StoreError;

    fn idle_interval(&self) -> Duration {
        Duration::from_millis(self.config.webhook_poll_ms.max(10))
    }

    async fn pass(&self) -> Result<usize, StoreError> {
        use rand::Rng;
        use sdelka_persistence::ops::webhooks;
        let claimed = webhooks::claim_deliveries(
            &self.store,
            &self.owner,
            chrono::Duration::seconds(LEASE_SECONDS),
            BATCH,
        )
        .await?;
        let n = claimed.len();
        let schedule = self.config.webhook_schedule();
        // Attempts of one pass run side by side: a slow endpoint holds the others up to the
        // timeout only once.
        let outcomes =
            futures_util::future::join_all(claimed.iter().map(|c| self.attempt(c))).await;
        for (c, (result, attempt)) in claimed.iter().zip(outcomes) {
            let jitter = rand::rng().random_range(-1.0..1.0);
            let decision = sdelka_domain::webhook::decide(
                &result,
                c.delivery.attempts.max(1) as u32,
                &schedule,
                jitter,
            );
            tracing::info!(delivery_id = %c.delivery.id, event_id = %c.delivery.event_id, status = ?attempt.status, ?decision, "webhook attempt");
            webhooks::record_attempt(&self.store, &c.delivery, &self.owner, attempt, &decision)
                .await?;
        }
        Ok(n)
    }
}

/// WF-BP-2/3: fires due process timers (a wait's end, a reminder before a task's due time,
/// an escalation to the supervisor after it). Timers are claimed by lease and marked fired by
/// a compare-and-set under the instance's lock, so with any number of instances each fires
/// once; the engine ignores a timer whose step has moved on.
pub struct ProcessTimerWorker {
    pub store: Store,
    pub config: Arc<Config>,
    pub owner: String,
}

impl Job for ProcessTimerWorker {
    const NAME: &'static str = "process-timers";
    type Error = sdelka_persistence::ops::Error;

    fn idle_interval(&self) -> Duration {
        Duration::from_millis(self.config.reminder_poll_ms.max(10))
    }

    async fn pass(&self) -> Result<usize, Self::Error> {
        sdelka_persistence::ops::processes::fire_due_timers(
            &self.store,
            &self.owner,
            chrono::Duration::seconds(LEASE_SECONDS),
            BATCH,
        )
        .await
    }
}
