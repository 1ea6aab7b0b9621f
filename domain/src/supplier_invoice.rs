//! WF-INV: the approval of a supplier's invoice, as a pure state machine.
//!
//! awaiting decision → taken by a decision maker → approved | returned for revision (a comment
//! is mandatory) → resubmitted → awaiting decision again … → approved → awaiting an accountant
//! → claimed by the first accountant of the pool → paid → awaiting closing documents →
//! completed. The initiator or an admin may cancel, with a reason, before payment.

use uuid::Uuid;

/// Where an invoice stands, and who holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceState {
    AwaitingDecision,
    UnderDecision { head: Uuid },
    Returned { head: Uuid },
    AwaitingAccountant,
    InWorkAtAccountant { accountant: Uuid },
    AwaitingClosingDocuments { accountant: Uuid },
    Completed,
    Cancelled,
}

impl InvoiceState {
    pub fn name(&self) -> &'static str {
        match self {
            InvoiceState::AwaitingDecision => "awaiting_decision",
            InvoiceState::UnderDecision { .. } => "under_decision",
            InvoiceState::Returned { .. } => "returned",
            InvoiceState::AwaitingAccountant => "awaiting_accountant",
            InvoiceState::InWorkAtAccountant { .. } => "in_work_at_accountant",
            InvoiceState::AwaitingClosingDocuments { .. } => "awaiting_closing_documents",
            InvoiceState::Completed => "completed",
            InvoiceState::Cancelled => "cancelled",
        }
    }

    /// The actions this state allows, whoever asks (SPEC §8 action names).
    pub fn allowed(&self) -> &'static [ActionKind] {
        use ActionKind::*;
        match self {
            InvoiceState::AwaitingDecision => &[Take, Cancel],
            InvoiceState::UnderDecision { .. } => &[Approve, Return, Cancel],
            InvoiceState::Returned { .. } => &[Resubmit, Cancel],
            InvoiceState::AwaitingAccountant => &[Claim, Cancel],
            InvoiceState::InWorkAtAccountant { .. } => &[MarkPaid, Cancel],
            InvoiceState::AwaitingClosingDocuments { .. } => &[AttachClosingDocuments],
            InvoiceState::Completed | InvoiceState::Cancelled => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Take,
    Approve,
    Return,
    Resubmit,
    Claim,
    MarkPaid,
    AttachClosingDocuments,
    Cancel,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Take => "take",
            ActionKind::Approve => "approve",
            ActionKind::Return => "return",
            ActionKind::Resubmit => "resubmit",
            ActionKind::Claim => "claim",
            ActionKind::MarkPaid => "mark-paid",
            ActionKind::AttachClosingDocuments => "attach-closing-documents",
            ActionKind::Cancel => "cancel",
        }
    }
}

/// A requested action with what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Take,
    Approve,
    Return { comment: String },
    Resubmit,
    Claim,
    MarkPaid,
    AttachClosingDocuments,
    Cancel { reason: String },
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Take => ActionKind::Take,
            Action::Approve => ActionKind::Approve,
            Action::Return { .. } => ActionKind::Return,
            Action::Resubmit => ActionKind::Resubmit,
            Action::Claim => ActionKind::Claim,
            Action::MarkPaid => ActionKind::MarkPaid,
            Action::AttachClosingDocuments => ActionKind::AttachClosingDocuments,
            Action::Cancel { .. } => ActionKind::Cancel,
        }
    }
}

/// Who acts, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: Uuid,
    pub is_initiator: bool,
    pub is_admin: bool,
    pub in_decision_pool: bool,
    pub in_accountant_pool: bool,
}

/// Why an action is refused. Each names the action and the state it met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("cannot {action} an invoice that is {state}; allowed: {allowed}")]
    WrongState {
        action: &'static str,
        state: &'static str,
        allowed: String,
    },
    #[error("only {who} may {action} an invoice that is {state}")]
    NotYours {
        action: &'static str,
        state: &'static str,
        who: &'static str,
    },
    #[error("{0} needs a comment saying why")]
    CommentRequired(&'static str),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::WrongState { .. } => "invalid_transition",
            Refusal::NotYours { .. } => "forbidden",
            Refusal::CommentRequired(_) => "comment_required",
        }
    }
}

/// Applies `action` by `actor` to `state`: the next state, or why not.
pub fn decide(
    state: InvoiceState,
    action: &Action,
    actor: &Actor,
) -> Result<InvoiceState, Refusal> {
    use InvoiceState as S;
    let kind = action.kind();
    if !state.allowed().contains(&kind) {
        return Err(Refusal::WrongState {
            action: kind.as_str(),
            state: state.name(),
            allowed: state
                .allowed()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let not_yours = |who| Refusal::NotYours {
        action: kind.as_str(),
        state: state.name(),
        who,
    };
    match (state, action) {
        (S::AwaitingDecision, Action::Take) => {
            if actor.in_decision_pool {
                Ok(S::UnderDecision { head: actor.id })
            } else {
                Err(not_yours("a decision maker of the pool"))
            }
        }
        (S::UnderDecision { head }, Action::Approve) => {
            if actor.id == head {
                Ok(S::AwaitingAccountant)
            } else {
                Err(not_yours("the decision maker who took it"))
            }
        }
        (S::UnderDecision { head }, Action::Return { comment }) => {
            if actor.id != head {
                Err(not_yours("the decision maker who took it"))
            } else if comment.trim().is_empty() {
                Err(Refusal::CommentRequired(
                    "returning an invoice for revision",
                ))
            } else {
                Ok(S::Returned { head })
            }
        }
        (S::Returned { .. }, Action::Resubmit) => {
            if actor.is_initiator {
                Ok(S::AwaitingDecision)
            } else {
                Err(not_yours("the initiator"))
            }
        }
        (S::AwaitingAccountant, Action::Claim) => {
            if actor.in_accountant_pool {
                Ok(S::InWorkAtAccountant {
                    accountant: actor.id,
                })
            } else {
                Err(not_yours("an accountant of the pool"))
            }
        }
        (S::InWorkAtAccountant { accountant }, Action::MarkPaid) => {
            if actor.id == accountant {
                Ok(S::AwaitingClosingDocuments { accountant })
            } else {
                Err(not_yours("the accountant who claimed it"))
            }
        }
        (S::AwaitingClosingDocuments { .. }, Action::AttachClosingDocuments) => {
            if actor.is_initiator {
                Ok(S::Completed)
            } else {
                Err(not_yours("the initiator"))
            }
        }
        (_, Action::Cancel { reason }) => {
            if !(actor.is_initiator || actor.is_admin) {
                Err(not_yours("the initiator or an admin"))
            } else if reason.trim().is_empty() {
                Err(Refusal::CommentRequired("cancelling an invoice"))
            } else {
                Ok(S::Cancelled)
            }
        }
        // `allowed()` already refused every other pair; this arm only restates that.
        (state, action) => Err(Refusal::WrongState {
            action: action.kind().as_str(),
            state: state.name(),
            allowed: String::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn person(n: u128, initiator: bool, admin: bool, head: bool, accountant: bool) -> Actor {
        Actor {
            id: Uuid::from_u128(n),
            is_initiator: initiator,
            is_admin: admin,
            in_decision_pool: head,
            in_accountant_pool: accountant,
        }
    }

    fn cast() -> Vec<Actor> {
        vec![
            person(1, true, false, false, false), // the sales manager who registered it
            person(2, false, false, true, false), // head 1
            person(3, false, false, true, false), // head 2
            person(4, false, false, false, true), // accountant A
            person(5, false, false, false, true), // accountant B
            person(6, false, true, false, false), // admin
        ]
    }

    #[test]
    fn the_seed_scenario_walks_through() {
        let c = cast();
        let (manager, head1, head2, a, b) = (c[0], c[1], c[2], c[3], c[4]);
        let mut s = InvoiceState::AwaitingDecision;
        s = decide(s, &Action::Take, &head1).unwrap();
        assert_eq!(
            decide(
                s,
                &Action::Return {
                    comment: " ".into()
                },
                &head1
            ),
            Err(Refusal::CommentRequired(
                "returning an invoice for revision"
            ))
        );
        s = decide(
            s,
            &Action::Return {
                comment: "Нет номера договора".into(),
            },
            &head1,
        )
        .unwrap();
        s = decide(s, &Action::Resubmit, &manager).unwrap();
        s = decide(s, &Action::Take, &head2).unwrap();
        s = decide(s, &Action::Approve, &head2).unwrap();
        s = decide(s, &Action::Claim, &a).unwrap();
        let refused = decide(s, &Action::Claim, &b).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "cannot claim an invoice that is in_work_at_accountant; allowed: mark-paid, cancel"
        );
        assert!(decide(s, &Action::MarkPaid, &b).is_err());
        s = decide(s, &Action::MarkPaid, &a).unwrap();
        assert!(
            decide(
                s,
                &Action::Cancel {
                    reason: "поздно".into()
                },
                &manager
            )
            .is_err()
        );
        s = decide(s, &Action::AttachClosingDocuments, &manager).unwrap();
        assert_eq!(s, InvoiceState::Completed);
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            Just(Action::Take),
            Just(Action::Approve),
            Just(Action::Return {
                comment: "исправить".into()
            }),
            Just(Action::Return {
                comment: String::new()
            }),
            Just(Action::Resubmit),
            Just(Action::Claim),
            Just(Action::MarkPaid),
            Just(Action::AttachClosingDocuments),
            Just(Action::Cancel {
                reason: "отмена".into()
            }),
        ]
    }

    proptest! {
        /// Whatever is asked by whoever: never two payers, never paid without approval, never
        /// completed without closing documents after payment, never cancelled after payment.
        #[test]
        fn invariants_hold_for_any_sequence(steps in prop::collection::vec((action(), 0usize..6), 0..60)) {
            let people = cast();
            let mut s = InvoiceState::AwaitingDecision;
            let mut approved = false;
            let mut payer: Option<Uuid> = None;
            let mut paid = false;
            for (a, who) in steps {
                if let Ok(next) = decide(s, &a, &people[who]) {
                    match next {
                        InvoiceState::AwaitingAccountant => approved = true,
                        InvoiceState::InWorkAtAccountant { accountant } => {
                            prop_assert!(approved, "claimed before approval");
                            prop_assert!(payer.is_none(), "a second payer");
                            payer = Some(accountant);
                        }
                        InvoiceState::AwaitingClosingDocuments { accountant } => {
                            prop_assert_eq!(Some(accountant), payer);
                            paid = true;
                        }
                        InvoiceState::Completed => prop_assert!(paid),
                        InvoiceState::Cancelled => prop_assert!(!paid),
                        InvoiceState::AwaitingDecision
                        | InvoiceState::UnderDecision { .. }
                        | InvoiceState::Returned { .. } => prop_assert!(!approved),
                    }
                    s = next;
                }
            }
        }
    }
}
