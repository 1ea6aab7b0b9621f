//! `/auth/*` and `/me`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use sdelka_domain::role::RoleSet;
use sdelka_persistence::ops::Caller;
use sdelka_persistence::ops::auth::{
    self as ops, Credentials, LoginRequest, PasswordSetRequest, RefreshRequest, Session, TokenPair,
};
use sdelka_persistence::ops::users::UserView;
use sdelka_persistence::ops::{Error, OpResult};
use uuid::Uuid;

use crate::auth::{self as authn, Principal, hash_password, password_fingerprint, verify_password};
use crate::error::{ApiResult, current_request_id};
use crate::extract::JsonBody;
use crate::limits::client_address;
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(login)
        .service(refresh)
        .service(logout)
        .service(password_set)
        .service(me);
}

/// The credential machinery the operations use (`ops::auth::Credentials`): argon2 off the
/// executor, and password-set tokens signed with the service's JWT keys. Users' creation (the
/// handler and `sdelka user create`) uses it too.
#[async_trait::async_trait]
impl Credentials for AppState {
    async fn verify_password(&self, password: String, hash: String) -> OpResult<bool> {
        web::block(move || verify_password(&password, &hash))
            .await
            .map_err(Error::internal)
    }

    async fn hash_password(&self, password: String) -> OpResult<String> {
        web::block(move || hash_password(&password))
            .await
            .map_err(Error::internal)?
            .map_err(|e| e.0)
    }

    fn dummy_hash(&self) -> String {
        DUMMY_HASH.clone()
    }

    fn random_secret(&self) -> String {
        authn::random_secret()
    }

    fn password_fingerprint(&self, password_hash: &str) -> String {
        password_fingerprint(password_hash)
    }

    fn password_set_token(&self, user_id: Uuid, pwv: String, ttl_seconds: i64) -> OpResult<String> {
        self.jwt
            .issue(
                user_id,
                &RoleSet::default(),
                "password_set",
                ttl_seconds,
                Some(pwv),
            )
            .map_err(|e| e.0)
    }
}

fn refresh_ttl(state: &AppState) -> chrono::Duration {
    chrono::Duration::days(state.config.refresh_token_ttl_days)
}

/// The session's token pair: the access token signed here, the refresh token as stored.
fn token_pair(state: &AppState, s: Session) -> ApiResult<TokenPair> {
    let access = state.jwt.issue(
        s.user_id,
        &s.roles,
        "access",
        state.jwt.access_ttl_seconds,
        None,
    )?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: s.refresh_token,
        token_type: "Bearer".into(),
        expires_in: state.jwt.access_ttl_seconds,
    })
}

/// Exchanges email and password for an access token and a refresh token.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 429, description = "`login_throttled`: too many failed logins for this account from this address (after 5, a delay doubling from 4 s to at most 30 s; see `Retry-After`), or `rate_limited`", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let client = client_address(&req, &state.trusted_proxies)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let s = ops::login(
        state.db(),
        state.get_ref(),
        &state.login_throttle,
        &client,
        body.0,
        refresh_ttl(&state),
    )
    .await?;
    Ok(HttpResponse::Ok().json(token_pair(&state, s)?))
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
    let s = ops::refresh(state.db(), state.get_ref(), body.0, refresh_ttl(&state)).await?;
    Ok(HttpResponse::Ok().json(token_pair(&state, s)?))
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
    ops::logout(state.db(), body.0).await?;
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
    // The token's subject acts, with no roles: it may only set its own password.
    let caller = Caller {
        user_id: claims.sub,
        roles: RoleSet::default(),
        api_token_id: None,
        correlation_id: current_request_id(),
    };
    ops::set_password(
        state.db(),
        &caller,
        state.get_ref(),
        claims.pwv.as_deref(),
        req.password,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's own user record.
#[utoipa::path(tag = "auth", responses((status = 200, description = "Me", body = UserView)))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let u = ops::get_me(state.db(), &principal).await?;
    Ok(crate::routes::versioned(
        actix_web::http::StatusCode::OK,
        u.version,
        &u,
    ))
}

/// An argon2 hash of a random password nobody knows, made once per process.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&authn::random_secret()).unwrap_or_default());
