//! `/auth/*` and `/me`.

use actix_web::{HttpResponse, get, post, web};
use sdelka_domain::email::Email;
use sdelka_domain::role::RoleSet;
use sdelka_persistence::credentials::{self, RefreshUse};
use sdelka_persistence::entity::user;
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::{self as authn, Principal, hash_password, password_fingerprint, verify_password};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::JsonBody;
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::auth::*;
use sdelka_persistence::ops::users::UserView;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(login)
        .service(refresh)
        .service(logout)
        .service(password_set)
        .service(me);
}

/// Exchanges email and password for an access token and a refresh token.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, description = "Logged in", body = TokenPair))
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let email = Email::parse(&req.email).map_err(|_| bad_credentials())?;
    let user =
        sdelka_persistence::people::find_user_by_email(&state.store.conn, email.as_str()).await?;
    // Verify against a real hash either way, so the answer time does not reveal which
    // emails have accounts.
    let (hash, active) = match &user {
        Some(u) => (u.password_hash.as_str(), u.active),
        None => (DUMMY_HASH.as_str(), false),
    };
    let password = req.password.clone();
    let hash_owned = hash.to_owned();
    let ok = web::block(move || verify_password(&password, &hash_owned))
        .await
        .map_err(ApiError::internal)?;
    match user {
        Some(u) if ok && active => Ok(HttpResponse::Ok().json(issue_pair(&state, &u, None).await?)),
        _ => Err(bad_credentials()),
    }
}

/// Rotates a refresh token: the presented one is spent, a new pair is returned. Presenting a
/// spent token again revokes its whole family (theft detection).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = TokenPair))
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let txn = state.store.begin().await?;
    let used = credentials::use_refresh(&txn, &body.0.refresh_token).await?;
    txn.commit().await?;
    match used {
        RefreshUse::Rotated { user_id, family_id } => {
            let user = records::find::<user::Entity, _>(&state.store.conn, user_id)
                .await
                .ok()
                .filter(|u| u.active)
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidToken, "the account is not active")
                })?;
            Ok(HttpResponse::Ok().json(issue_pair(&state, &user, Some(family_id)).await?))
        }
        RefreshUse::Reused => Err(ApiError::new(
            ErrorCode::InvalidToken,
            "this refresh token was already used; all sessions of its login are revoked",
        )),
        RefreshUse::Invalid => Err(ApiError::new(
            ErrorCode::InvalidToken,
            "the refresh token is unknown, expired or revoked",
        )),
    }
}

/// Ends the session: the refresh token's family is revoked. Access tokens expire by
/// themselves within their short lifetime.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out"))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    credentials::revoke_by_secret(&state.store.conn, &body.0.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets a password with the token from the welcome email. The token works once.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordSetRequest,
    responses((status = 204, description = "Password set"))
)]
#[post("/auth/password-set")]
pub async fn password_set(
    state: web::Data<AppState>,
    body: JsonBody<PasswordSetRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let claims = state.jwt.verify(&req.token, "password_set")?;
    let password = req.password;
    let new_hash = web::block(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)??;
    let txn = state.store.begin().await?;
    let actor = sdelka_persistence::Actor {
        user_id: Some(claims.sub),
        api_token_id: None,
        request_id: crate::error::current_request_id(),
    };
    let result = records::update::<user::Entity, _, _, ApiError>(
        &txn,
        &actor,
        claims.sub,
        None,
        |u| {
            if claims.pwv.as_deref() != Some(password_fingerprint(&u.password_hash).as_str()) {
                return Err(ApiError::new(
                    ErrorCode::InvalidToken,
                    "this link was already used",
                ));
            }
            u.password_hash = new_hash;
            Ok(())
        },
        records::snapshot,
    )
    .await?;
    result?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's own user record.
#[utoipa::path(tag = "auth", responses((status = 200, description = "Me", body = UserView)))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let u = records::find::<user::Entity, _>(&state.store.conn, principal.user_id).await?;
    Ok(crate::routes::versioned(
        actix_web::http::StatusCode::OK,
        u.version,
        &UserView::from(&u),
    ))
}

pub async fn issue_pair(
    state: &AppState,
    user: &user::Model,
    family: Option<Uuid>,
) -> ApiResult<TokenPair> {
    let roles = RoleSet::from_storage(&user.roles);
    let access = state.jwt.issue(
        user.id,
        &roles,
        "access",
        state.jwt.access_ttl_seconds,
        None,
    )?;
    let refresh_secret = authn::random_secret();
    let expires = chrono::Utc::now() + chrono::Duration::days(state.config.refresh_token_ttl_days);
    credentials::insert_refresh(
        &state.store.conn,
        user.id,
        family.unwrap_or_else(Uuid::now_v7),
        &refresh_secret,
        expires,
    )
    .await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh_secret,
        token_type: "Bearer".into(),
        expires_in: state.jwt.access_ttl_seconds,
    })
}

pub fn bad_credentials() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCredentials,
        "email or password is wrong, or the account is inactive",
    )
}

/// An argon2 hash of a random password nobody knows, made once per process.
pub static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&authn::random_secret()).unwrap_or_default());
