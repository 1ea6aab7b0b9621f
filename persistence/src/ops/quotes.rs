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

use crate::entity::{contact, legal_entity, organization, product_row, quote, quote_version};
use crate::pagination::{CursorValue, SortKey};
use crate::quotes::{rows_of_version, version_of};
use crate::records;
use crate::visibility::Scope;
use crate::{Actor, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::money::Money;
use sdelka_domain::quote::{QuoteRefusal, QuoteStatus};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::Caller;
use super::{Error, ErrorCode, OpResult};

use super::deals::NewProductRow;
use super::documents::{
    DocumentRowView, TransitionView, VatSubtotalView, check_parties, vat_by_rate,
};
use super::products::today;

/// How long a quote is valid when the request names no date.
pub const DEFAULT_VALIDITY_DAYS: i64 = 30;

// ---------------------------------------------------------------------------------------------
// Wire types

/// A quote: its parties and the status, validity and totals of its current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub id: Uuid,
    /// Given by the numbering templates (WF-NUM) when the quote is first sent; `null` before.
    pub number: Option<String>,
    #[schema(example = "Видеонаблюдение для ТСЖ «Берёзка»")]
    pub title: String,
    pub deal_id: Uuid,
    /// The seller: an own organisation.
    pub organization_id: Uuid,
    /// The buyer's legal entity.
    pub legal_entity_id: Option<Uuid>,
    /// The buyer's contact person, to whom "send" emails the quote by default.
    pub contact_id: Option<Uuid>,
    /// The deal's responsible user when the quote was made: who sees it.
    pub responsible_id: Uuid,
    #[schema(example = "RUB")]
    pub currency: String,
    /// Status of the current version: `draft`, `sent`, `accepted` or `rejected`.
    #[schema(example = "draft")]
    pub status: String,
    /// Number of the current version (1, 2, …).
    pub current_version: i32,
    /// What the current version allows: `edit`, `send`, `accept`, `reject`, `new-version`.
    pub allowed_actions: Vec<String>,
    pub valid_until: Option<NaiveDate>,
    #[schema(value_type = String, example = "50000.00")]
    pub net: Money,
    #[schema(value_type = String, example = "11000.00")]
    pub vat: Money,
    #[schema(value_type = String, example = "61000.00")]
    pub total: Money,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn allowed(status: &str) -> Vec<String> {
    QuoteStatus::parse(status)
        .map(|s| s.allowed().iter().map(|a| a.as_str().to_owned()).collect())
        .unwrap_or_default()
}

impl From<&quote::Model> for QuoteView {
    fn from(q: &quote::Model) -> Self {
        QuoteView {
            id: q.id,
            number: q.number.clone(),
            title: q.title.clone(),
            deal_id: q.deal_id,
            organization_id: q.organization_id,
            legal_entity_id: q.legal_entity_id,
            contact_id: q.contact_id,
            responsible_id: q.responsible_id,
            currency: q.currency.clone(),
            status: q.status.clone(),
            current_version: q.current_version,
            allowed_actions: allowed(&q.status),
            valid_until: q.valid_until,
            net: Money::from_minor(q.net_minor),
            vat: Money::from_minor(q.vat_minor),
            total: Money::from_minor(q.total_minor),
            version: q.version,
            created_at: q.created_at,
            updated_at: q.updated_at,
        }
    }
}

/// A quote with the rows and VAT subtotals of its current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteDetail {
    #[serde(flatten)]
    pub quote: QuoteView,
    pub rows: Vec<DocumentRowView>,
    pub vat_by_rate: Vec<VatSubtotalView>,
}

/// One version of a quote. Only the current version may change, and only as a draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteVersionView {
    pub quote_id: Uuid,
    /// 1, 2, … within the quote.
    pub number: i32,
    #[schema(example = "sent")]
    pub status: String,
    /// Whether this is the quote's current version.
    pub current: bool,
    /// What this version allows (nothing for an old version).
    pub allowed_actions: Vec<String>,
    pub valid_until: Option<NaiveDate>,
    /// What changed in this version (the client's feedback it answers).
    pub comment: Option<String>,
    #[schema(value_type = String)]
    pub net: Money,
    #[schema(value_type = String)]
    pub vat: Money,
    #[schema(value_type = String)]
    pub total: Money,
    pub vat_by_rate: Vec<VatSubtotalView>,
    pub rows: Vec<DocumentRowView>,
    pub sent_at: Option<DateTime<Utc>>,
    pub sent_to_contact_id: Option<Uuid>,
    pub sent_to_email: Option<String>,
    /// When the client accepted or rejected it.
    pub decided_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    /// The version's own record version (its ETag), for `If-Match` on edits.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn version_view(
    q: &quote::Model,
    v: &quote_version::Model,
    rows: &[product_row::Model],
) -> QuoteVersionView {
    let current = v.number == q.current_version;
    QuoteVersionView {
        quote_id: v.quote_id,
        number: v.number,
        status: v.status.clone(),
        current,
        allowed_actions: if current {
            allowed(&v.status)
        } else {
            Vec::new()
        },
        valid_until: v.valid_until,
        comment: v.comment.clone(),
        net: Money::from_minor(v.net_minor),
        vat: Money::from_minor(v.vat_minor),
        total: Money::from_minor(v.total_minor),
        vat_by_rate: vat_by_rate(rows),
        rows: rows.iter().map(DocumentRowView::from).collect(),
        sent_at: v.sent_at,
        sent_to_contact_id: v.sent_to_contact_id,
        sent_to_email: v.sent_to_email.clone(),
        decided_at: v.decided_at,
        reject_reason: v.reject_reason.clone(),
        version: v.version,
        created_at: v.created_at,
        updated_at: v.updated_at,
    }
}

/// A new quote from a deal.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuote {
    /// The deal the quote is made for; it must be visible to the caller.
    pub deal_id: Uuid,
    /// The seller: an own organisation (`/organizations`).
    pub organization_id: Uuid,
    /// The buyer's legal entity. Default: the deal's.
    pub legal_entity_id: Option<Uuid>,
    /// The buyer's contact. Default: the deal's first contact.
    pub contact_id: Option<Uuid>,
    /// Default: the deal's title.
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    pub title: Option<String>,
    /// Default: 30 days from today. Not in the past.
    #[schema(example = "2026-12-31")]
    pub valid_until: Option<NaiveDate>,
    /// Rows of version 1. Default: a copy of the deal's product rows (as priced there).
    /// 1 to 500 rows.
    #[validate(nested)]
    pub rows: Option<Vec<NewProductRow>>,
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

/// The next version of a quote, after the client's feedback.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuoteVersion {
    /// Rows of the new version. Default: a copy of the current version's rows.
    /// 1 to 500 rows.
    #[validate(nested)]
    pub rows: Option<Vec<NewProductRow>>,
    /// Default: the current version's date, or 30 days from today if that has passed.
    pub valid_until: Option<NaiveDate>,
    /// What the client asked for.
    #[validate(length(max = 2000))]
    #[schema(example = "Клиент просит скидку 5 % на камеры")]
    pub comment: Option<String>,
}

/// Changes to the current draft version.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateQuoteVersion {
    /// Replaces all rows of the version.
    /// 1 to 500 rows.
    #[validate(nested)]
    pub rows: Option<Vec<NewProductRow>>,
    pub valid_until: Option<NaiveDate>,
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

/// What an action on a quote may carry.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteActionRequest {
    /// `send`: the contact to email (default: the quote's contact, else the deal's first).
    pub contact_id: Option<Uuid>,
    /// `reject`: why the client said no.
    #[validate(length(max = 2000))]
    #[schema(example = "Выбрали другого подрядчика")]
    pub reason: Option<String>,
    /// Any action: a note for the timeline.
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteListFilter {
    pub deal_id: Option<Uuid>,
    /// Status of the current version.
    pub status: Option<String>,
    pub responsible_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    /// Quote id.
    pub id: Uuid,
    /// Version number (1, 2, …).
    pub n: i32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct QuoteActionPath {
    /// Quote id.
    pub id: Uuid,
    /// `send`, `accept` or `reject`.
    pub action: String,
}

// ---------------------------------------------------------------------------------------------
// Rules shared by the handlers

pub fn sorts() -> [SortKey<quote::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: quote::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: quote::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "total",
            column: quote::Column::TotalMinor,
            key: |m| CursorValue::Int(m.total_minor),
        },
    ]
}

/// A refusal of the state machine as a 409 naming state and allowed actions.
pub fn refusal(r: QuoteRefusal) -> Error {
    Error::new(ErrorCode::InvalidTransition, r.to_string())
}

pub fn raced() -> Error {
    Error::new(
        ErrorCode::Conflict,
        "the quote was changed by another request at the same moment; read it again",
    )
}

pub fn status_of(s: &str) -> QuoteStatus {
    // Statuses are only ever written from `QuoteStatus::as_str`.
    QuoteStatus::parse(s).unwrap_or(QuoteStatus::Draft)
}

/// A quote the caller may see, or 404.
pub async fn visible_quote<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Uuid,
) -> OpResult<quote::Model> {
    let q = records::find::<quote::Entity, _>(db, id).await?;
    if !scope.allows(Some(q.responsible_id)) {
        return Err(Error::not_found());
    }
    Ok(q)
}

pub async fn version_or_404<C: ConnectionTrait>(
    db: &C,
    quote_id: Uuid,
    n: i32,
) -> OpResult<quote_version::Model> {
    version_of(db, quote_id, n)
        .await?
        .ok_or_else(Error::not_found)
}

pub fn check_valid_until(d: NaiveDate) -> OpResult<NaiveDate> {
    if d < today() {
        return Err(Error::field(
            "valid_until",
            "in_past",
            "valid_until must be today or later",
        ));
    }
    Ok(d)
}

pub fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Stores rows and returns them; the caller puts their totals on the version.
pub async fn store_rows<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    rows: Vec<product_row::Model>,
) -> OpResult<Vec<product_row::Model>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(
            records::create::<product_row::Entity, _>(txn, actor, r, records::snapshot).await?,
        );
    }
    Ok(out)
}

/// Mirrors a version's status, validity and totals on the quote.
pub fn mirror(q: &mut quote::Model, v: &quote_version::Model) {
    q.current_version = v.number;
    q.status = v.status.clone();
    q.valid_until = v.valid_until;
    q.net_minor = v.net_minor;
    q.vat_minor = v.vat_minor;
    q.total_minor = v.total_minor;
}

pub fn first_contact(deal_contacts: &str) -> Option<Uuid> {
    serde_json::from_str::<Vec<Uuid>>(deal_contacts)
        .ok()
        .and_then(|v| v.first().copied())
}

pub async fn detail<C: ConnectionTrait>(db: &C, q: &quote::Model) -> OpResult<QuoteDetail> {
    let v = version_or_404(db, q.id, q.current_version).await?;
    let rows = rows_of_version(db, v.id).await?;
    Ok(QuoteDetail {
        quote: QuoteView::from(q),
        vat_by_rate: vat_by_rate(&rows),
        rows: rows.iter().map(DocumentRowView::from).collect(),
    })
}

pub fn check_if_match(q: &quote::Model, expected: Option<i32>) -> OpResult<()> {
    match expected {
        Some(e) if e != q.version => Err(StoreError::StaleVersion {
            expected: e,
            current: q.version,
        }
        .into()),
        _ => Ok(()),
    }
}

/// The contact a quote is sent to and the address: the one named in the request, else the
/// quote's contact, else the deal's first. The preferred channel is honoured when it is email;
/// when it is another channel the quote still goes by email if the contact has an address,
/// since a quote is a document; without any email address → 422 naming the field.
pub async fn recipient<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    q: &quote::Model,
    requested: Option<Uuid>,
) -> OpResult<(contact::Model, String)> {
    let field = "contact_id";
    let id = match requested.or(q.contact_id) {
        Some(id) => id,
        None => {
            let deal = records::find::<crate::entity::deal::Entity, _>(txn, q.deal_id)
                .await
                .ok();
            deal.and_then(|d| first_contact(&d.contact_ids))
                .ok_or_else(|| {
                    Error::field(
                        field,
                        "required",
                        "the quote and its deal have no contact: name the contact_id to send to",
                    )
                })?
        }
    };
    // A contact named in the request must be one the caller sees; the quote's own contact
    // came with the deal, whose contacts may belong to a colleague.
    if requested.is_some() {
        check_parties(txn, caller, None, None, Some(id)).await?;
    }
    let c = match records::find::<contact::Entity, _>(txn, id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => {
            return Err(Error::field(
                field,
                "not_found",
                format!("contact {id} does not exist (any more); name another contact_id"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let emails: Vec<String> = serde_json::from_value(c.emails.clone()).unwrap_or_default();
    let preferred = match (c.preferred_channel.as_deref(), &c.preferred_address) {
        (Some("email"), Some(a)) if a.contains('@') => Some(a.clone()),
        _ => None,
    };
    match preferred.or_else(|| emails.first().cloned()) {
        Some(e) => Ok((c, e)),
        None => Err(Error::field(
            field,
            "no_email",
            format!(
                "contact {id} has no email address (preferred channel: {}); add one or name another contact",
                c.preferred_channel.as_deref().unwrap_or("not set")
            ),
        )),
    }
}

/// Subject and text of the email that carries a quote: seller, buyer, the lines, totals per
/// VAT rate, the total and the validity.
pub async fn quote_email<C: ConnectionTrait>(
    txn: &C,
    q: &quote::Model,
    v: &quote_version::Model,
    rows: &[product_row::Model],
) -> OpResult<(String, String)> {
    let seller = organization::Entity::find_by_id(q.organization_id)
        .one(txn)
        .await?;
    let buyer = match q.legal_entity_id {
        Some(id) => legal_entity::Entity::find_by_id(id)
            .one(txn)
            .await?
            .map(|l| l.short_name),
        None => None,
    };
    let cur = &q.currency;
    let mut body = String::new();
    let subject = match &q.number {
        Some(n) => format!(
            "Коммерческое предложение № {n} «{}», версия {}",
            q.title, v.number
        ),
        None => format!(
            "Коммерческое предложение «{}», версия {}",
            q.title, v.number
        ),
    };
    body.push_str(&format!("{subject}\n\n"));
    if let Some(s) = &seller {
        body.push_str(&format!("Продавец: {}, ИНН {}\n", s.short_name, s.inn));
    }
    if let Some(b) = &buyer {
        body.push_str(&format!("Покупатель: {b}\n"));
    }
    body.push('\n');
    for (i, r) in rows.iter().enumerate() {
        let line = DocumentRowView::from(r);
        let discount = match (&line.discount_percent, &line.discount_amount) {
            (Some(p), _) => format!(", скидка {p}%"),
            (None, Some(a)) => format!(", скидка {a} {cur}"),
            (None, None) => String::new(),
        };
        body.push_str(&format!(
            "{}. {} — {} {} × {} {cur}{discount} = {} {cur} (НДС {}: {} {cur})\n",
            i + 1,
            line.name,
            line.quantity,
            line.unit_name,
            line.price,
            line.total,
            line.vat_rate_label,
            line.vat,
        ));
    }
    body.push('\n');
    body.push_str(&format!(
        "Итого без НДС: {} {cur}\n",
        Money::from_minor(v.net_minor)
    ));
    for s in vat_by_rate(rows) {
        body.push_str(&format!("НДС {}: {} {cur}\n", s.vat_rate_label, s.vat));
    }
    body.push_str(&format!(
        "Итого: {} {cur}\n",
        Money::from_minor(v.total_minor)
    ));
    if let Some(d) = v.valid_until {
        body.push_str(&format!(
            "Предложение действительно до {} ({}).\n",
            d.format("%d.%m.%Y"),
            d.format("%Y-%m-%d")
        ));
    }
    Ok((subject, body))
}

/// A status change of one version of a quote.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteTransitionView {
    pub version_number: i32,
    #[serde(flatten)]
    pub transition: TransitionView,
}
