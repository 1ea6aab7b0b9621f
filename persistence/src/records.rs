//! The shared life cycle of every versioned business record: create, read, optimistic update
//! (API-5) and soft delete (ACT-4), each journalled in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    PrimaryKeyTrait, QueryFilter, Statement,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::journal::{self, Actor, Change, now};

/// A table whose rows carry `id`, `version`, `updated_at` and `deleted_at`.
pub trait VersionedRecord: EntityTrait
where
    Self::Model: Serialize + Clone + PartialEq + Send + Sync + IntoActiveModel<Self::ActiveModel>,
    Self::ActiveModel: ActiveModelTrait<Entity = Self> + Send,
    <Self::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    /// Name of the record type in the audit journal and the event feed, e.g. `organization`.
    const RECORD_TYPE: &'static str;
    fn id_column() -> Self::Column;
    fn version_column() -> Self::Column;
    fn deleted_column() -> Self::Column;
    fn id(m: &Self::Model) -> Uuid;
    fn version(m: &Self::Model) -> i32;
    fn touch(m: &mut Self::Model, version: i32, at: DateTime<Utc>);
    fn set_deleted(m: &mut Self::Model, at: DateTime<Utc>);
}

pub fn snapshot<T: Serialize>(m: &T) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

/// Reads a live (not deleted) record.
pub async fn find<E, C>(db: &C, id: Uuid) -> StoreResult<E::Model>
where
    E: VersionedRecord,
    E::Model: Serialize + Clone + PartialEq + Send + Sync + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    C: ConnectionTrait,
{
    E::find()
        .filter(E::id_column().eq(id))
        .filter(E::deleted_column().is_null())
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Inserts `model` and journals its creation; `present` gives the record's public
/// representation (what its `GET` answers), which the event carries.
pub async fn create<E, C>(
    db: &C,
    actor: &Actor,
    model: E::Model,
    present: impl FnOnce(&E::Model) -> Value,
) -> StoreResult<E::Model>
where
    E: VersionedRecord,
    E::Model: Serialize + Clone + PartialEq + Send + Sync + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    C: ConnectionTrait,
{
    let am = model.clone().into_active_model().reset_all();
    E::insert(am).exec_without_returning(db).await?;
    let after = present(&model);
    journal::record(
        db,
        actor,
        Change {
            entity_type: E::RECORD_TYPE,
            entity_id: E::id(&model),
            action: "created",
            before: None,
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    Ok(model)
}

/// Applies `edit` to the current record as one compare-and-set on its version, refusing with
/// `StaleVersion` when `expected_version` (the caller's `If-Match`) is not current, and
/// journals the field changes of its public representation (`present`). `edit` returns a
/// domain error to abort without writing.
pub async fn update<E, C, F, X>(
    db: &C,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    edit: F,
    present: impl Fn(&E::Model) -> Value,
) -> StoreResult<Result<E::Model, X>>
where
    E: VersionedRecord,
    E::Model: Serialize + Clone + PartialEq + Send + Sync + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    C: ConnectionTrait,
    F: FnOnce(&mut E::Model) -> Result<(), X>,
{
    let current = find::<E, C>(db, id).await?;
    let version = E::version(&current);
    check_version(expected_version, version)?;
    let mut next = current.clone();
    if let Err(x) = edit(&mut next) {
        return Ok(Err(x));
    }
    // Compared as models, not snapshots: a snapshot leaves secrets out, and a changed
    // password must still be written.
    if current == next {
        return Ok(Ok(current));
    }
    let before = present(&current);
    E::touch(&mut next, version + 1, now());
    write_if_version::<E, C>(db, &next, version).await?;
    account_written::<E>(id);
    let after = present(&next);
    journal::record(
        db,
        actor,
        Change {
            entity_type: E::RECORD_TYPE,
            entity_id: id,
            action: "updated",
            before: Some(&before),
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    Ok(Ok(next))
}

/// Marks the record deleted (it stays for the audit trail and tombstones in the feed).
pub async fn soft_delete<E, C>(
    db: &C,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    present: impl FnOnce(&E::Model) -> Value,
) -> StoreResult<()>
where
    E: VersionedRecord,
    E::Model: Serialize + Clone + PartialEq + Send + Sync + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    C: ConnectionTrait,
{
    let current = find::<E, C>(db, id).await?;
    let version = E::version(&current);
    check_version(expected_version, version)?;
    let mut next = current.clone();
    let at = now();
    E::touch(&mut next, version + 1, at);
    E::set_deleted(&mut next, at);
    write_if_version::<E, C>(db, &next, version).await?;
    account_written::<E>(id);
    let before = present(&current);
    journal::record(
        db,
        actor,
        Change {
            entity_type: E::RECORD_TYPE,
            entity_id: id,
            action: "deleted",
            before: Some(&before),
            after: None,
            comment: None,
        },
    )
    .await?;
    Ok(())
}

/// A user's account state (active, roles) is cached for authentication; a write of a user
/// record makes the next request read it again.
fn account_written<E>(id: Uuid)
where
    E: VersionedRecord,
    E::Model: Serialize + Clone + PartialEq + Send + Sync + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    if E::RECORD_TYPE == <user::Entity as VersionedRecord>::RECORD_TYPE {
        crate::accounts::changed(id);
    }
}

/// The caller's `If-Match` (when sent) must name the current version.
fn check_version(expected: Option<i32>, current: i32) -> StoreResult<()> {
    match expected {
        Some(expected) if expected != current => {
            Err(StoreError::StaleVersion { expected, current })
        }
        _ => Ok(()),
    }
}

/// `UPDATE … WHERE id = :id AND version = :v`: a concurrent writer that got there first makes
/// this affect no row, and the caller learns its version is stale.
async fn write_if_version<E, C>(db: &C, next: &E::Model, version: i32) -> StoreResult<()>
where
    E: VersionedRecord,
    E::Model: Serialize + Clone + PartialEq + Send + Sync + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    C: ConnectionTrait,
{
    let am = next.clone().into_active_model().reset_all();
    let res = E::update_many()
        .set(am)
        .filter(E::id_column().eq(E::id(next)))
        .filter(E::version_column().eq(version))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(StoreError::StaleVersion {
            expected: version,
            current: version + 1,
        });
    }
    Ok(())
}

/// Implements [`VersionedRecord`] for an entity module with the standard columns.
#[macro_export]
macro_rules! versioned_record {
    ($module:ident, $record_type:literal) => {
        impl $crate::records::VersionedRecord for $module::Entity {
            const RECORD_TYPE: &'static str = $record_type;
            fn id_column() -> $module::Column {
                $module::Column::Id
            }
            fn version_column() -> $module::Column {
                $module::Column::Version
            }
            fn deleted_column() -> $module::Column {
                $module::Column::DeletedAt
            }
            fn id(m: &$module::Model) -> uuid::Uuid {
                m.id
            }
            fn version(m: &$module::Model) -> i32 {
                m.version
            }
            fn touch(m: &mut $module::Model, version: i32, at: chrono::DateTime<chrono::Utc>) {
                m.version = version;
                m.updated_at = at;
            }
            fn set_deleted(m: &mut $module::Model, at: chrono::DateTime<chrono::Utc>) {
                m.deleted_at = Some(at);
            }
        }
    };
}

use crate::entity::{bank_account, department, lead, organization, user};
versioned_record!(user, "user");
versioned_record!(department, "department");
versioned_record!(organization, "organization");
versioned_record!(bank_account, "organization_bank_account");

use crate::entity::{company, contact, legal_entity, legal_entity_bank_account};
versioned_record!(company, "company");
versioned_record!(legal_entity, "legal_entity");
versioned_record!(legal_entity_bank_account, "legal_entity_bank_account");
versioned_record!(contact, "contact");
// Sales
use crate::entity::{deal, pipeline, pipeline_stage, product, product_row};
versioned_record!(product, "product");
versioned_record!(pipeline, "pipeline");
versioned_record!(pipeline_stage, "pipeline_stage");
versioned_record!(deal, "deal");
versioned_record!(product_row, "product_row");
use crate::entity::{activity, activity_time_entry, calendar_event, file};
versioned_record!(activity, "activity");
versioned_record!(activity_time_entry, "activity_time_entry");
versioned_record!(calendar_event, "calendar_event");
versioned_record!(file, "file");
versioned_record!(lead, "lead");
use crate::entity::{automation_rule, invoice, numbering_template, payment};
versioned_record!(numbering_template, "numbering_template");
versioned_record!(invoice, "invoice");
versioned_record!(payment, "payment");
versioned_record!(automation_rule, "automation_rule");
use crate::entity::{approval_step, pool, supplier_invoice, task};
versioned_record!(pool, "pool");
versioned_record!(approval_step, "approval_step");
versioned_record!(task, "task");
versioned_record!(supplier_invoice, "supplier_invoice");
use crate::entity::task_billing;
versioned_record!(task_billing, "task_billing");

/// On PostgreSQL, waits for and holds the row lock of `table`'s row `id` until commit, so that
/// what is read next is the latest committed row and the compare-and-set that follows does not
/// lose a race it merely queued behind. Callers take locks in one fixed order (see the money
/// movements) so that two transactions cannot deadlock. SQLite's single writer already
/// serialises write transactions, so there it is a no-op.
pub async fn lock_row<C: ConnectionTrait>(db: &C, table: &str, id: Uuid) -> StoreResult<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT 1 FROM {table} WHERE id = $1 FOR UPDATE"),
        [sea_orm::Value::from(id)],
    ))
    .await?;
    Ok(())
}
// CommerceML 2 exchange (INT-1C-1)
use crate::entity::{price_type, product_group, warehouse};
versioned_record!(product_group, "product_group");
versioned_record!(price_type, "price_type");
versioned_record!(warehouse, "warehouse");
// Business processes (WF-BP-1..6)
use crate::entity::{process_instance, process_template, process_template_version};
versioned_record!(process_template, "process_template");
versioned_record!(process_template_version, "process_template_version");
versioned_record!(process_instance, "process_instance");
