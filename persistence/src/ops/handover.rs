//! `POST /users/{id}/handover`: when an employee leaves (SPEC §1, "information lost when an
//! employee leaves"), everything he holds goes to a colleague in one transaction — his
//! companies, contacts, leads and deals, his open activities and tasks, his places in pools
//! and the automation rules that notify him — and he is deactivated if asked.
//!
//! Each record moves through its own operation (`update_company`, `update_deal`,
//! `delegate_task`, `set_pool`, `update_rule`, …) joined to the handover's transaction, so it
//! is checked and journalled as any change is: every moved record's timeline shows the change
//! of its responsible (or assignee, members, recipient) under the handover's request id, and
//! the leaving user's timeline shows the handover itself. A dry run lists what would move
//! without writing anything.

use std::collections::BTreeSet;

use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::approvals::{self as store, TASK_CLAIMED, TASK_OPEN};
use crate::entity::{
    activity, automation_rule, company, contact, deal, lead, pool, pool_member, task, user,
};
use crate::journal::{self, Change};
use crate::records;

use super::approvals::{TASK_DECISION, TASK_PAYMENT};
use super::pools::{PoolKind, PoolPath, SetPool};
use super::{Caller, Db, Error, OpResult, present};

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Handover {
    /// The colleague who takes over: an active user other than the one leaving.
    pub to_user_id: Uuid,
    /// Deactivate the leaving user in the same transaction. Default false.
    #[serde(default)]
    pub deactivate: bool,
    /// List what would move without writing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

/// What moved (or, in a dry run, would move), by record type, as ids.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct HandoverView {
    pub from_user_id: Uuid,
    pub to_user_id: Uuid,
    pub dry_run: bool,
    /// Whether the leaving user is (or would be) deactivated.
    pub deactivated: bool,
    pub companies: Vec<Uuid>,
    pub contacts: Vec<Uuid>,
    pub leads: Vec<Uuid>,
    pub deals: Vec<Uuid>,
    /// Activities not yet completed.
    pub activities: Vec<Uuid>,
    /// Open or claimed tasks of the inbox he is assigned or holds (a pool task he claimed goes
    /// back to its pool, which the colleague now belongs to).
    pub tasks: Vec<Uuid>,
    /// Pools he is a member of; the colleague takes his place.
    pub pools: Vec<Uuid>,
    /// Automation rules that notify him by name; they notify the colleague instead.
    pub automation_rules: Vec<Uuid>,
}

/// Whether the actions of a rule name `from` as a recipient, and the actions with `to` instead.
fn recipients_replaced(actions: &str, from: Uuid, to: Uuid) -> Option<Value> {
    let mut actions: Value = serde_json::from_str(actions).ok()?;
    let mut changed = false;
    for a in actions.as_array_mut()? {
        if a.get("user_id").and_then(Value::as_str) == Some(from.to_string().as_str()) {
            a["user_id"] = json!(to);
            changed = true;
        }
    }
    changed.then_some(actions)
}

/// Builds an update command of an area from JSON: the handover changes one field.
fn command<T: serde::de::DeserializeOwned>(v: Value) -> OpResult<T> {
    serde_json::from_value(v).map_err(Error::internal)
}

async fn plan<C: ConnectionTrait>(db: &C, from: Uuid, to: Uuid) -> OpResult<HandoverView> {
    let companies = company::Entity::find()
        .filter(company::Column::ResponsibleId.eq(from))
        .filter(company::Column::DeletedAt.is_null())
        .order_by_asc(company::Column::Id)
        .all(db)
        .await?;
    let contacts = contact::Entity::find()
        .filter(contact::Column::ResponsibleId.eq(from))
        .filter(contact::Column::DeletedAt.is_null())
        .order_by_asc(contact::Column::Id)
        .all(db)
        .await?;
    let leads = lead::Entity::find()
        .filter(lead::Column::ResponsibleId.eq(from))
        .filter(lead::Column::DeletedAt.is_null())
        .order_by_asc(lead::Column::Id)
        .all(db)
        .await?;
    let deals = deal::Entity::find()
        .filter(deal::Column::ResponsibleId.eq(from))
        .filter(deal::Column::DeletedAt.is_null())
        .order_by_asc(deal::Column::Id)
        .all(db)
        .await?;
    let activities = activity::Entity::find()
        .filter(activity::Column::ResponsibleId.eq(from))
        .filter(activity::Column::CompletedAt.is_null())
        .filter(activity::Column::DeletedAt.is_null())
        .order_by_asc(activity::Column::Id)
        .all(db)
        .await?;
    let activity_ids: BTreeSet<Uuid> = activities.iter().map(|a| a.id).collect();
    // Tasks of the activities moved above follow them; the others are listed on their own.
    let tasks = task::Entity::find()
        .filter(task::Column::DeletedAt.is_null())
        .filter(task::Column::State.is_in([TASK_OPEN, TASK_CLAIMED]))
        .filter(
            Condition::any()
                .add(task::Column::AssigneeUserId.eq(from))
                .add(task::Column::ClaimedBy.eq(from)),
        )
        .order_by_asc(task::Column::Id)
        .all(db)
        .await?;
    let tasks: Vec<Uuid> = tasks
        .into_iter()
        .filter(|t| {
            !(t.subject_type.as_deref() == Some(store::SUBJECT_ACTIVITY)
                && t.subject_id.is_some_and(|s| activity_ids.contains(&s)))
        })
        .map(|t| t.id)
        .collect();
    let pools = pool_member::Entity::find()
        .filter(pool_member::Column::UserId.eq(from))
        .all(db)
        .await?;
    let pool_ids: Vec<Uuid> = pools.iter().map(|m| m.pool_id).collect();
    let pools = if pool_ids.is_empty() {
        Vec::new()
    } else {
        pool::Entity::find()
            .filter(pool::Column::Id.is_in(pool_ids))
            .filter(pool::Column::DeletedAt.is_null())
            .order_by_asc(pool::Column::Id)
            .all(db)
            .await?
    };
    let rules = automation_rule::Entity::find()
        .filter(automation_rule::Column::DeletedAt.is_null())
        .filter(Expr::col(automation_rule::Column::Actions).like(format!("%{from}%")))
        .order_by_asc(automation_rule::Column::Id)
        .all(db)
        .await?;
    Ok(HandoverView {
        from_user_id: from,
        to_user_id: to,
        companies: companies.iter().map(|c| c.id).collect(),
        contacts: contacts.iter().map(|c| c.id).collect(),
        leads: leads.iter().map(|l| l.id).collect(),
        deals: deals.iter().map(|d| d.id).collect(),
        activities: activities.iter().map(|a| a.id).collect(),
        tasks,
        pools: pools.iter().map(|p| p.id).collect(),
        automation_rules: rules
            .iter()
            .filter(|r| recipients_replaced(&r.actions, from, to).is_some())
            .map(|r| r.id)
            .collect(),
        ..HandoverView::default()
    })
}

/// Hands everything `from` holds to `req.to_user_id` (admin only), in one transaction.
pub async fn hand_over(
    db: Db<'_>,
    caller: &Caller,
    from: Uuid,
    req: Handover,
) -> OpResult<HandoverView> {
    if !caller.is_admin() {
        return Err(Error::forbidden(
            "only an admin hands an employee's work over",
        ));
    }
    let to = req.to_user_id;
    let txn = db.begin().await?;
    let leaving = records::find::<user::Entity, _>(&txn, from).await?;
    if to == from {
        return Err(Error::field(
            "to_user_id",
            "same_user",
            "hand the work over to someone other than the user who leaves",
        ));
    }
    match records::find::<user::Entity, _>(&txn, to).await {
        Ok(u) if u.active => {}
        Ok(_) => {
            return Err(Error::field(
                "to_user_id",
                "inactive",
                format!("user {to} is deactivated and cannot take work over"),
            ));
        }
        Err(crate::StoreError::NotFound) => return Err(super::refs::unknown("to_user_id", to)),
        Err(e) => return Err(e.into()),
    }
    let mut view = plan(&txn, from, to).await?;
    view.dry_run = req.dry_run;
    view.deactivated = req.deactivate;
    if req.dry_run {
        return Ok(view);
    }
    let j = Db::Joined(&txn);
    let responsible = json!({ "responsible_id": to });
    for id in &view.companies {
        super::companies::update_company(j, caller, *id, None, command(responsible.clone())?)
            .await?;
    }
    for id in &view.contacts {
        super::contacts::update_contact(j, caller, *id, None, command(responsible.clone())?)
            .await?;
    }
    for id in &view.leads {
        super::leads::update_lead(j, caller, *id, None, command(responsible.clone())?).await?;
    }
    for id in &view.deals {
        super::deals::update_deal(j, caller, *id, None, command(responsible.clone())?).await?;
    }
    // An activity's task follows it (`follow_activity`).
    for id in &view.activities {
        super::activities::update_activity(j, caller, *id, None, command(responsible.clone())?)
            .await?;
    }
    let comment = format!("handover from {} to {to}", leaving.id);
    for id in &view.tasks {
        let t = records::find::<task::Entity, _>(&txn, *id).await?;
        if t.kind == TASK_DECISION || t.kind == TASK_PAYMENT {
            // A pool task he claimed goes back to its pool.
            if t.claimed_by == Some(from) {
                let mut next = t.clone();
                next.state = TASK_OPEN.into();
                next.claimed_by = None;
                next.claimed_at = None;
                super::approvals::transition_task(
                    &txn,
                    &caller.actor(),
                    &t,
                    next,
                    "released",
                    Some(&comment),
                )
                .await?
                .ok_or_else(|| {
                    Error::new(
                        super::ErrorCode::Conflict,
                        "a task changed during the handover; retry",
                    )
                })?;
            }
        } else {
            super::approvals::delegate_task(&txn, caller, *id, to, Some(comment.clone())).await?;
        }
    }
    for id in &view.pools {
        let p = records::find::<pool::Entity, _>(&txn, *id).await?;
        let kind = if p.kind == PoolKind::Accountants.as_str() {
            PoolKind::Accountants
        } else {
            PoolKind::DecisionMakers
        };
        let mut members: BTreeSet<Uuid> = store::members(&txn, p.id).await?.into_iter().collect();
        members.remove(&from);
        members.insert(to);
        super::pools::set_pool(
            j,
            caller,
            PoolPath {
                id: p.organization_id,
                kind,
            },
            None,
            SetPool {
                member_ids: members.into_iter().collect(),
                name: None,
            },
        )
        .await?;
    }
    for id in &view.automation_rules {
        let r = records::find::<automation_rule::Entity, _>(&txn, *id).await?;
        if let Some(actions) = recipients_replaced(&r.actions, from, to) {
            super::automation_rules::update_rule(
                j,
                caller,
                *id,
                None,
                command(json!({ "actions": actions }))?,
            )
            .await?;
        }
    }
    if req.deactivate && leaving.active {
        super::users::update_user(j, caller, from, None, command(json!({ "active": false }))?)
            .await?;
    }
    // The handover itself, on the leaving user's timeline.
    let summary = present(&view);
    let user_now = records::find::<user::Entity, _>(&txn, from).await?;
    journal::record_with_object(
        &txn,
        &caller.actor(),
        Change {
            entity_type: "user",
            entity_id: from,
            action: "handed_over",
            before: None,
            after: Some(&summary),
            comment: Some(&comment),
        },
        super::users::public(&user_now),
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}
