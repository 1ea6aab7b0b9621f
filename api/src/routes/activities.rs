//! `/activities`: tasks, calls, meetings and emails (ACT-1), their completion, time entries
//! on tasks, and reminders (ACT-2).
//!
//! An activity's owner (`owner_type`, `owner_id`) may be a record of another area (a deal, a
//! company, …); the reference is validated as a type, but its existence is not checked here.
//! A task's `responsible_id` is its assignee: the shared task inbox of SPEC §3 can add a role
//! or pool assignee next to it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::activities::{
    self as ops, ActivityListFilter, ActivityView, CompleteActivity, CreateActivity, NewTimeEntry,
    TimeEntryList, TimeEntryView, UpdateActivity,
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
    cfg.service(list_activities)
        .service(create_activity)
        .service(get_activity)
        .service(update_activity)
        .service(delete_activity)
        .service(complete_activity)
        .service(list_time_entries)
        .service(add_time_entry);
}

/// Lists the activities the caller may see (his own, and his team's for a head).
#[utoipa::path(
    tag = "work",
    params(ListParams, ActivityListFilter),
    responses((status = 200, description = "A page of activities", body = ListPage<ActivityView>))
)]
#[get("/activities")]
pub async fn list_activities(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<ActivityListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_activities(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Creates an activity, optionally with a reminder for its responsible.
#[utoipa::path(
    tag = "work",
    request_body = CreateActivity,
    responses((status = 201, description = "Created", body = ActivityView))
)]
#[post("/activities")]
pub async fn create_activity(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateActivity>,
) -> ApiResult<HttpResponse> {
    let a = ops::create_activity(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/activities/{}", a.id),
        a.version,
        &a,
    ))
}

/// Reads one activity.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Activity id")),
    responses((status = 200, description = "The activity", body = ActivityView))
)]
#[get("/activities/{id}")]
pub async fn get_activity(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let a = ops::get_activity(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, a.version, &a))
}

/// Changes an activity; `remind_at` reschedules (or with `null` cancels) its reminder.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Activity id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateActivity,
    responses((status = 200, description = "Updated", body = ActivityView))
)]
#[patch("/activities/{id}")]
pub async fn update_activity(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateActivity>,
) -> ApiResult<HttpResponse> {
    let a = ops::update_activity(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, a.version, &a))
}

/// Deletes an activity (kept for the audit trail); its pending reminder is cancelled.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Activity id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/activities/{id}")]
pub async fn delete_activity(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_activity(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Completes an activity with its result. An activity is completed once: a second attempt
/// is 409.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Activity id")),
    request_body = CompleteActivity,
    responses((status = 200, description = "Completed", body = ActivityView))
)]
#[post("/activities/{id}/complete")]
pub async fn complete_activity(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<CompleteActivity>,
) -> ApiResult<HttpResponse> {
    let a = ops::complete_activity(state.db(), &caller, id.into_inner(), body.0).await?;
    Ok(versioned(StatusCode::OK, a.version, &a))
}

/// Lists the time entries of a task.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Activity id")),
    responses((status = 200, description = "Time entries, by date", body = TimeEntryList))
)]
#[get("/activities/{id}/time-entries")]
pub async fn list_time_entries(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let list = ops::list_time_entries(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Records time spent on a task (tasks only: another type of activity is 422).
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Activity id")),
    request_body = NewTimeEntry,
    responses((status = 201, description = "Recorded", body = TimeEntryView))
)]
#[post("/activities/{id}/time-entries")]
pub async fn add_time_entry(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<NewTimeEntry>,
) -> ApiResult<HttpResponse> {
    let added = ops::add_time_entry(state.db(), &caller, id.into_inner(), body.0).await?;
    Ok(created(
        format!(
            "/api/v1/activities/{}/time-entries",
            added.entry.activity_id
        ),
        added.version,
        &added.entry,
    ))
}
