//! What every state machine's refusal can say in the same way: whether it is a question of
//! state (the record is in a state that does not allow what was asked) and, if so, the state
//! and what that state allows. The API renders such a refusal as one 409 `invalid_transition`
//! carrying `current_state` and `allowed_actions`, whichever workflow refused.

/// The record's state and the names of what that state allows, as the API names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongState {
    pub current: &'static str,
    pub allowed: Vec<&'static str>,
}

impl WrongState {
    pub fn new<A: Copy + Into<&'static str>>(current: &'static str, allowed: &[A]) -> Self {
        WrongState {
            current,
            allowed: allowed.iter().map(|a| (*a).into()).collect(),
        }
    }
}

/// A refusal of a state machine.
pub trait Refusal: std::error::Error {
    /// `Some` when the action was refused because of the state the record is in.
    fn wrong_state(&self) -> Option<WrongState>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{customer_invoice, deal, files, lead, numbering, order, quote, supplier_invoice};

    /// The stored and wire names of the derived enums are the ones the schema and API know.
    #[test]
    fn names_are_unchanged() {
        assert_eq!(
            order::OrderStatus::AwaitingAdvance.as_str(),
            "awaiting_advance"
        );
        assert_eq!(
            order::OrderActionKind::ConfirmTerms.as_str(),
            "confirm-terms"
        );
        assert_eq!(quote::QuoteAction::NewVersion.as_str(), "new-version");
        assert_eq!(
            customer_invoice::InvoiceAction::UnapplyPayment.as_str(),
            "unapply_payment"
        );
        assert_eq!(
            customer_invoice::InvoiceStatus::PartiallyPaid.as_str(),
            "partially_paid"
        );
        assert_eq!(
            supplier_invoice::ActionKind::AttachClosingDocuments.as_str(),
            "attach-closing-documents"
        );
        assert_eq!(lead::LeadSource::WebForm.as_str(), "web_form");
        assert_eq!(lead::LeadCategory::C.as_str(), "C");
        assert_eq!(
            lead::LeadCategory::parse(" с "),
            Some(lead::LeadCategory::C)
        );
        assert_eq!(deal::StageKind::parse("won"), Some(deal::StageKind::Won));
        assert_eq!(
            files::DocumentType::ClosingDocument.as_str(),
            "closing_document"
        );
        assert_eq!(numbering::CounterReset::Quarterly.as_str(), "quarterly");
        assert_eq!(
            crate::role::Role::PurchasingManager.as_str(),
            "purchasing_manager"
        );
        assert_eq!(
            crate::task::Outcome::ReturnForRework.as_str(),
            "return_for_rework"
        );
        assert_eq!(order::OrderStatus::parse("Draft"), None);
    }

    #[test]
    fn refusals_name_state_and_allowed() {
        let r = customer_invoice::decide(
            customer_invoice::InvoiceState {
                status: customer_invoice::InvoiceStatus::Issued,
                total_minor: 100,
                paid_minor: 0,
            },
            customer_invoice::InvoiceAction::Issue,
            0,
        )
        .unwrap_err();
        assert_eq!(
            r.wrong_state(),
            Some(WrongState {
                current: "issued",
                allowed: vec!["apply_payment", "cancel"]
            })
        );
        let r =
            lead::change_status(lead::LeadStatus::New, lead::LeadStatus::Qualified).unwrap_err();
        assert_eq!(
            r.wrong_state(),
            Some(WrongState {
                current: "new",
                allowed: vec!["in_work", "junk"]
            })
        );
        let r = order::decide(order::OrderStatus::Completed, &order::OrderAction::Complete)
            .unwrap_err();
        assert_eq!(
            r.wrong_state(),
            Some(WrongState {
                current: "completed",
                allowed: vec![]
            })
        );
        assert_eq!(order::OrderRefusal::ReasonRequired.wrong_state(), None);
    }
}
