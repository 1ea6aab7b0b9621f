//! `/notifications`: the caller's own in-app inbox (ACT-5). Nobody sees another user's
//! notifications, admins included: they are personal messages, not business records.

use actix_web::{HttpResponse, get, post, web};
use sdelka_persistence::ops::notifications::{
    self as ops, MarkedRead, NotificationListFilter, NotificationView, UnreadCount,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_notifications)
        .service(unread_count)
        .service(mark_all_read)
        .service(mark_read);
}

/// The caller's notifications, newest first.
#[utoipa::path(
    tag = "work",
    params(ListParams, NotificationListFilter),
    responses((status = 200, description = "A page of notifications", body = ListPage<NotificationView>))
)]
#[get("/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<NotificationListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_notifications(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// How many of the caller's notifications are unread.
#[utoipa::path(
    tag = "work",
    responses((status = 200, description = "Unread count", body = UnreadCount))
)]
#[get("/notifications/unread-count")]
pub async fn unread_count(
    state: web::Data<AppState>,
    caller: Principal,
) -> ApiResult<HttpResponse> {
    let count = ops::unread_count(state.db(), &caller).await?;
    Ok(HttpResponse::Ok().json(count))
}

/// Marks one of the caller's notifications read (repeating it changes nothing).
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Notification id")),
    responses((status = 200, description = "The notification, read", body = NotificationView))
)]
#[post("/notifications/{id}/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let n = ops::mark_read(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(n))
}

/// Marks all of the caller's notifications read.
#[utoipa::path(
    tag = "work",
    responses((status = 200, description = "How many were marked", body = MarkedRead))
)]
#[post("/notifications/read-all")]
pub async fn mark_all_read(
    state: web::Data<AppState>,
    caller: Principal,
) -> ApiResult<HttpResponse> {
    let marked = ops::mark_all_read(state.db(), &caller).await?;
    Ok(HttpResponse::Ok().json(marked))
}
