//! The kit every workflow shares: a stored state read back into its domain type, a refusal of
//! a state machine turned into the one API error, and a transition row written to its table.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sdelka_domain::workflow::Refusal;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};
use uuid::Uuid;

use super::{Error, ErrorCode, OpResult};
use crate::StoreError;
use crate::entity::{
    invoice_transition, order_transition, quote_transition, supplier_invoice_transition,
};
use crate::error::StoreResult;

/// A state, status or kind as stored, in its domain type. The schema only ever holds values
/// this code wrote, so an unknown one is a broken record: an internal error naming it, never
/// a silent default.
pub fn stored<S: FromStr>(table: &str, what: &str, id: Uuid, value: &str) -> OpResult<S> {
    value
        .parse()
        .map_err(|_| Error::internal(format!("{table} {id} has the unknown {what} `{value}`")))
}

/// A refusal of a state machine as the API error. A refusal because of the record's state is
/// a 409 `invalid_transition` naming the state (`current_state`) and what it allows
/// (`allowed_actions`), whichever workflow refused; any other refusal is `otherwise`'s.
pub fn refused<R: Refusal>(r: R, otherwise: impl FnOnce(R) -> Error) -> Error {
    match r.wrong_state() {
        Some(w) => Error::wrong_state(
            ErrorCode::InvalidTransition,
            r.to_string(),
            w.current,
            w.allowed.into_iter().map(str::to_owned).collect(),
        ),
        None => otherwise(r),
    }
}

/// Which workflow, and so which transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workflow {
    /// `quote_transitions`; needs `version_number` and `from`.
    Quote,
    /// `order_transitions`; needs `from`.
    Order,
    /// `invoice_transitions`.
    CustomerInvoice,
    /// `supplier_invoice_transitions`; needs `round`, may carry `details`.
    SupplierInvoice,
}

/// One state change of a record, as its workflow's transition table keeps it.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    pub workflow: Workflow,
    pub record_id: Uuid,
    /// `None` only for a record's first state (customer and supplier invoices).
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub action: &'a str,
    pub actor: Option<Uuid>,
    pub comment: Option<&'a str>,
    pub at: DateTime<Utc>,
    /// The quote version the change is of.
    pub version_number: Option<i32>,
    /// The approval round of a supplier invoice.
    pub round: Option<i32>,
    /// What the supplier invoice's transition carried (the payment, file ids, …).
    pub details: Option<serde_json::Value>,
}

impl<'a> Transition<'a> {
    pub fn new(
        workflow: Workflow,
        record_id: Uuid,
        from: Option<&'a str>,
        to: &'a str,
        action: &'a str,
        at: DateTime<Utc>,
    ) -> Self {
        Transition {
            workflow,
            record_id,
            from,
            to,
            action,
            actor: None,
            comment: None,
            at,
            version_number: None,
            round: None,
            details: None,
        }
    }

    pub fn by(self, actor: Option<Uuid>) -> Self {
        Transition { actor, ..self }
    }

    pub fn comment(self, comment: Option<&'a str>) -> Self {
        Transition { comment, ..self }
    }
}

fn missing(t: &Transition<'_>, column: &str) -> StoreError {
    StoreError::Database(DbErr::Custom(format!(
        "a {:?} transition of {} needs its {column}",
        t.workflow, t.record_id
    )))
}

/// Writes the transition row into its workflow's table; call in the transaction of the change.
pub async fn record_transition<C: ConnectionTrait>(db: &C, t: Transition<'_>) -> StoreResult<()> {
    let id = Uuid::now_v7();
    let actor_id = t.actor;
    let comment = t.comment.map(str::to_owned);
    match t.workflow {
        Workflow::Quote => {
            quote_transition::ActiveModel {
                id: Set(id),
                quote_id: Set(t.record_id),
                version_number: Set(t.version_number.ok_or_else(|| missing(&t, "version"))?),
                action: Set(t.action.to_owned()),
                from_status: Set(t.from.ok_or_else(|| missing(&t, "from status"))?.to_owned()),
                to_status: Set(t.to.to_owned()),
                actor_id: Set(actor_id),
                comment: Set(comment),
                occurred_at: Set(t.at),
            }
            .insert(db)
            .await?;
        }
        Workflow::Order => {
            order_transition::ActiveModel {
                id: Set(id),
                order_id: Set(t.record_id),
                action: Set(t.action.to_owned()),
                from_status: Set(t.from.ok_or_else(|| missing(&t, "from status"))?.to_owned()),
                to_status: Set(t.to.to_owned()),
                actor_id: Set(actor_id),
                comment: Set(comment),
                occurred_at: Set(t.at),
            }
            .insert(db)
            .await?;
        }
        Workflow::CustomerInvoice => {
            invoice_transition::ActiveModel {
                id: Set(id),
                invoice_id: Set(t.record_id),
                from_status: Set(t.from.map(str::to_owned)),
                to_status: Set(t.to.to_owned()),
                action: Set(t.action.to_owned()),
                actor_id: Set(actor_id),
                comment: Set(comment),
                at: Set(t.at),
            }
            .insert(db)
            .await?;
        }
        Workflow::SupplierInvoice => {
            supplier_invoice_transition::ActiveModel {
                id: Set(id),
                invoice_id: Set(t.record_id),
                round: Set(t.round.ok_or_else(|| missing(&t, "round"))?),
                action: Set(t.action.to_owned()),
                from_state: Set(t.from.map(str::to_owned)),
                to_state: Set(t.to.to_owned()),
                actor_id: Set(actor_id),
                comment: Set(comment),
                details: Set(t.details.as_ref().map(|d| d.to_string())),
                occurred_at: Set(t.at),
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}
