//! DEAL-1/DEAL-2 rules: the semantic kind of a pipeline stage, what moving a deal into a stage
//! requires, and time spent in each stage.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::FieldViolation;

/// What a stage means, whatever it is called: still being worked on, won, or lost. Funnel
/// reports and the loss-reason rule read the kind, never the name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Open,
    Won,
    Lost,
}

impl StageKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<StageKind> {
        s.parse().ok()
    }

    pub fn is_closed(self) -> bool {
        match self {
            StageKind::Open => false,
            StageKind::Won | StageKind::Lost => true,
        }
    }
}

/// A deal may sit in a `lost` stage only with a reason: the reason is what the loss analysis
/// is made of.
pub fn check_stage_entry(kind: StageKind, loss_reason: Option<&str>) -> Result<(), FieldViolation> {
    match kind {
        StageKind::Lost if loss_reason.is_none_or(|r| r.trim().is_empty()) => {
            Err(FieldViolation::new(
                "loss_reason",
                "required",
                "loss_reason is required to move a deal to a lost stage",
            ))
        }
        StageKind::Open | StageKind::Won | StageKind::Lost => Ok(()),
    }
}

/// Seconds spent in the stage entered at `entered`: until the next change, or until `now`
/// for the current stage. Never negative (clocks of several instances may disagree slightly).
pub fn seconds_in_stage(
    entered: DateTime<Utc>,
    left: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> i64 {
    (left.unwrap_or(now) - entered).num_seconds().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_needs_a_reason() {
        assert_eq!(
            check_stage_entry(StageKind::Lost, None).unwrap_err().field,
            "loss_reason"
        );
        assert!(check_stage_entry(StageKind::Lost, Some("  ")).is_err());
        assert!(check_stage_entry(StageKind::Lost, Some("дорого")).is_ok());
        assert!(check_stage_entry(StageKind::Won, None).is_ok());
        assert!(check_stage_entry(StageKind::Open, None).is_ok());
    }

    #[test]
    fn time_in_stage() {
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        let t1 = DateTime::from_timestamp(1_090, 0).unwrap_or_default();
        assert_eq!(seconds_in_stage(t0, Some(t1), t1), 90);
        assert_eq!(seconds_in_stage(t1, None, t0), 0);
        for k in ["open", "won", "lost"] {
            assert_eq!(StageKind::parse(k).map(StageKind::as_str), Some(k));
        }
    }
}
