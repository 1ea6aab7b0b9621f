//! ACT-1 activities and ACT-2 calendar: the kinds of work, what they may be attached to, and
//! the rules a schedule must keep.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::validation::FieldViolation;

/// What sort of work an activity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ActivityKind {
    Task,
    Call,
    Meeting,
    Email,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 4] = [
        ActivityKind::Task,
        ActivityKind::Call,
        ActivityKind::Meeting,
        ActivityKind::Email,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<ActivityKind> {
        s.parse().ok()
    }

    /// Only tasks collect time (who worked how long), which later bills into deals (WF-BILL).
    pub fn takes_time_entries(self) -> bool {
        matches!(self, ActivityKind::Task)
    }

    /// Only calls have a direction and a call result.
    pub fn is_call(self) -> bool {
        matches!(self, ActivityKind::Call)
    }
}

/// The record an activity, event, comment or file belongs to. The records themselves live in
/// other parts of the CRM; only the reference is kept here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum OwnerType {
    Lead,
    Deal,
    Company,
    Contact,
    Invoice,
    Contract,
    Organization,
}

impl OwnerType {
    pub const ALL: [OwnerType; 7] = [
        OwnerType::Lead,
        OwnerType::Deal,
        OwnerType::Company,
        OwnerType::Contact,
        OwnerType::Invoice,
        OwnerType::Contract,
        OwnerType::Organization,
    ];

    /// The record type as the journal names it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<OwnerType> {
        s.parse().ok()
    }
}

/// Who called whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum CallDirection {
    /// The client called us.
    In,
    /// We called the client.
    Out,
}

impl CallDirection {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Completing an activity that is already completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyCompleted {
    pub completed_at: DateTime<Utc>,
}

impl fmt::Display for AlreadyCompleted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the activity could not be completed because it was already completed at {}",
            self.completed_at.to_rfc3339()
        )
    }
}

/// An activity is completed once; its result is the outcome recorded then.
pub fn complete(
    completed_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<DateTime<Utc>, AlreadyCompleted> {
    match completed_at {
        Some(completed_at) => Err(AlreadyCompleted { completed_at }),
        None => Ok(at),
    }
}

/// A calendar event must end after it starts.
pub fn check_event_times(
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<(), FieldViolation> {
    if ends_at > starts_at {
        Ok(())
    } else {
        Err(FieldViolation::new(
            "ends_at",
            "not_after_start",
            format!(
                "ends_at ({}) must be after starts_at ({})",
                ends_at.to_rfc3339(),
                starts_at.to_rfc3339()
            ),
        ))
    }
}

/// Whether an event `[starts_at, ends_at)` meets the window `[from, to)`; open ends are
/// unbounded.
pub fn overlaps(
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> bool {
    from.is_none_or(|f| ends_at > f) && to.is_none_or(|t| starts_at < t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    #[test]
    fn kinds_and_owners_round_trip() {
        for k in ActivityKind::ALL {
            assert_eq!(ActivityKind::parse(k.as_str()), Some(k));
        }
        for o in OwnerType::ALL {
            assert_eq!(OwnerType::parse(o.as_str()), Some(o));
        }
        assert_eq!(ActivityKind::parse("Task"), None);
        assert!(ActivityKind::Task.takes_time_entries());
        assert!(!ActivityKind::Call.takes_time_entries());
    }

    #[test]
    fn completing_twice_is_refused() {
        let t = Utc::now();
        assert_eq!(complete(None, t), Ok(t));
        let err = complete(Some(t), t + Duration::seconds(1)).unwrap_err();
        assert!(err.to_string().contains("already completed"));
    }

    #[test]
    fn event_must_end_after_start() {
        let t = Utc::now();
        assert!(check_event_times(t, t + Duration::minutes(30)).is_ok());
        assert_eq!(check_event_times(t, t).unwrap_err().field, "ends_at");
        assert_eq!(
            check_event_times(t, t - Duration::minutes(1))
                .unwrap_err()
                .code,
            "not_after_start"
        );
    }

    proptest! {
        #[test]
        fn overlap_is_symmetric_interval_intersection(a in 0i64..1000, len in 1i64..100, f in 0i64..1000, flen in 1i64..100) {
            let base = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
            let s = base + Duration::minutes(a);
            let e = s + Duration::minutes(len);
            let from = base + Duration::minutes(f);
            let to = from + Duration::minutes(flen);
            let expected = s < to && from < e;
            prop_assert_eq!(overlaps(s, e, Some(from), Some(to)), expected);
            prop_assert!(overlaps(s, e, None, None));
        }
    }
}
