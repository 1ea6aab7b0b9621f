//! `/supplier-invoices` (WF-INV): a supplier's invoice registered by its initiator, decided by
//! one of the decision makers' pool, paid by the first accountant of the accountants' pool to
//! claim it, and closed with the closing documents. Each action is
//! `POST /supplier-invoices/{id}/actions/{action}`; the inbox task of the same step
//! (`/tasks/{id}/claim|complete`) runs the very same operation.

use crate::approvals::{self as store, InvoiceFilter, SUBJECT_SUPPLIER_INVOICE, invoices_query};
use crate::clients::fold;
use crate::entity::{approval_step, organization, supplier_invoice, supplier_invoice_transition};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page, last_date};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::email::Email;
use sdelka_domain::money::Money;
use sdelka_domain::supplier_invoice::{ActionKind, InvoiceState, STATE_NAMES, due_date_ok};
use sdelka_domain::validation::{FieldViolation, Violations};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::approvals::{self, ActionInput, PaymentInput};
use super::products::{currency, non_negative};
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, ensure_exists};

use super::tasks::{PaymentBody, TaskView};

/// The states of WF-INV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupplierInvoiceStateName {
    AwaitingDecision,
    UnderDecision,
    Returned,
    AwaitingAccountant,
    InWorkAtAccountant,
    AwaitingClosingDocuments,
    Completed,
    Cancelled,
}

impl SupplierInvoiceStateName {
    pub fn as_str(self) -> &'static str {
        match self {
            SupplierInvoiceStateName::AwaitingDecision => STATE_NAMES[0],
            SupplierInvoiceStateName::UnderDecision => STATE_NAMES[1],
            SupplierInvoiceStateName::Returned => STATE_NAMES[2],
            SupplierInvoiceStateName::AwaitingAccountant => STATE_NAMES[3],
            SupplierInvoiceStateName::InWorkAtAccountant => STATE_NAMES[4],
            SupplierInvoiceStateName::AwaitingClosingDocuments => STATE_NAMES[5],
            SupplierInvoiceStateName::Completed => STATE_NAMES[6],
            SupplierInvoiceStateName::Cancelled => STATE_NAMES[7],
        }
    }
}

/// The actions of WF-INV (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SupplierInvoiceAction {
    /// A decision maker of the pool takes it for approval.
    Take,
    /// The decision maker who took it approves: it goes to the accountants.
    Approve,
    /// The decision maker who took it returns it for revision; `comment` is mandatory.
    Return,
    /// The initiator resubmits with a new invoice file (`file_ids`).
    Resubmit,
    /// The first accountant of the pool to claim it becomes the payer; the supplier is emailed.
    Claim,
    /// The payer records the payment (`payment`); the initiator is notified.
    MarkPaid,
    /// The initiator attaches the closing documents (`file_ids`); the invoice completes.
    AttachClosingDocuments,
    /// The initiator or an admin cancels before payment; `comment` (the reason) is mandatory.
    Cancel,
}

impl From<SupplierInvoiceAction> for ActionKind {
    fn from(a: SupplierInvoiceAction) -> ActionKind {
        match a {
            SupplierInvoiceAction::Take => ActionKind::Take,
            SupplierInvoiceAction::Approve => ActionKind::Approve,
            SupplierInvoiceAction::Return => ActionKind::Return,
            SupplierInvoiceAction::Resubmit => ActionKind::Resubmit,
            SupplierInvoiceAction::Claim => ActionKind::Claim,
            SupplierInvoiceAction::MarkPaid => ActionKind::MarkPaid,
            SupplierInvoiceAction::AttachClosingDocuments => ActionKind::AttachClosingDocuments,
            SupplierInvoiceAction::Cancel => ActionKind::Cancel,
        }
    }
}

/// The recorded payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierInvoicePaymentView {
    pub paid_on: NaiveDate,
    #[schema(value_type = String, example = "125000.00")]
    pub amount: Money,
    #[schema(example = "512")]
    pub order_number: String,
}

/// A file of the invoice and the round it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceFileView {
    pub file_id: Uuid,
    pub round: i32,
    /// `invoice` (the invoice file of the round) or `closing_documents`.
    #[schema(example = "invoice")]
    pub purpose: String,
}

/// A supplier invoice and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierInvoiceView {
    pub id: Uuid,
    /// Own organisation that is billed.
    pub organization_id: Uuid,
    pub supplier_legal_entity_id: Uuid,
    #[schema(example = "ООО «Поставщик»")]
    pub supplier_name: String,
    #[schema(example = "sales@supplier.example")]
    pub supplier_email: String,
    #[schema(example = "17")]
    pub number: String,
    pub invoice_date: NaiveDate,
    #[schema(value_type = String, example = "125000.00")]
    pub amount: Money,
    #[schema(value_type = Option<String>, example = "20833.33")]
    pub vat_amount: Option<Money>,
    #[schema(example = "RUB")]
    pub currency: String,
    pub due_date: Option<NaiveDate>,
    pub description: Option<String>,
    /// Who registered it.
    pub initiator_id: Uuid,
    #[schema(value_type = SupplierInvoiceStateName)]
    pub state: String,
    /// Who holds it now: the decision maker who took it, the accountant who claimed it.
    pub holder_id: Option<Uuid>,
    /// Since when it is in its state.
    pub state_since: DateTime<Utc>,
    /// The actions the state allows (whoever asks).
    #[schema(value_type = Vec<SupplierInvoiceAction>)]
    pub allowed_actions: Vec<String>,
    /// 1 on registration, +1 on every resubmission.
    pub round: i32,
    /// The decision maker of the latest round.
    pub head_id: Option<Uuid>,
    /// The accountant who claimed it.
    pub payer_id: Option<Uuid>,
    pub payment: Option<SupplierInvoicePaymentView>,
    pub cancel_reason: Option<String>,
    pub files: Vec<InvoiceFileView>,
    /// The task the invoice waits on, if any.
    pub current_task: Option<TaskView>,
    /// The route so far: one "first one decides" decision step per round.
    pub steps: Vec<StepView>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn view_row(i: &supplier_invoice::Model) -> SupplierInvoiceView {
    let allowed = InvoiceState::from_parts(&i.state, i.holder_id)
        .map(|s| s.allowed().iter().map(|a| a.as_str().to_owned()).collect())
        .unwrap_or_default();
    SupplierInvoiceView {
        id: i.id,
        organization_id: i.organization_id,
        supplier_legal_entity_id: i.supplier_legal_entity_id,
        supplier_name: i.supplier_name.clone(),
        supplier_email: i.supplier_email.clone(),
        number: i.number.clone(),
        invoice_date: i.invoice_date,
        amount: Money::from_minor(i.amount_kopecks),
        vat_amount: i.vat_kopecks.map(Money::from_minor),
        currency: i.currency.clone(),
        due_date: i.due_date,
        description: i.description.clone(),
        initiator_id: i.initiator_id,
        state: i.state.clone(),
        holder_id: i.holder_id,
        state_since: i.state_since,
        allowed_actions: allowed,
        round: i.round,
        head_id: i.head_id,
        payer_id: i.payer_id,
        payment: match (i.paid_on, i.paid_amount_kopecks, &i.payment_order_number) {
            (Some(d), Some(a), Some(n)) => Some(SupplierInvoicePaymentView {
                paid_on: d,
                amount: Money::from_minor(a),
                order_number: n.clone(),
            }),
            _ => None,
        },
        cancel_reason: i.cancel_reason.clone(),
        files: Vec::new(),
        current_task: None,
        steps: Vec::new(),
        version: i.version,
        created_at: i.created_at,
        updated_at: i.updated_at,
    }
}

pub async fn full_view<C: ConnectionTrait>(
    db: &C,
    i: &supplier_invoice::Model,
) -> OpResult<SupplierInvoiceView> {
    let mut v = view_row(i);
    v.files = store::files_of(db, i.id)
        .await?
        .into_iter()
        .map(|f| InvoiceFileView {
            file_id: f.file_id,
            round: f.round,
            purpose: f.purpose,
        })
        .collect();
    v.steps = store::steps_of(db, SUBJECT_SUPPLIER_INVOICE, i.id)
        .await?
        .iter()
        .map(StepView::from)
        .collect();
    v.current_task = store::open_task_of(db, SUBJECT_SUPPLIER_INVOICE, i.id)
        .await?
        .as_ref()
        .map(TaskView::from);
    Ok(v)
}

/// A step of a route: its tasks complete it under its rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub id: Uuid,
    pub round: i32,
    pub position: i32,
    #[schema(example = "decision")]
    pub name: String,
    /// `all`, `quorum` (with `quorum`) or `first`.
    #[schema(example = "first")]
    pub completion_rule: String,
    pub quorum: Option<i32>,
    /// `active`, `approved`, `rejected`, `returned` or `skipped`.
    #[schema(example = "approved")]
    pub state: String,
    pub due_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&approval_step::Model> for StepView {
    fn from(s: &approval_step::Model) -> Self {
        StepView {
            id: s.id,
            round: s.round,
            position: s.position,
            name: s.name.clone(),
            completion_rule: s.completion_rule.clone(),
            quorum: s.quorum,
            state: s.state.clone(),
            due_at: s.due_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterSupplierInvoice {
    /// Own organisation that is billed; its pools decide and pay.
    pub organization_id: Uuid,
    /// The supplier (a legal entity of the client base).
    pub supplier_legal_entity_id: Uuid,
    /// Where the "passed for payment" email goes.
    #[schema(example = "sales@supplier.example")]
    pub supplier_email: String,
    #[validate(length(min = 1, max = 50, message = "number must be 1 to 50 characters"))]
    #[schema(example = "17")]
    pub number: String,
    /// `YYYY-MM-DD`.
    pub invoice_date: NaiveDate,
    /// Decimal string.
    #[schema(value_type = String, example = "125000.00")]
    pub amount: Money,
    /// VAT included in `amount`, decimal string; absent when the supplier pays no VAT.
    #[schema(value_type = Option<String>, example = "20833.33")]
    pub vat_amount: Option<Money>,
    /// Default `RUB`.
    pub currency: Option<String>,
    pub due_date: Option<NaiveDate>,
    #[validate(length(max = 10000))]
    pub description: Option<String>,
    /// The invoice file(s): ids of files uploaded through `POST /files` (e.g. to the supplier's
    /// company) and visible to you. They move into the invoice's folder.
    #[validate(length(min = 1, max = 20, message = "register the invoice with its file"))]
    pub file_ids: Vec<Uuid>,
}

/// The body of an action; what each action needs is named in its description.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// `return`: the remarks (mandatory); `cancel`: the reason (mandatory); else a note.
    #[validate(length(max = 10000))]
    pub comment: Option<String>,
    /// `resubmit`: the new invoice file; `attach-closing-documents`: the documents.
    #[serde(default)]
    #[validate(length(max = 50))]
    pub file_ids: Vec<Uuid>,
    /// `mark-paid`: the payment.
    #[validate(nested)]
    pub payment: Option<PaymentBody>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SupplierInvoiceFilter {
    #[param(inline)]
    pub state: Option<SupplierInvoiceStateName>,
    pub organization_id: Option<Uuid>,
    pub initiator_id: Option<Uuid>,
    pub supplier_legal_entity_id: Option<Uuid>,
    /// Search: part of the number or of the supplier's name or email.
    pub q: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ActionPath {
    /// Supplier invoice id.
    pub id: Uuid,
    #[param(inline)]
    pub action: SupplierInvoiceAction,
}

pub fn sorts() -> [SortKey<supplier_invoice::Entity>; 6] {
    [
        SortKey {
            name: "created_at",
            column: supplier_invoice::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: supplier_invoice::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "state_since",
            column: supplier_invoice::Column::StateSince,
            key: |m| CursorValue::Time(m.state_since),
        },
        SortKey {
            name: "amount",
            column: supplier_invoice::Column::AmountKopecks,
            key: |m| CursorValue::Int(m.amount_kopecks),
        },
        SortKey {
            name: "invoice_date",
            column: supplier_invoice::Column::InvoiceDate,
            key: |m| CursorValue::Date(m.invoice_date),
        },
        // Invoices without a due date come last ascending (first descending).
        SortKey {
            name: "due_date",
            column: supplier_invoice::Column::DueDate,
            key: |m| CursorValue::Date(m.due_date.unwrap_or_else(last_date)),
        },
    ]
}

/// One transition of a supplier invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierInvoiceTransitionView {
    pub id: Uuid,
    pub round: i32,
    /// `registered`, `taken`, `approved`, `returned`, `resubmitted`, `claimed`, `paid`,
    /// `closing_documents_attached`, `cancelled`.
    #[schema(example = "returned")]
    pub action: String,
    #[schema(value_type = Option<SupplierInvoiceStateName>)]
    pub from_state: Option<String>,
    #[schema(value_type = SupplierInvoiceStateName)]
    pub to_state: String,
    pub actor_id: Option<Uuid>,
    #[schema(example = "Нет номера договора в назначении платежа")]
    pub comment: Option<String>,
    /// What the transition carried: the payment, the file ids.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    pub occurred_at: DateTime<Utc>,
}

impl From<&supplier_invoice_transition::Model> for SupplierInvoiceTransitionView {
    fn from(t: &supplier_invoice_transition::Model) -> Self {
        SupplierInvoiceTransitionView {
            id: t.id,
            round: t.round,
            action: t.action.clone(),
            from_state: t.from_state.clone(),
            to_state: t.to_state.clone(),
            actor_id: t.actor_id,
            comment: t.comment.clone(),
            details: t
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok()),
            occurred_at: t.occurred_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransitionList {
    pub items: Vec<SupplierInvoiceTransitionView>,
}

/// The supplier invoices the caller may see, a page at a time.
pub async fn list_supplier_invoices(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: SupplierInvoiceFilter,
) -> OpResult<ListPage<SupplierInvoiceView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let viewer = approvals::invoice_viewer(&db, caller).await?;
    let q =
        f.q.as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned);
    let query = invoices_query(
        &viewer,
        &InvoiceFilter {
            state: f.state.map(|s| s.as_str().to_owned()),
            organization_id: f.organization_id,
            initiator_id: f.initiator_id,
            supplier_legal_entity_id: f.supplier_legal_entity_id,
            q: q.clone(),
            updated_since: page.updated_since,
        },
    );
    let query = crate::search::narrow(query, &db, "supplier_invoices", q.as_deref()).await?;
    let page = fetch_page(&db, query, req, supplier_invoice::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, view_row))
}

/// Registers a supplier invoice with its file (WF-INV-1); the caller is its initiator and the
/// decision makers' pool gets the task.
pub async fn register_supplier_invoice(
    db: Db<'_>,
    caller: &Caller,
    req: RegisterSupplierInvoice,
) -> OpResult<SupplierInvoiceView> {
    let mut v = Violations::new();
    let email = match Email::parse(&req.supplier_email) {
        Ok(e) => Some(e),
        Err(e) => {
            v.push(FieldViolation::new(
                "supplier_email",
                e.code(),
                e.to_string(),
            ));
            None
        }
    };
    let amount = match non_negative("amount", req.amount) {
        Ok(m) if m.is_zero() => {
            v.push(FieldViolation::new(
                "amount",
                "out_of_range",
                "amount must be positive",
            ));
            None
        }
        Ok(m) => Some(m),
        Err(f) => {
            v.push(f);
            None
        }
    };
    let vat = match req.vat_amount.map(|m| non_negative("vat_amount", m)) {
        Some(Ok(m)) => Some(m),
        Some(Err(f)) => {
            v.push(f);
            None
        }
        None => None,
    };
    let currency = match currency("currency", req.currency.as_deref()) {
        Ok(c) => Some(c),
        Err(f) => {
            v.push(f);
            None
        }
    };
    if let (Some(a), Some(t)) = (amount, vat)
        && t > a
    {
        v.push(FieldViolation::new(
            "vat_amount",
            "out_of_range",
            "the VAT cannot exceed the invoice amount",
        ));
    }
    if !due_date_ok(req.invoice_date, req.due_date) {
        v.push(FieldViolation::new(
            "due_date",
            "before_invoice_date",
            format!(
                "the due date {} is before the invoice's date {}",
                req.due_date.unwrap_or(req.invoice_date),
                req.invoice_date
            ),
        ));
    }
    let (Some(email), Some(amount), Some(currency)) = (email, amount, currency) else {
        return Err(Error::validation(v));
    };
    if !v.is_empty() {
        return Err(Error::validation(v));
    }
    let to_minor = |field: &str, m: Money| {
        m.to_minor()
            .map_err(|e| Error::field(field, "out_of_range", e.to_string()))
    };
    let amount_kopecks = to_minor("amount", amount)?;
    let vat_kopecks = vat.map(|m| to_minor("vat_amount", m)).transpose()?;
    let txn = db.begin().await?;
    ensure_exists::<organization::Entity, _>(&txn, "organization_id", req.organization_id).await?;
    let supplier = super::refs::billed_party(
        &txn,
        caller,
        "supplier_legal_entity_id",
        req.supplier_legal_entity_id,
    )
    .await?;
    let at = now();
    let number = req.number.trim().to_owned();
    let model = supplier_invoice::Model {
        id: Uuid::now_v7(),
        organization_id: req.organization_id,
        supplier_legal_entity_id: supplier.id,
        supplier_name: supplier.short_name.clone(),
        supplier_email: email.as_str().to_owned(),
        search_text: fold(&[
            &number,
            &supplier.short_name,
            &supplier.full_name,
            email.as_str(),
        ]),
        number,
        invoice_date: req.invoice_date,
        amount_kopecks,
        vat_kopecks,
        currency,
        due_date: req.due_date,
        description: req.description,
        initiator_id: caller.user_id,
        state: InvoiceState::AwaitingDecision.name().to_owned(),
        holder_id: None,
        state_since: at,
        round: 1,
        head_id: None,
        payer_id: None,
        paid_on: None,
        paid_amount_kopecks: None,
        payment_order_number: None,
        cancel_reason: None,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    if let Some(existing) = store::live_duplicate(&txn, &model).await? {
        return Err(duplicate(&existing));
    }
    let inv = match approvals::register_invoice(&txn, caller, model.clone(), &req.file_ids).await {
        Ok(inv) => inv,
        // A concurrent registration of the same invoice won the unique index: name it.
        Err(e) if e.code == ErrorCode::Duplicate => {
            txn.rollback().await?;
            return Err(match store::live_duplicate(&db, &model).await? {
                Some(existing) => duplicate(&existing),
                None => e,
            });
        }
        Err(e) => return Err(e),
    };
    let view = full_view(&txn, &inv).await?;
    txn.commit().await?;
    Ok(view)
}

/// WF-INV: the same supplier invoice (supplier legal entity, number, date) is registered once
/// while it is not cancelled; a second registration is `409 duplicate` naming the first.
fn duplicate(existing: &supplier_invoice::Model) -> Error {
    let message = format!(
        "supplier invoice № {} of {} from {} is already registered as {} ({})",
        existing.number, existing.invoice_date, existing.supplier_name, existing.id, existing.state
    );
    Error {
        errors: vec![FieldViolation::new("number", "duplicate", message.clone())],
        ..Error::new(ErrorCode::Duplicate, message)
    }
}

/// One supplier invoice the caller may see, with its files, steps and current task.
pub async fn get_supplier_invoice(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<SupplierInvoiceView> {
    let viewer = approvals::invoice_viewer(&db, caller).await?;
    let inv = store::visible_invoice(&db, &viewer, id).await?;
    full_view(&db, &inv).await
}

/// The transitions of a supplier invoice the caller may see, oldest first.
pub async fn list_transitions(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<TransitionList> {
    let viewer = approvals::invoice_viewer(&db, caller).await?;
    let inv = store::visible_invoice(&db, &viewer, id).await?;
    let items = store::transitions_of(&db, inv.id)
        .await?
        .iter()
        .map(SupplierInvoiceTransitionView::from)
        .collect();
    Ok(TransitionList { items })
}

/// Applies one WF-INV action to a supplier invoice (`if_match`, when given, must be current).
pub async fn act_on_supplier_invoice(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    action: SupplierInvoiceAction,
    if_match: Option<i32>,
    req: ActionBody,
) -> OpResult<SupplierInvoiceView> {
    let input = ActionInput {
        comment: req.comment,
        file_ids: req.file_ids,
        payment: req.payment.map(PaymentInput::from),
        time_spent_minutes: None,
    };
    let txn = db.begin().await?;
    let inv = approvals::act_on_invoice(&txn, caller, id, action.into(), input, if_match).await?;
    let view = full_view(&txn, &inv).await?;
    txn.commit().await?;
    Ok(view)
}
