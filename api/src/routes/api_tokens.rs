//! `/api-tokens`: personal tokens for scripts and integrations (API-6).

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::Utc;
use sdelka_domain::role::{Role, RoleSet};
use sdelka_persistence::credentials::{self, NewApiToken};
use uuid::Uuid;

use crate::auth::{API_TOKEN_PREFIX, Principal, random_secret};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::api_tokens::*;

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
    let req = body.0;
    let roles = match &req.roles {
        Some(r) => r.iter().map(|r| Role::from(*r)).collect::<RoleSet>(),
        None => caller.roles.clone(),
    };
    if !roles.is_subset(&caller.roles) {
        return Err(ApiError::field(
            "roles",
            "not_held",
            "a token cannot have roles its owner does not hold",
        ));
    }
    if let Some(e) = req.expires_at
        && e <= Utc::now()
    {
        return Err(ApiError::field(
            "expires_at",
            "in_past",
            "expires_at must be in the future",
        ));
    }
    let secret = format!("{API_TOKEN_PREFIX}{}", random_secret());
    let model = credentials::insert_api_token(
        &state.store.conn,
        NewApiToken {
            user_id: caller.user_id,
            name: req.name.trim(),
            secret: &secret,
            roles: roles.to_storage(),
            expires_at: req.expires_at,
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/api/v1/api-tokens/{}", model.id)))
        .json(CreatedApiToken {
            token: ApiTokenView::from(&model),
            secret,
        }))
}

/// Lists the caller's API tokens (an admin sees everyone's).
#[utoipa::path(tag = "auth", responses((status = 200, description = "Tokens", body = Vec<ApiTokenView>)))]
#[get("/api-tokens")]
pub async fn list_tokens(state: web::Data<AppState>, caller: Principal) -> ApiResult<HttpResponse> {
    let owner = (!caller.is_admin()).then_some(caller.user_id);
    let tokens = credentials::list_api_tokens(&state.store.conn, owner).await?;
    Ok(HttpResponse::Ok().json(tokens.iter().map(ApiTokenView::from).collect::<Vec<_>>()))
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
    let token = credentials::get_api_token(&state.store.conn, id.into_inner()).await?;
    if token.user_id != caller.user_id && !caller.is_admin() {
        return Err(ApiError::not_found());
    }
    credentials::revoke_api_token(&state.store.conn, token.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
