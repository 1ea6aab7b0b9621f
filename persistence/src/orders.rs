//! DOC-2 orders: queries, status transitions as compare-and-set with a transition row and a
//! journal entry, and [`record_payment`] — the hook through which payments confirm an order.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use uuid::Uuid;

use crate::entity::{order, order_transition};
use crate::error::StoreResult;

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
