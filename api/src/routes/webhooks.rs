//! INT-1 webhooks: `/webhooks` subscriptions and the delivery log `/webhook-deliveries`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rand::RngCore;
use sdelka_domain::webhook::{SECRET_BYTES, Secret};
use sdelka_persistence::ops::Caller;
use sdelka_persistence::ops::webhooks::{
    self as ops, CreateWebhook, CreatedWebhook, DeliveryFilter, RecoverWebhook, Recovered,
    RotateSecret, RotatedWebhook, UpdateWebhook, WebhookDeliveryView, WebhookView,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::JsonBody;
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{NoFilter, list_answer};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_webhooks)
        .service(create_webhook)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(test_webhook)
        .service(recover_webhook)
        .service(rotate_secret)
        .service(list_deliveries)
        .service(redeliver);
}

/// Subscribes a URL to domain events, signed as Standard Webhooks 1.0 says.
///
/// The subscription has its creator's visibility: it receives only events of records he may
/// read. The `secret` is in this answer only. Loopback, private and link-local targets are
/// refused (422 `target_not_allowed`) unless the administrator allowed them with
/// `SDELKA_WEBHOOK_ALLOWED_TARGETS`.
#[utoipa::path(
    tag = "integration",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Created; the secret is in the answer", body = CreatedWebhook),
        (status = 422, description = "A bad URL, a refused target or a bad event type", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateWebhook>,
) -> ApiResult<HttpResponse> {
    let secret = new_secret()?;
    let policy = state.config.webhook_policy();
    let w = ops::create_webhook(state.db(), &caller, body.0, secret, &policy).await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/api/v1/webhooks/{}", w.webhook.id)))
        .json(w))
}

/// A signing secret of random bytes.
fn new_secret() -> ApiResult<Secret> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    Secret::from_bytes(bytes)
        .map_err(|e| ApiError::from(sdelka_persistence::ops::Error::internal(e)))
}

/// Gives a subscription a new signing secret, shown in this answer only.
///
/// The previous secret keeps signing beside the new one for `grace_period_seconds` (default a
/// day): every delivery meanwhile carries `webhook-signature: v1,<new> v1,<old>`, so the
/// receiver can switch to the new secret at any moment of the grace period. After it, only the
/// new secret signs.
#[utoipa::path(
    tag = "integration",
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = RotateSecret,
    responses(
        (status = 200, description = "Rotated; the new secret is in the answer", body = RotatedWebhook),
        (status = 422, description = "A grace period longer than a week", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<RotateSecret>,
) -> ApiResult<HttpResponse> {
    let secret = new_secret()?;
    let w = ops::rotate_secret(state.db(), &caller, id.into_inner(), body.0, secret).await?;
    Ok(HttpResponse::Ok().json(w))
}

/// Lists the caller's webhook subscriptions (an admin's: everyone's).
#[utoipa::path(
    tag = "integration",
    params(ListParams),
    responses((status = 200, description = "A page of subscriptions; sort: created_at", body = ListPage<WebhookView>))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        NoFilter {},
        move |page, _: NoFilter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_webhooks(state.db(), &caller, &page).await }
        },
    )
    .await
}

/// One webhook subscription (without its secret).
#[utoipa::path(
    tag = "integration",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription", body = WebhookView))
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ops::get_webhook(state.db(), &caller, id.into_inner()).await?))
}

/// Changes a subscription; `{"active": true}` re-enables a disabled one.
#[utoipa::path(
    tag = "integration",
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, description = "The subscription", body = WebhookView),
        (status = 422, description = "A bad URL, a refused target or a bad event type", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/webhooks/{id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<UpdateWebhook>,
) -> ApiResult<HttpResponse> {
    let policy = state.config.webhook_policy();
    let w = ops::update_webhook(state.db(), &caller, id.into_inner(), body.0, &policy).await?;
    Ok(HttpResponse::Ok().json(w))
}

/// Deletes a subscription and its delivery log.
#[utoipa::path(
    tag = "integration",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    ops::delete_webhook(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Queues a `webhook.test` event for this subscription only.
#[utoipa::path(
    tag = "integration",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 202, description = "Queued", body = WebhookDeliveryView))
)]
#[post("/webhooks/{id}/test")]
pub async fn test_webhook(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let d = ops::test_webhook(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(d))
}

/// Sends again every delivery of this subscription that failed since `since`.
#[utoipa::path(
    tag = "integration",
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = RecoverWebhook,
    responses((status = 202, description = "Queued again", body = Recovered))
)]
#[post("/webhooks/{id}/recover")]
pub async fn recover_webhook(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<RecoverWebhook>,
) -> ApiResult<HttpResponse> {
    let r = ops::recover(state.db(), &caller, id.into_inner(), body.0).await?;
    Ok(HttpResponse::Accepted().json(r))
}

/// The delivery log of the caller's subscriptions: each delivery with every attempt (time,
/// status, latency, error, first 1 KiB of the answer).
#[utoipa::path(
    tag = "integration",
    params(ListParams, DeliveryFilter),
    responses((status = 200, description = "A page of deliveries; sort: created_at", body = ListPage<WebhookDeliveryView>))
)]
#[get("/webhook-deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<DeliveryFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter: DeliveryFilter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_deliveries(state.db(), &caller, &page, &filter).await }
        },
    )
    .await
}

/// Sends a delivery again, with the same body and `webhook-id`.
#[utoipa::path(
    tag = "integration",
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Queued again", body = WebhookDeliveryView),
        (status = 409, description = "The delivery is still pending", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/webhook-deliveries/{id}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let d = ops::redeliver(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(d))
}
