//! INT-2, the change feed: `/events`, `/events/head` and named consumer offsets
//! `/event-consumers`. Reading never consumes: any number of readers follow the same feed.

use actix_web::{HttpResponse, delete, get, put, web};
use sdelka_persistence::ops::feed::{
    self as ops, EventConsumerList, EventConsumerView, FeedHead, FeedPage, FeedQuery,
    PutEventConsumer,
};

use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(feed_head)
        .service(list_events)
        .service(list_consumers)
        .service(get_consumer)
        .service(put_consumer)
        .service(delete_consumer);
}

/// The change feed: every domain event after the cursor, oldest first.
///
/// Ordered and gap-free as a reader sees it: positions are given after events commit, so a
/// reader who has passed a position never later finds an event before it. Creations, changes,
/// workflow transitions and deletions (a tombstone: `{id, type, deleted: true, version,
/// external_ids}`) of every record type; each event carries the record as its `GET` answered
/// right after the change. A caller sees the events of the records he may read.
///
/// An initial sync: read `GET /events/head`, list what you need, then follow the feed from that
/// head's cursor. Always poll with the last `next_cursor`.
#[utoipa::path(
    tag = "integration",
    operation_id = "read_feed",
    params(FeedQuery),
    responses(
        (status = 200, description = "A page of the feed", body = FeedPage),
        (status = 410, description = "The cursor is older than the feed keeps (`cursor_expired`): start again from the head", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed cursor, limit or type filter", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    caller: Principal,
    query: web::Query<FeedQuery>,
) -> ApiResult<HttpResponse> {
    let page = ops::list_events(state.db(), &caller, &query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Where the feed stands now: the cursor to follow it from after an initial sync.
#[utoipa::path(
    tag = "integration",
    responses((status = 200, description = "The feed's head", body = FeedHead))
)]
#[get("/events/head")]
pub async fn feed_head(state: web::Data<AppState>, caller: Principal) -> ApiResult<HttpResponse> {
    let head = ops::feed_head(state.db(), &caller, state.config.event_retention_days).await?;
    Ok(HttpResponse::Ok().json(head))
}

/// The caller's named feed consumers (an admin's: everyone's), each with its lag.
#[utoipa::path(
    tag = "integration",
    responses((status = 200, description = "Consumers", body = EventConsumerList))
)]
#[get("/event-consumers")]
pub async fn list_consumers(
    state: web::Data<AppState>,
    caller: Principal,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::list_consumers(state.db(), &caller).await?))
}

/// One named consumer: its cursor and how many events it lags behind the head.
#[utoipa::path(
    tag = "integration",
    params(("name" = String, Path, description = "Consumer name")),
    responses(
        (status = 200, description = "The consumer", body = EventConsumerView),
        (status = 404, description = "No such consumer of the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/event-consumers/{name}")]
pub async fn get_consumer(
    state: web::Data<AppState>,
    caller: Principal,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::get_consumer(state.db(), &caller, &name).await?))
}

/// Records the position a named consumer has processed (created on first use), so that its
/// lag can be seen. It only records: the feed answers every reader the same.
#[utoipa::path(
    tag = "integration",
    params(("name" = String, Path, description = "Consumer name: letters, digits, `_`, `.`, `-`")),
    request_body(content = PutEventConsumer, example = json!({"cursor": "1042"})),
    responses(
        (status = 200, description = "The consumer, moved", body = EventConsumerView),
        (status = 201, description = "The consumer, created", body = EventConsumerView),
        (status = 404, description = "The name belongs to another user's consumer", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed name or cursor, or a cursor beyond the head", body = Problem, content_type = "application/problem+json")
    )
)]
#[put("/event-consumers/{name}")]
pub async fn put_consumer(
    state: web::Data<AppState>,
    caller: Principal,
    name: web::Path<String>,
    body: JsonBody<PutEventConsumer>,
) -> ApiResult<HttpResponse> {
    let (created, view) = ops::put_consumer(state.db(), &caller, &name, body.0).await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Forgets a named consumer.
#[utoipa::path(
    tag = "integration",
    params(("name" = String, Path, description = "Consumer name")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 404, description = "No such consumer of the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/event-consumers/{name}")]
pub async fn delete_consumer(
    state: web::Data<AppState>,
    caller: Principal,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    ops::delete_consumer(state.db(), &caller, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}
