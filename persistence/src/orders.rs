//! DOC-2 orders: queries, status transitions as compare-and-set with a transition row and a
//! journal entry, and [`record_payment`] — the hook through which payments confirm an order.

use chrono::{DateTime, Utc};
use sdelka_domain::order::{OrderStatus, PaymentEffect, on_payment};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Select,
};
use uuid::Uuid;

use crate::entity::{order, order_transition};
use crate::error::{StoreError, StoreResult};
use crate::journal::{self, Actor, Change, now};
use crate::notifications::{EntityRef, notify_and_email};
use crate::ops::workflow::{self, Workflow};
use crate::records::snapshot;

crate::versioned_record!(order, "order");

/// The document type of an order's rows in `product_rows`.
pub const ORDER_ROWS: &str = "order";

#[derive(Debug, Default)]
pub struct OrderFilter {
    pub deal_id: Option<Uuid>,
    pub quote_id: Option<Uuid>,
    pub status: Option<String>,
    pub responsible_id: Option<Uuid>,
    pub updated_since: Option<DateTime<Utc>>,
}

pub fn orders_query(f: &OrderFilter) -> Select<order::Entity> {
    let mut q = order::Entity::find().filter(order::Column::DeletedAt.is_null());
    if let Some(v) = f.deal_id {
        q = q.filter(order::Column::DealId.eq(v));
    }
    if let Some(v) = f.quote_id {
        q = q.filter(order::Column::QuoteId.eq(v));
    }
    if let Some(v) = &f.status {
        q = q.filter(order::Column::Status.eq(v.clone()));
    }
    if let Some(v) = f.responsible_id {
        q = q.filter(order::Column::ResponsibleId.eq(v));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(order::Column::UpdatedAt.gte(t));
    }
    q
}

/// The order made from `quote_id` that is not cancelled, if any.
pub async fn order_of_quote<C: ConnectionTrait>(
    db: &C,
    quote_id: Uuid,
) -> StoreResult<Option<order::Model>> {
    Ok(order::Entity::find()
        .filter(order::Column::LiveQuoteId.eq(quote_id))
        .filter(order::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// Another request changed the order between our read and our write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raced;

/// Writes a status change: `UPDATE orders … WHERE id = ? AND status = :from AND version = :v`,
/// then the transition row and the journal entry named `action`, in the caller's transaction.
pub async fn record_transition<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: &str,
    before: &order::Model,
    mut after: order::Model,
    comment: Option<&str>,
) -> StoreResult<Result<order::Model, Raced>> {
    let at = now();
    after.version = before.version + 1;
    after.updated_at = at;
    let res = order::Entity::update_many()
        .set(after.clone().into_active_model().reset_all())
        .filter(order::Column::Id.eq(before.id))
        .filter(order::Column::Status.eq(before.status.clone()))
        .filter(order::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(Err(Raced));
    }
    if before.status != after.status {
        workflow::record_transition(
            db,
            workflow::Transition::new(
                Workflow::Order,
                before.id,
                Some(&before.status),
                &after.status,
                action,
                at,
            )
            .by(actor.user_id)
            .comment(comment),
        )
        .await?;
    }
    let (b, a) = (snapshot(before), snapshot(&after));
    journal::record(
        db,
        actor,
        Change {
            entity_type: "order",
            entity_id: before.id,
            action,
            before: Some(&b),
            after: Some(&a),
            comment,
        },
    )
    .await?;
    Ok(Ok(after))
}

/// What [`record_payment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRecorded {
    /// The advance is covered: the order moved from `awaiting_advance` to `confirmed`, and its
    /// responsible user was told.
    Confirmed(order::Model),
    /// Money was un-applied below the advance: the order went from `confirmed` back to
    /// `awaiting_advance`, and its responsible user was told.
    Withdrawn(order::Model),
    /// The amount was recorded; the status did not change.
    Recorded(order::Model),
}

/// **The payments hook (DOC-2, DOC-4).** Call inside the payments transaction whenever the
/// money applied to the order's invoices changes, with the new total paid against the order
/// in kopecks. Records the amount and, when an order awaiting its advance is now paid at least
/// the advance, confirms its obligations (`awaiting_advance → confirmed`); when an un-applied
/// payment leaves a confirmed order below its advance, withdraws the confirmation
/// (`confirmed → awaiting_advance`). Each status change is a compare-and-set with a transition
/// row, a journal entry and a notification to the order's responsible user (ACT-5), all in
/// the same transaction. Never refuses money: a payment against a draft, completed or
/// cancelled order is only recorded. `NotFound` for an unknown order; `StaleVersion` when
/// another transaction changed the order at the same moment (retry the payments transaction).
pub async fn record_payment<C: ConnectionTrait>(
    txn: &C,
    order_id: Uuid,
    paid_total_kopecks: i64,
    actor: &Actor,
) -> StoreResult<PaymentRecorded> {
    let current = order::Entity::find_by_id(order_id)
        .one(txn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let status = OrderStatus::parse(&current.status).ok_or_else(|| {
        StoreError::Database(sea_orm::DbErr::Custom(format!(
            "order {} has the unknown status `{}`",
            current.id, current.status
        )))
    })?;
    let effect = on_payment(status, current.advance_minor, paid_total_kopecks);
    let mut next = current.clone();
    next.paid_minor = paid_total_kopecks;
    let (action, comment) = match effect {
        PaymentEffect::Confirm => {
            next.status = OrderStatus::Confirmed.as_str().to_owned();
            next.confirmed_at = Some(now());
            ("advance-received", Some("the advance payment arrived"))
        }
        PaymentEffect::Withdraw => {
            next.status = OrderStatus::AwaitingAdvance.as_str().to_owned();
            next.confirmed_at = None;
            (
                "advance-withdrawn",
                Some("a payment was un-applied; the advance is no longer covered"),
            )
        }
        PaymentEffect::Record => ("payment-recorded", None),
    };
    if next == current {
        return Ok(PaymentRecorded::Recorded(current));
    }
    let saved = record_transition(txn, actor, action, &current, next, comment)
        .await?
        .map_err(|Raced| StoreError::StaleVersion {
            expected: current.version,
            current: current.version + 1,
        })?;
    let paid = sdelka_domain::money::Money::from_minor(saved.paid_minor);
    let advance = sdelka_domain::money::Money::from_minor(saved.advance_minor);
    let (kind, title, body, outcome): (_, _, _, fn(order::Model) -> PaymentRecorded) = match effect
    {
        PaymentEffect::Confirm => (
            "order_confirmed",
            format!("Заказ «{}»: аванс получен", saved.title),
            format!(
                "По заказу «{}» оплачено {paid} из аванса {advance}: обязательства подтверждены, заказ можно исполнять.",
                saved.title
            ),
            PaymentRecorded::Confirmed,
        ),
        PaymentEffect::Withdraw => (
            "order_advance_withdrawn",
            format!("Заказ «{}»: аванс больше не покрыт", saved.title),
            format!(
                "По заказу «{}» платёж отменён: оплачено {paid} из аванса {advance}. Заказ снова ожидает аванс.",
                saved.title
            ),
            PaymentRecorded::Withdrawn,
        ),
        PaymentEffect::Record => return Ok(PaymentRecorded::Recorded(saved)),
    };
    notify_and_email(
        txn,
        saved.responsible_id,
        kind,
        &title,
        &body,
        Some(EntityRef {
            entity_type: "order",
            entity_id: saved.id,
        }),
    )
    .await?;
    Ok(outcome(saved))
}

/// The status changes of an order, oldest first.
pub async fn transitions_of<C: ConnectionTrait>(
    db: &C,
    order_id: Uuid,
) -> StoreResult<Vec<order_transition::Model>> {
    Ok(order_transition::Entity::find()
        .filter(order_transition::Column::OrderId.eq(order_id))
        .order_by_asc(order_transition::Column::OccurredAt)
        .order_by_asc(order_transition::Column::Id)
        .all(db)
        .await?)
}
