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
use crate::journal::{self, Change, now};
use crate::numbering::take_number_if_templated;
use crate::outbox::{OutgoingEmail, enqueue_email};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::quotes::{
    QUOTE_VERSION_ROWS, QuoteFilter, Transition, log_transition, new_version, quotes_query,
    rows_of_version, transitions_of, version_of, versions_of,
};
use crate::records;
use crate::sales::{DEAL_ROWS, rows_of};
use crate::visibility::Scope;
use crate::{Actor, StoreError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sdelka_domain::money::Money;
use sdelka_domain::quote::{QuoteAction, QuoteRefusal, QuoteStatus, decide, decide_on_version};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::deals::visible_deal;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};

use super::deals::NewProductRow;
use super::documents::{
    DocumentRowView, TransitionView, VatSubtotalView, check_parties, priced_rows, row_public,
    totals, vat_by_rate,
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
    super::workflow::refused(r, |r| match r {
        QuoteRefusal::NotCurrent { .. } => Error::new(ErrorCode::VersionReadOnly, r.to_string()),
        QuoteRefusal::WrongState { .. } => Error::new(ErrorCode::InvalidTransition, r.to_string()),
    })
}

pub fn raced() -> Error {
    Error::new(
        ErrorCode::Conflict,
        "the quote was changed by another request at the same moment; read it again",
    )
}

pub fn status_of(v: &quote_version::Model) -> OpResult<QuoteStatus> {
    super::workflow::stored("quote version", "status", v.id, &v.status)
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
        out.push(records::create::<product_row::Entity, _>(txn, actor, r, row_public).await?);
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

pub async fn detail<C: ConnectionTrait>(db: &C, q: &quote::Model) -> OpResult<QuoteDetail> {
    let v = version_or_404(db, q.id, q.current_version).await?;
    let rows = rows_of_version(db, v.id).await?;
    Ok(detail_of(q, &rows))
}

/// A quote with the rows of its current version, as its `GET` answers it.
pub fn detail_of(q: &quote::Model, rows: &[product_row::Model]) -> QuoteDetail {
    QuoteDetail {
        quote: QuoteView::from(q),
        vat_by_rate: vat_by_rate(rows),
        rows: rows.iter().map(DocumentRowView::from).collect(),
    }
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
        None => crate::sales::deal_contacts(txn, q.deal_id)
            .await?
            .first()
            .copied()
            .ok_or_else(|| {
                Error::field(
                    field,
                    "required",
                    "the quote and its deal have no contact: name the contact_id to send to",
                )
            })?,
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

// ---------------------------------------------------------------------------------------------
// Operations

/// Writes the quote's fields under compare-and-set on its version (journalled by the caller).
async fn write_quote<C: ConnectionTrait>(
    db: &C,
    before: &quote::Model,
    mut after: quote::Model,
    at: DateTime<Utc>,
) -> OpResult<quote::Model> {
    after.version = before.version + 1;
    after.updated_at = at;
    let res = quote::Entity::update_many()
        .set(after.clone().into_active_model().reset_all())
        .filter(quote::Column::Id.eq(before.id))
        .filter(quote::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Err(raced());
    }
    Ok(after)
}

/// The quote's timeline entry for `action`: its representation before and after.
async fn journal_quote<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: &str,
    before: &QuoteDetail,
    after: &QuoteDetail,
    comment: Option<&str>,
) -> OpResult<()> {
    let (b, a) = (present(before), present(after));
    journal::record(
        db,
        actor,
        Change {
            entity_type: "quote",
            entity_id: before.quote.id,
            action,
            before: Some(&b),
            after: Some(&a),
            comment,
        },
    )
    .await?;
    Ok(())
}

/// The quotes the caller may see (those of deals he sees), a page at a time.
pub async fn list_quotes(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: QuoteListFilter,
) -> OpResult<ListPage<QuoteView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    if let Some(s) = &f.status
        && QuoteStatus::parse(s).is_none()
    {
        return Err(Error::field(
            "status",
            "unknown_value",
            "status is draft, sent, accepted or rejected",
        ));
    }
    let scope = caller.visibility(&db).await?;
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
    let page = fetch_page(&db, query, req, quote::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| QuoteView::from(m)))
}

/// Makes a quote (version 1, a draft) from a deal: the deal's rows are copied as they are
/// priced there unless rows are given; the buyer defaults to the deal's legal entity and first
/// contact; the quote belongs to the deal's responsible user.
pub async fn create_quote(db: Db<'_>, caller: &Caller, req: CreateQuote) -> OpResult<QuoteDetail> {
    let actor = caller.actor();
    let valid_until = check_valid_until(
        req.valid_until
            .unwrap_or_else(|| today() + Duration::days(DEFAULT_VALIDITY_DAYS)),
    )?;
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let deal = match visible_deal(&txn, &scope, req.deal_id).await {
        Ok(d) => d,
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(Error::field(
                "deal_id",
                "not_found",
                format!("deal_id {} does not exist", req.deal_id),
            ));
        }
        Err(e) => return Err(e),
    };
    let legal_entity_id = req.legal_entity_id.or(deal.legal_entity_id);
    let contact_id = match req.contact_id {
        Some(c) => Some(c),
        None => crate::sales::deal_contacts(&txn, deal.id)
            .await?
            .first()
            .copied(),
    };
    check_parties(
        &txn,
        caller,
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
            let priced = priced_rows(
                &txn,
                given,
                &deal.currency,
                QUOTE_VERSION_ROWS,
                version.id,
                today(),
            )
            .await?;
            store_rows(&txn, &actor, priced).await?
        }
        None => {
            let deal_rows = rows_of(&txn, DEAL_ROWS, deal.id).await?;
            if deal_rows.is_empty() {
                return Err(Error::field(
                    "rows",
                    "required",
                    "the deal has no product rows: add rows to the deal or give them here",
                ));
            }
            super::documents::copy_rows(&txn, &actor, &deal_rows, QUOTE_VERSION_ROWS, version.id)
                .await?
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
    let q = records::create::<quote::Entity, _>(&txn, &actor, q, |m| present(&detail_of(m, &rows)))
        .await?;
    records::create::<quote_version::Entity, _>(&txn, &actor, version, |m| {
        present(&version_view(&q, m, &rows))
    })
    .await?;
    let view = detail_of(&q, &rows);
    txn.commit().await?;
    Ok(view)
}

/// A quote the caller may see, with the rows of its current version.
pub async fn get_quote(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<QuoteDetail> {
    let scope = caller.visibility(&db).await?;
    let q = visible_quote(&db, &scope, id).await?;
    detail(&db, &q).await
}

/// Every version of a quote, oldest first, with rows and totals.
pub async fn list_versions(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<Vec<QuoteVersionView>> {
    let scope = caller.visibility(&db).await?;
    let q = visible_quote(&db, &scope, id).await?;
    let mut out = Vec::new();
    for v in versions_of(&db, q.id).await? {
        let rows = rows_of_version(&db, v.id).await?;
        out.push(version_view(&q, &v, &rows));
    }
    Ok(out)
}

/// Version `n` of a quote the caller may see.
pub async fn get_version(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    n: i32,
) -> OpResult<QuoteVersionView> {
    let scope = caller.visibility(&db).await?;
    let q = visible_quote(&db, &scope, id).await?;
    let v = version_or_404(&db, q.id, n).await?;
    let rows = rows_of_version(&db, v.id).await?;
    Ok(version_view(&q, &v, &rows))
}

/// Starts the next version after the client's feedback: a draft copying the current version's
/// rows (or taking the rows given). Allowed when the current version is sent or rejected.
pub async fn create_version(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: NewQuoteVersion,
) -> OpResult<QuoteVersionView> {
    let actor = caller.actor();
    let valid_until = req.valid_until.map(check_valid_until).transpose()?;
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let q = visible_quote(&txn, &scope, id).await?;
    check_if_match(&q, if_match)?;
    let current = version_or_404(&txn, q.id, q.current_version).await?;
    let from = status_of(&current)?;
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
    let old = rows_of_version(&txn, current.id).await?;
    let rows = match &req.rows {
        Some(given) => {
            let priced = priced_rows(
                &txn,
                given,
                &q.currency,
                QUOTE_VERSION_ROWS,
                next.id,
                today(),
            )
            .await?;
            store_rows(&txn, &actor, priced).await?
        }
        None => {
            super::documents::copy_rows(&txn, &actor, &old, QUOTE_VERSION_ROWS, next.id).await?
        }
    };
    (next.net_minor, next.vat_minor, next.total_minor) = totals(&rows)?;
    let mut after = q.clone();
    mirror(&mut after, &next);
    let next = match records::create::<quote_version::Entity, _>(&txn, &actor, next, |m| {
        present(&version_view(&after, m, &rows))
    })
    .await
    {
        Ok(v) => v,
        // Another request made this version number first.
        Err(StoreError::Duplicate(_)) => return Err(raced()),
        Err(e) => return Err(e.into()),
    };
    let at = now();
    let comment = clean(&req.comment);
    let saved = write_quote(&txn, &q, after, at).await?;
    journal_quote(
        &txn,
        &actor,
        "new-version",
        &detail_of(&q, &old),
        &detail_of(&saved, &rows),
        comment.as_deref(),
    )
    .await?;
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
    Ok(view)
}

/// Edits version `n`: only the current version, and only while it is a draft. `rows`
/// replaces all rows.
pub async fn update_version(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    n: i32,
    if_match: Option<i32>,
    req: UpdateQuoteVersion,
) -> OpResult<QuoteVersionView> {
    let actor = caller.actor();
    let valid_until = req.valid_until.map(check_valid_until).transpose()?;
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let q = visible_quote(&txn, &scope, id).await?;
    let v = version_or_404(&txn, q.id, n).await?;
    decide_on_version(
        status_of(&v)?,
        QuoteAction::Edit,
        v.number,
        q.current_version,
    )
    .map_err(refusal)?;
    let old = rows_of_version(&txn, v.id).await?;
    let rows = match &req.rows {
        Some(given) => {
            let priced =
                priced_rows(&txn, given, &q.currency, QUOTE_VERSION_ROWS, v.id, today()).await?;
            super::documents::remove_rows(&txn, &actor, QUOTE_VERSION_ROWS, v.id).await?;
            store_rows(&txn, &actor, priced).await?
        }
        None => old.clone(),
    };
    let (net, vat, total) = totals(&rows)?;
    let comment = req.comment.as_ref().map(|c| clean(&Some(c.clone())));
    let updated = records::update::<quote_version::Entity, _, _, Error>(
        &txn,
        &actor,
        v.id,
        if_match,
        |m| {
            // Still a draft under this very version number: `update` compares the version.
            if m.status != QuoteStatus::Draft.as_str() {
                return Err(raced());
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
        |m| present(&version_view(&q, m, &rows)),
    )
    .await??;
    let mut after = q.clone();
    mirror(&mut after, &updated);
    if after != q {
        let saved = write_quote(&txn, &q, after, now()).await?;
        journal_quote(
            &txn,
            &actor,
            "updated",
            &detail_of(&q, &old),
            &detail_of(&saved, &rows),
            None,
        )
        .await?;
        after = saved;
    }
    let view = version_view(&after, &updated, &rows);
    txn.commit().await?;
    Ok(view)
}

/// Acts on the current version: `send` (draft → sent, emailing the quote to the contact
/// through the outbox in the same transaction), `accept` (sent → accepted), `reject`
/// (sent → rejected, with an optional reason). A concurrent change lets one request win.
pub async fn act_on_quote(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    action: &str,
    if_match: Option<i32>,
    req: QuoteActionRequest,
) -> OpResult<QuoteDetail> {
    let action = match action {
        "send" => QuoteAction::Send,
        "accept" => QuoteAction::Accept,
        "reject" => QuoteAction::Reject,
        other => {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("there is no quote action `{other}`; actions: send, accept, reject"),
            ));
        }
    };
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let q = visible_quote(&txn, &scope, id).await?;
    check_if_match(&q, if_match)?;
    let v = version_or_404(&txn, q.id, q.current_version).await?;
    let from = status_of(&v)?;
    let to = decide(from, action).map_err(refusal)?;
    let at = now();
    let rows = rows_of_version(&txn, v.id).await?;
    let mut q_after = q.clone();
    let mut v_after = v.clone();
    v_after.status = to.as_str().to_owned();
    let comment = clean(&req.comment);
    let mut note = comment.clone();
    match action {
        QuoteAction::Send => {
            if rows.is_empty() {
                return Err(Error::field(
                    "rows",
                    "required",
                    "a quote without rows cannot be sent",
                ));
            }
            let (contact, email) = recipient(&txn, caller, &q, req.contact_id).await?;
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
            // Not reachable: parsed above, these have their own operations.
            return Err(Error::not_found());
        }
    }
    mirror(&mut q_after, &v_after);
    // The version's status under compare-and-set on status and version, then the quote's
    // mirror under its own version: a concurrent transition makes one of them find no row.
    let at = now();
    v_after.version = v.version + 1;
    v_after.updated_at = at;
    let res = quote_version::Entity::update_many()
        .set(v_after.clone().into_active_model().reset_all())
        .filter(quote_version::Column::Id.eq(v.id))
        .filter(quote_version::Column::Status.eq(from.as_str()))
        .filter(quote_version::Column::Version.eq(v.version))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(raced());
    }
    let saved = write_quote(&txn, &q, q_after, at).await?;
    let t = Transition {
        action: action.as_str(),
        from: from.as_str(),
        to: to.as_str(),
        comment: note.as_deref(),
    };
    log_transition(&txn, &actor, q.id, v.number, &t, at).await?;
    let view = detail_of(&saved, &rows);
    journal_quote(
        &txn,
        &actor,
        t.action,
        &detail_of(&q, &rows),
        &view,
        t.comment,
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

/// The status changes of a quote's versions, oldest first.
pub async fn quote_transitions(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<Vec<QuoteTransitionView>> {
    let scope = caller.visibility(&db).await?;
    let q = visible_quote(&db, &scope, id).await?;
    Ok(transitions_of(&db, q.id)
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
        .collect())
}
