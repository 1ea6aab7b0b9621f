//! DOC-1: a commercial proposal (quote) and its versions, as a pure state machine.
//!
//! A quote is made of versions; each version has its own status:
//!
//! ```text
//!   draft ──send──► sent ──accept──► accepted (final: an order is made from it)
//!     ▲               │
//!     │               └──reject──► rejected
//!     │                                │
//!     └──── new version (of a sent or rejected current version) ◄──┘
//! ```
//!
//! Rules:
//! - Only the **current** (latest) version can be acted on; older versions are kept read-only.
//! - Only a **draft** can be edited (rows, validity); sending freezes it.
//! - A new version is made after the client's feedback: from a `sent` version (the client asked
//!   for changes before deciding) or a `rejected` one (the client said no to this offer). It
//!   starts as a `draft`. A draft needs no new version (edit it), and an accepted quote is
//!   final.
//! - Accepting or rejecting needs a sent version: the client decides on what he received.

use serde::{Deserialize, Serialize};

use crate::workflow::WrongState;

/// The status of one version of a quote.
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
pub enum QuoteStatus {
    Draft,
    Sent,
    Accepted,
    Rejected,
}

impl QuoteStatus {
    pub const ALL: [QuoteStatus; 4] = [
        QuoteStatus::Draft,
        QuoteStatus::Sent,
        QuoteStatus::Accepted,
        QuoteStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<QuoteStatus> {
        s.parse().ok()
    }

    /// What the current version in this status allows.
    pub fn allowed(self) -> &'static [QuoteAction] {
        use QuoteAction::*;
        match self {
            QuoteStatus::Draft => &[Edit, Send],
            QuoteStatus::Sent => &[Accept, Reject, NewVersion],
            QuoteStatus::Rejected => &[NewVersion],
            QuoteStatus::Accepted => &[],
        }
    }
}

/// What can be asked of a quote's current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "kebab-case")]
pub enum QuoteAction {
    /// Change rows or validity.
    Edit,
    Send,
    Accept,
    Reject,
    /// Start the next version from this one's rows.
    NewVersion,
}

impl QuoteAction {
    pub const ALL: [QuoteAction; 5] = [
        QuoteAction::Edit,
        QuoteAction::Send,
        QuoteAction::Accept,
        QuoteAction::Reject,
        QuoteAction::NewVersion,
    ];

    /// The name the API uses (`/actions/{action}`, or the operation for edits and versions).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why a quote refuses an action. Each names what was asked, where the quote stands and what
/// it would allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteRefusal {
    #[error("cannot {action} a quote version that is {state}; allowed: {allowed}")]
    WrongState {
        action: &'static str,
        state: &'static str,
        allowed: String,
    },
    #[error(
        "version {version} is not the current version ({current}) of the quote: old versions are read-only"
    )]
    NotCurrent { version: i32, current: i32 },
}

impl crate::workflow::Refusal for QuoteRefusal {
    fn wrong_state(&self) -> Option<WrongState> {
        match self {
            QuoteRefusal::WrongState { state, .. } => {
                QuoteStatus::parse(state).map(|s| WrongState::new(s.as_str(), s.allowed()))
            }
            QuoteRefusal::NotCurrent { .. } => None,
        }
    }
}

impl QuoteRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            QuoteRefusal::WrongState { .. } => "invalid_transition",
            QuoteRefusal::NotCurrent { .. } => "version_read_only",
        }
    }
}

fn names(actions: &[QuoteAction]) -> String {
    if actions.is_empty() {
        return "none".to_owned();
    }
    actions
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Applies `action` to the current version in `state`. The answer is the status of the version
/// the action leaves current: for `NewVersion` that is the new version's (draft), for `Edit`
/// the unchanged draft.
pub fn decide(state: QuoteStatus, action: QuoteAction) -> Result<QuoteStatus, QuoteRefusal> {
    use QuoteAction as A;
    use QuoteStatus as S;
    let refuse = || QuoteRefusal::WrongState {
        action: action.as_str(),
        state: state.as_str(),
        allowed: names(state.allowed()),
    };
    match (state, action) {
        (S::Draft, A::Edit) => Ok(S::Draft),
        (S::Draft, A::Send) => Ok(S::Sent),
        (S::Sent, A::Accept) => Ok(S::Accepted),
        (S::Sent, A::Reject) => Ok(S::Rejected),
        (S::Sent | S::Rejected, A::NewVersion) => Ok(S::Draft),
        (S::Draft, A::Accept | A::Reject | A::NewVersion)
        | (S::Sent, A::Edit | A::Send)
        | (S::Rejected, A::Edit | A::Send | A::Accept | A::Reject)
        | (S::Accepted, A::Edit | A::Send | A::Accept | A::Reject | A::NewVersion) => Err(refuse()),
    }
}

/// Like [`decide`], for an action addressed to version `version` of a quote whose current
/// version is `current`: anything but the current version is read-only.
pub fn decide_on_version(
    state: QuoteStatus,
    action: QuoteAction,
    version: i32,
    current: i32,
) -> Result<QuoteStatus, QuoteRefusal> {
    if version != current {
        return Err(QuoteRefusal::NotCurrent { version, current });
    }
    decide(state, action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn action() -> impl Strategy<Value = QuoteAction> {
        prop::sample::select(QuoteAction::ALL.to_vec())
    }

    #[test]
    fn allowed_lists_exactly_what_decide_accepts() {
        for s in QuoteStatus::ALL {
            for a in QuoteAction::ALL {
                assert_eq!(
                    decide(s, a).is_ok(),
                    s.allowed().contains(&a),
                    "{s:?} {a:?}"
                );
            }
            assert_eq!(QuoteStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn refusals_name_the_state_and_the_allowed_actions() {
        let e = decide(QuoteStatus::Draft, QuoteAction::Accept).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot accept a quote version that is draft; allowed: edit, send"
        );
        assert_eq!(e.code(), "invalid_transition");
        let e = decide(QuoteStatus::Accepted, QuoteAction::NewVersion).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot new-version a quote version that is accepted; allowed: none"
        );
        let e = decide_on_version(QuoteStatus::Draft, QuoteAction::Edit, 1, 2).unwrap_err();
        assert_eq!(e.code(), "version_read_only");
    }

    proptest! {
        /// Whatever the client and the manager do, in any order: a version is only edited as a
        /// draft, accepted or rejected only after it was sent, every new version starts as a
        /// draft, older versions never change, and an accepted quote stays accepted.
        #[test]
        fn random_sessions_respect_the_rules(steps in prop::collection::vec(action(), 0..60)) {
            // The statuses of all versions; the last one is current.
            let mut versions = vec![QuoteStatus::Draft];
            for a in steps {
                let current = *versions.last().unwrap_or(&QuoteStatus::Draft);
                let frozen: Vec<QuoteStatus> = versions[..versions.len() - 1].to_vec();
                match decide(current, a) {
                    Ok(next) => {
                        match a {
                            QuoteAction::Edit => prop_assert_eq!(current, QuoteStatus::Draft),
                            QuoteAction::Send => prop_assert_eq!(current, QuoteStatus::Draft),
                            QuoteAction::Accept | QuoteAction::Reject => {
                                prop_assert_eq!(current, QuoteStatus::Sent)
                            }
                            QuoteAction::NewVersion => {
                                let after_feedback = matches!(current, QuoteStatus::Sent | QuoteStatus::Rejected);
                                prop_assert!(after_feedback);
                                prop_assert_eq!(next, QuoteStatus::Draft);
                            }
                        }
                        if a == QuoteAction::NewVersion {
                            versions.push(next);
                        } else if let Some(last) = versions.last_mut() {
                            *last = next;
                        }
                    }
                    Err(QuoteRefusal::WrongState { state, .. }) => {
                        prop_assert_eq!(state, current.as_str());
                        prop_assert!(!current.allowed().contains(&a));
                    }
                    Err(QuoteRefusal::NotCurrent { .. }) => prop_assert!(false, "decide never checks versions"),
                }
                // Versions that were old before the step did not change.
                prop_assert_eq!(&versions[..frozen.len()], &frozen[..]);
                // Every version but the current one was sent (and maybe rejected) before the
                // next one was started; none was accepted.
                for old in &versions[..versions.len() - 1] {
                    let decided_or_sent = matches!(old, QuoteStatus::Sent | QuoteStatus::Rejected);
                    prop_assert!(decided_or_sent);
                }
            }
        }

        /// An old version refuses everything, whatever its status.
        #[test]
        fn old_versions_are_read_only(a in action(), current in 2i32..50, back in 1i32..50) {
            let version = (current - back).max(1);
            for s in QuoteStatus::ALL {
                let read_only = matches!(
                    decide_on_version(s, a, version, current),
                    Err(QuoteRefusal::NotCurrent { .. })
                );
                prop_assert!(read_only);
            }
        }
    }
}
