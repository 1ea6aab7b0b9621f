//! The one job runner: every background job (outbox delivery, activity reminders, CSV imports,
//! task deadlines, housekeeping) is a [`Job`] whose pass claims its work by lease in the
//! database (`sdelka_persistence::jobs`) and runs it through operations. [`run`] loops a job
//! until stopped: straight on while there is work, a poll interval while idle, and an
//! exponential backoff with jitter while its passes fail, each pass in a tracing span of its
//! own. Any number of instances run the same jobs against one database.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A kind of background work.
pub trait Job: Send + Sync + 'static {
    /// The job's name in logs and spans.
    const NAME: &'static str;
    type Error: Display + Send;

    /// How long to wait after a pass that found nothing to do.
    fn idle_interval(&self) -> Duration;

    /// One pass; answers how many items it handled (0: nothing was due).
    fn pass(&self) -> impl Future<Output = Result<usize, Self::Error>> + Send;
}

/// The longest wait after failing passes.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Runs `job` until `stop` is cancelled.
pub async fn run<J: Job>(job: J, stop: CancellationToken) {
    let mut failures: u32 = 0;
    let mut pass_no: u64 = 0;
    loop {
        pass_no += 1;
        let span = tracing::info_span!("job", job = J::NAME, pass = pass_no);
        let outcome = job.pass().instrument(span.clone()).await;
        let wait = match outcome {
            Ok(0) => {
                failures = 0;
                job.idle_interval()
            }
            Ok(n) => {
                failures = 0;
                span.in_scope(|| tracing::debug!(handled = n, "job pass"));
                if stop.is_cancelled() {
                    return;
                }
                continue;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait = backoff(job.idle_interval(), failures);
                span.in_scope(|| {
                    tracing::warn!(error = %e, failures, retry_in_ms = wait.as_millis() as u64, "job pass failed; will retry")
                });
                wait
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// `base · 2^(failures-1)`, capped at [`MAX_BACKOFF`], spread by ±20 % so that instances that
/// failed together do not retry together.
pub fn backoff(base: Duration, failures: u32) -> Duration {
    let exp = failures.clamp(1, 16) - 1;
    let raw = base.max(Duration::from_millis(10)).saturating_mul(1 << exp);
    jitter(raw.min(MAX_BACKOFF))
}

/// `d` spread uniformly over ±20 %.
pub fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.8..1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_the_jitter_and_stops_at_the_cap() {
        let base = Duration::from_millis(500);
        for failures in 1..=10u32 {
            let expected = base
                .saturating_mul(1 << (failures - 1))
                .min(MAX_BACKOFF)
                .as_secs_f64();
            let got = backoff(base, failures).as_secs_f64();
            assert!(
                got >= expected * 0.8 - 1e-9 && got <= expected * 1.2 + 1e-9,
                "failure {failures}: {got} s is not within 20 % of {expected} s"
            );
        }
        assert!(backoff(base, 1000) <= MAX_BACKOFF.mul_f64(1.2));
    }
}
