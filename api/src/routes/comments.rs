//! `/{entity}/{id}/comments`: remarks on any record (ACT-4). Each comment also appears in the
//! record's timeline as a `commented` entry carrying the text.
//!
//! The record must exist and be visible to the caller (`access::ensure_visible`).

use actix_web::{HttpResponse, get, post, web};
use sdelka_persistence::activities::{add_comment, comments_query};
use sdelka_persistence::entity::comment;
use sdelka_persistence::pagination::{CursorValue, SortKey, fetch_page};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::lists::{ListPage, ListParams};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::comments::*;
use sdelka_persistence::ops::timeline::TimelinePath;

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
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let path = path.into_inner();
    let db = &state.store.conn;
    sdelka_persistence::ops::access::ensure_visible(db, &caller, path.entity, path.id, false)
        .await?;
    let sorts = [SortKey::<comment::Entity> {
        name: "created_at",
        column: comment::Column::CreatedAt,
        key: |m| CursorValue::Time(m.created_at),
    }];
    let req = page.page_request(&sorts, "created_at")?;
    let query = comments_query(path.entity.record_type(), path.id);
    let page = fetch_page(db, query, req, comment::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| CommentView::from(m))))
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
    let path = path.into_inner();
    let text = body.0.text.trim().to_owned();
    if text.is_empty() {
        return Err(ApiError::field(
            "text",
            "required",
            "text must not be blank",
        ));
    }
    let txn = state.store.begin().await?;
    sdelka_persistence::ops::access::ensure_visible(&txn, &caller, path.entity, path.id, false)
        .await?;
    let c = add_comment(
        &txn,
        &caller.actor(),
        path.entity.record_type(),
        path.id,
        &text,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(CommentView::from(&c)))
}
