//! Business processes (WF-BP-1..6): `/process-templates` with their versions (drafts are
//! edited, publishing checks the whole definition and freezes it), `/process-instances`
//! (start, read, cancel, list, the process map), and the two queries of WF-BP-3: on whom the
//! records are held up, and how many open process tasks each performer carries.
//!
//! A definition is JSON: the entity type it is bound to, its triggers, and a block-structured
//! list of steps of seven kinds — `task`, `parallel`, `switch`, `wait`, `goto`, `end`,
//! `action`. The shipped templates (the 1C:ERP-style sale, the cold-list lead process, the
//! document and vacation approval chains) are the examples of this document.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, put, web};
use sdelka_domain::process::templates::SHIPPED;
use sdelka_persistence::ops::Caller;
use sdelka_persistence::ops::processes::{
    self as ops, CancelInstance, CreateTemplate, DraftBody, HeldUpFilter, HeldUpStep,
    InstanceListFilter, InstanceView, PerformerLoad, StartInstance, TemplateListFilter,
    TemplateView, UpdateTemplate, VersionView,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_process_templates)
        .service(create_process_template)
        .service(get_process_template)
        .service(update_process_template)
        .service(list_process_versions)
        .service(create_process_version)
        .service(get_process_version)
        .service(update_process_version)
        .service(publish_process_version)
        .service(processes_held_up)
        .service(process_workload)
        .service(list_process_instances)
        .service(start_process_instance)
        .service(get_process_instance)
        .service(process_instance_map)
        .service(process_instance_map_svg)
        .service(cancel_process_instance);
}

fn shipped(code: &str) -> Value {
    SHIPPED
        .iter()
        .find(|(c, _)| *c == code)
        .and_then(|(_, text)| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null)
}

/// The shipped sale as a draft body.
fn sale_draft() -> Value {
    json!({ "definition": shipped("sale") })
}

/// The shipped vacation approval chain as a draft body.
fn vacation_draft() -> Value {
    json!({ "definition": shipped("vacation_approval") })
}

/// A template made from the shipped cold-list lead process.
fn cold_lead_template() -> Value {
    json!({
        "code": "cold_calls",
        "name": "Обзвон холодной базы",
        "entity_type": "lead",
        "start_mode": "on_create",
        "definition": shipped("cold_lead"),
    })
}

/// The templates, a page at a time (the shipped ones among them).
#[utoipa::path(
    tag = "processes",
    params(ListParams, TemplateListFilter),
    responses((status = 200, description = "A page of templates", body = ListPage<TemplateView>))
)]
#[get("/process-templates")]
pub async fn list_process_templates(
    state: web::Data<AppState>,
    _caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<TemplateListFilter>,
) -> ApiResult<HttpResponse> {
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let state = state.clone();
            async move { ops::list_templates(state.db(), &page, filter).await }
        },
    )
    .await
}

/// Creates a template (admin) with its first draft. `start_mode` `on_create` makes it the
/// entity type's default process: once published, it starts in the transaction that creates
/// each new record and hands out its first tasks.
#[utoipa::path(
    tag = "processes",
    request_body(content = CreateTemplate, example = cold_lead_template),
    responses(
        (status = 201, description = "Created", body = TemplateView),
        (status = 409, description = "The code is taken", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad code or name", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/process-templates")]
pub async fn create_process_template(
    state: web::Data<AppState>,
    caller: Admin,
    body: JsonBody<CreateTemplate>,
) -> ApiResult<HttpResponse> {
    let t = ops::create_template(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/process-templates/{}", t.id),
        t.version,
        &t,
    ))
}

#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Template id")),
    responses(
        (status = 200, description = "The template", body = TemplateView),
        (status = 404, description = "No such template", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/process-templates/{id}")]
pub async fn get_process_template(
    state: web::Data<AppState>,
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let t = ops::get_template(state.db(), id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, t.version, &t))
}

/// Renames a template or changes its start mode (admin).
#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Template id"), ("If-Match" = Option<String>, Header, description = "ETag of the template version you read")),
    request_body(content = UpdateTemplate, example = json!({"start_mode": "on_create"})),
    responses(
        (status = 200, description = "The template as it is now", body = TemplateView),
        (status = 412, description = "Changed since you read it", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[patch("/process-templates/{id}")]
pub async fn update_process_template(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateTemplate>,
) -> ApiResult<HttpResponse> {
    let t = ops::update_template(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, t.version, &t))
}

/// The versions of a template, newest first.
#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Template id")),
    responses((status = 200, description = "The versions", body = ListPage<VersionView>))
)]
#[get("/process-templates/{id}/versions")]
pub async fn list_process_versions(
    state: web::Data<AppState>,
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let list = ops::list_versions(state.db(), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A new draft (admin), numbered after the last version. The example is the shipped 1C:ERP
/// sale: first contact → client card and terms agreed with the head (a rework loop) →
/// commercial proposal (the task requires the quote) → presentation prepared in parallel →
/// presentation, with proposal re-approval on feedback (quorum 2 of 3) → order → invoice →
/// advance payment (a wait on the payment), with the "client refuses" branches ending the
/// deal as lost.
#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Template id")),
    request_body(content = DraftBody, example = sale_draft),
    responses(
        (status = 201, description = "The new draft", body = VersionView),
        (status = 422, description = "The definition is not an object", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/process-templates/{id}/versions")]
pub async fn create_process_version(
    state: web::Data<AppState>,
    caller: Admin,
    id: web::Path<Uuid>,
    body: JsonBody<DraftBody>,
) -> ApiResult<HttpResponse> {
    let template = id.into_inner();
    let v = ops::create_version(state.db(), &caller, template, body.0).await?;
    Ok(created(
        format!("/api/v1/process-templates/{template}/versions/{}", v.number),
        v.version,
        &v,
    ))
}

#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Template id"), ("number" = i32, Path, description = "Version number")),
    responses(
        (status = 200, description = "The version", body = VersionView),
        (status = 404, description = "No such version", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/process-templates/{id}/versions/{number}")]
pub async fn get_process_version(
    state: web::Data<AppState>,
    _caller: Principal,
    path: web::Path<(Uuid, i32)>,
) -> ApiResult<HttpResponse> {
    let (id, number) = path.into_inner();
    let v = ops::get_version(state.db(), id, number).await?;
    Ok(versioned(StatusCode::OK, v.version, &v))
}

/// Replaces a draft's definition (admin). A published version is frozen: 409
/// `version_read_only`. The example is the shipped vacation approval chain.
#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Template id"), ("number" = i32, Path, description = "Version number"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body(content = DraftBody, example = vacation_draft),
    responses(
        (status = 200, description = "The draft as it is now", body = VersionView),
        (status = 409, description = "The version is published", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[put("/process-templates/{id}/versions/{number}")]
pub async fn update_process_version(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<(Uuid, i32)>,
    if_match: IfMatch,
    body: JsonBody<DraftBody>,
) -> ApiResult<HttpResponse> {
    let (id, number) = path.into_inner();
    let v = ops::update_version(state.db(), &caller, id, number, if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, v.version, &v))
}

/// Publishes a draft (admin): the whole definition is checked — unknown step kinds,
/// unreachable steps, a jump out of its block, assignees that cannot resolve, conditions on
/// unknown fields — and every problem is a 422 entry naming its JSON pointer
/// (`definition/steps/3/assignees/0`) and rule. New instances start on it; running ones keep
/// the version they started with.
#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Template id"), ("number" = i32, Path, description = "Version number")),
    responses(
        (status = 200, description = "Published", body = VersionView),
        (status = 409, description = "Already published", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The definition breaks rules", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:sdelka:problem:validation_failed", "title": "The request is invalid", "status": 422, "code": "validation_failed",
                "errors": [{"field": "definition/steps/2/assignees/0/role", "code": "unknown_role", "message": "`boss` is not a role"}]}))
    )
)]
#[post("/process-templates/{id}/versions/{number}/publish")]
pub async fn publish_process_version(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<(Uuid, i32)>,
) -> ApiResult<HttpResponse> {
    let (id, number) = path.into_inner();
    let v = ops::publish_version(state.db(), &caller, id, number).await?;
    Ok(versioned(StatusCode::OK, v.version, &v))
}

/// On whom are the records held up: every open process task with its holder (a user, or the
/// role or pool while nobody claimed it), since when and whether it is overdue, oldest first.
#[utoipa::path(
    tag = "processes",
    params(ListParams, HeldUpFilter),
    responses((status = 200, description = "Open process steps by performer (JSON, or CSV with ?format=csv)", body = ListPage<HeldUpStep>))
)]
#[get("/processes/held-up")]
pub async fn processes_held_up(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<HeldUpFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |_page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::held_up(state.db(), &caller, filter).await }
        },
    )
    .await
}

/// How many open process tasks each performer carries, most loaded first.
#[utoipa::path(
    tag = "processes",
    params(ListParams),
    responses((status = 200, description = "Open process tasks per performer (JSON, or CSV with ?format=csv)", body = ListPage<PerformerLoad>))
)]
#[get("/processes/workload")]
pub async fn process_workload(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(&req, page.into_inner(), (), move |_page, ()| {
        let (state, caller) = (state.clone(), caller.clone());
        async move { ops::workload(state.db(), &caller).await }
    })
    .await
}

/// The process instances, a page at a time; `entity_type` with `entity_id` lists those of one
/// record.
#[utoipa::path(
    tag = "processes",
    params(ListParams, InstanceListFilter),
    responses((status = 200, description = "A page of instances", body = ListPage<InstanceView>))
)]
#[get("/process-instances")]
pub async fn list_process_instances(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<InstanceListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_instances(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Starts a published template on a record by hand; the first steps run at once.
#[utoipa::path(
    tag = "processes",
    request_body(content = StartInstance, example = json!({"template_id": "0193a1b2-0000-7000-8000-00000000b9a0", "entity_id": "0193a1b2-0000-7000-8000-0000000000d1"})),
    responses(
        (status = 201, description = "Started", body = InstanceView),
        (status = 422, description = "No such template or record, or the template is not published", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/process-instances")]
pub async fn start_process_instance(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<StartInstance>,
) -> ApiResult<HttpResponse> {
    let i = ops::start_instance(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/process-instances/{}", i.id),
        i.version,
        &i,
    ))
}

#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Instance id")),
    responses(
        (status = 200, description = "The instance", body = InstanceView),
        (status = 404, description = "No such instance", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/process-instances/{id}")]
pub async fn get_process_instance(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let i = ops::get_instance(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, i.version, &i))
}

/// WF-BP-3, the process map: `status`, `started_at`, `finished_at`, `cost`; `steps` in drawing
/// order, each with `id`, `kind`, `title`, `path` (its JSON pointer), `depth`, `parent`
/// (`[step, branch]`), `status` (`done`, `active`, `waiting`, `pending`, `skipped`,
/// `cancelled`), `round`, `started_at`, `finished_at`, `due_at`, `overdue`, `assignees` (each
/// task's `key`, `assignee`, `state`, `outcome`, `completed_by`, `completed_at`), `outcome`,
/// `cost` and `past_rounds`; the `edges` taken (`from`, `to`, `round`, `at`); and `waiting_on`
/// (`step`, `task`, `assignee`, `since`, `due_at`, `overdue`), oldest first.
#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Instance id")),
    responses(
        (status = 200, description = "The process map", body = Object),
        (status = 404, description = "No such instance", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/process-instances/{id}/map")]
pub async fn process_instance_map(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let map = ops::instance_map(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(map))
}

/// WF-BP-3, the process map as an SVG picture drawn on the server from the same map as
/// `/map`: sequences top to bottom, parallel branches and switch cases side by side, a colour
/// per step state with a legend, overdue steps marked, the transitions taken highlighted and
/// rework loops counted; text is wrapped to fit its cards.
#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Instance id")),
    responses(
        (status = 200, description = "The process map as SVG", body = String, content_type = "image/svg+xml"),
        (status = 404, description = "No such instance", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/process-instances/{id}/map.svg")]
pub async fn process_instance_map_svg(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let svg = ops::instance_map_svg(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .body(svg))
}

/// Cancels a running instance with a reason: its open tasks close, its timers go.
#[utoipa::path(
    tag = "processes",
    params(("id" = Uuid, Path, description = "Instance id")),
    request_body(content = CancelInstance, example = json!({"reason": "Клиент ушёл к конкуренту"})),
    responses(
        (status = 200, description = "Cancelled", body = InstanceView),
        (status = 409, description = "Not running", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/process-instances/{id}/cancel")]
pub async fn cancel_process_instance(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<CancelInstance>,
) -> ApiResult<HttpResponse> {
    let i = ops::cancel_instance(state.db(), &caller, id.into_inner(), body.0).await?;
    Ok(versioned(StatusCode::OK, i.version, &i))
}
