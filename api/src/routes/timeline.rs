//! `/{entity}/{id}/timeline`: the audit trail of one record (ACT-4), newest first.

use actix_web::{HttpResponse, get, web};
use sdelka_persistence::ops::timeline::{self as ops, TimelineEntry, TimelinePath};

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::lists::{ListPage, ListParams};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(timeline);
}

/// The change history of one record: who changed which field from what to what, and when.
#[utoipa::path(
    tag = "timeline",
    params(TimelinePath, ListParams),
    responses((status = 200, description = "Timeline, newest first by default", body = ListPage<TimelineEntry>))
)]
#[get("/{entity}/{id}/timeline")]
pub async fn timeline(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<TimelinePath>,
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let page = ops::list_timeline(state.db(), &caller, path.into_inner(), &page).await?;
    Ok(HttpResponse::Ok().json(page))
}
