//! `/users`: the people who work in Sdelka (ORG-2).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use sdelka_domain::email::Email;
use sdelka_domain::role::{Role, RoleSet};
use sdelka_domain::validation::Violations;
use sdelka_persistence::entity::user;
use sdelka_persistence::journal::now;
use sdelka_persistence::outbox::{self, OutgoingEmail};
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::people::{UserFilter, users_query};
use sdelka_persistence::records;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::auth::{Admin, Principal, hash_password, password_fingerprint, random_secret};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::users::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user);
}

/// Lists users (the company directory).
#[utoipa::path(
    tag = "organisation",
    params(ListParams, UserListFilter),
    responses((status = 200, description = "A page of users", body = ListPage<UserView>))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    _caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<UserListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = user_sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let query = users_query(&UserFilter {
        q: f.q,
        role: f.role.map(|r| Role::from(r).as_str().to_owned()),
        department_id: f.department_id,
        active: f.active,
        updated_since: page.updated_since,
    });
    let page = fetch_page(&state.store.conn, query, req, user::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |u| UserView::from(u))))
}

/// Creates a user (admin). A welcome email with a single-use password-set token is queued in
/// the same transaction.
#[utoipa::path(
    tag = "organisation",
    request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserView))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    admin: Admin,
    body: JsonBody<CreateUser>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let mut v = Violations::new();
    let email = v.check("email", Email::parse(&req.email));
    let Some(email) = email else {
        return Err(v.into());
    };
    let password = req.password.clone().unwrap_or_else(random_secret);
    let password_hash = web::block(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)??;
    let at = now();
    let model = user::Model {
        id: Uuid::now_v7(),
        email: email.as_str().to_owned(),
        name: req.name.trim().to_owned(),
        password_hash,
        active: true,
        roles: req
            .roles
            .iter()
            .map(|r| Role::from(*r))
            .collect::<RoleSet>()
            .to_storage(),
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
    let txn = state.store.begin().await?;
    check_references(
        &txn,
        model.department_id,
        model.supervisor_id,
        model.deputy_id,
    )
    .await?;
    let model =
        records::create::<user::Entity, _>(&txn, &admin.actor(), model, records::snapshot).await?;
    queue_welcome_email(&state, &txn, &model).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/users/{}", model.id),
        model.version,
        &UserView::from(&model),
    ))
}

/// Reads one user.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView))
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let u = records::find::<user::Entity, _>(&state.store.conn, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, u.version, &UserView::from(&u)))
}

/// Changes a user (admin): roles, department, supervisor, deputy, absence, active flag.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "User id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateUser,
    responses((status = 200, description = "Updated", body = UserView))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateUser>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let req = body.0;
    let txn = state.store.begin().await?;
    check_references(
        &txn,
        req.department_id.flatten(),
        req.supervisor_id.flatten(),
        req.deputy_id.flatten(),
    )
    .await?;
    if req.supervisor_id == Some(Some(id)) || req.deputy_id == Some(Some(id)) {
        return Err(ApiError::field(
            if req.supervisor_id == Some(Some(id)) {
                "supervisor_id"
            } else {
                "deputy_id"
            },
            "self_reference",
            "a user cannot be his own supervisor or deputy",
        ));
    }
    let updated = records::update::<user::Entity, _, _, ApiError>(
        &txn,
        &admin.actor(),
        id,
        if_match.0,
        |u| {
            if let Some(n) = &req.name {
                u.name = n.trim().to_owned();
            }
            if let Some(r) = &req.roles {
                u.roles = r
                    .iter()
                    .map(|r| Role::from(*r))
                    .collect::<RoleSet>()
                    .to_storage();
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
        records::snapshot,
    )
    .await??;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        updated.version,
        &UserView::from(&updated),
    ))
}

/// The welcome email carries a token for `/auth/password-set`, valid 72 hours and only until
/// the password changes.
pub async fn queue_welcome_email<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    user: &user::Model,
) -> ApiResult<()> {
    let token = state.jwt.issue(
        user.id,
        &RoleSet::default(),
        "password_set",
        72 * 3600,
        Some(password_fingerprint(&user.password_hash)),
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
        url = state.config.public_url.trim_end_matches('/'),
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
