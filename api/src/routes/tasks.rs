//! `/tasks`: the one inbox of SPEC §3. A user's tasks and his pools' unclaimed tasks, whatever
//! created them — a supplier-invoice approval, an activity of type task. Claiming or
//! completing a workflow's task is the workflow's own action (`approvals::act_on_invoice`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::role::Role;
use sdelka_domain::task::Outcome;
use sdelka_persistence::approvals::{InboxPart, NewAssignee, TaskFilter, tasks_query};
use sdelka_persistence::entity::task;
use sdelka_persistence::pagination::{CursorValue, SortKey, fetch_page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::approvals::{self, ActionInput, PaymentInput};
use crate::auth::Principal;
use crate::dto::RoleName;
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_tasks)
        .service(create_task)
        .service(get_task)
        .service(claim_task)
        .service(complete_task)
        .service(delegate_task);
}

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
    fn as_str(self) -> &'static str {
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
    #[schema(example = "125000.00")]
    pub amount: String,
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
    pub outcome: OutcomeName,
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

fn sorts() -> [SortKey<task::Entity>; 3] {
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

/// My inbox: tasks assigned to me or claimed by me, and the unclaimed tasks of my pools and
/// roles. A pool task claimed by a colleague is no longer listed.
#[utoipa::path(
    tag = "approvals",
    params(ListParams, TaskListFilter),
    responses((status = 200, description = "A page of tasks", body = ListPage<TaskView>))
)]
#[get("/tasks")]
pub async fn list_tasks(
    state: web::Data<AppState>,
    caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<TaskListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let db = &state.store.conn;
    let viewer = approvals::inbox_viewer(db, &caller).await?;
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
    let page = fetch_page(db, query, req, task::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |t| TaskView::from(t))))
}

/// Sets a task for a colleague, a role or a pool (SPEC §3). Whoever it is for hears of it at
/// once (`task_assigned`, inbox and email, in the same transaction); the author follows it
/// with `GET /tasks?inbox=created`. The deadline worker reminds and escalates it like any
/// other task.
#[utoipa::path(
    tag = "approvals",
    request_body(content = CreateTask, example = json!({"title": "Подготовить акт сверки с ТСЖ «Берёзка»", "role": "accountant", "due_at": "2026-12-01T15:00:00Z"})),
    responses(
        (status = 201, description = "Created", body = TaskView),
        (status = 422, description = "No assignee or more than one, an unknown or inactive user, an unknown pool", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/tasks")]
pub async fn create_task(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateTask>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    if req.title.trim().is_empty() {
        return Err(ApiError::field(
            "title",
            "required",
            "title must not be blank",
        ));
    }
    let assignee = match (req.user_id, req.role, req.pool_id) {
        (Some(u), None, None) => NewAssignee::User(u),
        (None, Some(r), None) => NewAssignee::Role(Role::from(r).as_str()),
        (None, None, Some(p)) => NewAssignee::Pool(p),
        (None, None, None) => {
            return Err(ApiError::field(
                "user_id",
                "required",
                "a task needs an assignee: user_id, role or pool_id",
            ));
        }
        _ => {
            return Err(ApiError::field(
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
    let txn = state.store.begin().await?;
    let t = approvals::set_task(
        &txn,
        &caller,
        req.title.trim(),
        req.description.filter(|d| !d.trim().is_empty()),
        assignee,
        outcomes,
        req.due_at,
    )
    .await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/tasks/{}", t.id),
        t.version,
        &TaskView::from(&t),
    ))
}

/// Reads one task (404 unless it is in your inbox, you set it, or you are an admin).
#[utoipa::path(
    tag = "approvals",
    params(("id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 404, description = "No such task, or not yours to see", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/tasks/{id}")]
pub async fn get_task(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let (t, _) = approvals::visible_task(&state.store.conn, &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, t.version, &TaskView::from(&t)))
}

/// Claims a task of one of your pools or roles; the first claimer gets it, every later one
/// gets 409 `already_claimed`. Claiming a supplier-invoice task is the invoice's `take` (decision
/// makers) or `claim` (accountants).
#[utoipa::path(
    tag = "approvals",
    params(("id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "Claimed", body = TaskView),
        (status = 409, description = "Already claimed by someone else, or finished", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:sdelka:problem:already_claimed", "title": "Another user has already claimed this", "status": 409, "detail": "another user has already claimed this task", "code": "already_claimed"}))
    )
)]
#[post("/tasks/{id}/claim")]
pub async fn claim_task(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let txn = state.store.begin().await?;
    let t = approvals::claim_task(&txn, &caller, id.into_inner()).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, t.version, &TaskView::from(&t)))
}

/// Completes a task you hold with a typed outcome; `reject` and `return_for_rework` need a
/// comment. A supplier-invoice task's completion is the invoice's action: `approve` /
/// `return_for_rework` decide it, `done` resubmits it (with `file_ids`), records the payment
/// (with `payment`) or attaches the closing documents (with `file_ids`). Completing an activity's
/// task completes the activity.
#[utoipa::path(
    tag = "approvals",
    params(("id" = Uuid, Path, description = "Task id"), ("If-Match" = Option<String>, Header, description = "ETag of the task version you read")),
    request_body(content = CompleteTask, example = json!({"outcome": "return_for_rework", "comment": "Нет номера договора в назначении платежа"})),
    responses(
        (status = 200, description = "Completed", body = TaskView),
        (status = 403, description = "You do not hold the task", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task or its record is no longer in a state that allows this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A comment is missing, the outcome is not offered, a file is not visible", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/tasks/{id}/complete")]
pub async fn complete_task(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<CompleteTask>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let input = ActionInput {
        comment: req.comment,
        file_ids: req.file_ids,
        payment: req.payment.map(PaymentInput::from),
    };
    let txn = state.store.begin().await?;
    let t = approvals::complete_task(
        &txn,
        &caller,
        id.into_inner(),
        req.outcome.into(),
        input,
        if_match.0,
    )
    .await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, t.version, &TaskView::from(&t)))
}

/// Hands a task you hold to a colleague (an admin may hand any); he is told. A supplier
/// invoice's decision and payment tasks belong to whoever of the pool claims them and are not
/// delegated; any other pool or role task may be, once claimed.
#[utoipa::path(
    tag = "approvals",
    params(("id" = Uuid, Path, description = "Task id")),
    request_body = DelegateTask,
    responses(
        (status = 200, description = "Delegated", body = TaskView),
        (status = 403, description = "You do not hold the task", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A supplier invoice's pool task, or a finished one", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/tasks/{id}/delegate")]
pub async fn delegate_task(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<DelegateTask>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let txn = state.store.begin().await?;
    crate::routes::ensure_exists::<sdelka_persistence::entity::user::Entity, _>(
        &txn,
        "user_id",
        req.user_id,
    )
    .await?;
    let t =
        approvals::delegate_task(&txn, &caller, id.into_inner(), req.user_id, req.comment).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, t.version, &TaskView::from(&t)))
}
