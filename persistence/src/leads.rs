//! CRM-4 leads and the INT-CSV import ledger.

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select, Set,
};
use uuid::Uuid;

use crate::entity::{import, lead};
use crate::error::StoreResult;
use crate::jobs::{self, LeaseQueue};
use crate::journal::now;
use crate::people::contains;

/// Folded text a lead is found by (title, company, contact, phone, email, INN).
pub fn search_text(l: &lead::Model) -> String {
    [
        Some(l.title.as_str()),
        l.company_name.as_deref(),
        l.contact_name.as_deref(),
        l.phone.as_deref(),
        l.email.as_deref(),
        l.inn.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase()
}

#[derive(Debug, Default)]
pub struct LeadFilter {
    pub q: Option<String>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub source: Option<String>,
    pub responsible_id: Option<Uuid>,
    pub import_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn leads_query(f: &LeadFilter) -> Select<lead::Entity> {
    let mut q = lead::Entity::find().filter(lead::Column::DeletedAt.is_null());
    if let Some(text) = &f.q {
        q = q.filter(contains(lead::Column::SearchText, &text.to_lowercase()));
    }
    if let Some(s) = &f.status {
        q = q.filter(lead::Column::Status.eq(s.clone()));
    }
    if let Some(c) = &f.category {
        q = q.filter(lead::Column::Category.eq(c.clone()));
    }
    if let Some(s) = &f.source {
        q = q.filter(lead::Column::Source.eq(s.clone()));
    }
    if let Some(r) = f.responsible_id {
        q = q.filter(lead::Column::ResponsibleId.eq(r));
    }
    if let Some(i) = f.import_id {
        q = q.filter(lead::Column::ImportId.eq(i));
    }
    if let Some(e) = &f.external_id {
        q = q.filter(lead::Column::ExternalId.eq(e.clone()));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(lead::Column::UpdatedAt.gte(t));
    }
    q
}

/// Whether a row with this import key was already imported (by any run of any file).
pub async fn import_key_exists<C: ConnectionTrait>(db: &C, key: &str) -> StoreResult<bool> {
    Ok(lead::Entity::find()
        .filter(lead::Column::ImportKey.eq(key))
        .one(db)
        .await?
        .is_some())
}

pub async fn insert_import<C: ConnectionTrait>(
    db: &C,
    m: import::Model,
) -> StoreResult<import::Model> {
    let am: import::ActiveModel = m.clone().into();
    import::Entity::insert(am.reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(m)
}

pub async fn get_import<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> StoreResult<Option<import::Model>> {
    Ok(import::Entity::find_by_id(id).one(db).await?)
}

/// Claims one queued (or abandoned running) import for `owner` until `now + lease`; the same
/// lease as every job (see [`crate::jobs`]), so several instances never run one import twice
/// at once.
pub async fn claim_import<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    lease: Duration,
) -> StoreResult<Option<import::Model>> {
    const QUEUE: LeaseQueue = LeaseQueue {
        table: "imports",
        on_claim: ", state = 'running'",
        due: "state IN ('queued', 'running')",
        order_by: "created_at",
    };
    let mut claimed = jobs::claim::<import::Entity, C>(db, &QUEUE, owner, lease, 1).await?;
    Ok(claimed.pop())
}

/// Records progress (and extends the lease) while the import holds it.
pub async fn save_progress<C: ConnectionTrait>(
    db: &C,
    m: &import::Model,
    owner: &str,
    lease: Duration,
    finished: bool,
) -> StoreResult<bool> {
    let at = now();
    let mut am = import::ActiveModel {
        processed_rows: Set(m.processed_rows),
        total_rows: Set(m.total_rows),
        created_count: Set(m.created_count),
        skipped_count: Set(m.skipped_count),
        error_count: Set(m.error_count),
        errors: Set(m.errors.clone()),
        state: Set(m.state.clone()),
        updated_at: Set(at),
        lease_until: Set(Some(at + lease)),
        ..Default::default()
    };
    if finished {
        am.finished_at = Set(Some(at));
        am.lease_owner = Set(None);
        am.lease_until = Set(None);
        // The content is only needed to run the import.
        am.content = Set(String::new());
    }
    let res = import::Entity::update_many()
        .set(am)
        .filter(import::Column::Id.eq(m.id))
        .filter(import::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn insert_lead<C: ConnectionTrait>(db: &C, m: &lead::Model) -> StoreResult<()> {
    let am: lead::ActiveModel = m.clone().into();
    am.reset_all().insert(db).await?;
    Ok(())
}
