//! SPEC §3: the shared model of human work. A task is assigned to a user, a role or a pool
//! ("the first of these users to take it"), claimed, completed with a typed outcome and a
//! comment, or delegated; an absent user's new tasks go to his deputy. Approval steps group
//! tasks under a completion rule (all / N of M / first one decides) and carry due times with a
//! reminder and an escalation to the supervisor. Pure: the workflows (WF-INV now, contract
//! routes and process templates next) persist what these functions decide.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::workflow::WrongState;

/// Whom a task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    User(Uuid),
    /// Anyone holding the role may claim it.
    Role(crate::role::Role),
    /// Any member of the pool may claim it; the first one gets it.
    Pool(Uuid),
}

/// The typed outcome of a completed task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Approve,
    Reject,
    ReturnForRework,
    Done,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Approve,
        Outcome::Reject,
        Outcome::ReturnForRework,
        Outcome::Done,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        s.parse().ok()
    }

    /// Rejecting and returning must say why.
    pub fn needs_comment(self) -> bool {
        match self {
            Outcome::Reject | Outcome::ReturnForRework => true,
            Outcome::Approve | Outcome::Done => false,
        }
    }
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting for its assignee (or for a member of its pool or role to claim it).
    Open,
    Claimed {
        by: Uuid,
    },
    Completed {
        by: Uuid,
        outcome: Outcome,
    },
    Cancelled,
}

impl TaskStatus {
    pub fn name(&self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Claimed { .. } => "claimed",
            TaskStatus::Completed { .. } => "completed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(&self) -> bool {
        match self {
            TaskStatus::Completed { .. } | TaskStatus::Cancelled => true,
            TaskStatus::Open | TaskStatus::Claimed { .. } => false,
        }
    }
}

/// A task as far as the rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub assignee: Assignee,
    pub status: TaskStatus,
    /// The outcomes this task offers (an approval: approve / return; a chore: done).
    pub outcomes: Vec<Outcome>,
}

/// Who acts on a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Performer {
    pub id: Uuid,
    /// Member of the task's pool, or holder of its role.
    pub eligible: bool,
    pub is_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskCommand {
    Claim,
    Complete { outcome: Outcome, comment: String },
    Delegate { to: Uuid },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskRefusal {
    /// Someone else holds it: the 409 of a lost claim race.
    #[error("the task was already claimed by another user")]
    ClaimedByAnother { by: Uuid },
    #[error("the task is {state}; it takes no more actions")]
    Finished { state: &'static str },
    #[error("only {who} may do this")]
    NotYours { who: &'static str },
    #[error("this task offers the outcomes {allowed}")]
    OutcomeNotOffered { allowed: String },
    #[error("{outcome} needs a comment saying why")]
    CommentRequired { outcome: &'static str },
}

impl crate::workflow::Refusal for TaskRefusal {
    /// A finished task takes no more actions; the other refusals are not about its state.
    fn wrong_state(&self) -> Option<WrongState> {
        match self {
            TaskRefusal::Finished { state } => Some(WrongState {
                current: state,
                allowed: Vec::new(),
            }),
            TaskRefusal::ClaimedByAnother { .. }
            | TaskRefusal::NotYours { .. }
            | TaskRefusal::OutcomeNotOffered { .. }
            | TaskRefusal::CommentRequired { .. } => None,
        }
    }
}

impl Task {
    /// Who holds the task now: its claimer, or its user assignee.
    pub fn holder(&self) -> Option<Uuid> {
        match (self.status, self.assignee) {
            (TaskStatus::Claimed { by }, _) => Some(by),
            (TaskStatus::Open, Assignee::User(u)) => Some(u),
            (TaskStatus::Open, Assignee::Role(_) | Assignee::Pool(_))
            | (TaskStatus::Completed { .. } | TaskStatus::Cancelled, _) => None,
        }
    }

    fn allowed_outcomes(&self) -> String {
        let names: Vec<&str> = self.outcomes.iter().map(|o| o.as_str()).collect();
        names.join(", ")
    }
}

/// What a command does to a task: its new status and, for a delegation, its new assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskChange {
    pub status: TaskStatus,
    pub assignee: Assignee,
}

/// Applies `command` by `who` to `task`.
pub fn decide_task(
    task: &Task,
    command: &TaskCommand,
    who: &Performer,
) -> Result<TaskChange, TaskRefusal> {
    if task.status.is_finished() {
        return Err(TaskRefusal::Finished {
            state: task.status.name(),
        });
    }
    let holder = task.holder();
    match command {
        TaskCommand::Claim => match (task.status, task.assignee) {
            (TaskStatus::Claimed { by }, _) if by == who.id => Ok(TaskChange {
                status: task.status,
                assignee: task.assignee,
            }),
            (TaskStatus::Claimed { by }, _) => Err(TaskRefusal::ClaimedByAnother { by }),
            (_, Assignee::User(u)) if u != who.id => Err(TaskRefusal::ClaimedByAnother { by: u }),
            (_, Assignee::Role(_) | Assignee::Pool(_)) if !who.eligible => {
                Err(TaskRefusal::NotYours {
                    who: "a member of the task's pool or role",
                })
            }
            _ => Ok(TaskChange {
                status: TaskStatus::Claimed { by: who.id },
                assignee: task.assignee,
            }),
        },
        TaskCommand::Complete { outcome, comment } => {
            if holder != Some(who.id) {
                return Err(TaskRefusal::NotYours {
                    who: "the user holding the task (claim it first)",
                });
            }
            if !task.outcomes.contains(outcome) {
                return Err(TaskRefusal::OutcomeNotOffered {
                    allowed: task.allowed_outcomes(),
                });
            }
            if outcome.needs_comment() && comment.trim().is_empty() {
                return Err(TaskRefusal::CommentRequired {
                    outcome: outcome.as_str(),
                });
            }
            Ok(TaskChange {
                status: TaskStatus::Completed {
                    by: who.id,
                    outcome: *outcome,
                },
                assignee: task.assignee,
            })
        }
        TaskCommand::Delegate { to } => {
            if holder != Some(who.id) && !who.is_admin {
                return Err(TaskRefusal::NotYours {
                    who: "the user holding the task or an admin",
                });
            }
            Ok(TaskChange {
                status: TaskStatus::Open,
                assignee: Assignee::User(*to),
            })
        }
    }
}

/// A user as deputy routing sees him.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    pub absent: bool,
    pub deputy: Option<Uuid>,
}

/// Whom a new task for `user` goes to: himself, or while he is absent his deputy (and the
/// deputy's deputy if he is away too). A loop of absent deputies ends at the last one reached.
pub fn route_to_present(user: Uuid, presence: impl Fn(Uuid) -> Option<Presence>) -> Uuid {
    let mut current = user;
    let mut seen = vec![user];
    while let Some(Presence {
        absent: true,
        deputy: Some(d),
    }) = presence(current)
    {
        if seen.contains(&d) {
            break;
        }
        seen.push(d);
        current = d;
    }
    current
}

/// When a step is complete (WF-CON-2, WF-BP-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionRule {
    /// Every task must approve.
    All,
    /// `n` approvals of the step's tasks suffice.
    Quorum(u32),
    /// The first completed task decides for the step.
    FirstDecides,
}

impl CompletionRule {
    pub fn as_str(self) -> &'static str {
        match self {
            CompletionRule::All => "all",
            CompletionRule::Quorum(_) => "quorum",
            CompletionRule::FirstDecides => "first",
        }
    }
}

/// What a step's tasks have decided so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Pending,
    Approved,
    Rejected,
    /// Someone returned the matter to its author: the route restarts after resubmission.
    Returned,
}

/// Decides a step from its tasks' outcomes, in completion order (`None`: not completed yet).
/// `Done` counts as approval; a return always wins, because the author must rework first.
pub fn step_outcome(rule: CompletionRule, outcomes: &[Option<Outcome>]) -> StepOutcome {
    let done: Vec<Outcome> = outcomes.iter().flatten().copied().collect();
    if done.contains(&Outcome::ReturnForRework) {
        return StepOutcome::Returned;
    }
    let approvals = done
        .iter()
        .filter(|o| matches!(o, Outcome::Approve | Outcome::Done))
        .count();
    let rejections = done.iter().filter(|o| **o == Outcome::Reject).count();
    let total = outcomes.len();
    match rule {
        CompletionRule::All => {
            if rejections > 0 {
                StepOutcome::Rejected
            } else if approvals == total {
                StepOutcome::Approved
            } else {
                StepOutcome::Pending
            }
        }
        CompletionRule::Quorum(n) => {
            let n = n as usize;
            if approvals >= n {
                StepOutcome::Approved
            } else if total - rejections < n {
                // Not enough tasks left that could still approve.
                StepOutcome::Rejected
            } else {
                StepOutcome::Pending
            }
        }
        CompletionRule::FirstDecides => match done.first() {
            None => StepOutcome::Pending,
            Some(Outcome::Approve | Outcome::Done) => StepOutcome::Approved,
            Some(Outcome::Reject) => StepOutcome::Rejected,
            Some(Outcome::ReturnForRework) => StepOutcome::Returned,
        },
    }
}

/// A task's or step's due time with its reminder and escalation (WF-CON-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub due_at: DateTime<Utc>,
    /// How long before `due_at` the assignee is reminded.
    pub remind_before: Duration,
    /// How long after `due_at` the supervisor is told.
    pub escalate_after: Duration,
}

/// What a deadline asks for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueAction {
    Nothing,
    RemindAssignee,
    EscalateToSupervisor,
}

/// Decides what is due, given what was done already; each happens once.
pub fn due_action(d: &Deadline, reminded: bool, escalated: bool, now: DateTime<Utc>) -> DueAction {
    if !escalated && now >= d.due_at + d.escalate_after {
        DueAction::EscalateToSupervisor
    } else if !reminded && !escalated && now >= d.due_at - d.remind_before {
        DueAction::RemindAssignee
    } else {
        DueAction::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn pool_task() -> Task {
        Task {
            assignee: Assignee::Pool(id(100)),
            status: TaskStatus::Open,
            outcomes: vec![Outcome::Approve, Outcome::ReturnForRework],
        }
    }

    fn member(n: u128) -> Performer {
        Performer {
            id: id(n),
            eligible: true,
            is_admin: false,
        }
    }

    #[test]
    fn the_first_claim_wins_and_the_second_is_refused() {
        let mut t = pool_task();
        t.status = decide_task(&t, &TaskCommand::Claim, &member(1))
            .unwrap_or_else(|e| panic!("{e}"))
            .status;
        assert_eq!(
            decide_task(&t, &TaskCommand::Claim, &member(2)),
            Err(TaskRefusal::ClaimedByAnother { by: id(1) })
        );
        let outsider = Performer {
            eligible: false,
            ..member(3)
        };
        assert!(decide_task(&pool_task(), &TaskCommand::Claim, &outsider).is_err());
    }

    #[test]
    fn returning_needs_a_comment_and_only_offered_outcomes_count() {
        let mut t = pool_task();
        t.status = TaskStatus::Claimed { by: id(1) };
        let ret = |c: &str| TaskCommand::Complete {
            outcome: Outcome::ReturnForRework,
            comment: c.into(),
        };
        assert!(matches!(
            decide_task(&t, &ret(""), &member(1)),
            Err(TaskRefusal::CommentRequired { .. })
        ));
        assert!(decide_task(&t, &ret("нет печати"), &member(1)).is_ok());
        let done = TaskCommand::Complete {
            outcome: Outcome::Done,
            comment: String::new(),
        };
        assert!(matches!(
            decide_task(&t, &done, &member(1)),
            Err(TaskRefusal::OutcomeNotOffered { .. })
        ));
        assert!(
            decide_task(&t, &done, &member(2)).is_err(),
            "not the holder"
        );
    }

    #[test]
    fn an_absent_users_tasks_go_to_his_present_deputy() {
        let presence = |u: Uuid| {
            Some(match u.as_u128() {
                1 => Presence {
                    absent: true,
                    deputy: Some(id(2)),
                },
                2 => Presence {
                    absent: true,
                    deputy: Some(id(3)),
                },
                3 => Presence {
                    absent: false,
                    deputy: None,
                },
                4 => Presence {
                    absent: true,
                    deputy: Some(id(5)),
                },
                5 => Presence {
                    absent: true,
                    deputy: Some(id(4)),
                },
                _ => Presence {
                    absent: false,
                    deputy: None,
                },
            })
        };
        assert_eq!(route_to_present(id(1), presence), id(3));
        assert_eq!(route_to_present(id(3), presence), id(3));
        assert_eq!(route_to_present(id(4), presence), id(5), "a loop stops");
    }

    #[test]
    fn completion_rules() {
        use Outcome::*;
        use StepOutcome as S;
        assert_eq!(
            step_outcome(CompletionRule::All, &[Some(Approve), None]),
            S::Pending
        );
        assert_eq!(
            step_outcome(CompletionRule::All, &[Some(Approve), Some(Done)]),
            S::Approved
        );
        assert_eq!(
            step_outcome(CompletionRule::All, &[Some(Reject), None]),
            S::Rejected
        );
        assert_eq!(
            step_outcome(CompletionRule::Quorum(2), &[Some(Approve), None, None]),
            S::Pending
        );
        assert_eq!(
            step_outcome(
                CompletionRule::Quorum(2),
                &[Some(Approve), Some(Approve), None]
            ),
            S::Approved
        );
        assert_eq!(
            step_outcome(
                CompletionRule::Quorum(2),
                &[Some(Reject), Some(Reject), None]
            ),
            S::Rejected
        );
        assert_eq!(
            step_outcome(CompletionRule::FirstDecides, &[None, Some(Reject)]),
            S::Rejected
        );
        assert_eq!(
            step_outcome(CompletionRule::FirstDecides, &[Some(ReturnForRework)]),
            S::Returned
        );
    }

    #[test]
    fn reminders_come_before_escalations_and_each_once() {
        let due = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let d = Deadline {
            due_at: due,
            remind_before: Duration::hours(2),
            escalate_after: Duration::hours(4),
        };
        assert_eq!(
            due_action(&d, false, false, due - Duration::hours(3)),
            DueAction::Nothing
        );
        assert_eq!(
            due_action(&d, false, false, due - Duration::hours(1)),
            DueAction::RemindAssignee
        );
        assert_eq!(due_action(&d, true, false, due), DueAction::Nothing);
        assert_eq!(
            due_action(&d, true, false, due + Duration::hours(5)),
            DueAction::EscalateToSupervisor
        );
        assert_eq!(
            due_action(&d, true, true, due + Duration::hours(9)),
            DueAction::Nothing
        );
    }

    fn outcome() -> impl Strategy<Value = Option<Outcome>> {
        prop_oneof![
            Just(None),
            Just(Some(Outcome::Approve)),
            Just(Some(Outcome::Reject)),
            Just(Some(Outcome::Done)),
        ]
    }

    proptest! {
        /// A decided step stays decided as more tasks complete, and "all" approves exactly
        /// when every task approved.
        #[test]
        fn decisions_are_stable(outs in prop::collection::vec(outcome(), 1..8), n in 1u32..8) {
            for rule in [CompletionRule::All, CompletionRule::Quorum(n), CompletionRule::FirstDecides] {
                let before = step_outcome(rule, &outs);
                // The pending tasks complete later, so after the ones already done.
                let completed: Vec<Option<Outcome>> = outs.iter().filter(|o| o.is_some()).copied()
                    .chain(outs.iter().filter(|o| o.is_none()).map(|_| Some(Outcome::Approve)))
                    .collect();
                let after = step_outcome(rule, &completed);
                if before != StepOutcome::Pending {
                    prop_assert_eq!(before, after);
                }
                prop_assert_ne!(after, StepOutcome::Pending);
            }
            let all_ok = outs.iter().all(|o| matches!(o, Some(Outcome::Approve | Outcome::Done)));
            prop_assert_eq!(step_outcome(CompletionRule::All, &outs) == StepOutcome::Approved, all_ok);
        }
    }
}
