//! INT-1C-1: the CommerceML 2 exchange at `/1c-exchange`, in the protocol's own style — the
//! query string says what (`type=catalog|sale`, `mode=checkauth|init|file|import|query|success`),
//! answers are `text/plain`: `success`, `progress` or `failure`, and a message on the next line.
//!
//! `checkauth` takes HTTP Basic credentials — a user's email and password (the login throttle
//! applies) or an API token as the password — and answers the session cookie: a token signed
//! with the service's keys, so that every instance accepts it. Everything else of the session
//! (posted files, import positions) is in the database.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use base64::Engine;
use sdelka_domain::role::RoleSet;
use sdelka_persistence::ops::Caller;
use sdelka_persistence::ops::auth::{self as auth_ops, LoginRequest};
use sdelka_persistence::ops::commerceml as ops;
use sdelka_persistence::ops::commerceml_sale as sale;
use std::collections::HashMap;
use uuid::Uuid;

use crate::auth::{Policy, Principal, SalesStaffOnly, api_token_principal};
use crate::error::current_request_id;
use crate::limits::client_address;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "sdelka_1c";
const PURPOSE: &str = "1c_exchange";
const SESSION_SECONDS: i64 = 3600;

/// The exchange endpoint, GET and POST alike (1C posts files, asks the rest with GET).
pub fn service() -> actix_web::Resource {
    web::resource("/1c-exchange")
        .route(web::get().to(exchange))
        .route(web::post().to(exchange))
}

fn answer(first: &str, message: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!("{first}\n{message}"))
}

fn failure(message: impl std::fmt::Display) -> HttpResponse {
    answer("failure", &message.to_string().replace('\n', " "))
}

fn basic(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

fn cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
}

/// The caller and session of a request carrying the session cookie.
async fn session(state: &AppState, req: &HttpRequest) -> Result<(Caller, Uuid), String> {
    let Some(token) = cookie(req) else {
        return Err(format!(
            "no session: call mode=checkauth first and send the cookie {COOKIE}"
        ));
    };
    let claims = state
        .jwt
        .verify(&token, PURPOSE)
        .map_err(|_| "the session is unknown or expired; call mode=checkauth".to_owned())?;
    let account = sdelka_persistence::accounts::current(&state.store.conn, claims.sub)
        .await
        .map_err(|e| e.to_string())?;
    let Some(account) = account.filter(|a| a.active) else {
        return Err("the account of this session is deactivated".into());
    };
    let granted: RoleSet = claims.roles.iter().copied().collect();
    let principal = Principal::of(claims.sub, account.roles.intersection(&granted), None);
    Ok((principal.0, claims.jti))
}

async fn checkauth(state: &AppState, req: &HttpRequest) -> HttpResponse {
    let Some((user, password)) = basic(req) else {
        return failure("send HTTP Basic credentials: an email and password, or an API token");
    };
    let principal = if password.starts_with(crate::auth::API_TOKEN_PREFIX) {
        match api_token_principal(state, &password).await {
            Ok(p) => p,
            Err(e) => return failure(e.0.detail),
        }
    } else {
        let client = client_address(req, &state.trusted_proxies)
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let login = auth_ops::login(
            state.db(),
            state,
            &state.login_throttle,
            &client,
            LoginRequest {
                email: user,
                password,
            },
            chrono::Duration::days(state.config.refresh_token_ttl_days),
        )
        .await;
        match login {
            Ok(s) => Principal::of(s.user_id, s.roles, None),
            Err(e) => return failure(e.detail),
        }
    };
    if !SalesStaffOnly::allows(&principal) {
        return failure(format!(
            "the exchange needs the role {}",
            SalesStaffOnly::DESCRIPTION
        ));
    }
    let token = match state.jwt.issue(
        principal.user_id,
        &principal.roles,
        PURPOSE,
        SESSION_SECONDS,
        None,
    ) {
        Ok(t) => t,
        Err(e) => return failure(e.0.detail),
    };
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!("success\n{COOKIE}\n{token}\n"))
}

async fn exchange(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
) -> HttpResponse {
    let kind = query.get("type").map(String::as_str).unwrap_or_default();
    let mode = query.get("mode").map(String::as_str).unwrap_or_default();
    if !matches!(kind, "catalog" | "sale") {
        return failure("type is catalog or sale");
    }
    if mode == "checkauth" {
        return checkauth(&state, &req).await;
    }
    let (caller, session_id) = match session(&state, &req).await {
        Ok(s) => s,
        Err(m) => return failure(m),
    };
    let caller = Caller {
        correlation_id: current_request_id(),
        ..caller
    };
    match (kind, mode) {
        (_, "init") => match ops::start_session(state.db(), session_id).await {
            Ok(()) => HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(format!(
                    "zip=yes\nfile_limit={}\nsessid={session_id}\nversion=2.10\n",
                    state.config.max_import_bytes
                )),
            Err(e) => failure(e.detail),
        },
        (_, "file") => {
            let Some(filename) = query.get("filename") else {
                return failure("mode=file needs filename");
            };
            if let Err(e) =
                ops::append_file_part(state.db(), session_id, filename, body.to_vec()).await
            {
                return failure(e.detail);
            }
            if kind == "catalog" {
                return answer("success", "");
            }
            // Orders are imported as soon as their file is whole (1C sends no import call
            // for them); a file posted in parts waits for the rest, or for mode=import.
            match sale::sale_file_complete(state.db(), session_id, filename).await {
                Ok(true) => sale_import(&state, &caller, session_id, filename).await,
                Ok(false) => answer(
                    "success",
                    &format!(
                        "{filename} is not a whole CommerceML document yet; send the rest, then mode=import"
                    ),
                ),
                Err(e) => failure(e.detail),
            }
        }
        ("sale", "import") => {
            let Some(filename) = query.get("filename") else {
                return failure("mode=import needs filename");
            };
            sale_import(&state, &caller, session_id, filename).await
        }
        ("sale", "query") => {
            let version = query.get("version").map(String::as_str);
            match sale::sale_query(state.db(), &caller, session_id, version, sale::QUERY_LIMIT)
                .await
            {
                Ok(a) => HttpResponse::Ok()
                    .content_type("application/xml; charset=windows-1251")
                    .insert_header(("X-Orders", a.orders.to_string()))
                    .body(a.xml),
                Err(e) => failure(e.detail),
            }
        }
        ("sale", "success") => match sale::sale_success(state.db(), session_id).await {
            Ok(n) => answer("success", &format!("{n} orders marked exported")),
            Err(e) => failure(e.detail),
        },
        ("catalog", "import") => {
            let Some(filename) = query.get("filename") else {
                return failure("mode=import needs filename");
            };
            match ops::import_step(
                state.db(),
                &caller,
                session_id,
                filename,
                state.config.cml_import_step_items,
            )
            .await
            {
                Ok(step) if step.done => answer("success", &step.message),
                Ok(step) => answer("progress", &step.message),
                Err(e) => failure(e.detail),
            }
        }
        (_, "complete" | "deactivate") => answer("success", ""),
        _ => failure(format!("mode={mode} is not supported for type={kind}")),
    }
}

async fn sale_import(
    state: &AppState,
    caller: &Caller,
    session_id: Uuid,
    filename: &str,
) -> HttpResponse {
    match sale::sale_import(state.db(), caller, session_id, filename).await {
        Ok(report) => answer("success", &report.message()),
        Err(e) => failure(e.detail),
    }
}

// ---------------------------------------------------------------------------------------------
// What the exchange brought, over `/api/v1`

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_product_groups)
        .service(list_price_types)
        .service(product_catalog);
}

/// Lists the product groups of the 1C classifier (a tree: `parent_id`).
#[utoipa::path(
    tag = "sales",
    params(crate::lists::ListParams),
    responses((status = 200, description = "A page of product groups", body = crate::lists::ListPage<ops::ProductGroupView>))
)]
#[get("/product-groups")]
pub async fn list_product_groups(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<crate::lists::ListParams>,
) -> crate::error::ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    crate::negotiate::list_answer(&req, page.into_inner(), (), move |page, ()| {
        let (state, caller) = (state.clone(), caller.clone());
        async move { ops::list_product_groups(state.db(), &caller, &page).await }
    })
    .await
}

/// Lists the price types of 1C.
#[utoipa::path(
    tag = "sales",
    params(crate::lists::ListParams),
    responses((status = 200, description = "A page of price types", body = crate::lists::ListPage<ops::PriceTypeView>))
)]
#[get("/price-types")]
pub async fn list_price_types(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<crate::lists::ListParams>,
) -> crate::error::ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    crate::negotiate::list_answer(&req, page.into_inner(), (), move |page, ()| {
        let (state, caller) = (state.clone(), caller.clone());
        async move { ops::list_price_types(state.db(), &caller, &page).await }
    })
    .await
}

/// A product's groups, offers (the product or its characteristics), prices by price type and
/// stock by warehouse, as 1C last sent them.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "The product")),
    responses((status = 200, description = "The product's catalog data", body = ops::ProductCatalogView))
)]
#[get("/products/{id}/catalog")]
pub async fn product_catalog(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> crate::error::ApiResult<HttpResponse> {
    let view = ops::product_catalog(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}
