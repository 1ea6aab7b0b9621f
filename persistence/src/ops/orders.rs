//! `/orders` (DOC-2): the client's order, from an accepted quote (the accepted version's rows)
//! or straight from a deal (the deal's rows).
//!
//! Status, by the pure state machine `sdelka_domain::order`: draft → `confirm-terms` →
//! awaiting_advance → (the advance payment arrives) → confirmed → `complete` → completed; or
//! `cancel` (with a reason) before completion. "Confirming obligations = the advance arrived":
//! no person confirms an order — the payments area calls
//! `sdelka_persistence::ops::orders::record_payment` in its transaction whenever the money applied
//! to the order's invoices changes. Visibility and permissions are those of deals.

use crate::entity::{order, product_row, quote};
use crate::journal::{self, Change, now};
use crate::numbering::take_number_if_templated;
use crate::orders::{ORDER_ROWS, OrderFilter, order_of_quote, orders_query, transitions_of};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::quotes::{rows_of_version, version_of};
use crate::records;
use crate::sales::{DEAL_ROWS, rows_of};
use crate::visibility::Scope;
use crate::{Actor, StoreError};
use chrono::{DateTime, Utc};
use sdelka_domain::money::{Money, Percent};
use sdelka_domain::order::{
    OrderAction, OrderActionKind, OrderRefusal, OrderStatus, advance_of, check_edit, decide,
};
use sdelka_domain::quote::QuoteStatus;
use sdelka_domain::validation::RuleBroken;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::deals::visible_deal;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};

use super::documents::{
    DocumentRowView, TransitionView, VatSubtotalView, check_parties, copy_rows, totals, vat_by_rate,
};
use super::products::non_negative;
use super::workflow::{self, Workflow};

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    /// Given by the numbering templates (WF-NUM) when the terms are confirmed; `null` before.
    pub number: Option<String>,
    #[schema(example = "Видеонаблюдение для ТСЖ «Берёзка»")]
    pub title: String,
    pub deal_id: Uuid,
    /// The quote the order was made from, and which of its versions (the accepted one).
    pub quote_id: Option<Uuid>,
    pub quote_version: Option<i32>,
    pub organization_id: Uuid,
    pub legal_entity_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub responsible_id: Uuid,
    #[schema(example = "RUB")]
    pub currency: String,
    /// `draft`, `awaiting_advance`, `confirmed`, `completed` or `cancelled`.
    #[schema(example = "awaiting_advance")]
    pub status: String,
    /// Manual actions the status allows: `confirm-terms`, `complete`, `cancel`.
    pub allowed_actions: Vec<String>,
    #[schema(value_type = String, example = "50000.00")]
    pub net: Money,
    #[schema(value_type = String, example = "11000.00")]
    pub vat: Money,
    #[schema(value_type = String, example = "61000.00")]
    pub total: Money,
    /// What the client pays before the order is confirmed.
    #[schema(value_type = String, example = "18300.00")]
    pub advance_amount: Money,
    /// Set when the advance was asked as a share of the total.
    #[schema(value_type = Option<String>, example = "30.00")]
    pub advance_percent: Option<Percent>,
    /// Paid against the order so far, as the payments area reports it.
    #[schema(value_type = String, example = "0.00")]
    pub paid_amount: Money,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&order::Model> for OrderView {
    fn from(o: &order::Model) -> Self {
        OrderView {
            id: o.id,
            number: o.number.clone(),
            title: o.title.clone(),
            deal_id: o.deal_id,
            quote_id: o.quote_id,
            quote_version: o.quote_version,
            organization_id: o.organization_id,
            legal_entity_id: o.legal_entity_id,
            contact_id: o.contact_id,
            responsible_id: o.responsible_id,
            currency: o.currency.clone(),
            status: o.status.clone(),
            allowed_actions: OrderStatus::parse(&o.status)
                .map(|s| s.allowed().iter().map(|a| a.as_str().to_owned()).collect())
                .unwrap_or_default(),
            net: Money::from_minor(o.net_minor),
            vat: Money::from_minor(o.vat_minor),
            total: Money::from_minor(o.total_minor),
            advance_amount: Money::from_minor(o.advance_minor),
            advance_percent: o
                .advance_percent_hundredths
                .and_then(|h| Percent::from_hundredths(h).ok()),
            paid_amount: Money::from_minor(o.paid_minor),
            confirmed_at: o.confirmed_at,
            cancel_reason: o.cancel_reason.clone(),
            version: o.version,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// An order with its rows and VAT subtotals.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderView,
    pub rows: Vec<DocumentRowView>,
    pub vat_by_rate: Vec<VatSubtotalView>,
}

/// A new order: from an accepted quote (`quote_id`) or from a deal (`deal_id`), not both.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// An accepted quote: the order copies its accepted version's rows, seller and buyer.
    pub quote_id: Option<Uuid>,
    /// A deal: the order copies its product rows.
    pub deal_id: Option<Uuid>,
    /// The seller; required with `deal_id`, taken from the quote otherwise.
    pub organization_id: Option<Uuid>,
    /// Default: the quote's, or the deal's.
    pub legal_entity_id: Option<Uuid>,
    /// Default: the quote's, or the deal's first contact.
    pub contact_id: Option<Uuid>,
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    pub title: Option<String>,
    /// The advance as money (at most the total). Default: the whole total.
    #[schema(value_type = Option<String>, example = "18300.00")]
    pub advance_amount: Option<Money>,
    /// The advance as a percent of the total (0–100), rounded to kopecks. Not with
    /// `advance_amount`.
    #[schema(value_type = Option<String>, example = "30")]
    pub advance_percent: Option<Percent>,
}

/// What an action on an order may carry.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderActionRequest {
    /// `cancel`: why (required).
    #[validate(length(max = 2000))]
    #[schema(example = "Клиент отказался от заказа")]
    pub reason: Option<String>,
    /// A note for the timeline.
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListFilter {
    pub deal_id: Option<Uuid>,
    pub quote_id: Option<Uuid>,
    pub status: Option<String>,
    pub responsible_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrderActionPath {
    /// Order id.
    pub id: Uuid,
    /// `confirm-terms`, `complete` or `cancel`.
    pub action: String,
}

pub fn sorts() -> [SortKey<order::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: order::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: order::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "total",
            column: order::Column::TotalMinor,
            key: |m| CursorValue::Int(m.total_minor),
        },
    ]
}

pub fn refusal(r: OrderRefusal) -> Error {
    workflow::refused(r, |r| match r {
        OrderRefusal::WrongState { .. } => Error::new(ErrorCode::InvalidTransition, r.to_string()),
        OrderRefusal::ReasonRequired => Error::field("reason", r.code(), r.to_string()),
    })
}

fn status_of(o: &order::Model) -> OpResult<OrderStatus> {
    workflow::stored("order", "status", o.id, &o.status)
}

pub fn raced() -> Error {
    Error::new(
        ErrorCode::Conflict,
        "the order was changed by another request at the same moment; read it again",
    )
}

pub async fn visible_order<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Uuid,
) -> OpResult<order::Model> {
    let o = records::find::<order::Entity, _>(db, id).await?;
    if !scope.allows(Some(o.responsible_id)) {
        return Err(Error::not_found());
    }
    Ok(o)
}

pub fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

pub async fn detail<C: ConnectionTrait>(db: &C, o: &order::Model) -> OpResult<OrderDetail> {
    let rows = rows_of(db, ORDER_ROWS, o.id).await?;
    Ok(detail_of(o, &rows))
}

pub fn detail_of(o: &order::Model, rows: &[product_row::Model]) -> OrderDetail {
    OrderDetail {
        order: OrderView::from(o),
        vat_by_rate: vat_by_rate(rows),
        rows: rows.iter().map(DocumentRowView::from).collect(),
    }
}

/// The advance as given: kopecks, or hundredths of a percent.
pub fn advance_fields(
    amount: Option<Money>,
    percent: Option<Percent>,
) -> OpResult<(Option<i64>, Option<i64>)> {
    let amount = amount
        .map(|a| {
            non_negative("advance_amount", a)
                .map_err(|v| Error::validation(v.into()))
                .and_then(|m| {
                    m.to_minor()
                        .map_err(|e| Error::field("advance_amount", e.code(), e.to_string()))
                })
        })
        .transpose()?;
    let percent = percent.map(Percent::to_hundredths);
    Ok((amount, percent))
}

/// Changes to a draft order.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrder {
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    pub title: Option<String>,
    pub legal_entity_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// A new advance as money (at most the total). Not with `advance_percent`.
    #[schema(value_type = Option<String>, example = "20000.00")]
    pub advance_amount: Option<Money>,
    /// A new advance as a percent of the total.
    #[schema(value_type = Option<String>, example = "50")]
    pub advance_percent: Option<Percent>,
}

// ---------------------------------------------------------------------------------------------
// Operations

/// Writes a status change: `UPDATE orders … WHERE id = ? AND status = :from AND version = :v`,
/// then the transition row and the journal entry named `action` carrying the order as its
/// `GET` answers it (`rows`: the order's rows), in the caller's transaction.
pub async fn record_transition<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: &str,
    before: &order::Model,
    mut after: order::Model,
    rows: &[product_row::Model],
    comment: Option<&str>,
) -> OpResult<order::Model> {
    let at = now();
    after.version = before.version + 1;
    after.updated_at = at;
    let res = order::Entity::update_many()
        .set(after.clone().into_active_model().reset_all())
        .filter(order::Column::Id.eq(before.id))
        .filter(order::Column::Status.eq(before.status.clone()))
        .filter(order::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Err(raced());
    }
    if before.status != after.status {
        workflow::record_transition(
            db,
            workflow::Transition::new(
                Workflow::Order,
                before.id,
                Some(&before.status),
                &after.status,
                action,
                at,
            )
            .by(actor.user_id)
            .comment(comment),
        )
        .await?;
    }
    let (b, a) = (
        present(&detail_of(before, rows)),
        present(&detail_of(&after, rows)),
    );
    journal::record(
        db,
        actor,
        Change {
            entity_type: "order",
            entity_id: before.id,
            action,
            before: Some(&b),
            after: Some(&a),
            comment,
        },
    )
    .await?;
    Ok(after)
}

/// The orders the caller may see, a page at a time.
pub async fn list_orders(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: OrderListFilter,
) -> OpResult<ListPage<OrderView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    if let Some(s) = &f.status
        && OrderStatus::parse(s).is_none()
    {
        return Err(Error::field(
            "status",
            "unknown_value",
            "status is draft, awaiting_advance, confirmed, completed or cancelled",
        ));
    }
    let scope = caller.visibility(&db).await?;
    let query = scope.apply(
        orders_query(&OrderFilter {
            deal_id: f.deal_id,
            quote_id: f.quote_id,
            status: f.status,
            responsible_id: f.responsible_id,
            updated_since: page.updated_since,
        }),
        order::Column::ResponsibleId,
    );
    let page = fetch_page(&db, query, req, order::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| OrderView::from(m)))
}

/// Makes an order (a draft) from an accepted quote — the accepted version's rows, seller and
/// buyer; one live order per quote — or from a deal, copying the deal's rows. The advance
/// defaults to the whole total.
pub async fn create_order(db: Db<'_>, caller: &Caller, req: CreateOrder) -> OpResult<OrderDetail> {
    let actor = caller.actor();
    let (advance_amount, advance_percent) =
        advance_fields(req.advance_amount, req.advance_percent)?;
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let order_id = Uuid::now_v7();
    let at = now();
    let mut o = order::Model {
        id: order_id,
        deal_id: Uuid::nil(),
        quote_id: None,
        quote_version: None,
        live_quote_id: None,
        organization_id: Uuid::nil(),
        legal_entity_id: None,
        contact_id: None,
        responsible_id: caller.user_id,
        currency: String::new(),
        number: None,
        title: String::new(),
        status: OrderStatus::Draft.as_str().to_owned(),
        net_minor: 0,
        vat_minor: 0,
        total_minor: 0,
        advance_minor: 0,
        advance_percent_hundredths: advance_percent,
        paid_minor: 0,
        confirmed_at: None,
        cancel_reason: None,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let rows = match (req.quote_id, req.deal_id) {
        (Some(quote_id), None) => {
            let q = match records::find::<quote::Entity, _>(&txn, quote_id).await {
                Ok(q) if scope.allows(Some(q.responsible_id)) => q,
                Ok(_) | Err(StoreError::NotFound) => {
                    return Err(Error::field(
                        "quote_id",
                        "not_found",
                        format!("quote_id {quote_id} does not exist"),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            let status: QuoteStatus = workflow::stored("quote", "status", q.id, &q.status)?;
            if status != QuoteStatus::Accepted {
                return Err(Error::wrong_state(
                    ErrorCode::InvalidTransition,
                    format!(
                        "an order is made from an accepted quote; quote {} is {} (version {})",
                        q.id, q.status, q.current_version
                    ),
                    status.as_str(),
                    status
                        .allowed()
                        .iter()
                        .map(|a| a.as_str().to_owned())
                        .collect(),
                ));
            }
            if let Some(existing) = order_of_quote(&txn, q.id).await? {
                return Err(Error::new(
                    ErrorCode::Duplicate,
                    format!("quote {} already has order {}", q.id, existing.id),
                ));
            }
            let v = version_of(&txn, q.id, q.current_version)
                .await?
                .ok_or_else(Error::not_found)?;
            o.deal_id = q.deal_id;
            o.quote_id = Some(q.id);
            o.live_quote_id = Some(q.id);
            o.quote_version = Some(v.number);
            o.organization_id = req.organization_id.unwrap_or(q.organization_id);
            o.legal_entity_id = req.legal_entity_id.or(q.legal_entity_id);
            o.contact_id = req.contact_id.or(q.contact_id);
            o.responsible_id = q.responsible_id;
            o.currency = q.currency.clone();
            o.title = clean(&req.title).unwrap_or_else(|| q.title.clone());
            let source = rows_of_version(&txn, v.id).await?;
            copy_rows(&txn, &actor, &source, ORDER_ROWS, order_id).await?
        }
        (None, Some(deal_id)) => {
            let d = match visible_deal(&txn, &scope, deal_id).await {
                Ok(d) => d,
                Err(e) if e.code == ErrorCode::NotFound => {
                    return Err(Error::field(
                        "deal_id",
                        "not_found",
                        format!("deal_id {deal_id} does not exist"),
                    ));
                }
                Err(e) => return Err(e),
            };
            let Some(org) = req.organization_id else {
                return Err(Error::field(
                    "organization_id",
                    "required",
                    "an order made from a deal needs the seller: organization_id",
                ));
            };
            o.deal_id = d.id;
            o.organization_id = org;
            o.legal_entity_id = req.legal_entity_id.or(d.legal_entity_id);
            o.contact_id = match req.contact_id {
                Some(c) => Some(c),
                None => crate::sales::deal_contacts(&txn, d.id)
                    .await?
                    .first()
                    .copied(),
            };
            o.responsible_id = d.responsible_id;
            o.currency = d.currency.clone();
            o.title = clean(&req.title).unwrap_or_else(|| d.title.clone());
            let source = rows_of(&txn, DEAL_ROWS, d.id).await?;
            if source.is_empty() {
                return Err(Error::field(
                    "deal_id",
                    "no_rows",
                    "the deal has no product rows to order",
                ));
            }
            copy_rows(&txn, &actor, &source, ORDER_ROWS, order_id).await?
        }
        (Some(_), Some(_)) | (None, None) => {
            return Err(Error::field(
                "quote_id",
                "one_of_required",
                "give either quote_id (an accepted quote) or deal_id",
            ));
        }
    };
    check_parties(
        &txn,
        caller,
        req.organization_id,
        req.legal_entity_id,
        req.contact_id,
    )
    .await?;
    (o.net_minor, o.vat_minor, o.total_minor) = totals(&rows)?;
    o.advance_minor = advance_of(o.total_minor, advance_amount, advance_percent)
        .map_err(|e| Error::field(e.field(), e.code(), e.to_string()))?;
    let saved = match records::create::<order::Entity, _>(&txn, &actor, o, |m| {
        present(&detail_of(m, &rows))
    })
    .await
    {
        Ok(s) => s,
        // Another request made the quote's order first.
        Err(StoreError::Duplicate(_)) => {
            return Err(Error::new(
                ErrorCode::Duplicate,
                "the quote already has an order",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let view = detail_of(&saved, &rows);
    txn.commit().await?;
    Ok(view)
}

/// Changes a draft order: title, buyer, advance. Once the terms are confirmed they are what
/// the client agreed to.
pub async fn update_order(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateOrder,
) -> OpResult<OrderDetail> {
    let actor = caller.actor();
    let (advance_amount, advance_percent) =
        advance_fields(req.advance_amount, req.advance_percent)?;
    if req.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(Error::field("title", "required", "title must not be blank"));
    }
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let o = visible_order(&txn, &scope, id).await?;
    check_edit(status_of(&o)?).map_err(refusal)?;
    check_parties(&txn, caller, None, req.legal_entity_id, req.contact_id).await?;
    let advance = match (advance_amount, advance_percent) {
        (None, None) => None,
        (a, p) => Some((
            advance_of(o.total_minor, a, p)
                .map_err(|e| Error::field(e.field(), e.code(), e.to_string()))?,
            p,
        )),
    };
    let rows = rows_of(&txn, ORDER_ROWS, o.id).await?;
    let saved = records::update::<order::Entity, _, _, Error>(
        &txn,
        &actor,
        o.id,
        if_match,
        |m| {
            // Still the draft that was checked: `update` compares the version read.
            if m.status != OrderStatus::Draft.as_str() {
                return Err(raced());
            }
            if let Some(t) = &req.title {
                m.title = t.trim().to_owned();
            }
            if let Some(l) = req.legal_entity_id {
                m.legal_entity_id = Some(l);
            }
            if let Some(c) = req.contact_id {
                m.contact_id = Some(c);
            }
            if let Some((a, p)) = advance {
                m.advance_minor = a;
                m.advance_percent_hundredths = p;
            }
            Ok(())
        },
        |m| present(&detail_of(m, &rows)),
    )
    .await??;
    let view = detail_of(&saved, &rows);
    txn.commit().await?;
    Ok(view)
}

/// An order the caller may see, with its rows.
pub async fn get_order(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<OrderDetail> {
    let scope = caller.visibility(&db).await?;
    let o = visible_order(&db, &scope, id).await?;
    detail(&db, &o).await
}

/// Manual actions: `confirm-terms`, `complete`, `cancel` (with a reason, before completion).
/// Confirmation by the advance is not an action: payments record it.
pub async fn act_on_order(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    action: &str,
    if_match: Option<i32>,
    req: OrderActionRequest,
) -> OpResult<OrderDetail> {
    let Some(kind) = OrderActionKind::parse(action) else {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!(
                "there is no order action `{action}`; actions: confirm-terms, complete, cancel"
            ),
        ));
    };
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let o = visible_order(&txn, &scope, id).await?;
    if let Some(e) = if_match
        && e != o.version
    {
        return Err(StoreError::StaleVersion {
            expected: e,
            current: o.version,
        }
        .into());
    }
    let from = status_of(&o)?;
    let reason = clean(&req.reason);
    let command = match kind {
        OrderActionKind::ConfirmTerms => OrderAction::ConfirmTerms {
            advance_minor: o.advance_minor,
            paid_minor: o.paid_minor,
        },
        OrderActionKind::Complete => OrderAction::Complete,
        OrderActionKind::Cancel => OrderAction::Cancel {
            reason: reason.clone().unwrap_or_default(),
        },
    };
    let to = decide(from, &command).map_err(refusal)?;
    let mut next = o.clone();
    next.status = to.as_str().to_owned();
    match kind {
        OrderActionKind::ConfirmTerms => {
            // WF-NUM-2: an order is numbered when its terms are confirmed, from the seller's
            // "order" template when it keeps one, dated the day of confirmation.
            if next.number.is_none() {
                next.number =
                    take_number_if_templated(&txn, o.organization_id, "order", now().date_naive())
                        .await?;
            }
            if to == OrderStatus::Confirmed {
                next.confirmed_at = Some(now());
            }
        }
        OrderActionKind::Complete => {}
        OrderActionKind::Cancel => {
            next.cancel_reason = reason.clone();
            // The quote may be ordered again.
            next.live_quote_id = None;
        }
    }
    let note = match (
        reason.filter(|_| kind == OrderActionKind::Cancel),
        clean(&req.comment),
    ) {
        (Some(r), Some(c)) => Some(format!("{r} ({c})")),
        (r, c) => r.or(c),
    };
    let rows = rows_of(&txn, ORDER_ROWS, o.id).await?;
    let saved = record_transition(
        &txn,
        &actor,
        kind.as_str(),
        &o,
        next,
        &rows,
        note.as_deref(),
    )
    .await?;
    let view = detail_of(&saved, &rows);
    txn.commit().await?;
    Ok(view)
}

/// The status changes of an order, oldest first.
pub async fn order_transitions(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<Vec<TransitionView>> {
    let scope = caller.visibility(&db).await?;
    let o = visible_order(&db, &scope, id).await?;
    Ok(transitions_of(&db, o.id)
        .await?
        .into_iter()
        .map(|t| TransitionView {
            action: t.action,
            from_status: t.from_status,
            to_status: t.to_status,
            actor_id: t.actor_id,
            comment: t.comment,
            occurred_at: t.occurred_at,
        })
        .collect())
}

/// **The payments hook (DOC-2, DOC-4)**, as an operation step in the payments transaction:
/// records the new total paid against the order and confirms (or withdraws the confirmation
/// of) its obligations, journalling the order once
/// with its representation. An unknown order is left alone; a concurrent change of the order
/// is a 409.
pub async fn record_payment<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    order_id: Uuid,
    paid_total_kopecks: i64,
) -> OpResult<()> {
    use crate::notifications::{EntityRef, notify_and_email};
    use sdelka_domain::order::{PaymentEffect, on_payment};
    let Some(current) = order::Entity::find_by_id(order_id).one(txn).await? else {
        return Ok(());
    };
    let status = status_of(&current)?;
    let effect = on_payment(status, current.advance_minor, paid_total_kopecks);
    let mut next = current.clone();
    next.paid_minor = paid_total_kopecks;
    let (action, comment) = match effect {
        PaymentEffect::Confirm => {
            next.status = OrderStatus::Confirmed.as_str().to_owned();
            next.confirmed_at = Some(now());
            ("advance-received", Some("the advance payment arrived"))
        }
        PaymentEffect::Withdraw => {
            next.status = OrderStatus::AwaitingAdvance.as_str().to_owned();
            next.confirmed_at = None;
            (
                "advance-withdrawn",
                Some("a payment was un-applied; the advance is no longer covered"),
            )
        }
        PaymentEffect::Record => ("payment-recorded", None),
    };
    if next == current {
        return Ok(());
    }
    let rows = rows_of(txn, ORDER_ROWS, order_id).await?;
    let saved = record_transition(txn, actor, action, &current, next, &rows, comment)
        .await
        .map_err(|e| {
            if e.code == ErrorCode::Conflict {
                Error::new(
                    ErrorCode::Conflict,
                    "the order was changed by another request at the same time; retry",
                )
            } else {
                e
            }
        })?;
    let paid = Money::from_minor(saved.paid_minor);
    let advance = Money::from_minor(saved.advance_minor);
    let (kind, title, body) = match effect {
        PaymentEffect::Confirm => (
            "order_confirmed",
            format!("Заказ «{}»: аванс получен", saved.title),
            format!(
                "По заказу «{}» оплачено {paid} из аванса {advance}: обязательства подтверждены, заказ можно исполнять.",
                saved.title
            ),
        ),
        PaymentEffect::Withdraw => (
            "order_advance_withdrawn",
            format!("Заказ «{}»: аванс больше не покрыт", saved.title),
            format!(
                "По заказу «{}» платёж отменён: оплачено {paid} из аванса {advance}. Заказ снова ожидает аванс.",
                saved.title
            ),
        ),
        PaymentEffect::Record => return Ok(()),
    };
    notify_and_email(
        txn,
        saved.responsible_id,
        kind,
        &title,
        &body,
        Some(EntityRef {
            entity_type: "order",
            entity_id: saved.id,
        }),
    )
    .await?;
    Ok(())
}
