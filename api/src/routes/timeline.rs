//! `/{entity}/{id}/timeline`: the audit trail of one record (ACT-4), newest first.

use actix_web::{HttpResponse, get, web};
use sdelka_persistence::ops::timeline::{self as ops, TimelineEntry, TimelinePath};

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{NoFilter, list_answer};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

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
            async move { ops::list_timeline(state.db(), &caller, path, &page).await }
        },
    )
    .await
}
