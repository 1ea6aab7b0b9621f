//! `/tasks`: the one inbox of SPEC §3. A user's tasks and his pools' unclaimed tasks, whatever
//! created them — a supplier-invoice approval, an activity of type task. Claiming or
//! completing a workflow's task is the workflow's own action (`approvals::act_on_invoice`).

use crate::approvals::{InboxPart, NewAssignee, TaskFilter, tasks_query};
use crate::entity::{task, user};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::money::Money;
use sdelka_domain::role::Role;
use sdelka_domain::task::Outcome;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::approvals::{self, ActionInput, PaymentInput};
use super::dto::RoleName;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, ensure_exists};

/// The typed outcome of a completed task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeName {
    Approve,
    /// Needs a comment.
    Reject,
    /// Needs a comment.
    ReturnForRework,
    Done,
}

impl From<OutcomeName> for Outcome {
    fn from(o: OutcomeName) -> Outcome {
        match o {
            OutcomeName::Approve => Outcome::Approve,
            OutcomeName::Reject => Outcome::Reject,
            OutcomeName::ReturnForRework => Outcome::ReturnForRework,
            OutcomeName::Done => Outcome::Done,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStateName {
    Open,
    Claimed,
    Completed,
    Cancelled,
}

impl TaskStateName {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStateName::Open => "open",
            TaskStateName::Claimed => "claimed",
            TaskStateName::Completed => "completed",
            TaskStateName::Cancelled => "cancelled",
        }
    }
}

/// Which part of the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxFilter {
    /// Assigned to me or claimed by me.
    Mine,
    /// Unclaimed tasks of my pools and roles.
    Pool,
    /// Tasks I set for others with `POST /tasks`, in any state.
    Created,
}

/// Whom a task is for: exactly one of the three is set.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskAssignee {
    pub user_id: Option<Uuid>,
    /// A role (`head`, `accountant`, …): anyone holding it may claim the task.
    pub role: Option<String>,
    /// A pool: the first member to claim the task gets it.
    pub pool_id: Option<Uuid>,
}

/// A task of the inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: Uuid,
    /// What created it: `general` (`POST /tasks`), `activity`, `supplier_invoice_decision`,
    /// `supplier_invoice_revision`, `supplier_invoice_payment`,
    /// `supplier_invoice_closing_documents`.
    #[schema(example = "supplier_invoice_decision")]
    pub kind: String,
    #[schema(example = "Согласовать счёт поставщика №17 от 20.11.2026 на сумму 125000.00 RUB")]
    pub title: String,
    pub description: Option<String>,
    /// The record the task is about (`supplier_invoice`, `activity`).
    pub subject_type: Option<String>,
    pub subject_id: Option<Uuid>,
    pub assignee: TaskAssignee,
    #[schema(value_type = TaskStateName)]
    pub state: String,
    pub claimed_by: Option<Uuid>,
    pub claimed_at: Option<DateTime<Utc>>,
    /// The outcomes `complete` accepts for this task.
    #[schema(value_type = Vec<OutcomeName>)]
    pub outcomes: Vec<String>,
    #[schema(value_type = Option<OutcomeName>)]
    pub outcome: Option<String>,
    pub comment: Option<String>,
    pub completed_by: Option<Uuid>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Whom the task was meant for when it went to a deputy or was delegated.
    pub delegated_from: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    /// The minutes the work took, as given when the task was completed.
    pub time_spent_minutes: Option<i32>,
    /// Who set the task (the workflow's initiator for workflow tasks).
    pub author_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&task::Model> for TaskView {
    fn from(t: &task::Model) -> Self {
        TaskView {
            id: t.id,
            kind: t.kind.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            subject_type: t.subject_type.clone(),
            subject_id: t.subject_id,
            assignee: TaskAssignee {
                user_id: t.assignee_user_id,
                role: t.assignee_role.clone(),
                pool_id: t.assignee_pool_id,
            },
            state: t.state.clone(),
            claimed_by: t.claimed_by,
            claimed_at: t.claimed_at,
            outcomes: t
                .outcomes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            outcome: t.outcome.clone(),
            comment: t.comment.clone(),
            completed_by: t.completed_by,
            completed_at: t.completed_at,
            delegated_from: t.delegated_from,
            due_at: t.due_at,
            time_spent_minutes: t.time_spent_minutes,
            author_id: t.author_id,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListFilter {
    /// `mine` or `pool`; both when absent.
    #[param(inline)]
    pub inbox: Option<InboxFilter>,
    #[param(inline)]
    pub state: Option<TaskStateName>,
    pub kind: Option<String>,
    /// With `subject_id`: the tasks of one record.
    pub subject_type: Option<String>,
    pub subject_id: Option<Uuid>,
}

/// The payment recorded when an accountant completes a payment task (or marks an invoice
/// paid).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// `YYYY-MM-DD`.
    pub paid_on: NaiveDate,
    /// Decimal string, e.g. `"125000.00"`.
    #[schema(value_type = String, example = "125000.00")]
    pub amount: Money,
    #[validate(length(min = 1, max = 50, message = "order_number must be 1 to 50 characters"))]
    #[schema(example = "512")]
    pub order_number: String,
}

impl From<PaymentBody> for PaymentInput {
    fn from(p: PaymentBody) -> Self {
        PaymentInput {
            paid_on: p.paid_on,
            amount: p.amount,
            order_number: p.order_number,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTask {
    /// One of the task's `outcomes`: `approve`, `reject`, `return_for_rework`, `done`, or an
    /// outcome a process step offers (`client_refuses`, `sent`, …).
    #[validate(length(min = 1, max = 64, message = "outcome must be 1 to 64 characters"))]
    #[schema(example = "approve")]
    pub outcome: String,
    /// Mandatory with `reject` and `return_for_rework`.
    #[validate(length(max = 10000))]
    pub comment: Option<String>,
    /// Files the completion brings (a resubmitted invoice file, closing documents): ids of
    /// files uploaded through `POST /files` and visible to you.
    #[serde(default)]
    #[validate(length(max = 50))]
    pub file_ids: Vec<Uuid>,
    /// For a supplier-invoice payment task.
    #[validate(nested)]
    pub payment: Option<PaymentBody>,
    /// The minutes the work took (0 to 100000), kept with the task; a task of a deal bills
    /// them into the deal as its `task_completed` automation rules say (WF-BILL-1). Without
    /// it, an activity's task bills the time entries of its activity.
    #[validate(range(max = 100000, message = "time_spent_minutes is 0 to 100000"))]
    #[schema(example = 90)]
    pub time_spent_minutes: Option<u32>,
}

/// A task set by hand: for one colleague, for everyone holding a role, or for a pool.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    #[validate(length(min = 1, max = 255, message = "title must be 1 to 255 characters"))]
    #[schema(example = "Подготовить акт сверки с ТСЖ «Берёзка»")]
    pub title: String,
    #[validate(length(max = 10000))]
    pub description: Option<String>,
    /// For this colleague (his deputy while he is absent). Exactly one of `user_id`, `role`
    /// and `pool_id`.
    pub user_id: Option<Uuid>,
    /// For everyone holding the role: the first to claim it takes it.
    pub role: Option<RoleName>,
    /// For the members of a pool: the first to claim it takes it.
    pub pool_id: Option<Uuid>,
    /// The reminder and the escalation to the supervisor are counted from here.
    pub due_at: Option<DateTime<Utc>>,
    /// What `complete` will accept; default `["done"]`.
    #[validate(length(min = 1, max = 4, message = "outcomes must list 1 to 4 outcomes"))]
    pub outcomes: Option<Vec<OutcomeName>>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegateTask {
    /// The colleague who gets the task (his deputy while he is absent).
    pub user_id: Uuid,
    #[validate(length(max = 10000))]
    pub comment: Option<String>,
}

pub fn sorts() -> [SortKey<task::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: task::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: task::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "title",
            column: task::Column::Title,
            key: |m| CursorValue::Text(m.title.clone()),
        },
    ]
}

/// The caller's inbox, a page at a time: tasks assigned to or claimed by him and the
/// unclaimed tasks of his pools and roles (or, with `inbox=created`, the tasks he set).
pub async fn list_tasks(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: TaskListFilter,
) -> OpResult<ListPage<TaskView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let viewer = approvals::inbox_viewer(&db, caller).await?;
    let query = tasks_query(
        &viewer,
        &TaskFilter {
            part: match f.inbox {
                Some(InboxFilter::Mine) => InboxPart::Mine,
                Some(InboxFilter::Pool) => InboxPart::Pool,
                Some(InboxFilter::Created) => InboxPart::Created,
                None => InboxPart::Both,
            },
            state: f.state.map(|s| s.as_str().to_owned()),
            kind: f.kind,
            subject_type: f.subject_type,
            subject_id: f.subject_id,
            updated_since: page.updated_since,
        },
    );
    let page = fetch_page(&db, query, req, task::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |t| TaskView::from(t)))
}

/// Sets a task by hand for exactly one of a colleague, a role or a pool; whoever it is for
/// hears of it in the same transaction.
pub async fn create_task(db: Db<'_>, caller: &Caller, req: CreateTask) -> OpResult<TaskView> {
    if req.title.trim().is_empty() {
        return Err(Error::field("title", "required", "title must not be blank"));
    }
    let assignee = match (req.user_id, req.role, req.pool_id) {
        (Some(u), None, None) => NewAssignee::User(u),
        (None, Some(r), None) => NewAssignee::Role(Role::from(r).as_str()),
        (None, None, Some(p)) => NewAssignee::Pool(p),
        (None, None, None) => {
            return Err(Error::field(
                "user_id",
                "required",
                "a task needs an assignee: user_id, role or pool_id",
            ));
        }
        _ => {
            return Err(Error::field(
                "user_id",
                "conflicting_fields",
                "give exactly one of user_id, role and pool_id",
            ));
        }
    };
    let mut outcomes: Vec<&'static str> = Vec::new();
    for o in req.outcomes.unwrap_or_else(|| vec![OutcomeName::Done]) {
        let name = Outcome::from(o).as_str();
        if !outcomes.contains(&name) {
            outcomes.push(name);
        }
    }
    let txn = db.begin().await?;
    let t = approvals::set_task(
        &txn,
        caller,
        req.title.trim(),
        req.description.filter(|d| !d.trim().is_empty()),
        assignee,
        outcomes,
        req.due_at,
    )
    .await?;
    txn.commit().await?;
    Ok(TaskView::from(&t))
}

/// One task: in the caller's inbox, set by him, or any for an admin.
pub async fn get_task(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<TaskView> {
    let (t, _) = approvals::visible_task(&db, caller, id).await?;
    Ok(TaskView::from(&t))
}

/// Claims a task of one of the caller's pools or roles; the first claimer gets it.
pub async fn claim_task(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<TaskView> {
    let txn = db.begin().await?;
    let t = approvals::claim_task(&txn, caller, id).await?;
    txn.commit().await?;
    Ok(TaskView::from(&t))
}

/// Completes a task the caller holds with a typed outcome (a workflow task's completion is the
/// workflow's action).
pub async fn complete_task(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: CompleteTask,
) -> OpResult<TaskView> {
    let txn = db.begin().await?;
    if let Some(done) =
        super::processes::on_task_completed(&txn, caller, id, if_match, &req).await?
    {
        txn.commit().await?;
        return Ok(TaskView::from(&done));
    }
    let outcome = Outcome::parse(&req.outcome).ok_or_else(|| {
        Error::field(
            "outcome",
            "not_offered",
            "outcome is one of approve, reject, return_for_rework, done",
        )
    })?;
    let input = ActionInput {
        comment: req.comment,
        file_ids: req.file_ids,
        payment: req.payment.map(PaymentInput::from),
        time_spent_minutes: req.time_spent_minutes,
    };
    let t = approvals::complete_task(&txn, caller, id, outcome, input, if_match).await?;
    txn.commit().await?;
    Ok(TaskView::from(&t))
}

/// Hands a task the caller holds (any, for an admin) to a colleague, who is told.
pub async fn delegate_task(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: DelegateTask,
) -> OpResult<TaskView> {
    let txn = db.begin().await?;
    ensure_exists::<user::Entity, _>(&txn, "user_id", req.user_id).await?;
    let t = approvals::delegate_task(&txn, caller, id, req.user_id, req.comment).await?;
    txn.commit().await?;
    Ok(TaskView::from(&t))
}
