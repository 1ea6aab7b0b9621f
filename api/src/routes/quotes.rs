//! `/quotes` (DOC-1): commercial proposals made from a deal, in versions.
//!
//! A quote copies the deal's product rows (or takes rows given in the request), names the
//! seller (an own organisation) and the buyer (the deal's legal entity and/or contact), and is
//! valid until a date. Each version has its own status, decided by the pure state machine
//! `sdelka_domain::quote`: draft → sent → accepted | rejected; after the client's feedback on
//! a sent or rejected version, `POST /quotes/{id}/versions` starts the next version as an
//! editable draft, and every older version stays read-only (edits → 409 `version_read_only`).
//!
//! "send" emails the quote to the buyer's contact through the outbox, in the transaction of
//! the transition. Visibility and permissions are those of deals: the quote belongs to the
//! deal's responsible user; changing quotes needs `admin`, `head` or `sales_manager`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::Duration;
use sdelka_domain::quote::{QuoteAction, QuoteRefusal, QuoteStatus, decide, decide_on_version};
use sdelka_persistence::StoreError;
use sdelka_persistence::entity::{quote, quote_version};
use sdelka_persistence::journal::now;
use sdelka_persistence::numbering::take_number_if_templated;
use sdelka_persistence::outbox::{OutgoingEmail, enqueue_email};
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::quotes::{
    QUOTE_VERSION_ROWS, QuoteFilter, Raced, Transition, copy_rows, log_transition, new_version,
    quotes_query, record_transition, remove_rows, rows_of_version, save_quote_as, transitions_of,
    versions_of,
};
use sdelka_persistence::records;
use sdelka_persistence::sales::{DEAL_ROWS, rows_of};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{IfMatch, JsonBody, OptionalJsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
use sdelka_persistence::ops::deals::visible_deal;
use sdelka_persistence::ops::documents::{
    DocumentRowView, TransitionView, check_parties, priced_rows, totals, vat_by_rate,
};
use sdelka_persistence::ops::products::today;
#[allow(unused_imports)]
use sdelka_persistence::ops::quotes::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_quotes)
        .service(create_quote)
        .service(get_quote)
        .service(list_versions)
        .service(create_version)
        .service(get_version)
        .service(update_version)
        .service(quote_action)
        .service(quote_transitions);
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Lists the quotes the caller may see (those of deals he sees).
#[utoipa::path(
    tag = "documents",
    params(ListParams, QuoteListFilter),
    responses((status = 200, description = "A page of quotes; sorts: created_at, updated_at, total", body = ListPage<QuoteView>))
)]
#[get("/quotes")]
pub async fn list_quotes(
    state: web::Data<AppState>,
    caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<QuoteListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    if let Some(s) = &f.status
        && QuoteStatus::parse(s).is_none()
    {
        return Err(ApiError::field(
            "status",
            "unknown_value",
            "status is draft, sent, accepted or rejected",
        ));
    }
    let scope = caller.visibility(&state.store.conn).await?;
    let query = scope.apply(
        quotes_query(&QuoteFilter {
            deal_id: f.deal_id,
            status: f.status,
            responsible_id: f.responsible_id,
            organization_id: f.organization_id,
            updated_since: page.updated_since,
        }),
        quote::Column::ResponsibleId,
    );
    let page = fetch_page(&state.store.conn, query, req, quote::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| QuoteView::from(m))))
}

/// Makes a quote (version 1, a draft) from a deal: the deal's product rows are copied as they
/// are priced there, unless `rows` are given. The buyer defaults to the deal's legal entity
/// and first contact; the quote belongs to the deal's responsible user.
#[utoipa::path(
    tag = "documents",
    request_body(content = CreateQuote, example = json!({
        "deal_id": "0193a000-0000-7000-8000-000000000001",
        "organization_id": "0193a000-0000-7000-8000-000000000002",
        "valid_until": "2026-12-31"
    })),
    responses((status = 201, description = "Created; the body is the quote with its rows", body = QuoteDetail))
)]
#[post("/quotes")]
pub async fn create_quote(
    state: web::Data<AppState>,
    caller: SalesStaff,
    body: JsonBody<CreateQuote>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let actor = caller.actor();
    let valid_until = check_valid_until(
        req.valid_until
            .unwrap_or_else(|| today() + Duration::days(DEFAULT_VALIDITY_DAYS)),
    )?;
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let deal = match visible_deal(&txn, &scope, req.deal_id).await {
        Ok(d) => d,
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(ApiError::field(
                "deal_id",
                "not_found",
                format!("deal_id {} does not exist", req.deal_id),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let legal_entity_id = req.legal_entity_id.or(deal.legal_entity_id);
    let contact_id = req.contact_id.or_else(|| first_contact(&deal.contact_ids));
    check_parties(
        &txn,
        &caller,
        Some(req.organization_id),
        req.legal_entity_id,
        req.contact_id,
    )
    .await?;
    let at = now();
    let quote_id = Uuid::now_v7();
    let mut version = new_version(quote_id, 1, Some(valid_until), clean(&req.comment));
    let rows = match &req.rows {
        Some(given) => {
            let priced =
                priced_rows(&txn, given, &deal.currency, QUOTE_VERSION_ROWS, version.id).await?;
            store_rows(&txn, &actor, priced).await?
        }
        None => {
            let deal_rows = rows_of(&txn, DEAL_ROWS, deal.id).await?;
            if deal_rows.is_empty() {
                return Err(ApiError::field(
                    "rows",
                    "required",
                    "the deal has no product rows: add rows to the deal or give them here",
                ));
            }
            copy_rows(&txn, &actor, &deal_rows, QUOTE_VERSION_ROWS, version.id).await?
        }
    };
    (version.net_minor, version.vat_minor, version.total_minor) = totals(&rows)?;
    let mut q = quote::Model {
        id: quote_id,
        deal_id: deal.id,
        organization_id: req.organization_id,
        legal_entity_id,
        contact_id,
        responsible_id: deal.responsible_id,
        currency: deal.currency.clone(),
        number: None,
        title: clean(&req.title).unwrap_or_else(|| deal.title.clone()),
        current_version: 1,
        status: String::new(),
        valid_until: None,
        net_minor: 0,
        vat_minor: 0,
        total_minor: 0,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    mirror(&mut q, &version);
    let q = records::create::<quote::Entity, _>(&txn, &actor, q, records::snapshot).await?;
    records::create::<quote_version::Entity, _>(&txn, &actor, version, records::snapshot).await?;
    let view = QuoteDetail {
        quote: QuoteView::from(&q),
        vat_by_rate: vat_by_rate(&rows),
        rows: rows.iter().map(DocumentRowView::from).collect(),
    };
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/quotes/{}", q.id),
        q.version,
        &view,
    ))
}

/// Reads a quote with the rows of its current version.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Quote id")),
    responses((status = 200, description = "The quote", body = QuoteDetail))
)]
#[get("/quotes/{id}")]
pub async fn get_quote(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let q = visible_quote(db, &scope, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, q.version, &detail(db, &q).await?))
}

/// Every version of a quote, oldest first, with rows and totals; all but the current one are
/// read-only.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Quote id")),
    responses((status = 200, description = "The versions", body = Vec<QuoteVersionView>))
)]
#[get("/quotes/{id}/versions")]
pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let q = visible_quote(db, &scope, id.into_inner()).await?;
    let mut out = Vec::new();
    for v in versions_of(db, q.id).await? {
        let rows = rows_of_version(db, v.id).await?;
        out.push(version_view(&q, &v, &rows));
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Reads version `n` of a quote; its `ETag` is the version's own, for `If-Match` on edits.
#[utoipa::path(
    tag = "documents",
    params(VersionPath),
    responses((status = 200, description = "The version", body = QuoteVersionView))
)]
#[get("/quotes/{id}/versions/{n}")]
pub async fn get_version(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<VersionPath>,
) -> ApiResult<HttpResponse> {
    let VersionPath { id, n } = path.into_inner();
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let q = visible_quote(db, &scope, id).await?;
    let v = version_or_404(db, q.id, n).await?;
    let rows = rows_of_version(db, v.id).await?;
    Ok(versioned(
        StatusCode::OK,
        v.version,
        &version_view(&q, &v, &rows),
    ))
}

/// Starts the next version after the client's feedback: a draft copying the current
/// version's rows (or taking the rows given). Allowed when the current version is `sent` or
/// `rejected`; a draft is edited instead, an accepted quote is final (409 naming the state).
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Quote id"), ("If-Match" = Option<String>, Header, description = "ETag of the quote you read")),
    request_body(content = NewQuoteVersion, example = json!({
        "comment": "Клиент просит скидку 5 % на камеры",
        "rows": [{"name": "Камера IP 4 Мп", "quantity": "4", "price": "12500.00", "discount_percent": "5", "vat_rate": "22"}]
    })),
    responses((status = 201, description = "The new current version", body = QuoteVersionView))
)]
#[post("/quotes/{id}/versions")]
pub async fn create_version(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<NewQuoteVersion>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let actor = caller.actor();
    let valid_until = req.valid_until.map(check_valid_until).transpose()?;
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let q = visible_quote(&txn, &scope, id.into_inner()).await?;
    check_if_match(&q, if_match.0)?;
    let current = version_or_404(&txn, q.id, q.current_version).await?;
    let from = status_of(&current.status);
    let to = decide(from, QuoteAction::NewVersion).map_err(refusal)?;
    let valid_until = valid_until.unwrap_or_else(|| match current.valid_until {
        Some(d) if d >= today() => d,
        _ => today() + Duration::days(DEFAULT_VALIDITY_DAYS),
    });
    let mut next = new_version(
        q.id,
        current.number + 1,
        Some(valid_until),
        clean(&req.comment),
    );
    next.status = to.as_str().to_owned();
    let rows = match &req.rows {
        Some(given) => {
            let priced = priced_rows(&txn, given, &q.currency, QUOTE_VERSION_ROWS, next.id).await?;
            store_rows(&txn, &actor, priced).await?
        }
        None => {
            let old = rows_of_version(&txn, current.id).await?;
            copy_rows(&txn, &actor, &old, QUOTE_VERSION_ROWS, next.id).await?
        }
    };
    (next.net_minor, next.vat_minor, next.total_minor) = totals(&rows)?;
    let next =
        match records::create::<quote_version::Entity, _>(&txn, &actor, next, records::snapshot)
            .await
        {
            Ok(v) => v,
            // Another request made this version number first.
            Err(StoreError::Duplicate(_)) => return Err(raced().into()),
            Err(e) => return Err(e.into()),
        };
    let mut after = q.clone();
    mirror(&mut after, &next);
    let comment = clean(&req.comment);
    let saved = save_quote_as(&txn, &actor, "new-version", &q, after, comment.as_deref())
        .await?
        .map_err(|Raced| raced())?;
    log_transition(
        &txn,
        &actor,
        q.id,
        next.number,
        &Transition {
            action: QuoteAction::NewVersion.as_str(),
            from: from.as_str(),
            to: to.as_str(),
            comment: comment.as_deref(),
        },
        now(),
    )
    .await?;
    let view = version_view(&saved, &next, &rows);
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/quotes/{}/versions/{}", saved.id, next.number),
        next.version,
        &view,
    ))
}

/// Edits version `n`: only the current version, and only while it is a draft (otherwise 409:
/// `version_read_only` for an old version, `invalid_transition` naming the status for a sent
/// or decided one). `rows` replaces all rows.
#[utoipa::path(
    tag = "documents",
    params(VersionPath, ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body(content = UpdateQuoteVersion, example = json!({"valid_until": "2026-12-31"})),
    responses((status = 200, description = "Updated", body = QuoteVersionView))
)]
#[patch("/quotes/{id}/versions/{n}")]
pub async fn update_version(
    state: web::Data<AppState>,
    caller: SalesStaff,
    path: web::Path<VersionPath>,
    if_match: IfMatch,
    body: JsonBody<UpdateQuoteVersion>,
) -> ApiResult<HttpResponse> {
    let VersionPath { id, n } = path.into_inner();
    let req = body.0;
    let actor = caller.actor();
    let valid_until = req.valid_until.map(check_valid_until).transpose()?;
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let q = visible_quote(&txn, &scope, id).await?;
    let v = version_or_404(&txn, q.id, n).await?;
    decide_on_version(
        status_of(&v.status),
        QuoteAction::Edit,
        v.number,
        q.current_version,
    )
    .map_err(|r| match r {
        QuoteRefusal::NotCurrent { .. } => ApiError::new(ErrorCode::VersionReadOnly, r.to_string()),
        QuoteRefusal::WrongState { .. } => refusal(r).into(),
    })?;
    let rows = match &req.rows {
        Some(given) => {
            let priced = priced_rows(&txn, given, &q.currency, QUOTE_VERSION_ROWS, v.id).await?;
            remove_rows(&txn, &actor, QUOTE_VERSION_ROWS, v.id).await?;
            store_rows(&txn, &actor, priced).await?
        }
        None => rows_of_version(&txn, v.id).await?,
    };
    let (net, vat, total) = totals(&rows)?;
    let comment = req.comment.as_ref().map(|c| clean(&Some(c.clone())));
    let updated = records::update::<quote_version::Entity, _, _, ApiError>(
        &txn,
        &actor,
        v.id,
        if_match.0,
        |m| {
            // Still a draft under this very version number: `update` compares the version.
            if m.status != QuoteStatus::Draft.as_str() {
                return Err(raced().into());
            }
            if let Some(d) = valid_until {
                m.valid_until = Some(d);
            }
            if let Some(c) = &comment {
                m.comment = c.clone();
            }
            (m.net_minor, m.vat_minor, m.total_minor) = (net, vat, total);
            // Row changes alone must still move the version (and its ETag).
            if req.rows.is_some() {
                m.updated_at = now();
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    let mut after = q.clone();
    mirror(&mut after, &updated);
    if after != q {
        save_quote_as(&txn, &actor, "updated", &q, after.clone(), None)
            .await?
            .map_err(|Raced| raced())?;
    }
    let view = version_view(&after, &updated, &rows);
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, updated.version, &view))
}

/// Acts on the current version: `send` (draft → sent: emails the quote — lines, totals and
/// validity — to the contact through the outbox in the same transaction), `accept`
/// (sent → accepted), `reject` (sent → rejected, with an optional `reason`). A wrong action
/// for the status is 409 `invalid_transition` naming the status and the allowed actions; a
/// concurrent change (a double accept) lets one request win and answers the other 409.
#[utoipa::path(
    tag = "documents",
    params(QuoteActionPath, ("If-Match" = Option<String>, Header, description = "ETag of the quote you read")),
    request_body(content = QuoteActionRequest, example = json!({"reason": "Выбрали другого подрядчика"})),
    responses((status = 200, description = "The quote after the action", body = QuoteDetail))
)]
#[post("/quotes/{id}/actions/{action}")]
pub async fn quote_action(
    state: web::Data<AppState>,
    caller: SalesStaff,
    path: web::Path<QuoteActionPath>,
    if_match: IfMatch,
    body: OptionalJsonBody<QuoteActionRequest>,
) -> ApiResult<HttpResponse> {
    let QuoteActionPath { id, action } = path.into_inner();
    let action = match action.as_str() {
        "send" => QuoteAction::Send,
        "accept" => QuoteAction::Accept,
        "reject" => QuoteAction::Reject,
        other => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("there is no quote action `{other}`; actions: send, accept, reject"),
            ));
        }
    };
    let req = body.0;
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let q = visible_quote(&txn, &scope, id).await?;
    check_if_match(&q, if_match.0)?;
    let v = version_or_404(&txn, q.id, q.current_version).await?;
    let from = status_of(&v.status);
    let to = decide(from, action).map_err(refusal)?;
    let at = now();
    let mut q_after = q.clone();
    let mut v_after = v.clone();
    v_after.status = to.as_str().to_owned();
    let comment = clean(&req.comment);
    let mut note = comment.clone();
    match action {
        QuoteAction::Send => {
            let rows = rows_of_version(&txn, v.id).await?;
            if rows.is_empty() {
                return Err(ApiError::field(
                    "rows",
                    "required",
                    "a quote without rows cannot be sent",
                ));
            }
            let (contact, email) = recipient(&txn, &caller, &q, req.contact_id).await?;
            // WF-NUM-2: a quote is numbered when it is first sent (later versions keep the
            // number), from the seller's "quote" template when it keeps one, dated the day
            // it goes out.
            if q_after.number.is_none() {
                q_after.number =
                    take_number_if_templated(&txn, q.organization_id, "quote", at.date_naive())
                        .await?;
            }
            v_after.sent_at = Some(at);
            v_after.sent_to_contact_id = Some(contact.id);
            v_after.sent_to_email = Some(email.clone());
            q_after.contact_id = Some(contact.id);
            let text = quote_email(&txn, &q_after, &v, &rows).await?;
            enqueue_email(
                &txn,
                &OutgoingEmail {
                    to: vec![email.clone()],
                    subject: text.0,
                    text_body: text.1,
                },
            )
            .await?;
            let sent_to = format!("sent to {email}");
            note = Some(match comment {
                Some(c) => format!("{sent_to}: {c}"),
                None => sent_to,
            });
        }
        QuoteAction::Accept => v_after.decided_at = Some(at),
        QuoteAction::Reject => {
            v_after.decided_at = Some(at);
            v_after.reject_reason = clean(&req.reason);
            if let Some(r) = &v_after.reject_reason {
                note = Some(match comment {
                    Some(c) => format!("{r} ({c})"),
                    None => r.clone(),
                });
            }
        }
        QuoteAction::Edit | QuoteAction::NewVersion => {
            // Not reachable: parsed from the path above, these have their own endpoints.
            return Err(ApiError::not_found());
        }
    }
    mirror(&mut q_after, &v_after);
    let (saved, _) = record_transition(
        &txn,
        &actor,
        Transition {
            action: action.as_str(),
            from: from.as_str(),
            to: to.as_str(),
            comment: note.as_deref(),
        },
        &q,
        q_after,
        &v,
        v_after,
    )
    .await?
    .map_err(|Raced| raced())?;
    let view = detail(&txn, &saved).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, saved.version, &view))
}

/// The status changes of a quote's versions, oldest first: who, when, from, to, why.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Quote id")),
    responses((status = 200, description = "Transitions", body = Vec<QuoteTransitionView>))
)]
#[get("/quotes/{id}/transitions")]
pub async fn quote_transitions(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let q = visible_quote(db, &scope, id.into_inner()).await?;
    let out: Vec<QuoteTransitionView> = transitions_of(db, q.id)
        .await?
        .into_iter()
        .map(|t| QuoteTransitionView {
            version_number: t.version_number,
            transition: TransitionView {
                action: t.action,
                from_status: t.from_status,
                to_status: t.to_status,
                actor_id: t.actor_id,
                comment: t.comment,
                occurred_at: t.occurred_at,
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
