//! `/users`: the people who work in Sdelka (ORG-2).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use sdelka_persistence::ops::handover::{self, Handover, HandoverView};
use sdelka_persistence::ops::users::{
    self as ops, CreateUser, UpdateUser, UserListFilter, UserView,
};
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user)
        .service(hand_over);
}

/// Lists users (the company directory).
#[utoipa::path(
    tag = "organisation",
    params(ListParams, UserListFilter),
    responses((status = 200, description = "A page of users", body = ListPage<UserView>))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<UserListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_users(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Creates a user (admin). A welcome email with a single-use password-set token is queued in
/// the same transaction.
#[utoipa::path(
    tag = "organisation",
    request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserView))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    admin: Admin,
    body: JsonBody<CreateUser>,
) -> ApiResult<HttpResponse> {
    let u = ops::create_user(
        state.db(),
        Some(&admin),
        state.get_ref(),
        &state.config.public_url,
        body.0,
    )
    .await?;
    Ok(created(format!("/api/v1/users/{}", u.id), u.version, &u))
}

/// Reads one user.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView))
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let u = ops::get_user(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, u.version, &u))
}

/// Changes a user (admin): roles, department, supervisor, deputy, absence, active flag.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "User id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "Updated", body = UserView),
        (status = 409, description = "`last_admin`: the last active admin cannot be deactivated or lose the admin role", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateUser>,
) -> ApiResult<HttpResponse> {
    let u = ops::update_user(state.db(), &admin, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, u.version, &u))
}

/// Hands everything a leaving employee holds to a colleague (admin), in one transaction: his
/// companies, contacts, leads and deals, his open activities and tasks, his places in pools
/// and the automation rules that notify him; deactivates him if asked. Every moved record's
/// timeline shows the change; `dry_run` lists what would move without writing.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "The leaving user's id")),
    request_body(content = Handover, example = json!({"to_user_id": "0193a0b0-0000-7000-8000-000000000002", "deactivate": true, "dry_run": false})),
    responses(
        (status = 200, description = "What moved (or, in a dry run, would move)", body = HandoverView),
        (status = 404, description = "No such user", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The colleague does not exist, is deactivated or is the same user", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/users/{id}/handover")]
pub async fn hand_over(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    body: JsonBody<Handover>,
) -> ApiResult<HttpResponse> {
    let v = handover::hand_over(state.db(), &admin, id.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(v))
}
