//! `/auth/*` and `/me`.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use sdelka_domain::email::Email;
use sdelka_domain::role::RoleSet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::users::UserView;
use super::{Caller, Db, Error, ErrorCode, OpResult, present};
use crate::credentials::{self, RefreshUse};
use crate::entity::user;
use crate::records;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin@sdelka.local")]
    #[validate(length(min = 1, max = 254))]
    pub email: String,
    #[validate(length(min = 1, max = 1024))]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Single-use token for `/auth/refresh`; each use returns a new one.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[validate(length(min = 1, max = 512))]
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordSetRequest {
    /// The token from the welcome / password-set email.
    #[validate(length(min = 1, max = 4096))]
    pub token: String,
    #[validate(length(min = 8, max = 1024, message = "password must be 8 to 1024 characters"))]
    pub password: String,
}

/// What the credential operations need from the machinery the API holds and the store does
/// not: argon2 password hashes, random secrets and signed password-set tokens.
#[async_trait::async_trait]
pub trait Credentials: Send + Sync {
    /// Whether `password` matches the argon2 `hash` (slow on purpose; run off the executor).
    async fn verify_password(&self, password: String, hash: String) -> OpResult<bool>;
    /// An argon2 hash of `password`.
    async fn hash_password(&self, password: String) -> OpResult<String>;
    /// The hash of a password nobody knows, to verify against when there is no account, so
    /// that the answer time does not reveal which emails have accounts.
    fn dummy_hash(&self) -> String;
    /// A fresh random URL-safe secret.
    fn random_secret(&self) -> String;
    /// The fingerprint of a password hash that a password-set token carries: the token works
    /// only while the password is the one it was made for.
    fn password_fingerprint(&self, password_hash: &str) -> String;
    /// A signed token for `/auth/password-set` of `user_id`, valid `ttl_seconds`, carrying
    /// the fingerprint `pwv`.
    fn password_set_token(&self, user_id: Uuid, pwv: String, ttl_seconds: i64) -> OpResult<String>;
}

/// A session opened or renewed: who, with which roles (for the access token the API signs),
/// and the new single-use refresh token.
#[derive(Debug)]
pub struct Session {
    pub user_id: Uuid,
    pub roles: RoleSet,
    pub refresh_token: String,
}

pub fn bad_credentials() -> Error {
    Error::new(
        ErrorCode::InvalidCredentials,
        "email or password is wrong, or the account is inactive",
    )
}

/// Stores a new refresh token of `user` in `family` (a new family: a new login).
async fn open_session(
    db: &Db<'_>,
    creds: &dyn Credentials,
    user: &user::Model,
    family: Option<Uuid>,
    refresh_ttl: chrono::Duration,
) -> OpResult<Session> {
    let refresh_token = creds.random_secret();
    credentials::insert_refresh(
        db,
        user.id,
        family.unwrap_or_else(Uuid::now_v7),
        &refresh_token,
        chrono::Utc::now() + refresh_ttl,
    )
    .await?;
    Ok(Session {
        user_id: user.id,
        roles: RoleSet::from_storage(&user.roles),
        refresh_token,
    })
}

/// Per-account login throttling (SEC): failed logins for one account from one client address
/// are counted; the first [`FREE_FAILURES`] cost nothing, after them each attempt must wait a
/// delay that doubles from 4 s up to [`MAX_DELAY_SECONDS`] (429 `login_throttled` with
/// `Retry-After`; while it runs no password is even checked). Attempts refused by the delay
/// do not lengthen it, so an attacker cannot lock anyone out for more than
/// [`MAX_DELAY_SECONDS`] at a time, and the owner logging in from another address is not
/// affected at all. A successful login clears the count; failures are forgotten
/// [`FORGET_AFTER`] after the last one. Counts live in the memory of each instance (bounded:
/// past [`MAX_ENTRIES`] pairs, new ones are counted per account alone).
#[derive(Default)]
pub struct LoginThrottle {
    entries: DashMap<String, Throttled>,
}

pub const FREE_FAILURES: u32 = 5;
pub const MAX_DELAY_SECONDS: u64 = 30;
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
pub const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Copy)]
struct Throttled {
    failures: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl LoginThrottle {
    fn delay(failures: u32) -> Duration {
        let step = failures.saturating_sub(FREE_FAILURES).min(10);
        Duration::from_secs((4u64 << step).min(MAX_DELAY_SECONDS))
    }

    fn key(&self, email: &str, client: &str) -> String {
        let pair = format!("{email}\u{0}{client}");
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&pair) {
            let now = Instant::now();
            self.entries.retain(|_, t| {
                now.duration_since(t.last) < FORGET_AFTER
                    || t.blocked_until.is_some_and(|b| b > now)
            });
            if self.entries.len() >= MAX_ENTRIES {
                return email.to_owned();
            }
        }
        pair
    }

    /// Admits an attempt, counted as a failure until it succeeds (so that parallel guesses
    /// are counted before their slow password checks end); or the seconds to wait.
    fn attempt(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut t = self.entries.entry(key.to_owned()).or_insert(Throttled {
            failures: 0,
            last: now,
            blocked_until: None,
        });
        if now.duration_since(t.last) >= FORGET_AFTER {
            t.failures = 0;
            t.blocked_until = None;
        }
        if let Some(until) = t.blocked_until.filter(|u| *u > now) {
            let wait = until.duration_since(now);
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        t.failures += 1;
        t.last = now;
        if t.failures > FREE_FAILURES {
            t.blocked_until = Some(now + Self::delay(t.failures - 1));
        }
        Ok(())
    }

    fn failed(&self, key: &str) {
        if let Some(mut t) = self.entries.get_mut(key) {
            let now = Instant::now();
            t.last = now;
            if t.failures >= FREE_FAILURES {
                let until = now + Self::delay(t.failures);
                t.blocked_until = Some(t.blocked_until.map_or(until, |b| b.max(until)));
            }
        }
    }

    fn uncount(&self, key: &str) {
        if let Some(mut t) = self.entries.get_mut(key) {
            t.failures = t.failures.saturating_sub(1);
        }
    }

    fn succeeded(&self, key: &str) {
        self.entries.remove(key);
    }
}

/// Checks an email and password; an active account opens a session. `client` is the
/// caller's address, for the [`LoginThrottle`].
pub async fn login(
    db: Db<'_>,
    creds: &dyn Credentials,
    throttle: &LoginThrottle,
    client: &str,
    req: LoginRequest,
    refresh_ttl: chrono::Duration,
) -> OpResult<Session> {
    let email = Email::parse(&req.email).map_err(|_| bad_credentials())?;
    let key = throttle.key(email.as_str(), client);
    if let Err(wait) = throttle.attempt(&key) {
        let mut e = Error::new(
            ErrorCode::LoginThrottled,
            format!("too many failed logins for this account from your address; retry in {wait} s"),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    let result = check_password(&db, creds, &email, req.password, refresh_ttl).await;
    match &result {
        Ok(_) => throttle.succeeded(&key),
        Err(e) if e.code == ErrorCode::InvalidCredentials => throttle.failed(&key),
        // A failure of ours says nothing about the password: the attempt does not count.
        Err(_) => throttle.uncount(&key),
    }
    result
}

async fn check_password(
    db: &Db<'_>,
    creds: &dyn Credentials,
    email: &Email,
    password: String,
    refresh_ttl: chrono::Duration,
) -> OpResult<Session> {
    let user = crate::people::find_user_by_email(db, email.as_str()).await?;
    // Verify against a real hash either way, so the answer time does not reveal which
    // emails have accounts.
    let (hash, active) = match &user {
        Some(u) => (u.password_hash.clone(), u.active),
        None => (creds.dummy_hash(), false),
    };
    let ok = creds.verify_password(password, hash).await?;
    match user {
        Some(u) if ok && active => open_session(db, creds, &u, None, refresh_ttl).await,
        _ => Err(bad_credentials()),
    }
}

/// Rotates a refresh token: the presented one is spent and the next of its family issued.
/// Presenting a spent token again revokes the whole family (theft detection).
pub async fn refresh(
    db: Db<'_>,
    creds: &dyn Credentials,
    req: RefreshRequest,
    refresh_ttl: chrono::Duration,
) -> OpResult<Session> {
    let txn = db.begin().await?;
    let used = credentials::use_refresh(&txn, &req.refresh_token).await?;
    // Spent or revoked stays so even when the answer is a refusal.
    txn.commit().await?;
    match used {
        RefreshUse::Rotated { user_id, family_id } => {
            let user = records::find::<user::Entity, _>(&db, user_id)
                .await
                .ok()
                .filter(|u| u.active)
                .ok_or_else(|| Error::new(ErrorCode::InvalidToken, "the account is not active"))?;
            open_session(&db, creds, &user, Some(family_id), refresh_ttl).await
        }
        RefreshUse::Reused => Err(Error::new(
            ErrorCode::InvalidToken,
            "this refresh token was already used; all sessions of its login are revoked",
        )),
        RefreshUse::Invalid => Err(Error::new(
            ErrorCode::InvalidToken,
            "the refresh token is unknown, expired or revoked",
        )),
    }
}

/// Ends a session: the refresh token's family is revoked.
pub async fn logout(db: Db<'_>, req: RefreshRequest) -> OpResult<()> {
    credentials::revoke_by_secret(&db, &req.refresh_token).await?;
    Ok(())
}

/// Sets the caller's password with a password-set token whose fingerprint `pwv` (already
/// verified by the API) must still match the current password: the link works once.
pub async fn set_password(
    db: Db<'_>,
    caller: &Caller,
    creds: &dyn Credentials,
    pwv: Option<&str>,
    password: String,
) -> OpResult<()> {
    let new_hash = creds.hash_password(password).await?;
    let txn = db.begin().await?;
    records::update::<user::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        caller.user_id,
        None,
        |u| {
            if pwv != Some(creds.password_fingerprint(&u.password_hash).as_str()) {
                return Err(Error::new(
                    ErrorCode::InvalidToken,
                    "this link was already used",
                ));
            }
            u.password_hash = new_hash;
            Ok(())
        },
        |m| present(&UserView::from(m)),
    )
    .await??;
    txn.commit().await?;
    Ok(())
}

/// The caller's own user record.
pub async fn get_me(db: Db<'_>, caller: &Caller) -> OpResult<UserView> {
    let u = records::find::<user::Entity, _>(&db, caller.user_id).await?;
    Ok(UserView::from(&u))
}
