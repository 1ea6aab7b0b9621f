//! `/api-tokens`: personal tokens for scripts and integrations (API-6).

use actix_web::{HttpResponse, delete, get, post, web};
use sdelka_persistence::ops::api_tokens::{
    self as ops, ApiTokenView, CreateApiToken, CreatedApiToken,
};
use uuid::Uuid;

use crate::auth::{API_TOKEN_PREFIX, Principal, random_secret};
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{NoFilter, list_answer};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_tokens)
        .service(create_token)
        .service(revoke_token);
}

/// Creates a personal API token for the caller.
#[utoipa::path(
    tag = "auth",
    request_body = CreateApiToken,
    responses((status = 201, description = "Created; the secret is in the answer", body = CreatedApiToken))
)]
#[post("/api-tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateApiToken>,
) -> ApiResult<HttpResponse> {
    let secret = format!("{API_TOKEN_PREFIX}{}", random_secret());
    let t = ops::create_api_token(state.db(), &caller, body.0, secret).await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/api/v1/api-tokens/{}", t.token.id)))
        .json(t))
}

/// Lists the caller's API tokens (an admin sees everyone's).
#[utoipa::path(
    tag = "auth",
    params(ListParams),
    responses((status = 200, description = "A page of tokens; sorts: created_at, name", body = ListPage<ApiTokenView>))
)]
#[get("/api-tokens")]
pub async fn list_tokens(
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
            async move { ops::list_api_tokens(state.db(), &caller, &page).await }
        },
    )
    .await
}

/// Revokes an API token: it stops working at once.
#[utoipa::path(
    tag = "auth",
    params(("id" = Uuid, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"))
)]
#[delete("/api-tokens/{id}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    ops::revoke_api_token(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
