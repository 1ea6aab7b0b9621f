//! `/activities`: tasks, calls, meetings and emails (ACT-1), their completion, time entries
//! on tasks, and reminders (ACT-2).
//!
//! An activity's owner (`owner_type`, `owner_id`) may be a record of another area (a deal, a
//! company, …); the reference is validated as a type, but its existence is not checked here.
//! A task's `responsible_id` is its assignee: the shared task inbox of SPEC §3 can add a role
//! or pool assignee next to it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::work::{self as rules, ActivityKind, CallDirection, OwnerType};
use sdelka_persistence::activities::{self, ActivityFilter, activities_query};
use sdelka_persistence::entity::{activity, activity_time_entry, user};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use sdelka_persistence::reminders::{self, TARGET_ACTIVITY};
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::activities::*;

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
    page: web::Query<ListParams>,
    filter: web::Query<ActivityListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let db = &state.store.conn;
    let query = activities_query(&ActivityFilter {
        owner_type: f.owner_type.map(|t| OwnerType::from(t).as_str().to_owned()),
        owner_id: f.owner_id,
        responsible_id: f.responsible_id,
        kind: f.kind.map(|k| ActivityKind::from(k).as_str().to_owned()),
        completed: f.completed,
        deadline_from: f.deadline_from,
        deadline_to: f.deadline_to,
        updated_since: page.updated_since,
    });
    let query = caller
        .visibility(db)
        .await?
        .apply(query, activity::Column::ResponsibleId);
    let page = fetch_page(db, query, req, activity::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|a| a.id).collect();
    let r = reminders::latest_of(db, TARGET_ACTIVITY, &ids).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |a| ActivityView::new(a, &r))))
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
    let req = body.0;
    let kind = ActivityKind::from(req.kind);
    let (owner_type, owner_id) = owner_pair(req.owner_type, req.owner_id)?;
    if !kind.is_call() && (req.call_direction.is_some() || req.call_result.is_some()) {
        return Err(ApiError::field(
            "call_direction",
            "only_for_calls",
            "call_direction and call_result are kept for calls only",
        ));
    }
    let responsible_id = req.responsible_id.unwrap_or(caller.user_id);
    let at = now();
    let model = activity::Model {
        id: Uuid::now_v7(),
        kind: kind.as_str().to_owned(),
        owner_type,
        owner_id,
        subject: req.subject.trim().to_owned(),
        description: req.description,
        responsible_id,
        author_id: caller.user_id,
        deadline: req.deadline,
        completed_at: None,
        result: None,
        call_direction: req
            .call_direction
            .map(|d| CallDirection::from(d).as_str().to_owned()),
        call_result: req.call_result,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let txn = state.store.begin().await?;
    ensure_exists::<user::Entity, _>(&txn, "responsible_id", responsible_id).await?;
    let model =
        records::create::<activity::Entity, _>(&txn, &caller.actor(), model, records::snapshot)
            .await?;
    // An activity of type task is a task of the shared inbox (SPEC §3).
    if kind.takes_time_entries() {
        sdelka_persistence::ops::approvals::open_activity_task(&txn, &caller, &model).await?;
    }
    if let Some(remind_at) = req.remind_at {
        reminders::schedule(
            &txn,
            TARGET_ACTIVITY,
            model.id,
            remind_at,
            req.reminder_message,
        )
        .await?;
    }
    let view = view_of(&txn, &model).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/activities/{}", model.id),
        model.version,
        &view,
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
    let db = &state.store.conn;
    let a = visible_activity(db, &caller, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        a.version,
        &view_of(db, &a).await?,
    ))
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
    let id = id.into_inner();
    let req = body.0;
    let txn = state.store.begin().await?;
    visible_activity(&txn, &caller, id).await?;
    if let Some(r) = req.responsible_id {
        ensure_exists::<user::Entity, _>(&txn, "responsible_id", r).await?;
    }
    let updated = records::update::<activity::Entity, _, _, ApiError>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        |a| {
            let is_call = ActivityKind::parse(&a.kind).is_some_and(ActivityKind::is_call);
            if !is_call && (req.call_direction.is_some() || req.call_result.is_some()) {
                return Err(ApiError::field(
                    "call_direction",
                    "only_for_calls",
                    "call_direction and call_result are kept for calls only",
                ));
            }
            if let Some(s) = &req.subject {
                a.subject = s.trim().to_owned();
            }
            if let Some(d) = &req.description {
                a.description = d.clone();
            }
            if let Some(r) = req.responsible_id {
                a.responsible_id = r;
            }
            if let Some(d) = req.deadline {
                a.deadline = d;
            }
            if let Some(d) = req.call_direction {
                a.call_direction = d.map(|d| CallDirection::from(d).as_str().to_owned());
            }
            if let Some(r) = &req.call_result {
                a.call_result = r.clone();
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    match req.remind_at {
        Some(Some(t)) => {
            reminders::schedule(&txn, TARGET_ACTIVITY, id, t, req.reminder_message).await?;
        }
        Some(None) => {
            reminders::cancel_pending(&txn, TARGET_ACTIVITY, id).await?;
        }
        None => {}
    }
    sdelka_persistence::ops::approvals::follow_activity(&txn, &caller, &updated, false).await?;
    let view = view_of(&txn, &updated).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, updated.version, &view))
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
    let id = id.into_inner();
    let txn = state.store.begin().await?;
    visible_activity(&txn, &caller, id).await?;
    records::soft_delete::<activity::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    reminders::cancel_pending(&txn, TARGET_ACTIVITY, id).await?;
    let deleted = activity::Entity::find_by_id(id).one(&txn).await?;
    if let Some(a) = deleted {
        sdelka_persistence::ops::approvals::follow_activity(&txn, &caller, &a, true).await?;
    }
    txn.commit().await?;
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
    let id = id.into_inner();
    let result = body.0.result;
    let txn = state.store.begin().await?;
    visible_activity(&txn, &caller, id).await?;
    let updated = records::update::<activity::Entity, _, _, ApiError>(
        &txn,
        &caller.actor(),
        id,
        None,
        |a| {
            let at = rules::complete(a.completed_at, now())
                .map_err(|e| ApiError::new(ErrorCode::Conflict, e.to_string()))?;
            a.completed_at = Some(at);
            a.result = Some(result.trim().to_owned());
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    // Nothing is left to remind of.
    reminders::cancel_pending(&txn, TARGET_ACTIVITY, id).await?;
    // Its inbox task is completed with it.
    sdelka_persistence::ops::approvals::follow_activity(&txn, &caller, &updated, false).await?;
    let view = view_of(&txn, &updated).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, updated.version, &view))
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
    let db = &state.store.conn;
    let a = visible_activity(db, &caller, id.into_inner()).await?;
    let entries = activities::time_entries(db, a.id).await?;
    Ok(HttpResponse::Ok().json(TimeEntryList {
        total_minutes: entries.iter().map(|e| i64::from(e.minutes)).sum(),
        items: entries.iter().map(TimeEntryView::from).collect(),
    }))
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
    let req = body.0;
    let txn = state.store.begin().await?;
    let a = visible_activity(&txn, &caller, id.into_inner()).await?;
    if !ActivityKind::parse(&a.kind).is_some_and(ActivityKind::takes_time_entries) {
        return Err(ApiError::field(
            "activity_id",
            "not_a_task",
            format!(
                "time entries are kept for tasks only; this activity is a {}",
                a.kind
            ),
        ));
    }
    let user_id = req.user_id.unwrap_or(caller.user_id);
    ensure_exists::<user::Entity, _>(&txn, "user_id", user_id).await?;
    let at = now();
    let entry = records::create::<activity_time_entry::Entity, _>(
        &txn,
        &caller.actor(),
        activity_time_entry::Model {
            id: Uuid::now_v7(),
            activity_id: a.id,
            user_id,
            minutes: req.minutes,
            work_date: req.date,
            comment: req.comment,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        },
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/activities/{}/time-entries", a.id),
        entry.version,
        &TimeEntryView::from(&entry),
    ))
}
