//! DOC-3 customer invoices ("счёт на оплату"): draft → issued → partially paid → paid, or
//! cancelled. A draft has no number; issuing takes one; a cancelled issued invoice keeps its
//! number as a recorded void. Payment statuses are not chosen by anyone: they follow from the
//! amount paid (see [`status_after_payments`]).

use serde::{Deserialize, Serialize};

use crate::workflow::WrongState;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Issued,
    PartiallyPaid,
    Paid,
    Cancelled,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 5] = [
        InvoiceStatus::Draft,
        InvoiceStatus::Issued,
        InvoiceStatus::PartiallyPaid,
        InvoiceStatus::Paid,
        InvoiceStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<InvoiceStatus> {
        s.parse().ok()
    }

    /// Whether money is still expected on it (issued and not fully paid).
    pub fn awaits_payment(self) -> bool {
        match self {
            InvoiceStatus::Issued | InvoiceStatus::PartiallyPaid => true,
            InvoiceStatus::Draft | InvoiceStatus::Paid | InvoiceStatus::Cancelled => false,
        }
    }

    /// The actions a person may take on an invoice in this status.
    pub fn allowed(self) -> &'static [InvoiceAction] {
        match self {
            InvoiceStatus::Draft => &[
                InvoiceAction::Edit,
                InvoiceAction::Issue,
                InvoiceAction::Cancel,
            ],
            InvoiceStatus::Issued => &[InvoiceAction::ApplyPayment, InvoiceAction::Cancel],
            InvoiceStatus::PartiallyPaid => {
                &[InvoiceAction::ApplyPayment, InvoiceAction::UnapplyPayment]
            }
            InvoiceStatus::Paid => &[InvoiceAction::UnapplyPayment],
            InvoiceStatus::Cancelled => &[],
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum InvoiceAction {
    /// Change rows, dates, buyer.
    Edit,
    /// Take a number and send it to the buyer.
    Issue,
    /// Void: an issued invoice keeps its number; an invoice with money on it cannot be voided
    /// (un-apply first).
    Cancel,
    ApplyPayment,
    UnapplyPayment,
}

impl InvoiceAction {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceRefusal {
    #[error("a {status} invoice does not allow `{action}`; allowed: {allowed}", status = .status.as_str(), action = .action.as_str(), allowed = allowed_list(*.status))]
    Transition {
        status: InvoiceStatus,
        action: InvoiceAction,
    },
    #[error("an invoice without lines cannot be issued")]
    Empty,
    #[error("the amount {amount} exceeds what is outstanding on the invoice ({outstanding})")]
    Overpaid { amount: i64, outstanding: i64 },
    #[error("the amount to un-apply ({amount}) exceeds what was paid ({paid})")]
    Underpaid { amount: i64, paid: i64 },
}

impl crate::workflow::Refusal for InvoiceRefusal {
    fn wrong_state(&self) -> Option<WrongState> {
        match self {
            InvoiceRefusal::Transition { status, .. } => {
                Some(WrongState::new(status.as_str(), status.allowed()))
            }
            // Only a draft is issued; it stays a draft until it has lines.
            InvoiceRefusal::Empty => Some(WrongState::new(
                InvoiceStatus::Draft.as_str(),
                InvoiceStatus::Draft.allowed(),
            )),
            InvoiceRefusal::Overpaid { .. } | InvoiceRefusal::Underpaid { .. } => None,
        }
    }
}

fn allowed_list(status: InvoiceStatus) -> String {
    let a = status.allowed();
    if a.is_empty() {
        "none".into()
    } else {
        a.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// The status that the amount paid implies for an issued invoice.
pub fn status_after_payments(total_minor: i64, paid_minor: i64) -> InvoiceStatus {
    if paid_minor <= 0 {
        InvoiceStatus::Issued
    } else if paid_minor < total_minor {
        InvoiceStatus::PartiallyPaid
    } else {
        InvoiceStatus::Paid
    }
}

/// The facts a decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceState {
    pub status: InvoiceStatus,
    pub total_minor: i64,
    pub paid_minor: i64,
}

/// Decides an action: the next state, or why not. `amount_minor` is the money moved by
/// `ApplyPayment`/`UnapplyPayment` (ignored otherwise).
pub fn decide(
    state: InvoiceState,
    action: InvoiceAction,
    amount_minor: i64,
) -> Result<InvoiceState, InvoiceRefusal> {
    if !state.status.allowed().contains(&action) {
        return Err(InvoiceRefusal::Transition {
            status: state.status,
            action,
        });
    }
    match action {
        InvoiceAction::Edit => Ok(state),
        InvoiceAction::Issue => {
            if state.total_minor <= 0 {
                return Err(InvoiceRefusal::Empty);
            }
            Ok(InvoiceState {
                status: InvoiceStatus::Issued,
                ..state
            })
        }
        InvoiceAction::Cancel => Ok(InvoiceState {
            status: InvoiceStatus::Cancelled,
            ..state
        }),
        InvoiceAction::ApplyPayment => {
            let outstanding = state.total_minor - state.paid_minor;
            if amount_minor <= 0 || amount_minor > outstanding {
                return Err(InvoiceRefusal::Overpaid {
                    amount: amount_minor,
                    outstanding,
                });
            }
            let paid = state.paid_minor + amount_minor;
            Ok(InvoiceState {
                status: status_after_payments(state.total_minor, paid),
                paid_minor: paid,
                ..state
            })
        }
        InvoiceAction::UnapplyPayment => {
            if amount_minor <= 0 || amount_minor > state.paid_minor {
                return Err(InvoiceRefusal::Underpaid {
                    amount: amount_minor,
                    paid: state.paid_minor,
                });
            }
            let paid = state.paid_minor - amount_minor;
            Ok(InvoiceState {
                status: status_after_payments(state.total_minor, paid),
                paid_minor: paid,
                ..state
            })
        }
    }
}

/// A deal's payment percent in hundredths: paid ÷ deal amount, rounded down, capped at 100 %
/// (an overpaid deal is simply paid; the surplus shows on the payment as unapplied or on the
/// invoices). A deal whose amount is zero counts as fully paid once anything is paid.
pub fn payment_percent_hundredths(paid_minor: i64, deal_amount_minor: i64) -> i64 {
    if paid_minor <= 0 {
        return 0;
    }
    if deal_amount_minor <= 0 {
        return 10_000;
    }
    let p = (paid_minor as i128 * 10_000) / deal_amount_minor as i128;
    p.min(10_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn issued(total: i64) -> InvoiceState {
        InvoiceState {
            status: InvoiceStatus::Issued,
            total_minor: total,
            paid_minor: 0,
        }
    }

    #[test]
    fn two_partial_payments_pay_it() {
        let s = decide(issued(1000), InvoiceAction::ApplyPayment, 400).unwrap();
        assert_eq!(s.status, InvoiceStatus::PartiallyPaid);
        let s = decide(s, InvoiceAction::ApplyPayment, 600).unwrap();
        assert_eq!(s.status, InvoiceStatus::Paid);
        assert!(decide(s, InvoiceAction::ApplyPayment, 1).is_err());
        let s = decide(s, InvoiceAction::UnapplyPayment, 1000).unwrap();
        assert_eq!(s.status, InvoiceStatus::Issued);
    }

    #[test]
    fn refusals_name_the_state_and_what_is_allowed() {
        let e = decide(
            InvoiceState {
                status: InvoiceStatus::Paid,
                total_minor: 10,
                paid_minor: 10,
            },
            InvoiceAction::Cancel,
            0,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a paid invoice does not allow `cancel`; allowed: unapply_payment"
        );
        let draft = InvoiceState {
            status: InvoiceStatus::Draft,
            total_minor: 0,
            paid_minor: 0,
        };
        assert_eq!(
            decide(draft, InvoiceAction::Issue, 0),
            Err(InvoiceRefusal::Empty)
        );
    }

    #[test]
    fn payment_percent_is_capped_and_rounded_down() {
        assert_eq!(payment_percent_hundredths(0, 1000), 0);
        assert_eq!(payment_percent_hundredths(1, 3), 3333);
        assert_eq!(payment_percent_hundredths(5000, 1000), 10_000);
        assert_eq!(payment_percent_hundredths(1, 0), 10_000);
    }

    fn action() -> impl Strategy<Value = (InvoiceAction, i64)> {
        (
            prop_oneof![
                Just(InvoiceAction::Edit),
                Just(InvoiceAction::Issue),
                Just(InvoiceAction::Cancel),
                Just(InvoiceAction::ApplyPayment),
                Just(InvoiceAction::UnapplyPayment),
            ],
            -5i64..2_000,
        )
    }

    proptest! {
        /// Over any sequence of actions: paid stays within 0..=total, the status agrees with
        /// the amount paid once issued, a cancelled invoice never changes again, and nothing
        /// with money on it is ever cancelled.
        #[test]
        fn invariants_hold_over_random_actions(total in 1i64..1_000, actions in proptest::collection::vec(action(), 0..40)) {
            let mut s = InvoiceState { status: InvoiceStatus::Draft, total_minor: total, paid_minor: 0 };
            for (a, amount) in actions {
                let before = s;
                match decide(s, a, amount) {
                    Ok(next) => {
                        prop_assert!(before.status.allowed().contains(&a));
                        prop_assert!(before.status != InvoiceStatus::Cancelled);
                        if next.status == InvoiceStatus::Cancelled {
                            prop_assert_eq!(next.paid_minor, 0);
                        }
                        s = next;
                    }
                    Err(_) => prop_assert_eq!(s, before),
                }
                prop_assert!(s.paid_minor >= 0 && s.paid_minor <= s.total_minor);
                if s.status.awaits_payment() || s.status == InvoiceStatus::Paid {
                    prop_assert_eq!(s.status, status_after_payments(s.total_minor, s.paid_minor));
                }
            }
        }

        #[test]
        fn percent_is_within_bounds(paid in any::<i64>(), amount in any::<i64>()) {
            let p = payment_percent_hundredths(paid, amount);
            prop_assert!((0..=10_000).contains(&p));
        }
    }
}
