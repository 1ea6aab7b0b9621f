//! DOC-2: an order (the client's commitment to buy), as a pure state machine.
//!
//! ```text
//!   draft ──confirm-terms──► awaiting_advance ──advance paid──► confirmed ──complete──► completed
//!     │    (advance 0: straight to confirmed)  │                    │
//!     └──cancel──► cancelled ◄──cancel─────────┴────────cancel──────┘
//! ```
//!
//! "Confirming obligations = receiving the advance payment": after the terms are agreed with
//! the client (`confirm-terms`) the order waits for the advance; it is confirmed by money, not
//! by a person — whenever the amount paid against the order reaches the advance. An order
//! without an advance (advance 0) is confirmed as soon as its terms are. A confirmed order
//! stays confirmed when money is later returned: the obligations were taken up, and unwinding
//! them is a cancellation, which needs a person and a reason.

use serde::{Deserialize, Serialize};

use crate::workflow::WrongState;

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
pub enum OrderStatus {
    Draft,
    AwaitingAdvance,
    Confirmed,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Draft,
        OrderStatus::AwaitingAdvance,
        OrderStatus::Confirmed,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        s.parse().ok()
    }

    /// The manual actions this status allows (payments are not actions: see [`on_payment`]).
    pub fn allowed(self) -> &'static [OrderActionKind] {
        use OrderActionKind::*;
        match self {
            OrderStatus::Draft => &[ConfirmTerms, Cancel],
            OrderStatus::AwaitingAdvance => &[Cancel],
            OrderStatus::Confirmed => &[Complete, Cancel],
            OrderStatus::Completed | OrderStatus::Cancelled => &[],
        }
    }
}

/// The manual actions, by their API names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "kebab-case")]
pub enum OrderActionKind {
    ConfirmTerms,
    Complete,
    Cancel,
}

impl OrderActionKind {
    pub const ALL: [OrderActionKind; 3] = [
        OrderActionKind::ConfirmTerms,
        OrderActionKind::Complete,
        OrderActionKind::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<OrderActionKind> {
        s.parse().ok()
    }
}

/// A manual action with what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderAction {
    /// The client agreed to the terms; `advance_minor` is what he must pay first and
    /// `paid_minor` what he has already paid.
    ConfirmTerms {
        advance_minor: i64,
        paid_minor: i64,
    },
    Complete,
    Cancel {
        reason: String,
    },
}

impl OrderAction {
    pub fn kind(&self) -> OrderActionKind {
        match self {
            OrderAction::ConfirmTerms { .. } => OrderActionKind::ConfirmTerms,
            OrderAction::Complete => OrderActionKind::Complete,
            OrderAction::Cancel { .. } => OrderActionKind::Cancel,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderRefusal {
    #[error("cannot {action} an order that is {state}; allowed: {allowed}")]
    WrongState {
        action: &'static str,
        state: &'static str,
        allowed: String,
    },
    #[error("cancelling an order needs a reason")]
    ReasonRequired,
}

impl crate::workflow::Refusal for OrderRefusal {
    fn wrong_state(&self) -> Option<WrongState> {
        match self {
            OrderRefusal::WrongState { state, .. } => {
                OrderStatus::parse(state).map(|s| WrongState::new(s.as_str(), s.allowed()))
            }
            OrderRefusal::ReasonRequired => None,
        }
    }
}

impl OrderRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            OrderRefusal::WrongState { .. } => "invalid_transition",
            OrderRefusal::ReasonRequired => "required",
        }
    }
}

fn allowed_names(state: OrderStatus) -> String {
    if state.allowed().is_empty() {
        return "none".to_owned();
    }
    state
        .allowed()
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn advance_covered(advance_minor: i64, paid_minor: i64) -> bool {
    paid_minor >= advance_minor
}

/// Applies a manual action: the next status, or why not.
pub fn decide(state: OrderStatus, action: &OrderAction) -> Result<OrderStatus, OrderRefusal> {
    use OrderAction as A;
    use OrderStatus as S;
    let kind = action.kind();
    let refuse = || OrderRefusal::WrongState {
        action: kind.as_str(),
        state: state.as_str(),
        allowed: allowed_names(state),
    };
    match (state, action) {
        (
            S::Draft,
            A::ConfirmTerms {
                advance_minor,
                paid_minor,
            },
        ) => Ok(if advance_covered(*advance_minor, *paid_minor) {
            S::Confirmed
        } else {
            S::AwaitingAdvance
        }),
        (S::Confirmed, A::Complete) => Ok(S::Completed),
        (S::Draft | S::AwaitingAdvance | S::Confirmed, A::Cancel { reason }) => {
            if reason.trim().is_empty() {
                Err(OrderRefusal::ReasonRequired)
            } else {
                Ok(S::Cancelled)
            }
        }
        (S::Draft | S::AwaitingAdvance, A::Complete)
        | (S::AwaitingAdvance | S::Confirmed, A::ConfirmTerms { .. })
        | (S::Completed | S::Cancelled, A::ConfirmTerms { .. } | A::Complete | A::Cancel { .. }) => {
            Err(refuse())
        }
    }
}

/// Whether the order's terms (advance, buyer, title) may still change: only in a draft — once
/// the terms are confirmed they are what the client agreed to.
pub fn check_edit(state: OrderStatus) -> Result<(), OrderRefusal> {
    match state {
        OrderStatus::Draft => Ok(()),
        OrderStatus::AwaitingAdvance
        | OrderStatus::Confirmed
        | OrderStatus::Completed
        | OrderStatus::Cancelled => Err(OrderRefusal::WrongState {
            action: "edit",
            state: state.as_str(),
            allowed: allowed_names(state),
        }),
    }
}

/// What a change of the amount paid against the order does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEffect {
    /// The advance is covered: obligations are confirmed.
    Confirm,
    /// Money was taken back (a payment un-applied) and what remains no longer covers the
    /// advance: the confirmation is withdrawn and the order awaits its advance again.
    Withdraw,
    /// The amount is recorded; the status stays.
    Record,
}

/// The rule "confirming obligations = the advance arrived", both ways: an order awaiting its
/// advance is confirmed once `paid ≥ advance`, and a confirmed (not yet completed) order whose
/// money falls below the advance again — a payment applied by mistake and un-applied — goes
/// back to awaiting it. Money is never refused here: a payment to a draft, completed or
/// cancelled order is the payments area's business (overpayment, refund).
pub fn on_payment(state: OrderStatus, advance_minor: i64, paid_minor: i64) -> PaymentEffect {
    let covered = advance_covered(advance_minor, paid_minor);
    match state {
        OrderStatus::AwaitingAdvance if covered => PaymentEffect::Confirm,
        OrderStatus::Confirmed if !covered => PaymentEffect::Withdraw,
        OrderStatus::AwaitingAdvance
        | OrderStatus::Draft
        | OrderStatus::Confirmed
        | OrderStatus::Completed
        | OrderStatus::Cancelled => PaymentEffect::Record,
    }
}

/// The advance of an order worth `total_minor`: a given amount (at most the total), a percent
/// of the total (rounded to kopecks half away from zero), or, by default, the whole total.
pub fn advance_of(
    total_minor: i64,
    amount_minor: Option<i64>,
    percent_hundredths: Option<i64>,
) -> Result<i64, AdvanceError> {
    match (amount_minor, percent_hundredths) {
        (Some(_), Some(_)) => Err(AdvanceError::Both),
        (Some(a), None) if a < 0 => Err(AdvanceError::Negative),
        (Some(a), None) if a > total_minor => Err(AdvanceError::ExceedsTotal),
        (Some(a), None) => Ok(a),
        (None, Some(p)) if !(0..=10_000).contains(&p) => Err(AdvanceError::PercentOutOfRange),
        (None, Some(p)) => {
            // total × p / 10 000, rounded half away from zero, in i128 to never overflow.
            let num = i128::from(total_minor) * i128::from(p);
            let q = num / 10_000;
            let r = num % 10_000;
            let rounded = if r.abs() * 2 >= 10_000 {
                q + num.signum()
            } else {
                q
            };
            i64::try_from(rounded).map_err(|_| AdvanceError::ExceedsTotal)
        }
        (None, None) => Ok(total_minor.max(0)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdvanceError {
    #[error("give either advance_amount or advance_percent, not both")]
    Both,
    #[error("the advance must not be negative")]
    Negative,
    #[error("the advance must not exceed the order's total")]
    ExceedsTotal,
    #[error("the advance percent is from 0 to 100")]
    PercentOutOfRange,
}

impl AdvanceError {
    pub fn field(self) -> &'static str {
        match self {
            AdvanceError::Both | AdvanceError::Negative | AdvanceError::ExceedsTotal => {
                "advance_amount"
            }
            AdvanceError::PercentOutOfRange => "advance_percent",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            AdvanceError::Both => "conflicting_fields",
            AdvanceError::Negative => "negative",
            AdvanceError::ExceedsTotal => "exceeds_total",
            AdvanceError::PercentOutOfRange => "out_of_range",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Act(OrderAction),
        Pay(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0i64..2_000, 0i64..2_000).prop_map(|(advance_minor, paid_minor)| Step::Act(
                OrderAction::ConfirmTerms {
                    advance_minor,
                    paid_minor
                }
            )),
            Just(Step::Act(OrderAction::Complete)),
            prop::sample::select(vec!["", " ", "клиент передумал"]).prop_map(|r| Step::Act(
                OrderAction::Cancel {
                    reason: r.to_owned()
                }
            )),
            (0i64..2_000).prop_map(Step::Pay),
        ]
    }

    #[test]
    fn allowed_matches_decide() {
        for s in OrderStatus::ALL {
            for a in [
                OrderAction::ConfirmTerms {
                    advance_minor: 100,
                    paid_minor: 0,
                },
                OrderAction::Complete,
                OrderAction::Cancel {
                    reason: "нет денег".into(),
                },
            ] {
                assert_eq!(
                    decide(s, &a).is_ok(),
                    s.allowed().contains(&a.kind()),
                    "{s:?} {a:?}"
                );
            }
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        for k in OrderActionKind::ALL {
            assert_eq!(OrderActionKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn refusal_names_state_and_allowed() {
        let e = decide(OrderStatus::AwaitingAdvance, &OrderAction::Complete).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot complete an order that is awaiting_advance; allowed: cancel"
        );
        let e = decide(
            OrderStatus::Draft,
            &OrderAction::Cancel { reason: " ".into() },
        )
        .unwrap_err();
        assert_eq!(e, OrderRefusal::ReasonRequired);
    }

    #[test]
    fn only_drafts_are_edited() {
        for s in OrderStatus::ALL {
            assert_eq!(check_edit(s).is_ok(), s == OrderStatus::Draft, "{s:?}");
        }
        assert_eq!(
            check_edit(OrderStatus::Confirmed).unwrap_err().to_string(),
            "cannot edit an order that is confirmed; allowed: complete, cancel"
        );
    }

    #[test]
    fn the_advance_confirms() {
        use OrderStatus as S;
        use PaymentEffect as E;
        for (state, advance, paid, effect) in [
            (S::AwaitingAdvance, 500, 499, E::Record),
            (S::AwaitingAdvance, 500, 500, E::Confirm),
            (S::Draft, 500, 10_000, E::Record),
            // Un-applied below the advance: the confirmation is withdrawn.
            (S::Confirmed, 500, 499, E::Withdraw),
            (S::Confirmed, 500, 500, E::Record),
            // A completed order stays completed, whatever happens to the money.
            (S::Completed, 500, 0, E::Record),
        ] {
            assert_eq!(
                on_payment(state, advance, paid),
                effect,
                "{state:?}, advance {advance}, paid {paid}"
            );
        }
        // No advance: the terms confirm the order at once.
        assert_eq!(
            decide(
                OrderStatus::Draft,
                &OrderAction::ConfirmTerms {
                    advance_minor: 0,
                    paid_minor: 0
                }
            ),
            Ok(OrderStatus::Confirmed)
        );
    }

    #[test]
    fn advances() {
        assert_eq!(advance_of(10_000, None, None), Ok(10_000));
        assert_eq!(advance_of(10_000, Some(3_000), None), Ok(3_000));
        assert_eq!(
            advance_of(10_000, Some(10_001), None),
            Err(AdvanceError::ExceedsTotal)
        );
        assert_eq!(advance_of(10_000, None, Some(3_000)), Ok(3_000));
        // 30 % of 333.33 = 99.999 → 100.00.
        assert_eq!(advance_of(33_333, None, Some(3_000)), Ok(10_000));
        // 50 % of 0.01 = 0.005 → 0.01 (half away from zero).
        assert_eq!(advance_of(1, None, Some(5_000)), Ok(1));
        assert_eq!(
            advance_of(1, None, Some(10_001)),
            Err(AdvanceError::PercentOutOfRange)
        );
        assert_eq!(advance_of(1, Some(1), Some(1)), Err(AdvanceError::Both));
    }

    proptest! {
        /// Any mix of manual actions and payments: the order only walks allowed edges, it is
        /// confirmed exactly when it had agreed terms and the money paid reached the advance,
        /// completion needs confirmation, and completed/cancelled are final.
        #[test]
        fn random_histories(steps in prop::collection::vec(step(), 0..60)) {
            let mut s = OrderStatus::Draft;
            let mut advance: Option<i64> = None;
            let mut paid = 0i64;
            for st in steps {
                let before = s;
                match st {
                    Step::Pay(p) => {
                        paid = p;
                        match on_payment(s, advance.unwrap_or(i64::MAX), paid) {
                            PaymentEffect::Confirm => {
                                prop_assert_eq!(s, OrderStatus::AwaitingAdvance);
                                prop_assert!(advance.is_some_and(|a| paid >= a));
                                s = OrderStatus::Confirmed;
                            }
                            PaymentEffect::Withdraw => {
                                prop_assert_eq!(s, OrderStatus::Confirmed);
                                prop_assert!(advance.is_some_and(|a| paid < a));
                                s = OrderStatus::AwaitingAdvance;
                            }
                            PaymentEffect::Record => {
                                prop_assert!(s != OrderStatus::AwaitingAdvance || advance.is_some_and(|a| paid < a));
                                prop_assert!(s != OrderStatus::Confirmed || advance.is_some_and(|a| paid >= a));
                            }
                        }
                    }
                    Step::Act(a) => match decide(s, &a) {
                        Ok(next) => {
                            prop_assert!(s.allowed().contains(&a.kind()));
                            if let OrderAction::ConfirmTerms { advance_minor, paid_minor } = a {
                                advance = Some(advance_minor);
                                paid = paid_minor;
                                prop_assert_eq!(next == OrderStatus::Confirmed, paid_minor >= advance_minor);
                            }
                            if next == OrderStatus::Completed {
                                prop_assert_eq!(s, OrderStatus::Confirmed);
                            }
                            s = next;
                        }
                        Err(OrderRefusal::ReasonRequired) => {
                            let blank = matches!(a, OrderAction::Cancel { ref reason } if reason.trim().is_empty());
                            prop_assert!(blank);
                        }
                        Err(OrderRefusal::WrongState { state, .. }) => {
                            prop_assert_eq!(state, s.as_str());
                            prop_assert!(!s.allowed().contains(&a.kind()));
                        }
                    },
                }
                if matches!(before, OrderStatus::Completed | OrderStatus::Cancelled) {
                    prop_assert_eq!(s, before, "final states stay final");
                }
                if s == OrderStatus::Confirmed && before != OrderStatus::Confirmed {
                    prop_assert!(advance.is_some_and(|a| paid >= a));
                }
            }
        }

        #[test]
        fn advance_never_exceeds_total(total in 0i64..10_000_000_000, p in 0i64..=10_000) {
            let a = advance_of(total, None, Some(p));
            prop_assert!(a.is_ok_and(|a| (0..=total).contains(&a)));
        }
    }
}
