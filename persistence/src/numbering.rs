//! WF-NUM: document numbers from numbering templates, unique and gap-free per template and
//! period on both backends and with several server instances.
//!
//! The counter of a template and period is one row of `numbering_counters`, incremented by a
//! single `INSERT … ON CONFLICT DO UPDATE … RETURNING` inside the transaction that issues the
//! document. On PostgreSQL that row stays locked until the transaction commits, so a second
//! issuer waits for the first and then sees its increment; a rollback gives the number back,
//! which is what keeps the series without gaps. On SQLite the single writer serialises the
//! same statement. The critical section is that one statement plus the rest of the issuing
//! transaction, so callers take the number as late as they can.

use chrono::NaiveDate;
use sdelka_domain::numbering::{CounterReset, NumberingTemplate};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Select, Statement, Value,
};
use uuid::Uuid;

use crate::entity::{numbering_template, organization};
use crate::error::{StoreError, StoreResult};

/// Document types that may have a numbering template.
pub const DOCUMENT_TYPES: [&str; 7] = [
    "invoice",
    "quote",
    "order",
    "contract",
    "act",
    "supplier_invoice",
    "shipment",
];

pub fn parse_reset(s: &str) -> Option<CounterReset> {
    [
        CounterReset::Never,
        CounterReset::Yearly,
        CounterReset::Quarterly,
        CounterReset::Monthly,
        CounterReset::Daily,
    ]
    .into_iter()
    .find(|r| r.as_str() == s)
}

/// The value of `numbering_templates.live_key` for a live template.
pub fn live_key(organization_id: Uuid, document_type: &str) -> String {
    format!("{organization_id}:{document_type}")
}

/// A number taken for a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenNumber {
    pub number: String,
    pub template_id: Uuid,
    pub period: String,
    pub counter: i64,
}

/// Why no number can be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberingRefusal {
    #[error(
        "organisation {organization_id} has no numbering template for `{document_type}`; create one under /numbering-templates"
    )]
    NoTemplate {
        organization_id: Uuid,
        document_type: String,
    },
}

/// The live template of an organisation for a document type.
pub async fn template_for<C: ConnectionTrait>(
    db: &C,
    organization_id: Uuid,
    document_type: &str,
) -> StoreResult<Option<numbering_template::Model>> {
    Ok(numbering_template::Entity::find()
        .filter(numbering_template::Column::LiveKey.eq(live_key(organization_id, document_type)))
        .filter(numbering_template::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

pub fn templates_query(
    organization_id: Option<Uuid>,
    document_type: Option<&str>,
    updated_since: Option<chrono::DateTime<chrono::Utc>>,
) -> Select<numbering_template::Entity> {
    let mut q =
        numbering_template::Entity::find().filter(numbering_template::Column::DeletedAt.is_null());
    if let Some(o) = organization_id {
        q = q.filter(numbering_template::Column::OrganizationId.eq(o));
    }
    if let Some(t) = document_type {
        q = q.filter(numbering_template::Column::DocumentType.eq(t.to_owned()));
    }
    if let Some(t) = updated_since {
        q = q.filter(numbering_template::Column::UpdatedAt.gte(t));
    }
    q
}

fn parsed(t: &numbering_template::Model) -> StoreResult<(NumberingTemplate, CounterReset)> {
    // Templates are validated when saved; a stored one that no longer parses is a defect.
    let template = NumberingTemplate::parse(&t.template).map_err(|e| {
        StoreError::Database(sea_orm::DbErr::Custom(format!(
            "numbering template {} is invalid: {e}",
            t.id
        )))
    })?;
    let reset = parse_reset(&t.reset).ok_or_else(|| {
        StoreError::Database(sea_orm::DbErr::Custom(format!(
            "numbering template {} has an unknown reset `{}`",
            t.id, t.reset
        )))
    })?;
    Ok((template, reset))
}

async fn organisation_code<C: ConnectionTrait>(
    db: &C,
    organization_id: Uuid,
) -> StoreResult<String> {
    Ok(organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .map(|o| o.code)
        .unwrap_or_default())
}

fn sql(backend: DbBackend, sqlite: &str, postgres: &str) -> String {
    match backend {
        DbBackend::Postgres => postgres.to_owned(),
        _ => sqlite.to_owned(),
    }
}

/// The next number of `template` for a document dated `date`, without taking it.
pub async fn preview<C: ConnectionTrait>(
    db: &C,
    template: &numbering_template::Model,
    date: NaiveDate,
) -> StoreResult<TakenNumber> {
    let (t, reset) = parsed(template)?;
    let period = reset.period_of(date);
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "SELECT value FROM numbering_counters WHERE template_id = ? AND period = ?",
                "SELECT value FROM numbering_counters WHERE template_id = $1 AND period = $2",
            ),
            [Value::from(template.id), Value::from(period.clone())],
        ))
        .await?;
    let last: i64 = match row {
        Some(r) => r.try_get("", "value")?,
        None => 0,
    };
    let counter = last + 1;
    let code = organisation_code(db, template.organization_id).await?;
    Ok(TakenNumber {
        number: t.format(date, &code, counter as u64),
        template_id: template.id,
        period,
        counter,
    })
}

/// Takes the next number of the organisation's template for `document_type`, for a document
/// dated `date`. Call inside the transaction that issues the document: the number is kept
/// only if that transaction commits.
pub async fn take_number<C: ConnectionTrait>(
    txn: &C,
    organization_id: Uuid,
    document_type: &str,
    date: NaiveDate,
) -> StoreResult<Result<TakenNumber, NumberingRefusal>> {
    let Some(template) = template_for(txn, organization_id, document_type).await? else {
        return Ok(Err(NumberingRefusal::NoTemplate {
            organization_id,
            document_type: document_type.to_owned(),
        }));
    };
    let (t, reset) = parsed(&template)?;
    let code = organisation_code(txn, organization_id).await?;
    let period = reset.period_of(date);
    let backend = txn.get_database_backend();
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "INSERT INTO numbering_counters (template_id, period, value) VALUES (?, ?, 1) \
                 ON CONFLICT (template_id, period) DO UPDATE SET value = numbering_counters.value + 1 \
                 RETURNING value",
                "INSERT INTO numbering_counters (template_id, period, value) VALUES ($1, $2, 1) \
                 ON CONFLICT (template_id, period) DO UPDATE SET value = numbering_counters.value + 1 \
                 RETURNING value",
            ),
            [Value::from(template.id), Value::from(period.clone())],
        ))
        .await?
        .ok_or_else(|| {
            StoreError::Database(sea_orm::DbErr::Custom(
                "the counter upsert returned no row".into(),
            ))
        })?;
    let counter: i64 = row.try_get("", "value")?;
    Ok(Ok(TakenNumber {
        number: t.format(date, &code, counter as u64),
        template_id: template.id,
        period,
        counter,
    }))
}

/// For documents whose numbering is optional (quotes, orders): the next number when the
/// organisation keeps a template for `document_type`, `None` when it does not. Invoices, which
/// must be numbered, use [`take_number`] and refuse to issue without a template.
pub async fn take_number_if_templated<C: ConnectionTrait>(
    txn: &C,
    organization_id: Uuid,
    document_type: &str,
    date: NaiveDate,
) -> StoreResult<Option<String>> {
    Ok(take_number(txn, organization_id, document_type, date)
        .await?
        .ok()
        .map(|t| t.number))
}
