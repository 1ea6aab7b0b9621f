//! `/tasks`: the one inbox of SPEC §3. A user's tasks and his pools' unclaimed tasks, whatever
//! created them — a supplier-invoice approval, an activity of type task. Claiming or
//! completing a workflow's task is the workflow's own action (`approvals::act_on_invoice`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use sdelka_persistence::ops::tasks::{
    self as ops, CompleteTask, CreateTask, DelegateTask, TaskListFilter, TaskView,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_tasks)
        .service(create_task)
        .service(get_task)
        .service(claim_task)
        .service(complete_task)
        .service(delegate_task);
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
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<TaskListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_tasks(state.db(), &caller, &page, filter).await }
        },
    )
    .await
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
    let t = ops::create_task(state.db(), &caller, body.0).await?;
    Ok(created(format!("/api/v1/tasks/{}", t.id), t.version, &t))
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
    let t = ops::get_task(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, t.version, &t))
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
    let t = ops::claim_task(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, t.version, &t))
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
    let t = ops::complete_task(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, t.version, &t))
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
    let t = ops::delegate_task(state.db(), &caller, id.into_inner(), body.0).await?;
    Ok(versioned(StatusCode::OK, t.version, &t))
}
