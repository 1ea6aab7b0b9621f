//! The shared model of human work (SPEC §3) and WF-INV, as operations both route families
//! call: `POST /supplier-invoices/{id}/actions/{action}` and `POST /tasks/{id}/claim|complete`
//! reach the same [`act_on_invoice`], so an invoice and its task cannot drift apart.
//!
//! Every operation runs inside the caller's transaction: the state change, the task, the
//! transition row, the journal entry and the outgoing email/notifications commit together.

use crate::approvals::{
    self as store, InboxViewer, InvoiceViewer, NewAssignee, NewTask, NewTransition,
    POOL_ACCOUNTANTS, POOL_DECISION_MAKERS, SUBJECT_ACTIVITY, SUBJECT_SUPPLIER_INVOICE,
    TASK_CLAIMED, TASK_COMPLETED,
};
use crate::entity::{activity, approval_step, file, pool, supplier_invoice, task, user};
use crate::journal::{self, Change, now};
use crate::notifications::{self, EntityRef};
use crate::outbox::{self, OutgoingEmail};
use crate::records;
use chrono::NaiveDate;
use sdelka_domain::money::Money;
use sdelka_domain::supplier_invoice::{
    self as wf, Action, ActionKind, Effect, InvoiceState, Payment, Refusal, WaitingFor,
};
use sdelka_domain::task::{
    self as work, Assignee, Outcome, Performer, TaskCommand, TaskRefusal, TaskStatus,
};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::activities::ActivityView;
use super::files::FileView;
use super::supplier_invoices::{StepView, full_view};
use super::tasks::TaskView;
use super::{Actor, Caller, present};
use super::{Error, ErrorCode, OpResult};

pub const TASK_DECISION: &str = "supplier_invoice_decision";
pub const TASK_REVISION: &str = "supplier_invoice_revision";
pub const TASK_PAYMENT: &str = "supplier_invoice_payment";
pub const TASK_CLOSING_DOCUMENTS: &str = "supplier_invoice_closing_documents";
pub const TASK_ACTIVITY: &str = "activity";
/// A task set by hand with `POST /tasks`.
pub const TASK_GENERAL: &str = store::KIND_GENERAL;

pub const FILES_INVOICE: &str = "invoice";
pub const FILES_CLOSING: &str = "closing_documents";

/// What an action carries over the wire, before the rules look at it.
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    /// The comment of a return, the reason of a cancellation, a note on anything else.
    pub comment: Option<String>,
    pub file_ids: Vec<Uuid>,
    pub payment: Option<PaymentInput>,
    /// WF-BILL-1: the minutes the task took, kept with a completed task.
    pub time_spent_minutes: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct PaymentInput {
    pub paid_on: NaiveDate,
    pub amount: Money,
    pub order_number: String,
}

pub async fn invoice_viewer<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
) -> OpResult<InvoiceViewer> {
    Ok(InvoiceViewer {
        user_id: caller.user_id,
        is_admin: caller.is_admin(),
        membership: store::membership(db, caller.user_id).await?,
    })
}

pub async fn inbox_viewer<C: ConnectionTrait>(db: &C, caller: &Caller) -> OpResult<InboxViewer> {
    Ok(InboxViewer {
        user_id: caller.user_id,
        roles: caller.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        pool_ids: store::membership(db, caller.user_id).await?.pool_ids,
        is_admin: caller.is_admin(),
    })
}

pub fn state_of(inv: &supplier_invoice::Model) -> OpResult<InvoiceState> {
    InvoiceState::from_parts(&inv.state, inv.holder_id).ok_or_else(|| {
        Error::internal(format!(
            "supplier invoice {} has an unknown state {}",
            inv.id, inv.state
        ))
    })
}

fn allowed_names(s: &InvoiceState) -> Vec<String> {
    s.allowed().iter().map(|a| a.as_str().to_owned()).collect()
}

/// The 409 of an action the state does not allow.
pub fn wrong_state(action: ActionKind, s: &InvoiceState) -> Error {
    Error::wrong_state(
        ErrorCode::InvalidTransition,
        format!(
            "cannot {} an invoice that is {}; allowed: {}",
            action.as_str(),
            s.name(),
            s.allowed_list()
        ),
        s.name(),
        allowed_names(s),
    )
}

fn refusal(r: Refusal) -> Error {
    super::workflow::refused(r, |r| match r {
        Refusal::WrongState { .. } => Error::new(ErrorCode::InvalidTransition, r.to_string()),
        Refusal::NotYours { .. } => Error::forbidden(r.to_string()),
        // On the wire both the remarks of a return and the reason of a cancellation are the
        // body's `comment`.
        Refusal::CommentRequired { .. } => Error::field("comment", "required", r.to_string()),
        Refusal::Invalid { field, .. } => Error::field(field, "invalid", r.to_string()),
    })
}

fn already_claimed(current: &InvoiceState, what: &str) -> Error {
    Error::wrong_state(
        ErrorCode::AlreadyClaimed,
        format!("{what}; the invoice is now {}", current.name()),
        current.name(),
        allowed_names(current),
    )
}

/// Checks that each file exists and is visible to the caller; answers the files.
async fn visible_files<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    ids: &[Uuid],
) -> OpResult<Vec<file::Model>> {
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(Error::field(
                &format!("file_ids[{i}]"),
                "duplicate",
                "a file is listed twice",
            ));
        }
        match super::files::visible_file(db, caller, *id).await {
            Ok(f) => out.push(f),
            Err(e) if e.code == ErrorCode::NotFound => {
                return Err(Error::field(
                    &format!("file_ids[{i}]"),
                    "not_found",
                    format!("file {id} does not exist or is not visible to you"),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Makes uploaded files files of the invoice: they move into its folder (keeping their
/// company folder) and are listed with the round they belong to.
async fn adopt_files<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    invoice_id: Uuid,
    files: &[file::Model],
    round: i32,
    purpose: &str,
) -> OpResult<()> {
    let document_type = if purpose == FILES_CLOSING {
        "closing_document"
    } else {
        "invoice_scan"
    };
    for f in files {
        records::update::<file::Entity, _, _, Error>(
            db,
            &caller.actor(),
            f.id,
            None,
            |m| {
                m.entity_type = SUBJECT_SUPPLIER_INVOICE.to_owned();
                m.entity_id = invoice_id;
                m.document_type = document_type.to_owned();
                Ok(())
            },
            |m| present(&FileView::from(m)),
        )
        .await??;
        store::link_file(db, invoice_id, f.id, round, purpose).await?;
    }
    Ok(())
}

fn money(kopecks: i64) -> String {
    Money::from_minor(kopecks).to_string()
}

fn invoice_ref(inv: &supplier_invoice::Model) -> String {
    format!(
        "№{} от {} на сумму {} {}",
        inv.number,
        inv.invoice_date.format("%d.%m.%Y"),
        money(inv.amount_kopecks),
        inv.currency
    )
}

fn entity(inv: &supplier_invoice::Model) -> Option<EntityRef<'static>> {
    Some(EntityRef {
        entity_type: SUBJECT_SUPPLIER_INVOICE,
        entity_id: inv.id,
    })
}

/// Opens the task the invoice's new state waits for, if it waits for a pool or the initiator
/// (a claimed state keeps the claimed task).
async fn open_task_for<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    inv: &supplier_invoice::Model,
    s: &InvoiceState,
) -> OpResult<Option<task::Model>> {
    let pool = |kind: &'static str| async move {
        store::pool_of(db, inv.organization_id, kind)
            .await?
            .map(|p| p.id)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Conflict,
                    format!("the organisation has no {kind} pool; an admin configures it under /organizations/{{id}}/pools"),
                )
            })
    };
    let (kind, title, assignee, outcomes): (&'static str, String, NewAssignee, Vec<&'static str>) =
        match s.waiting_for() {
            WaitingFor::DecisionPool => (
                TASK_DECISION,
                format!(
                    "Согласовать счёт поставщика {} ({})",
                    invoice_ref(inv),
                    inv.supplier_name
                ),
                NewAssignee::Pool(pool(POOL_DECISION_MAKERS).await?),
                vec![Outcome::Approve.as_str(), Outcome::ReturnForRework.as_str()],
            ),
            WaitingFor::InitiatorRevision => (
                TASK_REVISION,
                format!(
                    "Исправить счёт поставщика {} по замечаниям",
                    invoice_ref(inv)
                ),
                NewAssignee::User(inv.initiator_id),
                vec![Outcome::Done.as_str()],
            ),
            WaitingFor::AccountantPool => (
                TASK_PAYMENT,
                format!(
                    "Оплатить счёт поставщика {} ({})",
                    invoice_ref(inv),
                    inv.supplier_name
                ),
                NewAssignee::Pool(pool(POOL_ACCOUNTANTS).await?),
                vec![Outcome::Done.as_str()],
            ),
            WaitingFor::InitiatorClosingDocuments => (
                TASK_CLOSING_DOCUMENTS,
                format!(
                    "Приложить закрывающие документы к счёту {}",
                    invoice_ref(inv)
                ),
                NewAssignee::User(inv.initiator_id),
                vec![Outcome::Done.as_str()],
            ),
            WaitingFor::DecisionMaker(_) | WaitingFor::Accountant(_) | WaitingFor::Nobody => {
                return Ok(None);
            }
        };
    // A decision round is a "first one decides" step of the invoice's route: the same step
    // shape contract routes will chain.
    let step_id = if kind == TASK_DECISION {
        let step = open_step(
            db,
            &caller.actor(),
            store::NewStep {
                subject_type: SUBJECT_SUPPLIER_INVOICE,
                subject_id: inv.id,
                round: inv.round,
                position: 1,
                name: "decision",
                rule: work::CompletionRule::FirstDecides,
                due_at: None,
            },
        )
        .await?;
        Some(step.id)
    } else {
        None
    };
    // The accountants pay by the invoice's due date (through the end of that day, UTC).
    let due_at = match (kind, inv.due_date) {
        (TASK_PAYMENT, Some(d)) => d
            .succ_opt()
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc()),
        _ => None,
    };
    let t = create_task(
        db,
        &caller.actor(),
        NewTask {
            kind,
            title,
            description: inv.description.clone(),
            subject_type: Some(SUBJECT_SUPPLIER_INVOICE),
            subject_id: Some(inv.id),
            step_id,
            assignee,
            outcomes,
            due_at,
            author_id: Some(caller.user_id),
        },
    )
    .await?;
    announce_task(db, &t, inv.description.as_deref().unwrap_or("")).await?;
    Ok(Some(t))
}

/// Whoever is to work on a task — its one user, every member of its pool, every active
/// holder of its role; once claimed, only the holder — in the same transaction as the
/// change that concerns them (ACT-5).
pub async fn task_audience<C: ConnectionTrait>(db: &C, t: &task::Model) -> OpResult<Vec<Uuid>> {
    Ok(
        match (
            t.claimed_by.or(t.assignee_user_id),
            t.assignee_pool_id,
            t.assignee_role.as_deref(),
        ) {
            (Some(user), _, _) => vec![user],
            (None, Some(pool), _) => store::members(db, pool).await?,
            (None, None, Some(role)) => crate::people::users_with_role(db, role).await?,
            (None, None, None) => Vec::new(),
        },
    )
}

/// Tells a new task's audience about it: `task_assigned`, in the inbox and by email.
pub async fn announce_task<C: ConnectionTrait>(
    db: &C,
    t: &task::Model,
    body: &str,
) -> OpResult<()> {
    for user in task_audience(db, t).await? {
        notifications::notify_and_email(
            db,
            user,
            "task_assigned",
            &t.title,
            body,
            Some(EntityRef {
                entity_type: "task",
                entity_id: t.id,
            }),
        )
        .await?;
    }
    Ok(())
}

/// Registers a supplier invoice (WF-INV-1): it enters *awaiting decision* with its file, and
/// the decision makers' pool gets the task.
pub async fn register_invoice<
    C: ConnectionTrait + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    db: &C,
    caller: &Caller,
    model: supplier_invoice::Model,
    file_ids: &[Uuid],
) -> OpResult<supplier_invoice::Model> {
    if file_ids.is_empty() {
        return Err(Error::field(
            "file_ids",
            "required",
            "register the invoice with its file (upload it first, then pass its id)",
        ));
    }
    for kind in [POOL_DECISION_MAKERS, POOL_ACCOUNTANTS] {
        if store::pool_of(db, model.organization_id, kind)
            .await?
            .is_none()
        {
            return Err(Error::field(
                "organization_id",
                "no_pool",
                format!(
                    "the organisation has no {kind} pool yet; an admin sets it with PUT /organizations/{{id}}/pools/{kind}"
                ),
            ));
        }
    }
    let files = visible_files(db, caller, file_ids).await?;
    store::insert_invoice(db, &model).await?;
    let inv = model;
    adopt_files(db, caller, inv.id, &files, inv.round, FILES_INVOICE).await?;
    super::processes::on_entity_created(
        db,
        &caller.actor(),
        sdelka_domain::process::EntityType::SupplierInvoice,
        inv.id,
    )
    .await?;
    store::record_transition(
        db,
        NewTransition {
            invoice_id: inv.id,
            round: inv.round,
            action: "registered",
            from_state: None,
            to_state: &inv.state,
            actor_id: Some(caller.user_id),
            comment: None,
            details: Some(serde_json::json!({ "file_ids": file_ids })),
        },
    )
    .await?;
    open_task_for(db, caller, &inv, &state_of(&inv)?).await?;
    // Journalled once it has its files, its step and its task: as its `GET` answers it.
    let after = present(&full_view(db, &inv).await?);
    journal::record(
        db,
        &caller.actor(),
        Change {
            entity_type: SUBJECT_SUPPLIER_INVOICE,
            entity_id: inv.id,
            action: "created",
            before: None,
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    Ok(inv)
}

/// Applies one WF-INV action. Both the action endpoint and the task endpoints land here.
pub async fn act_on_invoice<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    invoice_id: Uuid,
    kind: ActionKind,
    input: ActionInput,
    expected_version: Option<i32>,
) -> OpResult<supplier_invoice::Model> {
    let viewer = invoice_viewer(db, caller).await?;
    let inv = match store::visible_invoice(db, &viewer, invoice_id).await {
        Ok(inv) => inv,
        Err(crate::StoreError::NotFound) => {
            return Err(claimed_elsewhere(db, &viewer, invoice_id, kind).await?);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(v) = expected_version
        && v != inv.version
    {
        return Err(crate::StoreError::StaleVersion {
            expected: v,
            current: inv.version,
        }
        .into());
    }
    let current = state_of(&inv)?;
    if !current.allowed().contains(&kind) {
        return Err(wrong_state(kind, &current));
    }
    let open_task = store::open_task_of(db, SUBJECT_SUPPLIER_INVOICE, inv.id).await?;
    let holds_initiator_task = open_task.as_ref().is_some_and(|t| {
        (t.kind == TASK_REVISION || t.kind == TASK_CLOSING_DOCUMENTS)
            && t.assignee_user_id == Some(caller.user_id)
    });
    let actor = wf::Actor {
        id: caller.user_id,
        is_initiator: inv.initiator_id == caller.user_id || holds_initiator_task,
        is_admin: caller.is_admin(),
        in_decision_pool: viewer.membership.decides_for.contains(&inv.organization_id),
        in_accountant_pool: viewer.membership.pays_for.contains(&inv.organization_id),
    };
    let comment = input
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let action = match kind {
        ActionKind::Take => Action::Take,
        ActionKind::Approve => Action::Approve,
        ActionKind::Return => Action::Return {
            comment: comment.clone().unwrap_or_default(),
        },
        ActionKind::Resubmit => Action::Resubmit {
            new_files: input.file_ids.len(),
        },
        ActionKind::Claim => Action::Claim,
        ActionKind::MarkPaid => {
            let Some(p) = &input.payment else {
                return Err(Error::field(
                    "payment",
                    "required",
                    "mark-paid carries the payment: paid_on, amount, order_number",
                ));
            };
            let amount = super::products::non_negative("payment.amount", p.amount)
                .map_err(|v| Error::validation(v.into()))?
                .to_minor()
                .map_err(|e| Error::field("payment.amount", "out_of_range", e.to_string()))?;
            Action::MarkPaid {
                payment: Payment {
                    paid_on: p.paid_on,
                    amount_kopecks: amount,
                    order_number: p.order_number.trim().to_owned(),
                },
            }
        }
        ActionKind::AttachClosingDocuments => Action::AttachClosingDocuments {
            files: input.file_ids.len(),
        },
        ActionKind::Cancel => Action::Cancel {
            reason: comment.clone().unwrap_or_default(),
        },
    };
    let decision = wf::decide(current, &action, &actor).map_err(refusal)?;
    if let Action::MarkPaid { payment } = &action {
        payment
            .settles(inv.amount_kopecks, inv.invoice_date)
            .map_err(|e| Error::field(e.field(), e.code(), e.to_string()))?;
    }
    let files = visible_files(db, caller, &input.file_ids).await?;
    let before = present(&full_view(db, &inv).await?);

    let at = now();
    let mut next = inv.clone();
    next.state = decision.next.name().to_owned();
    next.holder_id = decision.next.holder();
    next.state_since = at;
    next.version = inv.version + 1;
    next.updated_at = at;
    match &action {
        Action::Take => next.head_id = Some(caller.user_id),
        Action::Resubmit { .. } => next.round = inv.round + 1,
        Action::Claim => next.payer_id = Some(caller.user_id),
        Action::MarkPaid { payment } => {
            next.paid_on = Some(payment.paid_on);
            next.paid_amount_kopecks = Some(payment.amount_kopecks);
            next.payment_order_number = Some(payment.order_number.clone());
        }
        Action::Cancel { reason } => next.cancel_reason = Some(reason.clone()),
        Action::Approve | Action::Return { .. } | Action::AttachClosingDocuments { .. } => {}
    }
    if !store::write_invoice_if_unchanged(db, &inv, &next).await? {
        return Err(lost_race(db, invoice_id, kind).await?);
    }

    // The task the old state stood for.
    match (kind, open_task) {
        (ActionKind::Take | ActionKind::Claim, Some(t)) => {
            let mut claimed = t.clone();
            claimed.state = TASK_CLAIMED.into();
            claimed.claimed_by = Some(caller.user_id);
            claimed.claimed_at = Some(at);
            if transition_task(db, &caller.actor(), &t, claimed, "claimed", None)
                .await?
                .is_none()
            {
                return Err(lost_race(db, invoice_id, kind).await?);
            }
        }
        (ActionKind::Cancel, _) => {
            store::cancel_open_tasks(db, SUBJECT_SUPPLIER_INVOICE, inv.id).await?;
            store::skip_active_steps(db, SUBJECT_SUPPLIER_INVOICE, inv.id).await?;
        }
        (_, Some(t)) => {
            let outcome = match kind {
                ActionKind::Approve => Outcome::Approve,
                ActionKind::Return => Outcome::ReturnForRework,
                _ => Outcome::Done,
            };
            let mut done = t.clone();
            done.state = TASK_COMPLETED.into();
            done.outcome = Some(outcome.as_str().to_owned());
            done.comment = comment.clone();
            done.completed_by = Some(caller.user_id);
            done.completed_at = Some(at);
            if t.claimed_by.is_none() {
                done.claimed_by = Some(caller.user_id);
                done.claimed_at = Some(at);
            }
            if transition_task(
                db,
                &caller.actor(),
                &t,
                done,
                "completed",
                comment.as_deref(),
            )
            .await?
            .is_none()
            {
                return Err(lost_race(db, invoice_id, kind).await?);
            }
            if let Some(step) = t.step_id {
                settle_step(db, &caller.actor(), step).await?;
            }
        }
        (_, None) => {}
    }
    let purpose = match kind {
        ActionKind::AttachClosingDocuments => Some(FILES_CLOSING),
        ActionKind::Resubmit => Some(FILES_INVOICE),
        _ => None,
    };
    if let Some(purpose) = purpose {
        adopt_files(db, caller, inv.id, &files, next.round, purpose).await?;
    } else if !files.is_empty() {
        return Err(Error::field(
            "file_ids",
            "not_expected",
            format!("{} takes no files", kind.as_str()),
        ));
    }

    let details = match &action {
        Action::MarkPaid { payment } => Some(serde_json::json!({
            "paid_on": payment.paid_on,
            "amount": money(payment.amount_kopecks),
            "order_number": payment.order_number,
        })),
        Action::Resubmit { .. } | Action::AttachClosingDocuments { .. } => {
            Some(serde_json::json!({ "file_ids": input.file_ids }))
        }
        Action::Take
        | Action::Approve
        | Action::Return { .. }
        | Action::Claim
        | Action::Cancel { .. } => None,
    };
    store::record_transition(
        db,
        NewTransition {
            invoice_id: inv.id,
            round: next.round,
            action: kind.transition_name(),
            from_state: Some(&inv.state),
            to_state: &next.state,
            actor_id: Some(caller.user_id),
            comment: comment.as_deref(),
            details,
        },
    )
    .await?;
    open_task_for(db, caller, &next, &decision.next).await?;
    for effect in decision.effects {
        apply_effect(db, &next, effect, comment.as_deref()).await?;
    }
    // Journalled once its task of the new state is open: as its `GET` answers it.
    let after = present(&full_view(db, &next).await?);
    journal::record(
        db,
        &caller.actor(),
        Change {
            entity_type: SUBJECT_SUPPLIER_INVOICE,
            entity_id: inv.id,
            action: kind.transition_name(),
            before: Some(&before),
            after: Some(&after),
            comment: comment.as_deref(),
        },
    )
    .await?;
    Ok(next)
}

/// The invoice is invisible to the caller. A pool member who lost it to a colleague learns it
/// was claimed (409); anyone else learns nothing (404).
async fn claimed_elsewhere<C: ConnectionTrait>(
    db: &C,
    viewer: &InvoiceViewer,
    id: Uuid,
    kind: ActionKind,
) -> OpResult<Error> {
    let Some(inv) = records::find::<supplier_invoice::Entity, _>(db, id)
        .await
        .ok()
    else {
        return Ok(Error::not_found());
    };
    let in_pool = match kind {
        ActionKind::Claim => viewer.membership.pays_for.contains(&inv.organization_id),
        ActionKind::Take => viewer.membership.decides_for.contains(&inv.organization_id),
        ActionKind::Approve
        | ActionKind::Return
        | ActionKind::Resubmit
        | ActionKind::MarkPaid
        | ActionKind::AttachClosingDocuments
        | ActionKind::Cancel => false,
    };
    if !in_pool {
        return Ok(Error::not_found());
    }
    let current = state_of(&inv)?;
    Ok(already_claimed(
        &current,
        "another member of the pool has already taken this invoice",
    ))
}

/// A compare-and-set found the invoice changed under us: explain with its state now.
async fn lost_race<C: ConnectionTrait>(db: &C, id: Uuid, kind: ActionKind) -> OpResult<Error> {
    let inv = records::find::<supplier_invoice::Entity, _>(db, id).await?;
    let current = state_of(&inv)?;
    Ok(match kind {
        ActionKind::Claim | ActionKind::Take => already_claimed(
            &current,
            "another member of the pool took this invoice first",
        ),
        ActionKind::Approve
        | ActionKind::Return
        | ActionKind::Resubmit
        | ActionKind::MarkPaid
        | ActionKind::AttachClosingDocuments
        | ActionKind::Cancel => Error::wrong_state(
            ErrorCode::Conflict,
            format!(
                "the invoice changed while {} was being applied; it is now {}",
                kind.as_str(),
                current.name()
            ),
            current.name(),
            allowed_names(&current),
        ),
    })
}

async fn apply_effect<C: ConnectionTrait>(
    db: &C,
    inv: &supplier_invoice::Model,
    effect: Effect,
    comment: Option<&str>,
) -> OpResult<()> {
    match effect {
        Effect::EmailSupplierPassedForPayment => {
            let subject = format!("Счёт №{} передан на оплату", inv.number);
            let body = format!(
                "Здравствуйте!\n\n\
                 Ваш счёт №{number} от {date} на сумму {amount} {currency} передан на оплату \
                 и будет оплачен в ближайшее время.\n\
                 Просим подтвердить отгрузку.\n\n\
                 Invoice No. {number} of {iso_date} for {amount} {currency} has been passed for \
                 payment and will be paid shortly; please confirm the shipment.\n",
                number = inv.number,
                date = inv.invoice_date.format("%d.%m.%Y"),
                iso_date = inv.invoice_date,
                amount = money(inv.amount_kopecks),
                currency = inv.currency,
            );
            outbox::enqueue_email(
                db,
                &OutgoingEmail {
                    to: vec![inv.supplier_email.clone()],
                    subject,
                    text_body: body,
                },
            )
            .await?;
        }
        Effect::NotifyInitiatorPaid => {
            let title = format!("Счёт №{} оплачен", inv.number);
            let body = format!(
                "Счёт поставщика {} ({}) оплачен {}: {} {}, платёжное поручение №{}. Приложите закрывающие документы.",
                invoice_ref(inv),
                inv.supplier_name,
                inv.paid_on
                    .map(|d| d.format("%d.%m.%Y").to_string())
                    .unwrap_or_default(),
                inv.paid_amount_kopecks.map(money).unwrap_or_default(),
                inv.currency,
                inv.payment_order_number.clone().unwrap_or_default(),
            );
            notifications::notify_and_email(
                db,
                inv.initiator_id,
                "supplier_invoice_paid",
                &title,
                &body,
                entity(inv),
            )
            .await?;
        }
        // The closing-documents task is opened for the new state, and its holder (the
        // initiator, or his deputy) is told of it there.
        Effect::RequestClosingDocuments => {}
        Effect::NotifyClosingDocumentsAttached { payer } => {
            let title = format!("Закрывающие документы приложены к счёту №{}", inv.number);
            let body = format!(
                "Closing documents attached to invoice №{}. Счёт {} ({}) закрыт.",
                inv.number,
                invoice_ref(inv),
                inv.supplier_name
            );
            let mut to = vec![inv.initiator_id];
            if payer != inv.initiator_id {
                to.push(payer);
            }
            for user in to {
                notifications::notify_and_email(
                    db,
                    user,
                    "supplier_invoice_closing_documents_attached",
                    &title,
                    &body,
                    entity(inv),
                )
                .await?;
            }
        }
        Effect::NotifyInitiatorReturned => {
            let title = format!("Счёт №{} возвращён на доработку", inv.number);
            let body = format!(
                "Счёт {} возвращён с замечаниями: {}",
                invoice_ref(inv),
                comment.unwrap_or_default()
            );
            notifications::notify_and_email(
                db,
                inv.initiator_id,
                "supplier_invoice_returned",
                &title,
                &body,
                entity(inv),
            )
            .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Tasks

fn task_public(t: &task::Model) -> serde_json::Value {
    present(&TaskView::from(t))
}

fn step_public(s: &approval_step::Model) -> serde_json::Value {
    present(&StepView::from(s))
}

/// Creates a task (inside the caller's transaction), journalled as its `GET` answers it; a
/// task for an absent user goes to his deputy and remembers whom it was meant for.
pub async fn create_task<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    new: NewTask,
) -> OpResult<task::Model> {
    let model = store::new_task_model(db, new).await?;
    Ok(records::create::<task::Entity, _>(db, actor, model, task_public).await?)
}

/// Writes `next` over `current` as a compare-and-set on state and version, journalled as
/// `action` with the task as its `GET` answers it. `None`: someone changed the task first (the
/// loser of a race).
pub async fn transition_task<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    current: &task::Model,
    next: task::Model,
    action: &str,
    comment: Option<&str>,
) -> OpResult<Option<task::Model>> {
    let Some(next) = store::write_task_if_unchanged(db, current, next).await? else {
        return Ok(None);
    };
    let before = task_public(current);
    let after = task_public(&next);
    journal::record(
        db,
        actor,
        Change {
            entity_type: "task",
            entity_id: current.id,
            action,
            before: Some(&before),
            after: Some(&after),
            comment,
        },
    )
    .await?;
    Ok(Some(next))
}

/// A new step of a subject's route, active from now, journalled as the invoice's `steps` list
/// shows it.
async fn open_step<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    s: store::NewStep<'_>,
) -> OpResult<approval_step::Model> {
    let at = now();
    let quorum = match s.rule {
        work::CompletionRule::Quorum(n) => Some(i32::try_from(n).unwrap_or(i32::MAX)),
        work::CompletionRule::All | work::CompletionRule::FirstDecides => None,
    };
    Ok(records::create::<approval_step::Entity, _>(
        db,
        actor,
        approval_step::Model {
            id: Uuid::now_v7(),
            subject_type: s.subject_type.to_owned(),
            subject_id: s.subject_id,
            round: s.round,
            position: s.position,
            name: s.name.to_owned(),
            completion_rule: s.rule.as_str().to_owned(),
            quorum,
            state: "active".into(),
            outcome: None,
            due_at: s.due_at,
            remind_before_minutes: None,
            escalate_after_minutes: None,
            started_at: Some(at),
            finished_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        },
        step_public,
    )
    .await?)
}

/// Decides an active step from the outcomes of its tasks (`step_outcome` of its rule); a
/// decided step is closed. Answers the step's state.
async fn settle_step<C: ConnectionTrait>(db: &C, actor: &Actor, step_id: Uuid) -> OpResult<String> {
    let step = records::find::<approval_step::Entity, _>(db, step_id).await?;
    let rule = match (step.completion_rule.as_str(), step.quorum) {
        ("quorum", Some(n)) => work::CompletionRule::Quorum(u32::try_from(n).unwrap_or(0)),
        ("first", _) => work::CompletionRule::FirstDecides,
        _ => work::CompletionRule::All,
    };
    let tasks = store::tasks_of_step(db, step_id).await?;
    // Completed tasks first, in completion order; open ones after.
    let mut outcomes: Vec<Option<Outcome>> = tasks
        .iter()
        .filter(|t| t.completed_at.is_some())
        .map(|t| t.outcome.as_deref().and_then(Outcome::parse))
        .collect();
    outcomes.extend(
        tasks
            .iter()
            .filter(|t| t.completed_at.is_none())
            .map(|_| None),
    );
    let (state, outcome) = match work::step_outcome(rule, &outcomes) {
        work::StepOutcome::Pending => return Ok(step.state),
        work::StepOutcome::Approved => ("approved", "approve"),
        work::StepOutcome::Rejected => ("rejected", "reject"),
        work::StepOutcome::Returned => ("returned", "return_for_rework"),
    };
    let at = now();
    records::update::<approval_step::Entity, _, _, Error>(
        db,
        actor,
        step_id,
        None,
        |s| {
            s.state = state.to_owned();
            s.outcome = Some(outcome.to_owned());
            s.finished_at = Some(at);
            Ok(())
        },
        step_public,
    )
    .await??;
    Ok(state.to_owned())
}

fn domain_task(t: &task::Model) -> OpResult<work::Task> {
    let assignee = match (t.assignee_user_id, &t.assignee_role, t.assignee_pool_id) {
        (Some(u), _, _) => Assignee::User(u),
        (None, _, Some(p)) => Assignee::Pool(p),
        (None, Some(r), None) => Assignee::Role(
            r.parse()
                .map_err(|_| Error::internal(format!("task {} has an unknown role {r}", t.id)))?,
        ),
        (None, None, None) => {
            return Err(Error::internal(format!("task {} has no assignee", t.id)));
        }
    };
    let outcomes = t.outcomes.split(',').filter_map(Outcome::parse).collect();
    let status = match (t.state.as_str(), t.claimed_by, t.completed_by) {
        ("open", _, _) => TaskStatus::Open,
        ("claimed", Some(by), _) => TaskStatus::Claimed { by },
        ("completed", _, Some(by)) => TaskStatus::Completed {
            by,
            outcome: t
                .outcome
                .as_deref()
                .and_then(Outcome::parse)
                .unwrap_or(Outcome::Done),
        },
        ("cancelled", _, _) => TaskStatus::Cancelled,
        _ => {
            return Err(Error::internal(format!(
                "task {} has a broken state {}",
                t.id, t.state
            )));
        }
    };
    Ok(work::Task {
        assignee,
        status,
        outcomes,
    })
}

fn task_refusal(r: TaskRefusal) -> Error {
    super::workflow::refused(r, |r| match &r {
        TaskRefusal::ClaimedByAnother { .. } => {
            Error::new(ErrorCode::AlreadyClaimed, r.to_string())
        }
        TaskRefusal::Finished { .. } => Error::new(ErrorCode::InvalidTransition, r.to_string()),
        TaskRefusal::NotYours { .. } => Error::forbidden(r.to_string()),
        TaskRefusal::OutcomeNotOffered { .. } => {
            Error::field("outcome", "not_offered", r.to_string())
        }
        TaskRefusal::CommentRequired { .. } => Error::field("comment", "required", r.to_string()),
    })
}

/// Reads a task the caller may see; a pool member asking about a task a colleague claimed
/// learns it was claimed (409), anyone else gets 404.
pub async fn visible_task<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<(task::Model, InboxViewer)> {
    let viewer = inbox_viewer(db, caller).await?;
    let t = records::find::<task::Entity, _>(db, id).await?;
    if store::task_visible(&viewer, &t) {
        Ok((t, viewer))
    } else {
        Err(Error::not_found())
    }
}

async fn task_for_action<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<(task::Model, Performer)> {
    let viewer = inbox_viewer(db, caller).await?;
    let t = records::find::<task::Entity, _>(db, id).await?;
    let eligible = t
        .assignee_pool_id
        .is_some_and(|p| viewer.pool_ids.contains(&p))
        || t.assignee_role
            .as_ref()
            .is_some_and(|r| viewer.roles.contains(r));
    if !store::task_visible(&viewer, &t) {
        // The loser of a claim race: he was entitled to it a moment ago.
        if eligible && t.claimed_by.is_some() {
            return Err(Error::new(
                ErrorCode::AlreadyClaimed,
                "another user has already claimed this task",
            ));
        }
        return Err(Error::not_found());
    }
    Ok((
        t,
        Performer {
            id: caller.user_id,
            eligible,
            is_admin: caller.is_admin(),
        },
    ))
}

fn invoice_action_of(t: &task::Model, claim: bool, outcome: Option<Outcome>) -> Option<ActionKind> {
    if t.subject_type.as_deref() != Some(SUBJECT_SUPPLIER_INVOICE) {
        return None;
    }
    match (t.kind.as_str(), claim, outcome) {
        (TASK_DECISION, true, _) => Some(ActionKind::Take),
        (TASK_PAYMENT, true, _) => Some(ActionKind::Claim),
        (TASK_DECISION, false, Some(Outcome::Approve)) => Some(ActionKind::Approve),
        (TASK_DECISION, false, Some(Outcome::ReturnForRework)) => Some(ActionKind::Return),
        (TASK_REVISION, false, Some(Outcome::Done)) => Some(ActionKind::Resubmit),
        (TASK_PAYMENT, false, Some(Outcome::Done)) => Some(ActionKind::MarkPaid),
        (TASK_CLOSING_DOCUMENTS, false, Some(Outcome::Done)) => {
            Some(ActionKind::AttachClosingDocuments)
        }
        _ => None,
    }
}

async fn reread(db: &impl ConnectionTrait, id: Uuid) -> OpResult<task::Model> {
    Ok(records::find::<task::Entity, _>(db, id).await?)
}

/// `POST /tasks/{id}/claim`: the first claimer gets the task; a workflow task's claim is the
/// workflow's own action (taking an invoice for decision, claiming it for payment).
pub async fn claim_task<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<task::Model> {
    let (t, who) = task_for_action(db, caller, id).await?;
    work::decide_task(&domain_task(&t)?, &TaskCommand::Claim, &who).map_err(task_refusal)?;
    if let (Some(kind), Some(invoice)) = (invoice_action_of(&t, true, None), t.subject_id) {
        act_on_invoice(db, caller, invoice, kind, ActionInput::default(), None).await?;
        return reread(db, id).await;
    }
    // Claiming what one already holds changes nothing.
    if t.state == TASK_CLAIMED && t.claimed_by == Some(caller.user_id) {
        return Ok(t);
    }
    let mut next = t.clone();
    next.state = TASK_CLAIMED.into();
    next.claimed_by = Some(caller.user_id);
    next.claimed_at = Some(now());
    transition_task(db, &caller.actor(), &t, next, "claimed", None)
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::AlreadyClaimed,
                "another user claimed this task first",
            )
        })
}

/// `POST /tasks/{id}/complete`.
pub async fn complete_task<
    C: ConnectionTrait + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    db: &C,
    caller: &Caller,
    id: Uuid,
    outcome: Outcome,
    input: ActionInput,
    expected_version: Option<i32>,
) -> OpResult<task::Model> {
    let (t, who) = task_for_action(db, caller, id).await?;
    if let Some(v) = expected_version
        && v != t.version
    {
        return Err(crate::StoreError::StaleVersion {
            expected: v,
            current: t.version,
        }
        .into());
    }
    let comment = input.comment.clone().unwrap_or_default();
    work::decide_task(
        &domain_task(&t)?,
        &TaskCommand::Complete {
            outcome,
            comment: comment.clone(),
        },
        &who,
    )
    .map_err(task_refusal)?;
    if let (Some(kind), Some(invoice)) = (invoice_action_of(&t, false, Some(outcome)), t.subject_id)
    {
        act_on_invoice(db, caller, invoice, kind, input, None).await?;
        return reread(db, id).await;
    }
    // A workflow's task is only ever completed by the workflow's own action.
    if t.subject_type.as_deref() == Some(SUBJECT_SUPPLIER_INVOICE) {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "a {} task is not completed with {}",
                t.kind,
                outcome.as_str()
            ),
        ));
    }
    let at = now();
    let mut next = t.clone();
    next.state = TASK_COMPLETED.into();
    next.outcome = Some(outcome.as_str().to_owned());
    next.comment = Some(comment.trim().to_owned()).filter(|c| !c.is_empty());
    next.completed_by = Some(caller.user_id);
    next.completed_at = Some(at);
    next.time_spent_minutes = input.time_spent_minutes.and_then(|m| i32::try_from(m).ok());
    let done = transition_task(
        db,
        &caller.actor(),
        &t,
        next,
        "completed",
        input.comment.as_deref(),
    )
    .await?
    .ok_or_else(|| {
        Error::new(
            ErrorCode::Conflict,
            "the task changed meanwhile; read it again",
        )
    })?;
    // WF-BILL-1: a task of a deal bills its time as the deal's automation rules say.
    super::billing::on_task_completed(db, caller, &done).await?;
    // Whoever set a task by hand hears how it ended.
    if t.kind == TASK_GENERAL
        && let Some(author) = t.author_id.filter(|a| *a != caller.user_id)
    {
        let body = match &done.comment {
            Some(c) => format!("{}: {c}", outcome.as_str()),
            None => outcome.as_str().to_owned(),
        };
        notifications::notify_and_email(
            db,
            author,
            "task_completed",
            &format!("Задача выполнена: {}", t.title),
            &body,
            Some(EntityRef {
                entity_type: "task",
                entity_id: t.id,
            }),
        )
        .await?;
    }
    // An activity of type task is completed with its task: one model, whatever created it.
    if t.subject_type.as_deref() == Some(SUBJECT_ACTIVITY)
        && let Some(activity_id) = t.subject_id
    {
        let result = done.comment.clone().unwrap_or_else(|| "done".to_owned());
        complete_activity_row(db, caller, activity_id, &result).await?;
    }
    Ok(done)
}

async fn complete_activity_row<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    activity_id: Uuid,
    result: &str,
) -> OpResult<()> {
    let Some(a) = activity::Entity::find_by_id(activity_id).one(db).await? else {
        return Ok(());
    };
    if a.completed_at.is_some() || a.deleted_at.is_some() {
        return Ok(());
    }
    // Its reminders are cancelled with it: the activity is journalled with them cancelled.
    let reminders_before =
        crate::reminders::latest_of(db, crate::reminders::TARGET_ACTIVITY, &[activity_id]).await?;
    crate::reminders::cancel_pending(db, crate::reminders::TARGET_ACTIVITY, activity_id).await?;
    let reminders_after =
        crate::reminders::latest_of(db, crate::reminders::TARGET_ACTIVITY, &[activity_id]).await?;
    records::update::<activity::Entity, _, _, Error>(
        db,
        &caller.actor(),
        activity_id,
        None,
        |m| {
            m.completed_at = Some(now());
            m.result = Some(result.to_owned());
            Ok(())
        },
        |m| {
            let reminders = if m.version == a.version {
                &reminders_before
            } else {
                &reminders_after
            };
            present(&ActivityView::new(m, reminders))
        },
    )
    .await??;
    Ok(())
}

/// `POST /tasks`: a task set by hand for an active user, a role or an existing pool, announced
/// to whoever is to work on it in the same transaction; its author may follow it.
pub async fn set_task<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    title: &str,
    description: Option<String>,
    assignee: NewAssignee,
    outcomes: Vec<&'static str>,
    due_at: Option<chrono::DateTime<chrono::Utc>>,
) -> OpResult<task::Model> {
    match assignee {
        NewAssignee::User(u) => {
            let active = user::Entity::find_by_id(u)
                .one(db)
                .await?
                .is_some_and(|x| x.active && x.deleted_at.is_none());
            if !active {
                return Err(Error::field(
                    "user_id",
                    "not_found",
                    format!("user_id {u} is not an active user"),
                ));
            }
        }
        NewAssignee::Pool(p) => {
            super::ensure_exists::<pool::Entity, _>(db, "pool_id", p).await?;
        }
        NewAssignee::Role(_) => {}
    }
    let t = create_task(
        db,
        &caller.actor(),
        NewTask {
            kind: TASK_GENERAL,
            title: title.to_owned(),
            description,
            subject_type: None,
            subject_id: None,
            step_id: None,
            assignee,
            outcomes,
            due_at,
            author_id: Some(caller.user_id),
        },
    )
    .await?;
    announce_task(db, &t, t.description.as_deref().unwrap_or("")).await?;
    Ok(t)
}

/// `POST /tasks/{id}/delegate`: the holder (or an admin) hands the task to a colleague — to his
/// deputy while that colleague is absent.
pub async fn delegate_task<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
    to: Uuid,
    comment: Option<String>,
) -> OpResult<task::Model> {
    let (t, who) = task_for_action(db, caller, id).await?;
    if t.kind == TASK_DECISION || t.kind == TASK_PAYMENT {
        return Err(Error::new(
            ErrorCode::Conflict,
            "a pool task goes to whoever of the pool claims it; change the pool instead of delegating",
        ));
    }
    let target = store::present_assignee(db, to).await?;
    work::decide_task(
        &domain_task(&t)?,
        &TaskCommand::Delegate { to: target },
        &who,
    )
    .map_err(task_refusal)?;
    let mut next = t.clone();
    next.state = store::TASK_OPEN.into();
    next.assignee_user_id = Some(target);
    next.assignee_pool_id = None;
    next.assignee_role = None;
    next.claimed_by = None;
    next.claimed_at = None;
    next.delegated_from = t.assignee_user_id.or(t.claimed_by).or(Some(caller.user_id));
    let moved = transition_task(
        db,
        &caller.actor(),
        &t,
        next,
        "delegated",
        comment.as_deref(),
    )
    .await?
    .ok_or_else(|| {
        Error::new(
            ErrorCode::Conflict,
            "the task changed meanwhile; read it again",
        )
    })?;
    // The activity follows its task.
    if t.subject_type.as_deref() == Some(SUBJECT_ACTIVITY)
        && let Some(activity_id) = t.subject_id
    {
        let reminders =
            crate::reminders::latest_of(db, crate::reminders::TARGET_ACTIVITY, &[activity_id])
                .await?;
        records::update::<activity::Entity, _, _, Error>(
            db,
            &caller.actor(),
            activity_id,
            None,
            |m| {
                m.responsible_id = target;
                Ok(())
            },
            |m| present(&ActivityView::new(m, &reminders)),
        )
        .await??;
    }
    notifications::notify(
        db,
        target,
        "task_assigned",
        &format!("Вам передана задача: {}", moved.title),
        comment.as_deref().unwrap_or(""),
        Some(EntityRef {
            entity_type: "task",
            entity_id: moved.id,
        }),
    )
    .await?;
    Ok(moved)
}

// ---------------------------------------------------------------------------------------------
// Activities of type task

/// Opens the inbox task of a new activity of type task, for its responsible (or his deputy).
pub async fn open_activity_task<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    a: &activity::Model,
) -> OpResult<task::Model> {
    create_task(
        db,
        &caller.actor(),
        NewTask {
            kind: TASK_ACTIVITY,
            title: a.subject.clone(),
            description: a.description.clone(),
            subject_type: Some(SUBJECT_ACTIVITY),
            subject_id: Some(a.id),
            step_id: None,
            assignee: NewAssignee::User(a.responsible_id),
            outcomes: vec![Outcome::Done.as_str()],
            due_at: a.deadline,
            author_id: Some(caller.user_id),
        },
    )
    .await
}

/// Keeps an activity's task in step when the activity is completed, reassigned or deleted
/// through `/activities`.
pub async fn follow_activity<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    a: &activity::Model,
    deleted: bool,
) -> OpResult<()> {
    let Some(t) = store::open_task_of(db, SUBJECT_ACTIVITY, a.id).await? else {
        return Ok(());
    };
    if deleted {
        store::cancel_open_tasks(db, SUBJECT_ACTIVITY, a.id).await?;
        return Ok(());
    }
    let mut next = t.clone();
    let action = if let Some(at) = a.completed_at {
        next.state = TASK_COMPLETED.into();
        next.outcome = Some(Outcome::Done.as_str().to_owned());
        next.comment = a.result.clone();
        next.completed_by = Some(caller.user_id);
        next.completed_at = Some(at);
        "completed"
    } else if t.assignee_user_id != Some(a.responsible_id) {
        next.assignee_user_id = Some(store::present_assignee(db, a.responsible_id).await?);
        next.claimed_by = None;
        next.claimed_at = None;
        next.state = store::TASK_OPEN.into();
        "reassigned"
    } else {
        next.title = a.subject.clone();
        next.due_at = a.deadline;
        if next == t {
            return Ok(());
        }
        "updated"
    };
    transition_task(db, &caller.actor(), &t, next, action, None)
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::Conflict,
                "the activity's task changed meanwhile; retry",
            )
        })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Deadlines: reminders and escalations (SPEC §3, WF-CON-3)

/// How long before a task's due time its holder is reminded, and how long after it the
/// holder's supervisor hears of it.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineOffsets {
    pub remind_before_minutes: u32,
    pub escalate_after_minutes: u32,
}

/// One pass over the tasks coming due: reminds holders and escalates overdue tasks to the
/// holder's supervisor, so that a stalled task cannot be forgotten silently. Every instance
/// may run it: each reminder and escalation is a compare-and-set on the task's mark in the
/// transaction of its notifications. Answers how many were sent.
pub async fn remind_due_tasks(store: &crate::Store, offsets: DeadlineOffsets) -> OpResult<usize> {
    TaskDeadlines { store, offsets }.tick().await
}

struct TaskDeadlines<'a> {
    store: &'a crate::Store,
    offsets: DeadlineOffsets,
}

impl TaskDeadlines<'_> {
    /// One pass; answers how many reminders and escalations were sent.
    pub async fn tick(&self) -> OpResult<usize> {
        let at = now();
        let remind_before =
            chrono::Duration::minutes(i64::from(self.offsets.remind_before_minutes));
        let escalate_after =
            chrono::Duration::minutes(i64::from(self.offsets.escalate_after_minutes));
        let deadline = |due_at| work::Deadline {
            due_at,
            remind_before,
            escalate_after,
        };
        let candidates = store::tasks_with_due_deadlines(
            &self.store.conn,
            at,
            remind_before,
            escalate_after,
            50,
        )
        .await?;
        let mut sent = 0;
        for t in candidates {
            let Some(due_at) = t.due_at else { continue };
            let action = work::due_action(
                &deadline(due_at),
                t.reminded_at.is_some(),
                t.escalated_at.is_some(),
                at,
            );
            let escalate = match action {
                work::DueAction::Nothing => continue,
                work::DueAction::RemindAssignee => false,
                work::DueAction::EscalateToSupervisor => true,
            };
            let txn = self.store.begin().await?;
            if !store::mark_deadline(&txn, &t, escalate, at).await? {
                continue;
            }
            let holder = t.claimed_by.or(t.assignee_user_id);
            let recipients = if escalate {
                let who = holder.or(t.author_id);
                let supervisor = match who {
                    Some(u) => crate::people::supervisor_of(&txn, u).await?,
                    None => None,
                };
                // Without a supervisor the task's author hears of it: never silent.
                supervisor.or(t.author_id).into_iter().collect::<Vec<_>>()
            } else {
                task_audience(&txn, &t).await?
            };
            let (kind, title) = if escalate {
                ("task_escalated", format!("Просрочена задача: {}", t.title))
            } else {
                (
                    "task_due",
                    format!(
                        "Напоминание: срок задачи — {}",
                        due_at.format("%d.%m.%Y %H:%M UTC")
                    ),
                )
            };
            for user in recipients {
                notifications::notify_and_email(
                    &txn,
                    user,
                    kind,
                    &title,
                    &t.title,
                    Some(EntityRef {
                        entity_type: "task",
                        entity_id: t.id,
                    }),
                )
                .await?;
            }
            txn.commit().await?;
            sent += 1;
        }
        Ok(sent)
    }
}
