//! DOC-1 quotes: queries, versions, copied product rows, and status transitions persisted as
//! compare-and-set with a transition row and a journal entry in the caller's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use uuid::Uuid;

use crate::entity::{product_row, quote, quote_transition, quote_version};
use crate::error::StoreResult;
use crate::journal::{Actor, now};
use crate::ops::workflow::{self, Workflow};
use crate::sales::rows_of;

crate::versioned_record!(quote, "quote");
crate::versioned_record!(quote_version, "quote_version");

/// The document type of a quote version's rows in `product_rows`.
pub const QUOTE_VERSION_ROWS: &str = "quote_version";

#[derive(Debug, Default)]
pub struct QuoteFilter {
    pub deal_id: Option<Uuid>,
    pub status: Option<String>,
    pub responsible_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub updated_since: Option<DateTime<Utc>>,
}

pub fn quotes_query(f: &QuoteFilter) -> Select<quote::Entity> {
    let mut q = quote::Entity::find().filter(quote::Column::DeletedAt.is_null());
    if let Some(v) = f.deal_id {
        q = q.filter(quote::Column::DealId.eq(v));
    }
    if let Some(v) = &f.status {
        q = q.filter(quote::Column::Status.eq(v.clone()));
    }
    if let Some(v) = f.responsible_id {
        q = q.filter(quote::Column::ResponsibleId.eq(v));
    }
    if let Some(v) = f.organization_id {
        q = q.filter(quote::Column::OrganizationId.eq(v));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(quote::Column::UpdatedAt.gte(t));
    }
    q
}

/// Every version of a quote, oldest first.
pub async fn versions_of<C: ConnectionTrait>(
    db: &C,
    quote_id: Uuid,
) -> StoreResult<Vec<quote_version::Model>> {
    Ok(quote_version::Entity::find()
        .filter(quote_version::Column::QuoteId.eq(quote_id))
        .filter(quote_version::Column::DeletedAt.is_null())
        .order_by_asc(quote_version::Column::Number)
        .all(db)
        .await?)
}

/// Version `number` of a quote.
pub async fn version_of<C: ConnectionTrait>(
    db: &C,
    quote_id: Uuid,
    number: i32,
) -> StoreResult<Option<quote_version::Model>> {
    Ok(quote_version::Entity::find()
        .filter(quote_version::Column::QuoteId.eq(quote_id))
        .filter(quote_version::Column::Number.eq(number))
        .filter(quote_version::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// The rows of a quote version, in order.
pub async fn rows_of_version<C: ConnectionTrait>(
    db: &C,
    version_id: Uuid,
) -> StoreResult<Vec<product_row::Model>> {
    rows_of(db, QUOTE_VERSION_ROWS, version_id).await
}

/// A new version `number` of `quote_id`, as a draft.
pub fn new_version(
    quote_id: Uuid,
    number: i32,
    valid_until: Option<NaiveDate>,
    comment: Option<String>,
) -> quote_version::Model {
    let at = now();
    quote_version::Model {
        id: Uuid::now_v7(),
        quote_id,
        number,
        status: "draft".to_owned(),
        valid_until,
        net_minor: 0,
        vat_minor: 0,
        total_minor: 0,
        comment,
        sent_at: None,
        sent_to_contact_id: None,
        sent_to_email: None,
        decided_at: None,
        reject_reason: None,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    }
}

/// One status change of the current version, as the API decided it.
pub struct Transition<'a> {
    /// The action's name (`send`, `accept`, `reject`, `new-version`), also the journal action.
    pub action: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub comment: Option<&'a str>,
}

/// The status changes of a quote, oldest first.
pub async fn transitions_of<C: ConnectionTrait>(
    db: &C,
    quote_id: Uuid,
) -> StoreResult<Vec<quote_transition::Model>> {
    Ok(quote_transition::Entity::find()
        .filter(quote_transition::Column::QuoteId.eq(quote_id))
        .order_by_asc(quote_transition::Column::OccurredAt)
        .order_by_asc(quote_transition::Column::Id)
        .all(db)
        .await?)
}

/// Writes the transition row of version `version_number` of a quote.
pub async fn log_transition<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    quote_id: Uuid,
    version_number: i32,
    t: &Transition<'_>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let mut row =
        workflow::Transition::new(Workflow::Quote, quote_id, Some(t.from), t.to, t.action, at)
            .by(actor.user_id)
            .comment(t.comment);
    row.version_number = Some(version_number);
    workflow::record_transition(db, row).await
}
