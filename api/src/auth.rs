//! API-6 authentication: argon2 passwords, short-lived JWT access tokens, rotating refresh
//! tokens and personal API tokens; and the extractors that authorise handlers by role.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sdelka_domain::role::{Role, RoleSet};
use sdelka_persistence::credentials;
pub use sdelka_persistence::ops::Caller;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode, current_request_id};
use crate::state::AppState;

/// Prefix of personal API tokens, so they are recognisable in configs and secret scanners.
pub const API_TOKEN_PREFIX: &str = "sdk_";

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(ApiError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random secret of 32 bytes, URL-safe.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    pub roles: Vec<Role>,
    /// `access` or `password_set`: a token is only accepted for its purpose.
    #[serde(default = "access_purpose")]
    pub purpose: String,
    /// For `password_set`: a fingerprint of the password hash it may replace, which makes
    /// the link single-use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwv: Option<String>,
}

fn access_purpose() -> String {
    "access".into()
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_seconds: i64,
}

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, access_ttl_seconds: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl_seconds,
        }
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        roles: &RoleSet,
        purpose: &str,
        ttl_seconds: i64,
        pwv: Option<String>,
    ) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            exp: now + ttl_seconds,
            iat: now,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4(),
            roles: roles.to_vec(),
            purpose: purpose.to_owned(),
            pwv,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str, purpose: &str) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidToken,
                    format!("the token is not valid: {e}"),
                )
            })?;
        if data.claims.purpose != purpose {
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                "the token is not valid for this use",
            ));
        }
        Ok(data.claims)
    }
}

/// Fingerprint of a password hash for single-use password-set links.
pub fn password_fingerprint(password_hash: &str) -> String {
    credentials::hash_secret(password_hash)[..16].to_owned()
}

/// The authenticated caller of a request: the operations' [`Caller`], extracted from the
/// `Authorization` header.
#[derive(Debug, Clone)]
pub struct Principal(pub Caller);

impl std::ops::Deref for Principal {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl Principal {
    pub(crate) fn of(user_id: Uuid, roles: RoleSet, api_token_id: Option<Uuid>) -> Self {
        Principal(Caller {
            user_id,
            roles,
            api_token_id,
            correlation_id: current_request_id(),
        })
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Resolves the caller of `req`; used by the extractor and by middleware that must know who
/// calls (idempotency scope, rate limit key).
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Principal, ApiError> {
    let Some(token) = bearer(req) else {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "send `Authorization: Bearer <token>` (an access token from /auth/login or an API token)",
        ));
    };
    if token.starts_with(API_TOKEN_PREFIX) {
        return api_token_principal(state, &token).await;
    }
    let claims = state.jwt.verify(&token, "access")?;
    // The token says who; the account says whether he still may, and with which roles: a
    // deactivation or a role change takes effect on the next request.
    let account = sdelka_persistence::accounts::current(&state.store.conn, claims.sub).await?;
    match account {
        Some(a) if a.active => Ok(Principal::of(claims.sub, a.roles, None)),
        _ => Err(ApiError::new(
            ErrorCode::InvalidToken,
            "the account of this token is deactivated or deleted",
        )),
    }
}

/// The caller an API token (`sdk_…`) stands for.
pub async fn api_token_principal(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let Some(t) = credentials::find_api_token(&state.store.conn, token).await? else {
        return Err(ApiError::new(
            ErrorCode::InvalidToken,
            "the API token is unknown, expired or revoked",
        ));
    };
    let owner = sdelka_persistence::records::find::<sdelka_persistence::entity::user::Entity, _>(
        &state.store.conn,
        t.user_id,
    )
    .await
    .ok()
    .filter(|u| u.active);
    let Some(owner) = owner else {
        return Err(ApiError::new(
            ErrorCode::InvalidToken,
            "the API token's owner is not active",
        ));
    };
    let roles = RoleSet::from_storage(&owner.roles).intersection(&RoleSet::from_storage(&t.roles));
    Ok(Principal::of(owner.id, roles, Some(t.id)))
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(p) = req.extensions().get::<Principal>() {
            let p = p.clone();
            return Box::pin(async move { Ok(p) });
        }
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::internal("application state missing"))?;
            let principal = authenticate(state, &req).await?;
            req.extensions_mut().insert(principal.clone());
            Ok(principal)
        })
    }
}

use actix_web::HttpMessage;

/// A set of roles that may call a handler.
pub trait Policy {
    const ROLES: &'static [Role];
    const DESCRIPTION: &'static str;

    /// Whether `p` holds one of the roles (for checks that depend on the request's content).
    fn allows(p: &Principal) -> bool {
        Self::ROLES.iter().any(|r| p.has(*r))
    }
}

/// An authenticated caller holding one of `P::ROLES`; anyone else gets 403.
pub struct Authorized<P: Policy>(pub Principal, PhantomData<P>);

impl<P: Policy> std::ops::Deref for Authorized<P> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<P: Policy + 'static> FromRequest for Authorized<P> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = Principal::from_request(req, payload);
        Box::pin(async move {
            let p = fut.await?;
            if P::allows(&p) {
                Ok(Authorized(p, PhantomData))
            } else {
                Err(ApiError::forbidden(format!(
                    "this needs the role {}",
                    P::DESCRIPTION
                )))
            }
        })
    }
}

pub struct AdminOnly;
impl Policy for AdminOnly {
    const ROLES: &'static [Role] = &[Role::Admin];
    const DESCRIPTION: &'static str = "admin";
}

pub type Admin = Authorized<AdminOnly>;

/// Who may change the catalog and work deals: sales managers, their heads, admins.
pub struct SalesStaffOnly;
impl Policy for SalesStaffOnly {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Head, Role::SalesManager];
    const DESCRIPTION: &'static str = "admin, head or sales_manager";
}

pub type SalesStaff = Authorized<SalesStaffOnly>;
