//! DOC-1 quotes: queries, versions, copied product rows, and status transitions persisted as
//! compare-and-set with a transition row and a journal entry in the caller's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Select,
};
use uuid::Uuid;

use crate::entity::{product_row, quote, quote_transition, quote_version};
use crate::error::StoreResult;
use crate::journal::{self, Actor, Change, now};
use crate::ops::workflow::{self, Workflow};
use crate::records::{self, snapshot};
use crate::sales::{row_copy, rows_of};

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

/// Copies rows as they are priced (amounts, VAT rate and all) onto another document: a copy
/// keeps what the client was offered, even if a VAT rate has changed since.
pub async fn copy_rows<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    rows: &[product_row::Model],
    document_type: &str,
    document_id: Uuid,
) -> StoreResult<Vec<product_row::Model>> {
    let at = now();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let copy = row_copy(r, document_type, document_id, at);
        out.push(
            records::create::<product_row::Entity, _>(db, actor, copy, records::snapshot).await?,
        );
    }
    Ok(out)
}

/// Removes the live rows of a document (soft delete, journalled).
pub async fn remove_rows<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    document_type: &str,
    document_id: Uuid,
) -> StoreResult<()> {
    for r in rows_of(db, document_type, document_id).await? {
        records::soft_delete::<product_row::Entity, _>(db, actor, r.id, None, records::snapshot)
            .await?;
    }
    Ok(())
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

/// Another request changed the quote between our read and our write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raced;

/// One status change of the current version, as the API decided it.
pub struct Transition<'a> {
    /// The action's name (`send`, `accept`, `reject`, `new-version`), also the journal action.
    pub action: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub comment: Option<&'a str>,
}

/// Writes a status change of a quote version: `UPDATE quote_versions … WHERE id = ? AND
/// status = :from AND version = :v`, then the quote's mirror fields under its own version, a
/// transition row and the journal entry (timeline of the quote) — all in the caller's
/// transaction. `Raced` when either compare-and-set finds the record changed; the caller must
/// then roll back.
pub async fn record_transition<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    t: Transition<'_>,
    quote_before: &quote::Model,
    mut quote_after: quote::Model,
    version_before: &quote_version::Model,
    mut version_after: quote_version::Model,
) -> StoreResult<Result<(quote::Model, quote_version::Model), Raced>> {
    let at = now();
    version_after.version = version_before.version + 1;
    version_after.updated_at = at;
    let res = quote_version::Entity::update_many()
        .set(version_after.clone().into_active_model().reset_all())
        .filter(quote_version::Column::Id.eq(version_before.id))
        .filter(quote_version::Column::Status.eq(t.from))
        .filter(quote_version::Column::Version.eq(version_before.version))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(Err(Raced));
    }
    let Ok(quote_after) = save_quote(db, quote_before, &mut quote_after, at).await? else {
        return Ok(Err(Raced));
    };
    log_transition(db, actor, quote_before.id, version_before.number, &t, at).await?;
    journal_quote(db, actor, t.action, quote_before, &quote_after, t.comment).await?;
    Ok(Ok((quote_after, version_after)))
}

/// Writes the quote's fields under compare-and-set on its version (no journal).
async fn save_quote<C: ConnectionTrait>(
    db: &C,
    before: &quote::Model,
    after: &mut quote::Model,
    at: DateTime<Utc>,
) -> StoreResult<Result<quote::Model, Raced>> {
    after.version = before.version + 1;
    after.updated_at = at;
    let res = quote::Entity::update_many()
        .set(after.clone().into_active_model().reset_all())
        .filter(quote::Column::Id.eq(before.id))
        .filter(quote::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(Err(Raced));
    }
    Ok(Ok(after.clone()))
}

/// The quote's timeline entry for `action`, with the changed fields.
pub async fn journal_quote<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: &str,
    before: &quote::Model,
    after: &quote::Model,
    comment: Option<&str>,
) -> StoreResult<()> {
    let (b, a) = (snapshot(before), snapshot(after));
    journal::record(
        db,
        actor,
        Change {
            entity_type: "quote",
            entity_id: before.id,
            action,
            before: Some(&b),
            after: Some(&a),
            comment,
        },
    )
    .await
}

/// Saves a changed quote under compare-and-set and journals it as `action`: for changes that
/// are not status transitions (a new draft version, edits of the draft).
pub async fn save_quote_as<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: &str,
    before: &quote::Model,
    mut after: quote::Model,
    comment: Option<&str>,
) -> StoreResult<Result<quote::Model, Raced>> {
    let saved = match save_quote(db, before, &mut after, now()).await? {
        Ok(s) => s,
        Err(r) => return Ok(Err(r)),
    };
    journal_quote(db, actor, action, before, &saved, comment).await?;
    Ok(Ok(saved))
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
