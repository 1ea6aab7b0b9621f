//! The shared model of human work (SPEC §3) and WF-INV storage: pools, the task inbox with
//! its visibility, supplier invoices with theirs, and the compare-and-set writes that make a
//! claim race have exactly one winner.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sdelka_domain::task::{Presence, route_to_present};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Select, Set,
};
use uuid::Uuid;

use crate::entity::{
    pool, pool_member, supplier_invoice, supplier_invoice_file, supplier_invoice_transition, task,
    user,
};
use crate::error::{StoreError, StoreResult};
use crate::journal::now;
use crate::ops::workflow::{self, Workflow};
use crate::people::contains;

pub const POOL_DECISION_MAKERS: &str = "decision_makers";
pub const POOL_ACCOUNTANTS: &str = "accountants";

pub const TASK_OPEN: &str = "open";
pub const TASK_CLAIMED: &str = "claimed";
pub const TASK_COMPLETED: &str = "completed";
pub const TASK_CANCELLED: &str = "cancelled";
/// The kind of a task set by hand (`POST /tasks`): the only kind whose author follows it;
/// workflow and activity tasks are seen through their records' own visibility.
pub const KIND_GENERAL: &str = "general";

pub const SUBJECT_SUPPLIER_INVOICE: &str = "supplier_invoice";
/// The state of a cancelled supplier invoice (no longer counts as registered).
pub const INVOICE_CANCELLED: &str = "cancelled";
pub const SUBJECT_ACTIVITY: &str = "activity";

// ---------------------------------------------------------------------------------------------
// Pools

/// The pool of `kind` of an own organisation, if configured.
pub async fn pool_of<C: ConnectionTrait>(
    db: &C,
    organization_id: Uuid,
    kind: &str,
) -> StoreResult<Option<pool::Model>> {
    Ok(pool::Entity::find()
        .filter(pool::Column::OrganizationId.eq(organization_id))
        .filter(pool::Column::Kind.eq(kind))
        .filter(pool::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

pub async fn pools_of_organization<C: ConnectionTrait>(
    db: &C,
    organization_id: Uuid,
) -> StoreResult<Vec<pool::Model>> {
    Ok(pool::Entity::find()
        .filter(pool::Column::OrganizationId.eq(organization_id))
        .filter(pool::Column::DeletedAt.is_null())
        .order_by_asc(pool::Column::Kind)
        .all(db)
        .await?)
}

pub async fn members<C: ConnectionTrait>(db: &C, pool_id: Uuid) -> StoreResult<Vec<Uuid>> {
    Ok(pool_member::Entity::find()
        .filter(pool_member::Column::PoolId.eq(pool_id))
        .order_by_asc(pool_member::Column::UserId)
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect())
}

/// Replaces the members of a pool.
pub async fn set_members<C: ConnectionTrait>(
    db: &C,
    pool_id: Uuid,
    users: &[Uuid],
) -> StoreResult<()> {
    pool_member::Entity::delete_many()
        .filter(pool_member::Column::PoolId.eq(pool_id))
        .exec(db)
        .await?;
    let unique: BTreeSet<Uuid> = users.iter().copied().collect();
    for u in unique {
        pool_member::ActiveModel {
            pool_id: Set(pool_id),
            user_id: Set(u),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The pools a user belongs to.
pub async fn pools_of_user<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> StoreResult<Vec<pool::Model>> {
    let ids: Vec<Uuid> = pool_member::Entity::find()
        .filter(pool_member::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.pool_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(pool::Entity::find()
        .filter(pool::Column::Id.is_in(ids))
        .filter(pool::Column::DeletedAt.is_null())
        .all(db)
        .await?)
}

/// What a user's pool memberships let him see and do.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    pub pool_ids: Vec<Uuid>,
    /// Own organisations whose decision-maker pool he is in.
    pub decides_for: Vec<Uuid>,
    /// Own organisations whose accountant pool he is in.
    pub pays_for: Vec<Uuid>,
}

pub async fn membership<C: ConnectionTrait>(db: &C, user_id: Uuid) -> StoreResult<Membership> {
    let mut m = Membership::default();
    // A deputy stands in for the absent colleagues he deputises for, pools included.
    let mut pools = pools_of_user(db, user_id).await?;
    let absentees = user::Entity::find()
        .filter(user::Column::DeputyId.eq(user_id))
        .filter(user::Column::Absent.eq(true))
        .filter(user::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    for a in absentees {
        for p in pools_of_user(db, a.id).await? {
            if !pools.iter().any(|q| q.id == p.id) {
                pools.push(p);
            }
        }
    }
    for p in pools {
        m.pool_ids.push(p.id);
        match p.kind.as_str() {
            POOL_DECISION_MAKERS => m.decides_for.push(p.organization_id),
            POOL_ACCOUNTANTS => m.pays_for.push(p.organization_id),
            _ => {}
        }
    }
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// Tasks

/// Whom a new task for `user_id` goes to: himself, or his present deputy while he is absent.
pub async fn present_assignee<C: ConnectionTrait>(db: &C, user_id: Uuid) -> StoreResult<Uuid> {
    // Deputy chains are short; read the users they pass through one by one.
    let mut known = std::collections::HashMap::new();
    let mut next = Some(user_id);
    for _ in 0..8 {
        let Some(id) = next else { break };
        if known.contains_key(&id) {
            break;
        }
        let u = user::Entity::find_by_id(id).one(db).await?;
        let presence = u.as_ref().map(|u| Presence {
            absent: u.absent,
            deputy: u.deputy_id,
        });
        next = presence.and_then(|p| if p.absent { p.deputy } else { None });
        known.insert(id, presence);
    }
    Ok(route_to_present(user_id, |id| {
        known.get(&id).copied().flatten()
    }))
}

/// What a new task is.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub kind: &'static str,
    pub title: String,
    pub description: Option<String>,
    pub subject_type: Option<&'static str>,
    pub subject_id: Option<Uuid>,
    pub step_id: Option<Uuid>,
    pub assignee: NewAssignee,
    pub outcomes: Vec<&'static str>,
    pub due_at: Option<DateTime<Utc>>,
    pub author_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy)]
pub enum NewAssignee {
    /// Routed to the deputy while the user is absent.
    User(Uuid),
    Role(&'static str),
    Pool(Uuid),
}

/// The unfinished task of a subject (a workflow keeps at most one open at a time).
pub async fn open_task_of<C: ConnectionTrait>(
    db: &C,
    subject_type: &str,
    subject_id: Uuid,
) -> StoreResult<Option<task::Model>> {
    Ok(task::Entity::find()
        .filter(task::Column::SubjectType.eq(subject_type))
        .filter(task::Column::SubjectId.eq(subject_id))
        .filter(task::Column::State.is_in([TASK_OPEN, TASK_CLAIMED]))
        .filter(task::Column::DeletedAt.is_null())
        .order_by_desc(task::Column::CreatedAt)
        .one(db)
        .await?)
}

/// Which of the inbox a caller looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxPart {
    /// Assigned to him or claimed by him.
    Mine,
    /// Open tasks of his pools and roles, nobody's yet.
    Pool,
    /// Both.
    Both,
    /// Tasks he set for others (`POST /tasks`), whatever their state.
    Created,
}

#[derive(Debug, Clone)]
pub struct TaskFilter {
    pub part: InboxPart,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<Uuid>,
    pub updated_since: Option<DateTime<Utc>>,
}

/// Who asks, for the inbox's visibility.
#[derive(Debug, Clone)]
pub struct InboxViewer {
    pub user_id: Uuid,
    pub roles: Vec<String>,
    pub pool_ids: Vec<Uuid>,
    /// Admins see every task (narrowed by `part` only when they ask for it).
    pub is_admin: bool,
}

fn mine(v: &InboxViewer) -> Condition {
    Condition::any()
        .add(task::Column::AssigneeUserId.eq(v.user_id))
        .add(task::Column::ClaimedBy.eq(v.user_id))
}

/// Unclaimed tasks of the viewer's pools and roles: once claimed, a pool task is its
/// claimer's alone and leaves the others' inboxes (WF-INV-4).
fn pool_part(v: &InboxViewer) -> Condition {
    let mut any = Condition::any();
    if !v.pool_ids.is_empty() {
        any = any.add(task::Column::AssigneePoolId.is_in(v.pool_ids.iter().copied()));
    }
    if !v.roles.is_empty() {
        any = any.add(task::Column::AssigneeRole.is_in(v.roles.iter().cloned()));
    }
    if v.pool_ids.is_empty() && v.roles.is_empty() {
        // Matches nothing.
        any = any.add(task::Column::Id.is_null());
    }
    Condition::all()
        .add(task::Column::State.eq(TASK_OPEN))
        .add(any)
}

pub fn tasks_query(v: &InboxViewer, f: &TaskFilter) -> Select<task::Entity> {
    let mut q = task::Entity::find().filter(task::Column::DeletedAt.is_null());
    q = match (f.part, v.is_admin) {
        (InboxPart::Mine, _) => q.filter(mine(v)),
        (InboxPart::Pool, _) => q.filter(pool_part(v)),
        (InboxPart::Both, true) => q,
        (InboxPart::Both, false) => q.filter(Condition::any().add(mine(v)).add(pool_part(v))),
        (InboxPart::Created, _) => q
            .filter(task::Column::Kind.eq(KIND_GENERAL))
            .filter(task::Column::AuthorId.eq(v.user_id)),
    };
    if let Some(s) = &f.state {
        q = q.filter(task::Column::State.eq(s.clone()));
    }
    if let Some(k) = &f.kind {
        q = q.filter(task::Column::Kind.eq(k.clone()));
    }
    if let Some(t) = &f.subject_type {
        q = q.filter(task::Column::SubjectType.eq(t.clone()));
    }
    if let Some(id) = f.subject_id {
        q = q.filter(task::Column::SubjectId.eq(id));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(task::Column::UpdatedAt.gte(t));
    }
    q
}

/// Whether `v` may see task `t` (the single-record form of `tasks_query`). Whoever set a task
/// by hand may follow it; seeing it does not let him work on it.
pub fn task_visible(v: &InboxViewer, t: &task::Model) -> bool {
    if v.is_admin
        || t.assignee_user_id == Some(v.user_id)
        || t.claimed_by == Some(v.user_id)
        || (t.kind == KIND_GENERAL && t.author_id == Some(v.user_id))
    {
        return true;
    }
    t.state == TASK_OPEN
        && (t.assignee_pool_id.is_some_and(|p| v.pool_ids.contains(&p))
            || t.assignee_role
                .as_ref()
                .is_some_and(|r| v.roles.contains(r)))
}

// ---------------------------------------------------------------------------------------------
// Supplier invoices

/// Who asks, for supplier-invoice visibility.
#[derive(Debug, Clone)]
pub struct InvoiceViewer {
    pub user_id: Uuid,
    pub is_admin: bool,
    pub membership: Membership,
}

/// Invoices the viewer may see: admins all; the initiator his own throughout; a decision
/// maker those awaiting a decision in his organisations and those he took; an accountant those
/// awaiting an accountant in his organisations and those he claimed; whoever holds an open task
/// of the invoice (a deputy, a delegate). An invoice claimed by one accountant is invisible to
/// the others, so nobody pays twice.
pub fn invoice_visibility(v: &InvoiceViewer) -> Option<Condition> {
    use supplier_invoice::Column as C;
    if v.is_admin {
        return None;
    }
    let mut any = Condition::any()
        .add(C::InitiatorId.eq(v.user_id))
        .add(C::HeadId.eq(v.user_id))
        .add(C::PayerId.eq(v.user_id));
    if !v.membership.decides_for.is_empty() {
        any = any.add(
            Condition::all()
                .add(C::State.eq("awaiting_decision"))
                .add(C::OrganizationId.is_in(v.membership.decides_for.iter().copied())),
        );
    }
    if !v.membership.pays_for.is_empty() {
        any = any.add(
            Condition::all()
                .add(C::State.eq("awaiting_accountant"))
                .add(C::OrganizationId.is_in(v.membership.pays_for.iter().copied())),
        );
    }
    let held = Query::select()
        .column(task::Column::SubjectId)
        .from(task::Entity)
        .and_where(task::Column::SubjectType.eq(SUBJECT_SUPPLIER_INVOICE))
        .and_where(task::Column::AssigneeUserId.eq(v.user_id))
        .and_where(task::Column::State.is_in([TASK_OPEN, TASK_CLAIMED]))
        .to_owned();
    any = any.add(C::Id.in_subquery(held));
    Some(any)
}

#[derive(Debug, Default, Clone)]
pub struct InvoiceFilter {
    pub state: Option<String>,
    pub organization_id: Option<Uuid>,
    pub initiator_id: Option<Uuid>,
    pub supplier_legal_entity_id: Option<Uuid>,
    /// Case-insensitive part of the number or the supplier's name or email.
    pub q: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
}

pub fn invoices_query(v: &InvoiceViewer, f: &InvoiceFilter) -> Select<supplier_invoice::Entity> {
    use supplier_invoice::Column as C;
    let mut q = supplier_invoice::Entity::find().filter(C::DeletedAt.is_null());
    if let Some(c) = invoice_visibility(v) {
        q = q.filter(c);
    }
    if let Some(s) = &f.state {
        q = q.filter(C::State.eq(s.clone()));
    }
    if let Some(o) = f.organization_id {
        q = q.filter(C::OrganizationId.eq(o));
    }
    if let Some(i) = f.initiator_id {
        q = q.filter(C::InitiatorId.eq(i));
    }
    if let Some(s) = f.supplier_legal_entity_id {
        q = q.filter(C::SupplierLegalEntityId.eq(s));
    }
    if let Some(text) = &f.q {
        q = q.filter(contains(C::SearchText, &text.to_lowercase()));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(C::UpdatedAt.gte(t));
    }
    q
}

/// Reads one invoice if the viewer may see it.
pub async fn visible_invoice<C: ConnectionTrait>(
    db: &C,
    v: &InvoiceViewer,
    id: Uuid,
) -> StoreResult<supplier_invoice::Model> {
    invoices_query(v, &InvoiceFilter::default())
        .filter(supplier_invoice::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Writes `next` as a compare-and-set on the state and version `current` was read with.
/// `false`: another transition got there first.
pub async fn write_invoice_if_unchanged<C: ConnectionTrait>(
    db: &C,
    current: &supplier_invoice::Model,
    next: &supplier_invoice::Model,
) -> StoreResult<bool> {
    let res = supplier_invoice::Entity::update_many()
        .set(next.clone().into_active_model().reset_all())
        .filter(supplier_invoice::Column::Id.eq(current.id))
        .filter(supplier_invoice::Column::State.eq(current.state.clone()))
        .filter(supplier_invoice::Column::Version.eq(current.version))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub struct NewTransition<'a> {
    pub invoice_id: Uuid,
    pub round: i32,
    pub action: &'a str,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    pub actor_id: Option<Uuid>,
    pub comment: Option<&'a str>,
    pub details: Option<serde_json::Value>,
}

pub async fn record_transition<C: ConnectionTrait>(
    db: &C,
    t: NewTransition<'_>,
) -> StoreResult<()> {
    let mut row = workflow::Transition::new(
        Workflow::SupplierInvoice,
        t.invoice_id,
        t.from_state,
        t.to_state,
        t.action,
        now(),
    )
    .by(t.actor_id)
    .comment(t.comment);
    row.round = Some(t.round);
    row.details = t.details;
    workflow::record_transition(db, row).await
}

pub async fn transitions_of<C: ConnectionTrait>(
    db: &C,
    invoice_id: Uuid,
) -> StoreResult<Vec<supplier_invoice_transition::Model>> {
    Ok(supplier_invoice_transition::Entity::find()
        .filter(supplier_invoice_transition::Column::InvoiceId.eq(invoice_id))
        .order_by_asc(supplier_invoice_transition::Column::OccurredAt)
        .order_by_asc(supplier_invoice_transition::Column::Id)
        .all(db)
        .await?)
}

pub async fn link_file<C: ConnectionTrait>(
    db: &C,
    invoice_id: Uuid,
    file_id: Uuid,
    round: i32,
    purpose: &str,
) -> StoreResult<()> {
    let existing = supplier_invoice_file::Entity::find()
        .filter(supplier_invoice_file::Column::InvoiceId.eq(invoice_id))
        .filter(supplier_invoice_file::Column::FileId.eq(file_id))
        .one(db)
        .await?;
    if existing.is_some() {
        return Err(StoreError::Duplicate(format!(
            "file {file_id} already belongs to this invoice"
        )));
    }
    supplier_invoice_file::ActiveModel {
        invoice_id: Set(invoice_id),
        file_id: Set(file_id),
        round: Set(round),
        purpose: Set(purpose.to_owned()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn files_of<C: ConnectionTrait>(
    db: &C,
    invoice_id: Uuid,
) -> StoreResult<Vec<supplier_invoice_file::Model>> {
    Ok(supplier_invoice_file::Entity::find()
        .filter(supplier_invoice_file::Column::InvoiceId.eq(invoice_id))
        .order_by_asc(supplier_invoice_file::Column::Round)
        .order_by_asc(supplier_invoice_file::Column::FileId)
        .all(db)
        .await?)
}

/// Marks tasks of a subject that are still open as cancelled (a cancelled workflow).
pub async fn cancel_open_tasks<C: ConnectionTrait>(
    db: &C,
    subject_type: &str,
    subject_id: Uuid,
) -> StoreResult<u64> {
    let at = now();
    let res = task::Entity::update_many()
        .col_expr(task::Column::State, Expr::value(TASK_CANCELLED))
        .col_expr(task::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            task::Column::Version,
            Expr::col(task::Column::Version).add(1),
        )
        .filter(task::Column::SubjectType.eq(subject_type))
        .filter(task::Column::SubjectId.eq(subject_id))
        .filter(task::Column::State.is_in([TASK_OPEN, TASK_CLAIMED]))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

// ---------------------------------------------------------------------------------------------
// Approval steps

/// A new step of a subject's route, active from now.
pub struct NewStep<'a> {
    pub subject_type: &'a str,
    pub subject_id: Uuid,
    pub round: i32,
    pub position: i32,
    pub name: &'a str,
    pub rule: sdelka_domain::task::CompletionRule,
    pub due_at: Option<DateTime<Utc>>,
}

/// Closes the still active steps of a subject as skipped (a cancelled workflow).
pub async fn skip_active_steps<C: ConnectionTrait>(
    db: &C,
    subject_type: &str,
    subject_id: Uuid,
) -> StoreResult<()> {
    use crate::entity::approval_step;
    let at = now();
    approval_step::Entity::update_many()
        .col_expr(approval_step::Column::State, Expr::value("skipped"))
        .col_expr(approval_step::Column::FinishedAt, Expr::value(at))
        .col_expr(approval_step::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            approval_step::Column::Version,
            Expr::col(approval_step::Column::Version).add(1),
        )
        .filter(approval_step::Column::SubjectType.eq(subject_type))
        .filter(approval_step::Column::SubjectId.eq(subject_id))
        .filter(approval_step::Column::State.eq("active"))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn steps_of<C: ConnectionTrait>(
    db: &C,
    subject_type: &str,
    subject_id: Uuid,
) -> StoreResult<Vec<crate::entity::approval_step::Model>> {
    use crate::entity::approval_step;
    Ok(approval_step::Entity::find()
        .filter(approval_step::Column::SubjectType.eq(subject_type))
        .filter(approval_step::Column::SubjectId.eq(subject_id))
        .order_by_asc(approval_step::Column::Round)
        .order_by_asc(approval_step::Column::Position)
        .all(db)
        .await?)
}

// ---------------------------------------------------------------------------------------------
// Deadlines

/// Unfinished tasks whose reminder or escalation may be due at `now` (the caller decides each
/// with `sdelka_domain::task::due_action` and marks it with a compare-and-set, so two instances
/// never send one twice).
pub async fn tasks_with_due_deadlines<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    remind_before: chrono::Duration,
    escalate_after: chrono::Duration,
    limit: u64,
) -> StoreResult<Vec<task::Model>> {
    use sea_orm::QuerySelect;
    Ok(task::Entity::find()
        .filter(task::Column::State.is_in([TASK_OPEN, TASK_CLAIMED]))
        .filter(task::Column::DeletedAt.is_null())
        .filter(task::Column::EscalatedAt.is_null())
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(task::Column::RemindedAt.is_null())
                        .add(task::Column::DueAt.lte(now + remind_before)),
                )
                .add(task::Column::DueAt.lte(now - escalate_after)),
        )
        .order_by_asc(task::Column::DueAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Marks a task reminded or escalated, once: the compare-and-set is on the mark itself, so of
/// several instances only one sends it. The mark is bookkeeping, not a change of the task: it
/// leaves `version` alone, so a user claiming or completing the task at that moment is not
/// refused for a race with the reminder, and [`transition_task`] never writes the marks back.
pub async fn mark_deadline<C: ConnectionTrait>(
    db: &C,
    t: &task::Model,
    escalated: bool,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let column = if escalated {
        task::Column::EscalatedAt
    } else {
        task::Column::RemindedAt
    };
    let res = task::Entity::update_many()
        .col_expr(column, Expr::value(at))
        .filter(task::Column::Id.eq(t.id))
        .filter(column.is_null())
        .filter(task::Column::State.is_in([TASK_OPEN, TASK_CLAIMED]))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

// ---------------------------------------------------------------------------------------------
// Unjournalled writes: the operation that calls them journals the record's public
// representation once, when it knows it.

/// The row of a new task (not yet stored): [`create_task`] without the insert and the journal.
/// A task for an absent user goes to his deputy and remembers whom it was meant for.
pub async fn new_task_model<C: ConnectionTrait>(db: &C, new: NewTask) -> StoreResult<task::Model> {
    let (user_id, role, pool_id, delegated_from) = match new.assignee {
        NewAssignee::User(u) => {
            let to = present_assignee(db, u).await?;
            (Some(to), None, None, (to != u).then_some(u))
        }
        NewAssignee::Role(r) => (None, Some(r.to_owned()), None, None),
        NewAssignee::Pool(p) => (None, None, Some(p), None),
    };
    let at = now();
    Ok(task::Model {
        id: Uuid::now_v7(),
        kind: new.kind.to_owned(),
        title: new.title,
        description: new.description,
        subject_type: new.subject_type.map(str::to_owned),
        subject_id: new.subject_id,
        step_id: new.step_id,
        assignee_user_id: user_id,
        assignee_role: role,
        assignee_pool_id: pool_id,
        state: TASK_OPEN.into(),
        claimed_by: None,
        claimed_at: None,
        outcomes: new.outcomes.join(","),
        outcome: None,
        comment: None,
        completed_by: None,
        completed_at: None,
        delegated_from,
        due_at: new.due_at,
        time_spent_minutes: None,
        reminded_at: None,
        escalated_at: None,
        author_id: new.author_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    })
}

/// [`transition_task`] without the journal: writes `next` over `current` as a compare-and-set
/// on state and version, leaving the deadline worker's marks alone. `None`: someone changed
/// the task first.
pub async fn write_task_if_unchanged<C: ConnectionTrait>(
    db: &C,
    current: &task::Model,
    mut next: task::Model,
) -> StoreResult<Option<task::Model>> {
    next.version = current.version + 1;
    next.updated_at = now();
    let mut row = next.clone().into_active_model().reset_all();
    row.reminded_at = sea_orm::ActiveValue::NotSet;
    row.escalated_at = sea_orm::ActiveValue::NotSet;
    let res = task::Entity::update_many()
        .set(row)
        .filter(task::Column::Id.eq(current.id))
        .filter(task::Column::State.eq(current.state.clone()))
        .filter(task::Column::Version.eq(current.version))
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then_some(next))
}

/// Inserts a new supplier invoice without journalling it.
/// The live, not cancelled supplier invoice that is the same invoice as `model` (same
/// supplier legal entity, number and date), if one is registered. The partial unique index
/// `ux_supplier_invoices_live_number` guards the same rule against concurrent registrations.
pub async fn live_duplicate<C: ConnectionTrait>(
    db: &C,
    model: &supplier_invoice::Model,
) -> StoreResult<Option<supplier_invoice::Model>> {
    Ok(supplier_invoice::Entity::find()
        .filter(supplier_invoice::Column::SupplierLegalEntityId.eq(model.supplier_legal_entity_id))
        .filter(supplier_invoice::Column::Number.eq(model.number.as_str()))
        .filter(supplier_invoice::Column::InvoiceDate.eq(model.invoice_date))
        .filter(supplier_invoice::Column::State.ne(INVOICE_CANCELLED))
        .filter(supplier_invoice::Column::DeletedAt.is_null())
        .filter(supplier_invoice::Column::Id.ne(model.id))
        .one(db)
        .await?)
}

pub async fn insert_invoice<C: ConnectionTrait>(
    db: &C,
    model: &supplier_invoice::Model,
) -> StoreResult<()> {
    supplier_invoice::Entity::insert(model.clone().into_active_model().reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The tasks of an approval step that were not cancelled, completed ones first in completion
/// order (what [`settle_step`] decides from).
pub async fn tasks_of_step<C: ConnectionTrait>(
    db: &C,
    step_id: Uuid,
) -> StoreResult<Vec<task::Model>> {
    Ok(task::Entity::find()
        .filter(task::Column::StepId.eq(step_id))
        .filter(task::Column::State.ne(TASK_CANCELLED))
        .order_by_asc(task::Column::CompletedAt)
        .all(db)
        .await?)
}
