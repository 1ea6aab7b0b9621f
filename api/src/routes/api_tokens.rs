//! `/api-tokens`: personal tokens for scripts and integrations (API-6).

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use sdelka_domain::role::{Role, RoleSet};
use sdelka_persistence::credentials::{self, NewApiToken};
use sdelka_persistence::entity::api_token;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::{API_TOKEN_PREFIX, Principal, random_secret};
use crate::dto::RoleName;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_tokens)
        .service(create_token)
        .service(revoke_token);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: Uuid,
    pub user_id: Uuid,
    #[schema(example = "1C sync")]
    pub name: String,
    /// First characters of the token, to recognise it.
    #[schema(example = "sdk_Xq3v9aB1")]
    pub token_prefix: String,
    /// Roles the token acts with (never more than its owner holds at the time of a request).
    pub roles: Vec<RoleName>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&api_token::Model> for ApiTokenView {
    fn from(t: &api_token::Model) -> Self {
        ApiTokenView {
            id: t.id,
            user_id: t.user_id,
            name: t.name.clone(),
            token_prefix: t.token_prefix.clone(),
            roles: RoleSet::from_storage(&t.roles)
                .iter()
                .map(RoleName::from)
                .collect(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A new token: the secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub token: ApiTokenView,
    /// The secret to send as `Authorization: Bearer …`. Store it now: it is not kept.
    pub secret: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    #[schema(example = "1C sync")]
    pub name: String,
    /// Roles to limit the token to; default: all of the caller's roles.
    pub roles: Option<Vec<RoleName>>,
    pub expires_at: Option<DateTime<Utc>>,
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
