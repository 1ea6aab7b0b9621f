//! Task billing into deals (WF-BILL-1). When a task linked to a deal is completed, the time
//! spent on it goes into the deal: into its first product row, as a row of the catalog
//! product named as the task (created when missing), or as a plain row. Two places ask for
//! it with the same [`BillTime`]: the `task_completed` automation rules (run here, from the
//! task completion) and the process engine's `bill_time` action and template billing, which
//! call [`bill_task_time`]. Either way it happens in the completion's transaction, once per
//! task: the billing record's task is unique.

use sdelka_domain::automation::{Action, TaskCompletedFacts};
use sdelka_domain::billing::{self, BillTime, BillingPlan, FirstRow};
use sdelka_domain::money::{Money, Quantity};
use sdelka_domain::product_row::UnitCode;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use crate::entity::{activity, activity_time_entry, deal, task, task_billing};
use crate::journal::now;
use crate::notifications::{EntityRef, notify, notify_and_email};
use crate::records;
use crate::sales::{DEAL_ROWS, rows_of};
use crate::{Actor, StoreError};

use super::deals::{NewProductRow, UpdateProductRow, add_deal_row, change_deal_row};
use super::products::{CreateProduct, find_or_create_in};
use super::{Caller, Error, ErrorCode, OpResult, present};

/// The trigger type of the automation rules a completed task wakes.
pub const TRIGGER_TASK_COMPLETED: &str = "task_completed";
/// OKEI 356: hours.
const HOURS_UNIT: &str = "356";
const HOURS_UNIT_NAME: &str = "ч";

fn public(b: &task_billing::Model) -> serde_json::Value {
    present(b)
}

/// The deal a task is about: the deal itself (`subject_type = deal`, a process step's task),
/// or the deal of the activity whose task it is.
pub async fn deal_of_task<C: ConnectionTrait>(db: &C, t: &task::Model) -> OpResult<Option<Uuid>> {
    match (t.subject_type.as_deref(), t.subject_id) {
        (Some("deal"), Some(id)) => Ok(Some(id)),
        (Some("activity"), Some(id)) => Ok(activity::Entity::find_by_id(id)
            .one(db)
            .await
            .map_err(StoreError::from)?
            .filter(|a| a.owner_type.as_deref() == Some("deal"))
            .and_then(|a| a.owner_id)),
        _ => Ok(None),
    }
}

/// The minutes a task took: as given when it was completed, or else the time entries of its
/// activity.
async fn minutes_of<C: ConnectionTrait>(db: &C, t: &task::Model) -> OpResult<u32> {
    if let Some(m) = t.time_spent_minutes {
        return Ok(u32::try_from(m).unwrap_or(0));
    }
    match (t.subject_type.as_deref(), t.subject_id) {
        (Some("activity"), Some(id)) => {
            let entries = activity_time_entry::Entity::find()
                .filter(activity_time_entry::Column::ActivityId.eq(id))
                .filter(activity_time_entry::Column::DeletedAt.is_null())
                .all(db)
                .await
                .map_err(StoreError::from)?;
            let total: i64 = entries.iter().map(|e| i64::from(e.minutes.max(0))).sum();
            Ok(u32::try_from(total).unwrap_or(u32::MAX))
        }
        _ => Ok(0),
    }
}

/// Runs the enabled `task_completed` automation rules of the deal's pipeline for a task just
/// completed, in the completion's transaction: `bill_time` bills it, the notify actions tell
/// the deal's people. A task not linked to a live deal wakes nothing.
pub async fn on_task_completed<C>(txn: &C, caller: &Caller, t: &task::Model) -> OpResult<()>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let Some(deal_id) = deal_of_task(txn, t).await? else {
        return Ok(());
    };
    let d = match records::find::<deal::Entity, _>(txn, deal_id).await {
        Ok(d) => d,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let rules =
        crate::automation::enabled_rules(txn, TRIGGER_TASK_COMPLETED, d.pipeline_id).await?;
    let facts = TaskCompletedFacts { kind: &t.kind };
    let actor = caller.actor();
    let about = Some(EntityRef {
        entity_type: "deal",
        entity_id: d.id,
    });
    let title = format!("Задача выполнена по сделке «{}»", d.title);
    let body = format!("Задача: {}", t.title);
    for rule in rules.iter().filter(|r| r.fires_on_task(&facts)) {
        for action in &rule.actions {
            let (to, email) = match action {
                Action::BillTime { .. } => {
                    if let Some(b) = action.billing() {
                        bill_task_time(txn, &actor, t.id, &b).await?;
                    }
                    continue;
                }
                Action::NotifySupervisor { email } => (
                    crate::people::supervisor_of(txn, d.responsible_id).await?,
                    *email,
                ),
                Action::NotifyResponsible { email } => (Some(d.responsible_id), *email),
                Action::NotifyUser { user_id, email } => (Some(*user_id), *email),
            };
            let Some(to) = to else { continue };
            if email {
                notify_and_email(txn, to, "task_completed", &title, &body, about).await?;
            } else {
                notify(txn, to, "task_completed", &title, &body, about).await?;
            }
        }
    }
    Ok(())
}

/// Bills the time of the completed task `task_id` into its deal as `config` says, in the
/// caller's transaction, and answers the billing record. Exactly once per task: a task
/// already billed answers its record and changes nothing. A task without a live deal or
/// without time spent bills nothing (`None`).
pub async fn bill_task_time<C>(
    txn: &C,
    actor: &Actor,
    task_id: Uuid,
    config: &BillTime,
) -> OpResult<Option<task_billing::Model>>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    if let Some(done) = billing_of(txn, task_id).await? {
        return Ok(Some(done));
    }
    let t = records::find::<task::Entity, _>(txn, task_id).await?;
    if t.state != crate::approvals::TASK_COMPLETED {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("the task is {}: only a completed task is billed", t.state),
        ));
    }
    let Some(deal_id) = deal_of_task(txn, &t).await? else {
        return Ok(None);
    };
    let d = match records::find::<deal::Entity, _>(txn, deal_id).await {
        Ok(d) => d,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let minutes = minutes_of(txn, &t).await?;
    let Some(hours) = billing::hours(minutes) else {
        return Ok(None);
    };
    let rows = rows_of(txn, DEAL_ROWS, d.id).await?;
    let first = rows.first();
    let first_row = match first {
        Some(r) => Some(FirstRow {
            quantity: Quantity::from_thousandths(r.quantity_thousandths)
                .map_err(Error::internal)?,
            price: Money::from_minor(r.price_minor),
        }),
        None => None,
    };
    let plan = billing::plan(config, hours, first_row)
        .map_err(|e| Error::field("time_spent_minutes", "out_of_range", e.to_string()))?;
    let unit = UnitCode::parse(HOURS_UNIT).map_err(Error::internal)?;
    let title = t.title.trim().to_owned();
    let (row, product_id, product_created) = match (plan, first) {
        (BillingPlan::UpdateFirstRow { quantity, price }, Some(current)) => {
            let change = UpdateProductRow {
                name: None,
                quantity: Some(quantity),
                unit_code: None,
                unit_name: None,
                price: Some(price),
                discount_percent: None,
                discount_amount: None,
                vat_rate: None,
                vat_included: None,
            };
            let row = change_deal_row(txn, actor, &d, current, None, &change).await?;
            (row, current.product_id, false)
        }
        (BillingPlan::AddProductRow { quantity, price }, _) => {
            let (product, created) = find_or_create_in(
                txn,
                actor,
                &CreateProduct {
                    name: title.clone(),
                    sku: None,
                    unit_code: Some(unit.clone()),
                    unit_name: Some(HOURS_UNIT_NAME.to_owned()),
                    base_price: price,
                    currency: Some(d.currency.clone()),
                    vat_rate: None,
                    section: None,
                    active: None,
                    external_id: None,
                },
            )
            .await?;
            // The product's own price when the billing names none; a product priced in
            // another currency than the deal's cannot lend its price.
            let price = price
                .or_else(|| {
                    (product.currency == d.currency)
                        .then(|| Money::from_minor(product.base_price_minor))
                })
                .unwrap_or(Money::ZERO);
            let row = add_deal_row(
                txn,
                actor,
                &d,
                &NewProductRow {
                    product_id: Some(product.id),
                    name: None,
                    quantity: Some(quantity),
                    unit_code: None,
                    unit_name: None,
                    price: Some(price),
                    discount_percent: None,
                    discount_amount: None,
                    vat_rate: None,
                    vat_included: None,
                },
            )
            .await?;
            (row, Some(product.id), created)
        }
        (BillingPlan::AddPlainRow { quantity, price }, _)
        | (BillingPlan::UpdateFirstRow { quantity, price }, None) => {
            let row = add_deal_row(
                txn,
                actor,
                &d,
                &NewProductRow {
                    product_id: None,
                    name: Some(title.clone()),
                    quantity: Some(quantity),
                    unit_code: Some(unit.clone()),
                    unit_name: Some(HOURS_UNIT_NAME.to_owned()),
                    price: Some(price),
                    discount_percent: None,
                    discount_amount: None,
                    vat_rate: None,
                    vat_included: None,
                },
            )
            .await?;
            (row, None, false)
        }
    };
    let at = now();
    let model = task_billing::Model {
        id: Uuid::now_v7(),
        task_id: t.id,
        deal_id: d.id,
        mode: config.mode.as_str().to_owned(),
        minutes: i32::try_from(minutes).unwrap_or(i32::MAX),
        quantity_thousandths: hours.to_thousandths(),
        price_minor: row.price_minor,
        product_id,
        product_created,
        product_row_id: row.id,
        billed_by: actor.user_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let saved = match records::create::<task_billing::Entity, _>(txn, actor, model, public).await {
        Ok(b) => b,
        Err(StoreError::Duplicate(_)) => {
            return Err(Error::new(
                ErrorCode::Conflict,
                "the task was billed meanwhile; read it again",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if config.notify_responsible {
        let price = Money::from_minor(row.price_minor);
        notify_and_email(
            txn,
            d.responsible_id,
            "task_billed",
            &format!("Время задачи в сделке «{}»", d.title),
            &format!(
                "Задача: {title}\nЧасов: {hours}\nЦена часа: {price} {}\nСтрока сделки: {}",
                d.currency, row.name
            ),
            Some(EntityRef {
                entity_type: "deal",
                entity_id: d.id,
            }),
        )
        .await?;
    }
    Ok(Some(saved))
}

/// The billing record of a task, if it was billed.
pub async fn billing_of<C: ConnectionTrait>(
    db: &C,
    task_id: Uuid,
) -> OpResult<Option<task_billing::Model>> {
    Ok(task_billing::Entity::find()
        .filter(task_billing::Column::TaskId.eq(task_id))
        .filter(task_billing::Column::DeletedAt.is_null())
        .one(db)
        .await
        .map_err(StoreError::from)?)
}
