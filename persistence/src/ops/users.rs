//! `/users`: the people who work in Sdelka (ORG-2).

use crate::entity::{department, user};
use crate::journal::now;
use crate::outbox::{self, OutgoingEmail};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::people::{UserFilter, users_query};
use crate::records;
use chrono::{DateTime, Utc};
use sdelka_domain::email::Email;
use sdelka_domain::role::{Role, RoleSet};
use sdelka_domain::validation::Violations;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::auth::Credentials;
use super::dto::{RoleName, double_option};
use super::{Actor, Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};

use super::ensure_exists;

/// A user as the API shows it. Password hashes never leave the server.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    #[schema(example = "m.ivanova@example.com")]
    pub email: String,
    #[schema(example = "Мария Иванова")]
    pub name: String,
    pub active: bool,
    pub roles: Vec<RoleName>,
    pub department_id: Option<Uuid>,
    /// Explicit supervisor; when empty, the head of the user's department is his supervisor.
    pub supervisor_id: Option<Uuid>,
    /// Receives the user's new tasks while he is absent.
    pub deputy_id: Option<Uuid>,
    pub absent: bool,
    pub email_notifications: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&user::Model> for UserView {
    fn from(u: &user::Model) -> Self {
        UserView {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            active: u.active,
            roles: RoleSet::from_storage(&u.roles)
                .iter()
                .map(RoleName::from)
                .collect(),
            department_id: u.department_id,
            supervisor_id: u.supervisor_id,
            deputy_id: u.deputy_id,
            absent: u.absent,
            email_notifications: u.email_notifications,
            version: u.version,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(example = "m.ivanova@example.com")]
    pub email: String,
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    #[schema(example = "Мария Иванова")]
    pub name: String,
    /// Optional initial password (8+ characters). Either way the user gets a welcome email
    /// with a single-use link to set his own.
    #[validate(length(min = 8, max = 1024, message = "password must be 8 to 1024 characters"))]
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<RoleName>,
    pub department_id: Option<Uuid>,
    pub supervisor_id: Option<Uuid>,
    pub deputy_id: Option<Uuid>,
    pub email_notifications: Option<bool>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    pub name: Option<String>,
    pub roles: Option<Vec<RoleName>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub department_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub supervisor_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub deputy_id: Option<Option<Uuid>>,
    pub active: Option<bool>,
    pub absent: Option<bool>,
    pub email_notifications: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListFilter {
    /// Part of the name or email.
    pub q: Option<String>,
    pub role: Option<RoleName>,
    pub department_id: Option<Uuid>,
    pub active: Option<bool>,
}

pub fn user_sorts() -> [SortKey<user::Entity>; 4] {
    [
        SortKey {
            name: "created_at",
            column: user::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: user::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "name",
            column: user::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
        SortKey {
            name: "email",
            column: user::Column::Email,
            key: |m| CursorValue::Text(m.email.clone()),
        },
    ]
}

pub async fn check_references<C: ConnectionTrait>(
    db: &C,
    department_id: Option<Uuid>,
    supervisor_id: Option<Uuid>,
    deputy_id: Option<Uuid>,
) -> OpResult<()> {
    if let Some(id) = department_id {
        ensure_exists::<department::Entity, _>(db, "department_id", id).await?;
    }
    if let Some(id) = supervisor_id {
        ensure_exists::<user::Entity, _>(db, "supervisor_id", id).await?;
    }
    if let Some(id) = deputy_id {
        ensure_exists::<user::Entity, _>(db, "deputy_id", id).await?;
    }
    Ok(())
}

/// The presenter of a user: its view, what `GET /users/{id}` answers.
pub fn public(u: &user::Model) -> serde_json::Value {
    present(&UserView::from(u))
}

fn role_storage(roles: &[RoleName]) -> String {
    roles
        .iter()
        .map(|r| Role::from(*r))
        .collect::<RoleSet>()
        .to_storage()
}

/// The company directory, a page at a time.
pub async fn list_users(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
    f: UserListFilter,
) -> OpResult<ListPage<UserView>> {
    let sorts = user_sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let query = users_query(&UserFilter {
        q: f.q,
        role: f.role.map(|r| Role::from(r).as_str().to_owned()),
        department_id: f.department_id,
        active: f.active,
        updated_since: page.updated_since,
    });
    let page = fetch_page(&db, query, req, user::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |u| UserView::from(u)))
}

/// One user.
pub async fn get_user(db: Db<'_>, _caller: &Caller, id: Uuid) -> OpResult<UserView> {
    let u = records::find::<user::Entity, _>(&db, id).await?;
    Ok(UserView::from(&u))
}

/// Creates a user, by an admin (`caller`) or by the service itself (`None`: the command
/// line). Without a password one nobody knows is set. A welcome email with a single-use
/// password-set token (links point at `public_url`) is queued in the same transaction.
pub async fn create_user(
    db: Db<'_>,
    caller: Option<&Caller>,
    creds: &dyn Credentials,
    public_url: &str,
    req: CreateUser,
) -> OpResult<UserView> {
    let mut v = Violations::new();
    let Some(email) = v.check("email", Email::parse(&req.email)) else {
        return Err(v.into());
    };
    let password = req.password.unwrap_or_else(|| creds.random_secret());
    let password_hash = creds.hash_password(password).await?;
    let at = now();
    let model = user::Model {
        id: Uuid::now_v7(),
        email: email.as_str().to_owned(),
        name: req.name.trim().to_owned(),
        password_hash,
        active: true,
        roles: role_storage(&req.roles),
        department_id: req.department_id,
        supervisor_id: req.supervisor_id,
        deputy_id: req.deputy_id,
        absent: false,
        email_notifications: req.email_notifications.unwrap_or(true),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let actor = caller.map_or_else(Actor::system, Caller::actor);
    let txn = db.begin().await?;
    check_references(
        &txn,
        model.department_id,
        model.supervisor_id,
        model.deputy_id,
    )
    .await?;
    let model = records::create::<user::Entity, _>(&txn, &actor, model, public).await?;
    queue_welcome_email(&txn, creds, public_url, &model).await?;
    txn.commit().await?;
    Ok(UserView::from(&model))
}

/// Changes a user: roles, department, supervisor, deputy, absence, active flag.
pub async fn update_user(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateUser,
) -> OpResult<UserView> {
    let txn = db.begin().await?;
    check_references(
        &txn,
        req.department_id.flatten(),
        req.supervisor_id.flatten(),
        req.deputy_id.flatten(),
    )
    .await?;
    if req.supervisor_id == Some(Some(id)) || req.deputy_id == Some(Some(id)) {
        return Err(Error::field(
            if req.supervisor_id == Some(Some(id)) {
                "supervisor_id"
            } else {
                "deputy_id"
            },
            "self_reference",
            "a user cannot be his own supervisor or deputy",
        ));
    }
    let admins_before = lock_active_admins(&txn).await?;
    let updated = records::update::<user::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |u| {
            if let Some(n) = &req.name {
                u.name = n.trim().to_owned();
            }
            if let Some(r) = &req.roles {
                u.roles = role_storage(r);
            }
            if let Some(d) = req.department_id {
                u.department_id = d;
            }
            if let Some(s) = req.supervisor_id {
                u.supervisor_id = s;
            }
            if let Some(d) = req.deputy_id {
                u.deputy_id = d;
            }
            if let Some(a) = req.active {
                u.active = a;
            }
            if let Some(a) = req.absent {
                u.absent = a;
            }
            if let Some(e) = req.email_notifications {
                u.email_notifications = e;
            }
            Ok(())
        },
        public,
    )
    .await??;
    ensure_an_admin_remains(admins_before, &updated)?;
    txn.commit().await?;
    Ok(UserView::from(&updated))
}

/// The ids of the active admins. On PostgreSQL their rows stay locked until the transaction
/// ends, so two admins demoting each other at once cannot both succeed; SQLite's single
/// writer serialises the transactions anyway.
pub async fn lock_active_admins<C: ConnectionTrait>(db: &C) -> OpResult<Vec<Uuid>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let mut q = user::Entity::find()
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Roles.contains(Role::Admin.as_str()));
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    Ok(q.all(db)
        .await?
        .into_iter()
        .filter(|u| RoleSet::from_storage(&u.roles).contains(Role::Admin))
        .map(|u| u.id)
        .collect())
}

/// ORG-2: the organisation always keeps an active admin — the last one can neither lose the
/// admin role nor be deactivated (by himself or anyone), or nobody could manage users again.
pub fn ensure_an_admin_remains(admins_before: Vec<Uuid>, changed: &user::Model) -> OpResult<()> {
    let still_admin = changed.active && RoleSet::from_storage(&changed.roles).contains(Role::Admin);
    if still_admin || admins_before.iter().any(|a| *a != changed.id) || admins_before.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::LastAdmin,
        "rule last_admin: this is the last active admin; he cannot be deactivated or lose the \
         admin role until another active user is an admin",
    ))
}

/// Queues the welcome email in `db`'s transaction. It carries a token for
/// `/auth/password-set`, valid 72 hours and only until the password changes.
pub async fn queue_welcome_email<C: ConnectionTrait>(
    db: &C,
    creds: &dyn Credentials,
    public_url: &str,
    user: &user::Model,
) -> OpResult<()> {
    let token = creds.password_set_token(
        user.id,
        creds.password_fingerprint(&user.password_hash),
        72 * 3600,
    )?;
    let body = format!(
        "Здравствуйте, {name}!\n\n\
         Для вас создана учётная запись в Sdelka ({email}).\n\
         Чтобы задать пароль, отправьте этот токен в POST {url}/api/v1/auth/password-set \
         (поле token) — или откройте ссылку в вашем интерфейсе Sdelka:\n\n{token}\n\n\
         Токен действует 72 часа и только один раз.\n\n\
         Your Sdelka account ({email}) has been created. Use the token above with \
         POST /api/v1/auth/password-set to set your password (valid 72 hours, once).\n",
        name = user.name,
        email = user.email,
        url = public_url.trim_end_matches('/'),
    );
    outbox::enqueue_email(
        db,
        &OutgoingEmail {
            to: vec![user.email.clone()],
            subject: "Добро пожаловать в Sdelka / Welcome to Sdelka".into(),
            text_body: body,
        },
    )
    .await?;
    Ok(())
}
