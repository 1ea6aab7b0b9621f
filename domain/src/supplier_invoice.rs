//! WF-INV: the approval of a supplier's invoice, as a pure state machine.
//!
//! awaiting decision → taken by a decision maker → approved | returned for revision (a comment
//! is mandatory) → resubmitted with a new invoice file → awaiting decision again … → approved →
//! awaiting an accountant → claimed by the first accountant of the pool → paid (date, amount,
//! payment order number) → awaiting closing documents → completed. The initiator or an admin
//! may cancel, with a reason, before payment.
//!
//! [`decide`] answers the next state together with the effects the transition must have
//! (emails, notifications); the caller persists both in one transaction.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::money::Money;

use crate::workflow::WrongState;

/// Where an invoice stands, and who holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceState {
    AwaitingDecision,
    UnderDecision {
        head: Uuid,
    },
    Returned {
        head: Uuid,
    },
    AwaitingAccountant,
    InWorkAtAccountant {
        accountant: Uuid,
    },
    /// Paid by `accountant`; the initiator owes the closing documents.
    AwaitingClosingDocuments {
        accountant: Uuid,
    },
    Completed,
    Cancelled,
}

/// The names of the states, as stored and as the API shows them.
pub const STATE_NAMES: [&str; 8] = [
    "awaiting_decision",
    "under_decision",
    "returned",
    "awaiting_accountant",
    "in_work_at_accountant",
    "awaiting_closing_documents",
    "completed",
    "cancelled",
];

/// Who an invoice in a state waits for: the work item (task) the state stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitingFor {
    /// Any decision maker of the pool may take it.
    DecisionPool,
    /// The decision maker who took it.
    DecisionMaker(Uuid),
    /// The initiator fixes the remarks and resubmits.
    InitiatorRevision,
    /// Any accountant of the pool may claim it.
    AccountantPool,
    /// The accountant who claimed it pays.
    Accountant(Uuid),
    /// The initiator attaches the closing documents.
    InitiatorClosingDocuments,
    Nobody,
}

impl InvoiceState {
    pub fn name(&self) -> &'static str {
        match self {
            InvoiceState::AwaitingDecision => STATE_NAMES[0],
            InvoiceState::UnderDecision { .. } => STATE_NAMES[1],
            InvoiceState::Returned { .. } => STATE_NAMES[2],
            InvoiceState::AwaitingAccountant => STATE_NAMES[3],
            InvoiceState::InWorkAtAccountant { .. } => STATE_NAMES[4],
            InvoiceState::AwaitingClosingDocuments { .. } => STATE_NAMES[5],
            InvoiceState::Completed => STATE_NAMES[6],
            InvoiceState::Cancelled => STATE_NAMES[7],
        }
    }

    /// Rebuilds a state from its stored name and holder; `None` for a name that is not a state
    /// or a holder missing where the state needs one.
    pub fn from_parts(name: &str, holder: Option<Uuid>) -> Option<InvoiceState> {
        Some(match name {
            "awaiting_decision" => InvoiceState::AwaitingDecision,
            "under_decision" => InvoiceState::UnderDecision { head: holder? },
            "returned" => InvoiceState::Returned { head: holder? },
            "awaiting_accountant" => InvoiceState::AwaitingAccountant,
            "in_work_at_accountant" => InvoiceState::InWorkAtAccountant {
                accountant: holder?,
            },
            "awaiting_closing_documents" => InvoiceState::AwaitingClosingDocuments {
                accountant: holder?,
            },
            "completed" => InvoiceState::Completed,
            "cancelled" => InvoiceState::Cancelled,
            _ => return None,
        })
    }

    /// The person the state names (the head or the accountant), stored next to the name.
    pub fn holder(&self) -> Option<Uuid> {
        match *self {
            InvoiceState::UnderDecision { head } | InvoiceState::Returned { head } => Some(head),
            InvoiceState::InWorkAtAccountant { accountant }
            | InvoiceState::AwaitingClosingDocuments { accountant } => Some(accountant),
            InvoiceState::AwaitingDecision
            | InvoiceState::AwaitingAccountant
            | InvoiceState::Completed
            | InvoiceState::Cancelled => None,
        }
    }

    pub fn waiting_for(&self) -> WaitingFor {
        match *self {
            InvoiceState::AwaitingDecision => WaitingFor::DecisionPool,
            InvoiceState::UnderDecision { head } => WaitingFor::DecisionMaker(head),
            InvoiceState::Returned { .. } => WaitingFor::InitiatorRevision,
            InvoiceState::AwaitingAccountant => WaitingFor::AccountantPool,
            InvoiceState::InWorkAtAccountant { accountant } => WaitingFor::Accountant(accountant),
            InvoiceState::AwaitingClosingDocuments { .. } => WaitingFor::InitiatorClosingDocuments,
            InvoiceState::Completed | InvoiceState::Cancelled => WaitingFor::Nobody,
        }
    }

    /// Whether the payment has been recorded (nothing may be cancelled from here on).
    pub fn is_paid(&self) -> bool {
        match self {
            InvoiceState::AwaitingClosingDocuments { .. } | InvoiceState::Completed => true,
            InvoiceState::AwaitingDecision
            | InvoiceState::UnderDecision { .. }
            | InvoiceState::Returned { .. }
            | InvoiceState::AwaitingAccountant
            | InvoiceState::InWorkAtAccountant { .. }
            | InvoiceState::Cancelled => false,
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

    /// The actions a state allows, by the state's name (the holder does not change them).
    pub fn allowed_for(name: &str) -> Option<&'static [ActionKind]> {
        InvoiceState::from_parts(name, Some(Uuid::nil())).map(|s| s.allowed())
    }

    /// `allowed()` as the refusal names it: `take, cancel` (or `none`).
    pub fn allowed_list(&self) -> String {
        let names: Vec<&str> = self.allowed().iter().map(|a| a.as_str()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "kebab-case")]
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
    pub const ALL: [ActionKind; 8] = [
        ActionKind::Take,
        ActionKind::Approve,
        ActionKind::Return,
        ActionKind::Resubmit,
        ActionKind::Claim,
        ActionKind::MarkPaid,
        ActionKind::AttachClosingDocuments,
        ActionKind::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        s.parse().ok()
    }

    /// The transition's name in the timeline (`returned`, `paid`, …).
    pub fn transition_name(self) -> &'static str {
        match self {
            ActionKind::Take => "taken",
            ActionKind::Approve => "approved",
            ActionKind::Return => "returned",
            ActionKind::Resubmit => "resubmitted",
            ActionKind::Claim => "claimed",
            ActionKind::MarkPaid => "paid",
            ActionKind::AttachClosingDocuments => "closing_documents_attached",
            ActionKind::Cancel => "cancelled",
        }
    }
}

/// The payment as the accountant records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub paid_on: NaiveDate,
    pub amount_kopecks: i64,
    pub order_number: String,
}

/// Why a payment does not settle the invoice it is recorded on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentMismatch {
    /// A supplier invoice is paid in full, by one payment: anything else would count a part
    /// as the whole.
    #[error(
        "the paid amount {paid} differs from the invoice's amount {invoiced}: pay the invoice in full"
    )]
    Amount { paid: Money, invoiced: Money },
    #[error("the payment date {paid_on} is before the invoice's date {invoice_date}")]
    BeforeInvoiceDate {
        paid_on: NaiveDate,
        invoice_date: NaiveDate,
    },
}

impl PaymentMismatch {
    /// The field of the `mark-paid` body it is about.
    pub fn field(&self) -> &'static str {
        match self {
            PaymentMismatch::Amount { .. } => "payment.amount",
            PaymentMismatch::BeforeInvoiceDate { .. } => "payment.paid_on",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            PaymentMismatch::Amount { .. } => "amount_mismatch",
            PaymentMismatch::BeforeInvoiceDate { .. } => "before_invoice_date",
        }
    }
}

impl Payment {
    /// A payment settles an invoice of `amount_kopecks` dated `invoice_date` when it pays
    /// exactly that amount, on or after that date (partial payment of supplier invoices is not
    /// supported).
    pub fn settles(
        &self,
        amount_kopecks: i64,
        invoice_date: NaiveDate,
    ) -> Result<(), PaymentMismatch> {
        if self.amount_kopecks != amount_kopecks {
            return Err(PaymentMismatch::Amount {
                paid: Money::from_minor(self.amount_kopecks),
                invoiced: Money::from_minor(amount_kopecks),
            });
        }
        if self.paid_on < invoice_date {
            return Err(PaymentMismatch::BeforeInvoiceDate {
                paid_on: self.paid_on,
                invoice_date,
            });
        }
        Ok(())
    }
}

/// A due date is on or after the invoice's date.
pub fn due_date_ok(invoice_date: NaiveDate, due_date: Option<NaiveDate>) -> bool {
    due_date.is_none_or(|d| d >= invoice_date)
}

/// A requested action with what it carries. File counts are of files already checked to exist
/// and be visible to the actor; the rules only care that there is at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Take,
    Approve,
    Return { comment: String },
    Resubmit { new_files: usize },
    Claim,
    MarkPaid { payment: Payment },
    AttachClosingDocuments { files: usize },
    Cancel { reason: String },
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Take => ActionKind::Take,
            Action::Approve => ActionKind::Approve,
            Action::Return { .. } => ActionKind::Return,
            Action::Resubmit { .. } => ActionKind::Resubmit,
            Action::Claim => ActionKind::Claim,
            Action::MarkPaid { .. } => ActionKind::MarkPaid,
            Action::AttachClosingDocuments { .. } => ActionKind::AttachClosingDocuments,
            Action::Cancel { .. } => ActionKind::Cancel,
        }
    }
}

/// Who acts, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: Uuid,
    /// The initiator himself, or whoever holds his task (his deputy, a delegate).
    pub is_initiator: bool,
    pub is_admin: bool,
    pub in_decision_pool: bool,
    pub in_accountant_pool: bool,
}

/// What a transition causes besides the new state; written in the transition's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// WF-INV-5: tell the supplier the invoice was passed for payment.
    EmailSupplierPassedForPayment,
    /// WF-INV-6: tell the initiator the invoice is paid.
    NotifyInitiatorPaid,
    /// WF-INV-7: the initiator gets a task to attach the closing documents.
    RequestClosingDocuments,
    /// WF-INV-7: "closing documents attached to invoice №N", to the initiator and the payer.
    NotifyClosingDocumentsAttached { payer: Uuid },
    /// WF-INV-2: tell the initiator his invoice came back with remarks.
    NotifyInitiatorReturned,
}

/// The outcome of an accepted action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub next: InvoiceState,
    pub effects: Vec<Effect>,
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
    /// A mandatory comment or reason is blank.
    #[error("{what} needs a comment saying why")]
    CommentRequired {
        field: &'static str,
        what: &'static str,
    },
    /// Something the action must carry is missing or wrong.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
}

impl crate::workflow::Refusal for Refusal {
    fn wrong_state(&self) -> Option<WrongState> {
        match self {
            Refusal::WrongState { state, .. } => {
                InvoiceState::allowed_for(state).and_then(|allowed| {
                    let current = STATE_NAMES.iter().find(|n| *n == state)?;
                    Some(WrongState::new(current, allowed))
                })
            }
            Refusal::NotYours { .. }
            | Refusal::CommentRequired { .. }
            | Refusal::Invalid { .. } => None,
        }
    }
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::WrongState { .. } => "invalid_transition",
            Refusal::NotYours { .. } => "forbidden",
            Refusal::CommentRequired { .. } => "comment_required",
            Refusal::Invalid { .. } => "invalid",
        }
    }
}

/// Applies `action` by `actor` to `state`: the next state and its effects, or why not.
pub fn decide(state: InvoiceState, action: &Action, actor: &Actor) -> Result<Decision, Refusal> {
    use InvoiceState as S;
    let kind = action.kind();
    let wrong_state = || Refusal::WrongState {
        action: kind.as_str(),
        state: state.name(),
        allowed: state.allowed_list(),
    };
    let not_yours = |who| Refusal::NotYours {
        action: kind.as_str(),
        state: state.name(),
        who,
    };
    let to = |next| {
        Ok(Decision {
            next,
            effects: Vec::new(),
        })
    };
    match (state, action) {
        (S::AwaitingDecision, Action::Take) => {
            if actor.in_decision_pool {
                to(S::UnderDecision { head: actor.id })
            } else {
                Err(not_yours("a decision maker of the pool"))
            }
        }
        (S::UnderDecision { head }, Action::Approve) => {
            if actor.id == head {
                to(S::AwaitingAccountant)
            } else {
                Err(not_yours("the decision maker who took it"))
            }
        }
        (S::UnderDecision { head }, Action::Return { comment }) => {
            if actor.id != head {
                Err(not_yours("the decision maker who took it"))
            } else if comment.trim().is_empty() {
                Err(Refusal::CommentRequired {
                    field: "comment",
                    what: "returning an invoice for revision",
                })
            } else {
                Ok(Decision {
                    next: S::Returned { head },
                    effects: vec![Effect::NotifyInitiatorReturned],
                })
            }
        }
        (S::Returned { .. }, Action::Resubmit { new_files }) => {
            if !actor.is_initiator {
                Err(not_yours("the initiator"))
            } else if *new_files == 0 {
                Err(Refusal::Invalid {
                    field: "file_ids",
                    message: "a resubmission carries the new invoice file",
                })
            } else {
                to(S::AwaitingDecision)
            }
        }
        (S::AwaitingAccountant, Action::Claim) => {
            if actor.in_accountant_pool {
                Ok(Decision {
                    next: S::InWorkAtAccountant {
                        accountant: actor.id,
                    },
                    effects: vec![Effect::EmailSupplierPassedForPayment],
                })
            } else {
                Err(not_yours("an accountant of the pool"))
            }
        }
        (S::InWorkAtAccountant { accountant }, Action::MarkPaid { payment }) => {
            if actor.id != accountant {
                Err(not_yours("the accountant who claimed it"))
            } else if payment.amount_kopecks <= 0 {
                Err(Refusal::Invalid {
                    field: "payment.amount",
                    message: "the paid amount must be positive",
                })
            } else if payment.order_number.trim().is_empty() {
                Err(Refusal::Invalid {
                    field: "payment.order_number",
                    message: "the payment order number is required",
                })
            } else {
                Ok(Decision {
                    next: S::AwaitingClosingDocuments { accountant },
                    effects: vec![Effect::NotifyInitiatorPaid, Effect::RequestClosingDocuments],
                })
            }
        }
        (S::AwaitingClosingDocuments { accountant }, Action::AttachClosingDocuments { files }) => {
            if !actor.is_initiator {
                Err(not_yours("the initiator"))
            } else if *files == 0 {
                Err(Refusal::Invalid {
                    field: "file_ids",
                    message: "attach at least one closing document",
                })
            } else {
                Ok(Decision {
                    next: S::Completed,
                    effects: vec![Effect::NotifyClosingDocumentsAttached { payer: accountant }],
                })
            }
        }
        (
            S::AwaitingDecision
            | S::UnderDecision { .. }
            | S::Returned { .. }
            | S::AwaitingAccountant
            | S::InWorkAtAccountant { .. },
            Action::Cancel { reason },
        ) => {
            if !(actor.is_initiator || actor.is_admin) {
                Err(not_yours("the initiator or an admin"))
            } else if reason.trim().is_empty() {
                Err(Refusal::CommentRequired {
                    field: "reason",
                    what: "cancelling an invoice",
                })
            } else {
                to(S::Cancelled)
            }
        }
        // Every pair below is refused: listed, not wildcarded, so that a new state or action
        // must be placed here or above by hand.
        (
            S::AwaitingClosingDocuments { .. } | S::Completed | S::Cancelled,
            Action::Cancel { .. },
        )
        | (
            S::UnderDecision { .. }
            | S::Returned { .. }
            | S::AwaitingAccountant
            | S::InWorkAtAccountant { .. }
            | S::AwaitingClosingDocuments { .. }
            | S::Completed
            | S::Cancelled,
            Action::Take,
        )
        | (
            S::AwaitingDecision
            | S::Returned { .. }
            | S::AwaitingAccountant
            | S::InWorkAtAccountant { .. }
            | S::AwaitingClosingDocuments { .. }
            | S::Completed
            | S::Cancelled,
            Action::Approve | Action::Return { .. },
        )
        | (
            S::AwaitingDecision
            | S::UnderDecision { .. }
            | S::AwaitingAccountant
            | S::InWorkAtAccountant { .. }
            | S::AwaitingClosingDocuments { .. }
            | S::Completed
            | S::Cancelled,
            Action::Resubmit { .. },
        )
        | (
            S::AwaitingDecision
            | S::UnderDecision { .. }
            | S::Returned { .. }
            | S::InWorkAtAccountant { .. }
            | S::AwaitingClosingDocuments { .. }
            | S::Completed
            | S::Cancelled,
            Action::Claim,
        )
        | (
            S::AwaitingDecision
            | S::UnderDecision { .. }
            | S::Returned { .. }
            | S::AwaitingAccountant
            | S::AwaitingClosingDocuments { .. }
            | S::Completed
            | S::Cancelled,
            Action::MarkPaid { .. },
        )
        | (
            S::AwaitingDecision
            | S::UnderDecision { .. }
            | S::Returned { .. }
            | S::AwaitingAccountant
            | S::InWorkAtAccountant { .. }
            | S::Completed
            | S::Cancelled,
            Action::AttachClosingDocuments { .. },
        ) => Err(wrong_state()),
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

    fn payment() -> Payment {
        Payment {
            paid_on: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
            amount_kopecks: 1_234_567,
            order_number: "512".into(),
        }
    }

    fn next(s: InvoiceState, a: &Action, who: &Actor) -> InvoiceState {
        match decide(s, a, who) {
            Ok(d) => d.next,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_payment_settles_only_the_whole_invoice_on_or_after_its_date() {
        let on = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let p = |k, d| Payment {
            paid_on: on(d),
            amount_kopecks: k,
            order_number: "1".into(),
        };
        assert_eq!(p(12_500_050, 20).settles(12_500_050, on(20)), Ok(()));
        assert_eq!(p(12_500_050, 25).settles(12_500_050, on(20)), Ok(()));
        let e = p(100, 20).settles(12_500_050, on(20)).unwrap_err();
        assert_eq!((e.field(), e.code()), ("payment.amount", "amount_mismatch"));
        assert!(
            e.to_string().contains("1.00") && e.to_string().contains("125000.50"),
            "{e}"
        );
        let e = p(12_500_050, 19).settles(12_500_050, on(20)).unwrap_err();
        assert_eq!(
            (e.field(), e.code()),
            ("payment.paid_on", "before_invoice_date")
        );
        assert!(due_date_ok(on(20), None) && due_date_ok(on(20), Some(on(20))));
        assert!(!due_date_ok(on(20), Some(on(19))));
    }

    #[test]
    fn the_seed_scenario_walks_through() {
        let c = cast();
        let (manager, head1, head2, a, b) = (c[0], c[1], c[2], c[3], c[4]);
        let mut s = InvoiceState::AwaitingDecision;
        s = next(s, &Action::Take, &head1);
        assert_eq!(
            decide(
                s,
                &Action::Return {
                    comment: " ".into()
                },
                &head1
            ),
            Err(Refusal::CommentRequired {
                field: "comment",
                what: "returning an invoice for revision"
            })
        );
        let comment = "Нет номера договора".to_owned();
        assert!(
            decide(s, &Action::Approve, &head2).is_err(),
            "only the head who took it"
        );
        s = next(s, &Action::Return { comment }, &head1);
        assert_eq!(s, InvoiceState::Returned { head: head1.id });
        assert!(decide(s, &Action::Resubmit { new_files: 0 }, &manager).is_err());
        s = next(s, &Action::Resubmit { new_files: 1 }, &manager);
        s = next(s, &Action::Take, &head2);
        s = next(s, &Action::Approve, &head2);
        let claimed = decide(s, &Action::Claim, &a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claimed.effects, vec![Effect::EmailSupplierPassedForPayment]);
        s = claimed.next;
        let refused = decide(s, &Action::Claim, &b).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "cannot claim an invoice that is in_work_at_accountant; allowed: mark-paid, cancel"
        );
        assert!(decide(s, &Action::MarkPaid { payment: payment() }, &b).is_err());
        let paid = decide(s, &Action::MarkPaid { payment: payment() }, &a)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            paid.effects,
            vec![Effect::NotifyInitiatorPaid, Effect::RequestClosingDocuments]
        );
        s = paid.next;
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
        let done = decide(s, &Action::AttachClosingDocuments { files: 2 }, &manager)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.next, InvoiceState::Completed);
        assert_eq!(
            done.effects,
            vec![Effect::NotifyClosingDocumentsAttached { payer: a.id }]
        );
    }

    fn every_state() -> Vec<InvoiceState> {
        let p = Uuid::from_u128(9);
        vec![
            InvoiceState::AwaitingDecision,
            InvoiceState::UnderDecision { head: p },
            InvoiceState::Returned { head: p },
            InvoiceState::AwaitingAccountant,
            InvoiceState::InWorkAtAccountant { accountant: p },
            InvoiceState::AwaitingClosingDocuments { accountant: p },
            InvoiceState::Completed,
            InvoiceState::Cancelled,
        ]
    }

    fn sample(kind: ActionKind) -> Action {
        match kind {
            ActionKind::Take => Action::Take,
            ActionKind::Approve => Action::Approve,
            ActionKind::Return => Action::Return {
                comment: "исправить".into(),
            },
            ActionKind::Resubmit => Action::Resubmit { new_files: 1 },
            ActionKind::Claim => Action::Claim,
            ActionKind::MarkPaid => Action::MarkPaid { payment: payment() },
            ActionKind::AttachClosingDocuments => Action::AttachClosingDocuments { files: 1 },
            ActionKind::Cancel => Action::Cancel {
                reason: "дубль".into(),
            },
        }
    }

    /// `allowed()` and `decide` agree on the whole matrix: an actor who may do everything is
    /// refused exactly the actions the state does not list, and the refusal names the state
    /// and the allowed actions.
    #[test]
    fn allowed_matches_decide_over_the_whole_matrix() {
        let everyone = Actor {
            id: Uuid::from_u128(9),
            is_initiator: true,
            is_admin: true,
            in_decision_pool: true,
            in_accountant_pool: true,
        };
        for s in every_state() {
            assert_eq!(InvoiceState::from_parts(s.name(), s.holder()), Some(s));
            for kind in ActionKind::ALL {
                let outcome = decide(s, &sample(kind), &everyone);
                if s.allowed().contains(&kind) {
                    assert!(
                        outcome.is_ok(),
                        "{} in {}: {outcome:?}",
                        kind.as_str(),
                        s.name()
                    );
                } else {
                    assert_eq!(
                        outcome,
                        Err(Refusal::WrongState {
                            action: kind.as_str(),
                            state: s.name(),
                            allowed: s.allowed_list(),
                        })
                    );
                }
            }
        }
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
            (0usize..2).prop_map(|n| Action::Resubmit { new_files: n }),
            Just(Action::Claim),
            (-1i64..3).prop_map(|k| Action::MarkPaid {
                payment: Payment {
                    amount_kopecks: k,
                    ..payment()
                }
            }),
            (0usize..2).prop_map(|n| Action::AttachClosingDocuments { files: n }),
            Just(Action::Cancel {
                reason: "отмена".into()
            }),
            Just(Action::Cancel { reason: " ".into() }),
        ]
    }

    proptest! {
        /// Whatever is asked by whoever: never two payers, never paid without approval, never
        /// completed without closing documents after payment, never cancelled after payment,
        /// and the supplier is told at most once.
        #[test]
        fn invariants_hold_for_any_sequence(steps in prop::collection::vec((action(), 0usize..6), 0..80)) {
            let people = cast();
            let mut s = InvoiceState::AwaitingDecision;
            let mut approved = false;
            let mut payer: Option<Uuid> = None;
            let mut paid = false;
            let mut supplier_emails = 0;
            for (a, who) in steps {
                match decide(s, &a, &people[who]) {
                    Ok(d) => {
                        supplier_emails += d.effects.iter()
                            .filter(|e| **e == Effect::EmailSupplierPassedForPayment).count();
                        match d.next {
                            InvoiceState::AwaitingAccountant => approved = true,
                            InvoiceState::InWorkAtAccountant { accountant } => {
                                prop_assert!(approved, "claimed before approval");
                                prop_assert!(payer.is_none(), "a second payer");
                                prop_assert!(people[who].in_accountant_pool);
                                payer = Some(accountant);
                            }
                            InvoiceState::AwaitingClosingDocuments { accountant } => {
                                prop_assert_eq!(Some(accountant), payer);
                                paid = true;
                            }
                            InvoiceState::Completed => {
                                prop_assert!(paid);
                                prop_assert_eq!(a.kind(), ActionKind::AttachClosingDocuments);
                            }
                            InvoiceState::Cancelled => prop_assert!(!paid),
                            InvoiceState::AwaitingDecision
                            | InvoiceState::UnderDecision { .. }
                            | InvoiceState::Returned { .. } => prop_assert!(!approved),
                        }
                        s = d.next;
                    }
                    Err(Refusal::WrongState { state, .. }) => {
                        prop_assert_eq!(state, s.name());
                        prop_assert!(!s.allowed().contains(&a.kind()));
                    }
                    Err(Refusal::NotYours { .. } | Refusal::CommentRequired { .. } | Refusal::Invalid { .. }) => {
                        prop_assert!(s.allowed().contains(&a.kind()));
                    }
                }
            }
            prop_assert!(supplier_emails <= 1);
        }
    }
}
