//! Who may see which record, for the routes that address any record by type and id (timeline,
//! comments). One exhaustive match: a new record type must say how it is guarded.

use crate::entity::invoice;
use crate::entity::{
    activity, calendar_event, deal, department, lead, organization, pipeline, product, user,
};
use crate::entity::{order, quote};
use crate::records::VersionedRecord;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};
use uuid::Uuid;

use super::Caller;
use super::timeline::TimelineEntity;
use super::{Error, OpResult};

/// Whether the record exists: live only, or also deleted (`history`: its timeline stays
/// readable after deletion, it just takes no new comments).
pub async fn exists<E, C>(db: &C, id: Uuid, history: bool) -> OpResult<Option<E::Model>>
where
    E: VersionedRecord,
    E::Model: serde::Serialize
        + Clone
        + PartialEq
        + Send
        + Sync
        + sea_orm::IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: sea_orm::ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
    C: ConnectionTrait,
{
    let mut q = E::find().filter(E::id_column().eq(id));
    if !history {
        q = q.filter(E::deleted_column().is_null());
    }
    Ok(q.one(db).await?)
}

/// 404 unless the record exists and the caller may see it.
pub async fn ensure_visible<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    entity: TimelineEntity,
    id: Uuid,
    history: bool,
) -> OpResult<()> {
    let responsible: Option<Uuid> = match entity {
        TimelineEntity::Users => {
            let visible = caller.is_admin() || caller.user_id == id;
            let found = exists::<user::Entity, _>(db, id, history).await?.is_some();
            return if visible && found {
                Ok(())
            } else {
                Err(Error::not_found())
            };
        }
        // Shared reference data: every employee sees it.
        TimelineEntity::Departments => {
            return found(exists::<department::Entity, _>(db, id, history).await?);
        }
        TimelineEntity::Organizations => {
            return found(exists::<organization::Entity, _>(db, id, history).await?);
        }
        TimelineEntity::Products => {
            return found(exists::<product::Entity, _>(db, id, history).await?);
        }
        TimelineEntity::Pipelines => {
            return found(exists::<pipeline::Entity, _>(db, id, history).await?);
        }
        TimelineEntity::Companies | TimelineEntity::LegalEntities | TimelineEntity::Contacts => {
            let scope = caller.visibility(db).await?;
            let visible =
                crate::clients::record_visible(db, &scope, entity.record_type(), id).await?;
            return if visible == Some(true) {
                Ok(())
            } else {
                Err(Error::not_found())
            };
        }
        TimelineEntity::Deals => exists::<deal::Entity, _>(db, id, history)
            .await?
            .map(|d| d.responsible_id),
        TimelineEntity::Leads => exists::<lead::Entity, _>(db, id, history)
            .await?
            .map(|l| l.responsible_id),
        TimelineEntity::Activities => exists::<activity::Entity, _>(db, id, history)
            .await?
            .map(|a| a.responsible_id),
        TimelineEntity::CalendarEvents => {
            if exists::<calendar_event::Entity, _>(db, id, history)
                .await?
                .is_none()
            {
                return Err(Error::not_found());
            }
            super::calendar::visible_event(db, caller, id).await?;
            return Ok(());
        }
        TimelineEntity::Files => {
            // Boxed: a file's visibility asks this function about the record it hangs on.
            Box::pin(super::files::visible_file(db, caller, id)).await?;
            return Ok(());
        }
        TimelineEntity::Quotes => exists::<quote::Entity, _>(db, id, history)
            .await?
            .map(|q| q.responsible_id),
        TimelineEntity::Orders => exists::<order::Entity, _>(db, id, history)
            .await?
            .map(|o| o.responsible_id),
        TimelineEntity::Invoices => {
            let Some(i) = exists::<invoice::Entity, _>(db, id, history).await? else {
                return Err(Error::not_found());
            };
            if super::invoices::sees_all_invoices(caller) {
                return Ok(());
            }
            Some(i.responsible_id)
        }
        TimelineEntity::Payments => {
            if !super::payments::MONEY_STAFF.iter().any(|r| caller.has(*r)) {
                return Err(Error::not_found());
            }
            super::payments::visible_payment(db, caller, id, history).await?;
            return Ok(());
        }
        // No such records exist yet.
        TimelineEntity::Contracts => None,
        TimelineEntity::SupplierInvoices => {
            let viewer = super::approvals::invoice_viewer(db, caller).await?;
            crate::approvals::visible_invoice(db, &viewer, id).await?;
            return Ok(());
        }
        TimelineEntity::Tasks => {
            super::approvals::visible_task(db, caller, id).await?;
            return Ok(());
        }
    };
    match responsible {
        Some(r) if caller.visibility(db).await?.allows(Some(r)) => Ok(()),
        _ => Err(Error::not_found()),
    }
}

pub fn found<T>(record: Option<T>) -> OpResult<()> {
    record.map(|_| ()).ok_or_else(Error::not_found)
}
