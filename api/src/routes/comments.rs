//! `/{entity}/{id}/comments`: remarks on any record (ACT-4). Each comment also appears in the
//! record's timeline as a `commented` entry carrying the text.
//!
//! The record must exist and be visible to the caller (`access::ensure_visible`).

use actix_web::{HttpResponse, get, post, web};
use sdelka_persistence::ops::comments::{self as ops, CommentView, NewComment};
use sdelka_persistence::ops::timeline::TimelinePath;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{NoFilter, list_answer};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_comments).service(add);
}

/// Comments on a record, oldest first by default.
#[utoipa::path(
    tag = "timeline",
    params(TimelinePath, ListParams),
    responses((status = 200, description = "A page of comments", body = ListPage<CommentView>))
)]
#[get("/{entity}/{id}/comments")]
pub async fn list_comments(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<TimelinePath>,
    req: HttpRequest,
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    let path = path.into_inner();
    list_answer(
        &req,
        page.into_inner(),
        NoFilter {},
        move |page, _: NoFilter| {
            let (state, caller, path) = (state.clone(), caller.clone(), path.clone());
            async move { ops::list_comments(state.db(), &caller, path, &page).await }
        },
    )
    .await
}

/// Adds a comment to a record; it also shows in the record's timeline.
#[utoipa::path(
    tag = "timeline",
    params(TimelinePath),
    request_body = NewComment,
    responses((status = 201, description = "Added", body = CommentView))
)]
#[post("/{entity}/{id}/comments")]
pub async fn add(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<TimelinePath>,
    body: JsonBody<NewComment>,
) -> ApiResult<HttpResponse> {
    let c = ops::add_comment(state.db(), &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Created().json(c))
}
