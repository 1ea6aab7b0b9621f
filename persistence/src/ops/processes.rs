//! Business processes (WF-BP-1..6): templates and their versions, instances on records, and
//! the one place where the pure engine (`sdelka_domain::process`) meets the database.
//!
//! Every input — an instance started, a task completed, a timer due, something that happened
//! to the record — is handled inside one transaction under a lock on the instance (`SELECT …
//! FOR UPDATE` on PostgreSQL; the write is a compare-and-set on the instance's version on both
//! backends): the engine computes the next state and the effects, and [`apply`] writes them —
//! inbox tasks linked back to (instance, step, round, participant), timers claimed later by
//! lease, notifications and emails through the outbox, and the actions of the catalogue, each
//! calling an existing operation of this crate. An action runs once per (instance, step,
//! round): its row in `process_actions` is inserted first with `ON CONFLICT DO NOTHING`, and it
//! commits with the action's writes or not at all.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sdelka_domain::money::Money;
use sdelka_domain::process::{
    self as bp, ActionKey, DefinitionError, Directory, Effect, EntityEvent, EntityFacts,
    EntityType, FieldType, FieldValue, Input, InstanceState, Participant, ProcessRefusal,
    PublishedDefinition, TaskCompletion, TaskKey, TimerKey, TimerPurpose, TriggerEvent,
};
use sdelka_domain::role::{Role, RoleSet};
use sdelka_domain::validation::{FieldViolation, Violations};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::tasks::TaskView;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};
use crate::approvals::{self as store, NewAssignee, NewTask};
use crate::entity::{
    company, contact, deal, file, invoice, lead, organization, pipeline_stage, pool,
    process_action, process_instance, process_step, process_task, process_template,
    process_template_version, process_timer, quote, supplier_invoice, task, user,
};
use crate::jobs::{self, LeaseQueue};
use crate::journal::{Actor, now};
use crate::notifications::{self, EntityRef};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records::{self, lock_row};
use crate::{Store, StoreError};

/// The kind of the inbox tasks a process opens.
pub const TASK_KIND: &str = "process";

const RUNNING: &str = "running";
const DRAFT: &str = "draft";
const PUBLISHED: &str = "published";
const PENDING: &str = "pending";
const FIRED: &str = "fired";
const CANCELLED: &str = "cancelled";

/// How deep inputs may cascade (an action moves the deal, which a wait of the same or another
/// instance hears, …) before the chain is refused as a loop.
const MAX_DEPTH: u32 = 12;

// ---------------------------------------------------------------------------------------------
// Wire types

/// The record type a template is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityTypeName {
    Lead,
    Deal,
    Company,
    Contact,
    Invoice,
    Contract,
    SupplierInvoice,
}

impl From<EntityTypeName> for EntityType {
    fn from(e: EntityTypeName) -> EntityType {
        match e {
            EntityTypeName::Lead => EntityType::Lead,
            EntityTypeName::Deal => EntityType::Deal,
            EntityTypeName::Company => EntityType::Company,
            EntityTypeName::Contact => EntityType::Contact,
            EntityTypeName::Invoice => EntityType::Invoice,
            EntityTypeName::Contract => EntityType::Contract,
            EntityTypeName::SupplierInvoice => EntityType::SupplierInvoice,
        }
    }
}

fn parse_entity_type(s: &str) -> Option<EntityType> {
    serde_json::from_value(Value::String(s.to_owned())).ok()
}

/// When instances of a template start by themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartMode {
    /// Only through `POST /process-instances`.
    #[default]
    Manual,
    /// The entity type's default process: it starts in the transaction that creates the record.
    OnCreate,
    /// On a change the definition's triggers name (a stage entered, a field changed to a value).
    OnChange,
}

impl StartMode {
    fn as_str(self) -> &'static str {
        match self {
            StartMode::Manual => "manual",
            StartMode::OnCreate => "on_create",
            StartMode::OnChange => "on_change",
        }
    }
}

/// A process template.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: Uuid,
    /// Unique; what `start_process` actions name.
    #[schema(example = "sale")]
    pub code: String,
    #[schema(example = "Продажа (типовой процесс 1С:ERP)")]
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = EntityTypeName)]
    pub entity_type: String,
    #[schema(value_type = StartMode)]
    pub start_mode: String,
    /// The version new instances start on; none until one is published.
    pub published_version_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&process_template::Model> for TemplateView {
    fn from(t: &process_template::Model) -> Self {
        TemplateView {
            id: t.id,
            code: t.code.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            entity_type: t.entity_type.clone(),
            start_mode: t.start_mode.clone(),
            published_version_id: t.published_version_id,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

fn template_public(t: &process_template::Model) -> Value {
    present(&TemplateView::from(t))
}

/// One version of a template: a draft is edited, a published one is frozen.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub id: Uuid,
    pub template_id: Uuid,
    pub number: i32,
    /// `draft` or `published`.
    pub state: String,
    /// The definition: see the `ProcessDefinition` schema and the shipped templates.
    #[schema(value_type = Object)]
    pub definition: Value,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&process_template_version::Model> for VersionView {
    fn from(v: &process_template_version::Model) -> Self {
        VersionView {
            id: v.id,
            template_id: v.template_id,
            number: v.number,
            state: v.state.clone(),
            definition: serde_json::from_str(&v.definition).unwrap_or(Value::Null),
            published_at: v.published_at,
            published_by: v.published_by,
            version: v.version,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

fn version_public(v: &process_template_version::Model) -> Value {
    present(&VersionView::from(v))
}

/// A process instance on one record.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    pub id: Uuid,
    pub template_id: Uuid,
    /// The version it runs on, whatever was published since (WF-BP-4).
    pub template_version_id: Uuid,
    #[schema(value_type = EntityTypeName)]
    pub entity_type: String,
    pub entity_id: Uuid,
    /// `running`, `completed` or `cancelled`.
    pub status: String,
    /// The parent instance whose `start_process` step waits for this one.
    pub parent_instance_id: Option<Uuid>,
    pub started_by: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it was cancelled (by hand, or by an `end` step).
    pub cancel_reason: Option<String>,
    /// WF-BP-6: the sum of the costs of its completed tasks.
    #[schema(value_type = String, example = "2500.00")]
    pub cost: Money,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&process_instance::Model> for InstanceView {
    fn from(i: &process_instance::Model) -> Self {
        InstanceView {
            id: i.id,
            template_id: i.template_id,
            template_version_id: i.template_version_id,
            entity_type: i.entity_type.clone(),
            entity_id: i.entity_id,
            status: i.status.clone(),
            parent_instance_id: i.parent_instance_id,
            started_by: i.started_by,
            started_at: i.started_at,
            ended_at: i.ended_at,
            cancel_reason: i.cancel_reason.clone(),
            cost: Money::from_minor(i.cost_minor),
            version: i.version,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

fn instance_public(i: &process_instance::Model) -> Value {
    present(&InstanceView::from(i))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplate {
    /// Unique, `a-z`, `0-9`, `_`, `-`.
    #[validate(length(min = 1, max = 100, message = "code must be 1 to 100 characters"))]
    #[schema(example = "sale_b2b")]
    pub code: String,
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    pub name: String,
    #[validate(length(max = 10000))]
    pub description: Option<String>,
    pub entity_type: EntityTypeName,
    #[serde(default)]
    pub start_mode: StartMode,
    /// The first draft (version 1). Default: a draft with one task for the responsible.
    #[schema(value_type = Option<Object>)]
    pub definition: Option<Value>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplate {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::dto::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub start_mode: Option<StartMode>,
}

/// A definition for a new draft, or for a draft being edited.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    #[schema(value_type = Object)]
    pub definition: Value,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInstance {
    /// A template with a published version, bound to the record's type.
    pub template_id: Uuid,
    /// The record of the template's entity type.
    pub entity_id: Uuid,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInstance {
    /// Required: why the process stops. Its open tasks close.
    #[validate(length(min = 1, max = 2000, message = "reason must be 1 to 2000 characters"))]
    pub reason: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateListFilter {
    #[param(inline)]
    pub entity_type: Option<EntityTypeName>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstanceListFilter {
    #[param(inline)]
    pub entity_type: Option<EntityTypeName>,
    pub entity_id: Option<Uuid>,
    /// `running`, `completed` or `cancelled`.
    pub status: Option<String>,
    pub template_id: Option<Uuid>,
}

/// One open process task: on whom a record is held up, since when.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldUpStep {
    pub instance_id: Uuid,
    #[schema(value_type = EntityTypeName)]
    pub entity_type: String,
    pub entity_id: Uuid,
    pub template_id: Uuid,
    pub step_id: String,
    pub round: i32,
    pub task_id: Uuid,
    pub title: String,
    /// The user holding the task (assigned or claimed); none while a role or pool has it.
    pub user_id: Option<Uuid>,
    pub role: Option<String>,
    pub pool_id: Option<Uuid>,
    pub since: DateTime<Utc>,
    pub age_seconds: i64,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

/// How many open process tasks one performer carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct PerformerLoad {
    /// `user`, `role` or `pool`.
    pub performer_type: String,
    /// A user or pool id, or a role name.
    pub performer: String,
    pub open_tasks: u64,
    pub overdue_tasks: u64,
    pub oldest_since: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeldUpFilter {
    #[param(inline)]
    pub entity_type: Option<EntityTypeName>,
    pub entity_id: Option<Uuid>,
}

// ---------------------------------------------------------------------------------------------
// The entity side: fields, facts, directory

const DEAL_STAGE_CODES: [&str; 6] = ["new", "in_work", "proposal", "order", "won", "lost"];
const OPEN_STAGE_CODES: [&str; 4] = ["new", "in_work", "proposal", "order"];

fn choice(options: &[&str]) -> FieldType {
    FieldType::Choice {
        options: options.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The fields a definition may name, per entity type. Deal stages are named by code: `won`
/// and `lost` are the pipeline's first stage of that kind; `new`, `in_work`, `proposal`,
/// `order` its first to fourth open stage.
pub fn schema(entity: EntityType) -> BTreeMap<String, FieldType> {
    let mut f: BTreeMap<String, FieldType> = BTreeMap::new();
    f.insert("title".into(), FieldType::Text);
    f.insert("responsible".into(), FieldType::User);
    match entity {
        EntityType::Deal => {
            f.insert("amount".into(), FieldType::Money);
            f.insert("payment_percent".into(), FieldType::Number);
            f.insert("expected_close_date".into(), FieldType::Date);
            f.insert("company".into(), FieldType::Text);
            f.insert("legal_entity".into(), FieldType::Text);
            // The commercial terms: filled once the deal has an amount.
            f.insert("terms".into(), FieldType::Text);
            f.insert("loss_reason".into(), FieldType::Text);
            f.insert("order_number".into(), FieldType::Text);
            f.insert("source".into(), FieldType::Text);
            f.insert("stage".into(), choice(&DEAL_STAGE_CODES));
        }
        EntityType::Lead => {
            f.insert(
                "status".into(),
                choice(&["new", "in_work", "qualified", "junk"]),
            );
            f.insert("potential_amount".into(), FieldType::Money);
            f.insert("company_name".into(), FieldType::Text);
            f.insert("phone".into(), FieldType::Text);
            f.insert("email".into(), FieldType::Text);
        }
        EntityType::Contract => {
            f.insert("amount".into(), FieldType::Money);
            f.insert("made_from_template".into(), FieldType::Bool);
            f.insert("end_date".into(), FieldType::Date);
            f.insert(
                "stage".into(),
                choice(&["draft", "approval", "signing", "signed", "archived"]),
            );
        }
        EntityType::Invoice => {
            f.insert("amount".into(), FieldType::Money);
            f.insert(
                "status".into(),
                choice(&["draft", "issued", "partially_paid", "paid", "cancelled"]),
            );
        }
        // A contact has no title of its own (its name is in parts).
        EntityType::Contact => {
            f.remove("title");
        }
        EntityType::Company | EntityType::SupplierInvoice => {}
    }
    f
}

fn text(s: &Option<String>) -> FieldValue {
    match s {
        Some(s) if !s.trim().is_empty() => FieldValue::Text(s.clone()),
        _ => FieldValue::Null,
    }
}

fn id_text(id: Option<Uuid>) -> FieldValue {
    id.map_or(FieldValue::Null, |i| FieldValue::Text(i.to_string()))
}

fn date(d: Option<chrono::NaiveDate>) -> FieldValue {
    d.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(FieldValue::Null, |t| FieldValue::Date(t.and_utc()))
}

async fn deal_stage_code<C: ConnectionTrait>(db: &C, d: &deal::Model) -> OpResult<String> {
    let stages = pipeline_stage::Entity::find()
        .filter(pipeline_stage::Column::PipelineId.eq(d.pipeline_id))
        .filter(pipeline_stage::Column::DeletedAt.is_null())
        .order_by_asc(pipeline_stage::Column::Sort)
        .all(db)
        .await
        .map_err(StoreError::from)?;
    let Some(stage) = stages.iter().find(|s| s.id == d.stage_id) else {
        return Ok("new".into());
    };
    if stage.kind == "won" || stage.kind == "lost" {
        return Ok(stage.kind.clone());
    }
    let pos = stages
        .iter()
        .filter(|s| s.kind == "open")
        .position(|s| s.id == stage.id)
        .unwrap_or(0);
    Ok(OPEN_STAGE_CODES[pos.min(OPEN_STAGE_CODES.len() - 1)].to_owned())
}

async fn deal_stage_for<C: ConnectionTrait>(
    db: &C,
    d: &deal::Model,
    code: &str,
) -> OpResult<Option<pipeline_stage::Model>> {
    let stages = pipeline_stage::Entity::find()
        .filter(pipeline_stage::Column::PipelineId.eq(d.pipeline_id))
        .filter(pipeline_stage::Column::DeletedAt.is_null())
        .order_by_asc(pipeline_stage::Column::Sort)
        .all(db)
        .await
        .map_err(StoreError::from)?;
    if code == "won" || code == "lost" {
        return Ok(stages.into_iter().find(|s| s.kind == code));
    }
    let Some(pos) = OPEN_STAGE_CODES.iter().position(|c| *c == code) else {
        return Ok(None);
    };
    let open: Vec<pipeline_stage::Model> =
        stages.into_iter().filter(|s| s.kind == "open").collect();
    let last = open.len().saturating_sub(1);
    Ok(open.into_iter().nth(pos.min(last)))
}

/// The record as the engine sees it: its fields, its responsible and his supervisor.
pub async fn facts_of<C: ConnectionTrait>(
    db: &C,
    entity: EntityType,
    id: Uuid,
) -> OpResult<EntityFacts> {
    let mut fields = BTreeMap::new();
    let responsible = match entity {
        EntityType::Deal => {
            let d = records::find::<deal::Entity, _>(db, id).await?;
            fields.insert("title".into(), FieldValue::Text(d.title.clone()));
            fields.insert(
                "amount".into(),
                FieldValue::Money(Money::from_minor(d.amount_minor)),
            );
            fields.insert(
                "payment_percent".into(),
                FieldValue::Number(Decimal::new(d.payment_percent_hundredths, 2)),
            );
            fields.insert("expected_close_date".into(), date(d.expected_close_date));
            fields.insert("company".into(), id_text(d.company_id));
            fields.insert("legal_entity".into(), id_text(d.legal_entity_id));
            fields.insert(
                "terms".into(),
                if d.amount_minor > 0 {
                    FieldValue::Text(format!(
                        "{} {}",
                        Money::from_minor(d.amount_minor),
                        d.currency
                    ))
                } else {
                    FieldValue::Null
                },
            );
            fields.insert("loss_reason".into(), text(&d.loss_reason));
            fields.insert("order_number".into(), text(&d.order_number));
            fields.insert("source".into(), text(&d.source));
            fields.insert(
                "stage".into(),
                FieldValue::Choice(deal_stage_code(db, &d).await?),
            );
            d.responsible_id
        }
        EntityType::Lead => {
            let l = records::find::<lead::Entity, _>(db, id).await?;
            fields.insert("title".into(), FieldValue::Text(l.title.clone()));
            fields.insert("status".into(), FieldValue::Choice(l.status.clone()));
            fields.insert(
                "potential_amount".into(),
                l.potential_amount_minor.map_or(FieldValue::Null, |m| {
                    FieldValue::Money(Money::from_minor(m))
                }),
            );
            fields.insert("company_name".into(), text(&l.company_name));
            fields.insert("phone".into(), text(&l.phone));
            fields.insert("email".into(), text(&l.email));
            l.responsible_id
        }
        EntityType::Company => {
            let c = records::find::<company::Entity, _>(db, id).await?;
            fields.insert("title".into(), FieldValue::Text(c.name.clone()));
            c.responsible_id
        }
        EntityType::Contact => {
            let c = records::find::<contact::Entity, _>(db, id).await?;
            c.responsible_id
        }
        EntityType::Invoice => {
            let i = records::find::<invoice::Entity, _>(db, id).await?;
            fields.insert("status".into(), FieldValue::Choice(i.status.clone()));
            i.responsible_id
        }
        EntityType::SupplierInvoice => {
            let s = records::find::<supplier_invoice::Entity, _>(db, id).await?;
            fields.insert("title".into(), FieldValue::Text(s.number.clone()));
            s.initiator_id
        }
        EntityType::Contract => return Err(Error::not_found()),
    };
    fields.insert("responsible".into(), FieldValue::User(responsible));
    let supervisor = crate::people::supervisor_of(db, responsible).await?;
    Ok(EntityFacts {
        fields,
        responsible: Some(responsible),
        supervisor,
    })
}

/// The document types attached to the record: its files' types, and `quote` / `invoice` when
/// the deal has one.
async fn documents_of<C: ConnectionTrait>(
    db: &C,
    entity: EntityType,
    id: Uuid,
    task_files: &[Uuid],
) -> OpResult<Vec<String>> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    let files = file::Entity::find()
        .filter(file::Column::EntityType.eq(entity.as_str()))
        .filter(file::Column::EntityId.eq(id))
        .filter(file::Column::DeletedAt.is_null())
        .all(db)
        .await
        .map_err(StoreError::from)?;
    out.extend(files.into_iter().map(|f| f.document_type));
    if !task_files.is_empty() {
        let files = file::Entity::find()
            .filter(file::Column::Id.is_in(task_files.iter().copied()))
            .filter(file::Column::DeletedAt.is_null())
            .all(db)
            .await
            .map_err(StoreError::from)?;
        out.extend(files.into_iter().map(|f| f.document_type));
    }
    if entity == EntityType::Deal {
        let quotes = quote::Entity::find()
            .filter(quote::Column::DealId.eq(id))
            .filter(quote::Column::DeletedAt.is_null())
            .count_rows(db)
            .await?;
        if quotes > 0 {
            out.insert("quote".into());
        }
        let invoices = invoice::Entity::find()
            .filter(invoice::Column::DealId.eq(id))
            .filter(invoice::Column::DeletedAt.is_null())
            .count_rows(db)
            .await?;
        if invoices > 0 {
            out.insert("invoice".into());
        }
    }
    Ok(out.into_iter().collect())
}

trait CountRows {
    async fn count_rows<C: ConnectionTrait>(self, db: &C) -> OpResult<u64>;
}

impl<E: EntityTrait> CountRows for sea_orm::Select<E>
where
    E::Model: Sync,
{
    async fn count_rows<C: ConnectionTrait>(self, db: &C) -> OpResult<u64> {
        use sea_orm::PaginatorTrait;
        Ok(self.count(db).await.map_err(StoreError::from)?)
    }
}

const DOCUMENT_TYPES: [&str; 10] = [
    "quote",
    "invoice",
    "contract",
    "act",
    "signed_scan",
    "contract_original",
    "closing_document",
    "invoice_scan",
    "vacation_application",
    "other",
];

async fn directory<C: ConnectionTrait>(db: &C, entity: EntityType) -> OpResult<Directory> {
    let users = user::Entity::find()
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::DeletedAt.is_null())
        .all(db)
        .await
        .map_err(StoreError::from)?;
    let mut roles = BTreeSet::new();
    for u in &users {
        roles.extend(RoleSet::from_storage(&u.roles).iter());
    }
    let pools = pool::Entity::find()
        .all(db)
        .await
        .map_err(StoreError::from)?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut document_types: BTreeSet<String> =
        DOCUMENT_TYPES.iter().map(|s| (*s).to_owned()).collect();
    let used: Vec<String> = file::Entity::find()
        .select_only()
        .column(file::Column::DocumentType)
        .distinct()
        .into_tuple()
        .all(db)
        .await
        .map_err(StoreError::from)?;
    document_types.extend(used);
    let templates = process_template::Entity::find()
        .filter(process_template::Column::DeletedAt.is_null())
        .filter(process_template::Column::PublishedVersionId.is_not_null())
        .all(db)
        .await
        .map_err(StoreError::from)?
        .into_iter()
        .map(|t| t.code)
        .collect();
    Ok(Directory {
        users: users.iter().map(|u| u.id).collect(),
        pools,
        roles,
        fields: schema(entity),
        document_types,
        templates,
    })
}

// ---------------------------------------------------------------------------------------------
// Templates and versions

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 100
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn template_sorts() -> [SortKey<process_template::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: process_template::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: process_template::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "code",
            column: process_template::Column::Code,
            key: |m| CursorValue::Text(m.code.clone()),
        },
    ]
}

/// The templates, a page at a time.
pub async fn list_templates(
    db: Db<'_>,
    page: &ListParams,
    f: TemplateListFilter,
) -> OpResult<ListPage<TemplateView>> {
    let sorts = template_sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut q =
        process_template::Entity::find().filter(process_template::Column::DeletedAt.is_null());
    if let Some(e) = f.entity_type {
        q = q.filter(process_template::Column::EntityType.eq(EntityType::from(e).as_str()));
    }
    if let Some(t) = page.updated_since {
        q = q.filter(process_template::Column::UpdatedAt.gte(t));
    }
    let page = fetch_page(&db, q, req, process_template::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| TemplateView::from(m)))
}

fn default_definition(entity: EntityType, name: &str) -> Value {
    json!({
        "entity_type": entity.as_str(),
        "name": name,
        "steps": [
            { "id": "work", "kind": "task", "title": name, "assignees": [{ "type": "responsible" }] }
        ]
    })
}

/// Creates a template with its first draft (version 1).
pub async fn create_template(
    db: Db<'_>,
    caller: &Caller,
    req: CreateTemplate,
) -> OpResult<TemplateView> {
    if !valid_code(&req.code) {
        return Err(Error::field(
            "code",
            "invalid",
            "a code is 1 to 100 characters of a-z, 0-9, `_` and `-`",
        ));
    }
    if req.name.trim().is_empty() {
        return Err(Error::field("name", "required", "name must not be blank"));
    }
    let entity = EntityType::from(req.entity_type);
    let definition = req
        .definition
        .unwrap_or_else(|| default_definition(entity, req.name.trim()));
    if !definition.is_object() {
        return Err(Error::field(
            "definition",
            "not_an_object",
            "a definition is a JSON object",
        ));
    }
    let txn = db.begin().await?;
    let taken = process_template::Entity::find()
        .filter(process_template::Column::Code.eq(req.code.as_str()))
        .filter(process_template::Column::DeletedAt.is_null())
        .one(&txn)
        .await
        .map_err(StoreError::from)?;
    if taken.is_some() {
        return Err(Error::new(
            ErrorCode::Duplicate,
            format!("a template with code {} exists", req.code),
        ));
    }
    let at = now();
    let actor = caller.actor();
    let t = records::create::<process_template::Entity, _>(
        &txn,
        &actor,
        process_template::Model {
            id: Uuid::now_v7(),
            code: req.code,
            name: req.name.trim().to_owned(),
            description: req.description.filter(|d| !d.trim().is_empty()),
            entity_type: entity.as_str().to_owned(),
            start_mode: req.start_mode.as_str().to_owned(),
            published_version_id: None,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        },
        template_public,
    )
    .await?;
    records::create::<process_template_version::Entity, _>(
        &txn,
        &actor,
        new_version(t.id, 1, &definition),
        version_public,
    )
    .await?;
    txn.commit().await?;
    Ok(TemplateView::from(&t))
}

fn new_version(
    template_id: Uuid,
    number: i32,
    definition: &Value,
) -> process_template_version::Model {
    let at = now();
    process_template_version::Model {
        id: Uuid::now_v7(),
        template_id,
        number,
        state: DRAFT.into(),
        definition: definition.to_string(),
        stored: None,
        published_at: None,
        published_by: None,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    }
}

pub async fn get_template(db: Db<'_>, id: Uuid) -> OpResult<TemplateView> {
    let t = records::find::<process_template::Entity, _>(&db, id).await?;
    Ok(TemplateView::from(&t))
}

/// Renames a template, changes its description or its start mode.
pub async fn update_template(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateTemplate,
) -> OpResult<TemplateView> {
    if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(Error::field("name", "required", "name must not be blank"));
    }
    let txn = db.begin().await?;
    let t = records::update::<process_template::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |t| {
            if let Some(n) = &req.name {
                t.name = n.trim().to_owned();
            }
            if let Some(d) = &req.description {
                t.description = d.clone().filter(|d| !d.trim().is_empty());
            }
            if let Some(m) = req.start_mode {
                t.start_mode = m.as_str().to_owned();
            }
            Ok(())
        },
        template_public,
    )
    .await??;
    txn.commit().await?;
    Ok(TemplateView::from(&t))
}

async fn version_of<C: ConnectionTrait>(
    db: &C,
    template_id: Uuid,
    number: i32,
) -> OpResult<process_template_version::Model> {
    process_template_version::Entity::find()
        .filter(process_template_version::Column::TemplateId.eq(template_id))
        .filter(process_template_version::Column::Number.eq(number))
        .filter(process_template_version::Column::DeletedAt.is_null())
        .one(db)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(Error::not_found)
}

/// The versions of a template, newest first.
pub async fn list_versions(db: Db<'_>, template_id: Uuid) -> OpResult<ListPage<VersionView>> {
    records::find::<process_template::Entity, _>(&db, template_id).await?;
    let versions = process_template_version::Entity::find()
        .filter(process_template_version::Column::TemplateId.eq(template_id))
        .filter(process_template_version::Column::DeletedAt.is_null())
        .order_by_desc(process_template_version::Column::Number)
        .all(&db)
        .await
        .map_err(StoreError::from)?;
    Ok(ListPage::whole(
        versions.iter().map(VersionView::from).collect(),
    ))
}

pub async fn get_version(db: Db<'_>, template_id: Uuid, number: i32) -> OpResult<VersionView> {
    Ok(VersionView::from(
        &version_of(&db, template_id, number).await?,
    ))
}

/// A new draft, numbered after the last version.
pub async fn create_version(
    db: Db<'_>,
    caller: &Caller,
    template_id: Uuid,
    req: DraftBody,
) -> OpResult<VersionView> {
    if !req.definition.is_object() {
        return Err(Error::field(
            "definition",
            "not_an_object",
            "a definition is a JSON object",
        ));
    }
    let txn = db.begin().await?;
    lock_row(&txn, "process_templates", template_id).await?;
    records::find::<process_template::Entity, _>(&txn, template_id).await?;
    let last = process_template_version::Entity::find()
        .filter(process_template_version::Column::TemplateId.eq(template_id))
        .order_by_desc(process_template_version::Column::Number)
        .one(&txn)
        .await
        .map_err(StoreError::from)?
        .map_or(0, |v| v.number);
    let v = records::create::<process_template_version::Entity, _>(
        &txn,
        &caller.actor(),
        new_version(template_id, last + 1, &req.definition),
        version_public,
    )
    .await?;
    txn.commit().await?;
    Ok(VersionView::from(&v))
}

/// Replaces a draft's definition; a published version is frozen (409).
pub async fn update_version(
    db: Db<'_>,
    caller: &Caller,
    template_id: Uuid,
    number: i32,
    if_match: Option<i32>,
    req: DraftBody,
) -> OpResult<VersionView> {
    if !req.definition.is_object() {
        return Err(Error::field(
            "definition",
            "not_an_object",
            "a definition is a JSON object",
        ));
    }
    let txn = db.begin().await?;
    let v = version_of(&txn, template_id, number).await?;
    if v.state != DRAFT {
        return Err(Error::new(
            ErrorCode::VersionReadOnly,
            "a published version is frozen; create a new version to change the process",
        ));
    }
    let text = req.definition.to_string();
    let v = records::update::<process_template_version::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        v.id,
        if_match,
        |v| {
            v.definition = text;
            Ok(())
        },
        version_public,
    )
    .await??;
    txn.commit().await?;
    Ok(VersionView::from(&v))
}

fn definition_violations(errors: Vec<DefinitionError>) -> Error {
    let mut v = Violations::new();
    for e in errors {
        v.push(FieldViolation::from(e));
    }
    Error::validation(v)
}

/// Checks a draft as a whole and freezes it: new instances start on it, running ones keep
/// theirs. A definition that breaks a rule is a 422 naming each problem by its JSON pointer
/// (`definition/steps/3/assignees/0`).
pub async fn publish_version(
    db: Db<'_>,
    caller: &Caller,
    template_id: Uuid,
    number: i32,
) -> OpResult<VersionView> {
    let txn = db.begin().await?;
    lock_row(&txn, "process_templates", template_id).await?;
    let t = records::find::<process_template::Entity, _>(&txn, template_id).await?;
    let v = version_of(&txn, template_id, number).await?;
    if v.state != DRAFT {
        return Err(Error::new(
            ErrorCode::VersionReadOnly,
            "this version is already published",
        ));
    }
    let entity = parse_entity_type(&t.entity_type)
        .ok_or_else(|| Error::internal(format!("template {} has a bad entity type", t.id)))?;
    let definition: Value = serde_json::from_str(&v.definition).unwrap_or(Value::Null);
    if definition.get("entity_type").and_then(Value::as_str) != Some(entity.as_str()) {
        return Err(Error::field(
            "definition/entity_type",
            "not_for_entity",
            format!("the template is bound to {}", entity.as_str()),
        ));
    }
    let dir = directory(&txn, entity).await?;
    let published = bp::publish(&definition, &dir).map_err(definition_violations)?;
    let stored = published.to_stored().to_string();
    let actor = caller.actor();
    let at = now();
    let v = records::update::<process_template_version::Entity, _, _, Error>(
        &txn,
        &actor,
        v.id,
        None,
        |v| {
            v.state = PUBLISHED.into();
            v.stored = Some(stored);
            v.published_at = Some(at);
            v.published_by = Some(caller.user_id);
            Ok(())
        },
        version_public,
    )
    .await??;
    let vid = v.id;
    records::update::<process_template::Entity, _, _, Error>(
        &txn,
        &actor,
        template_id,
        None,
        |t| {
            t.published_version_id = Some(vid);
            Ok(())
        },
        template_public,
    )
    .await??;
    txn.commit().await?;
    Ok(VersionView::from(&v))
}

async fn published_of<C: ConnectionTrait>(
    db: &C,
    version_id: Uuid,
) -> OpResult<PublishedDefinition> {
    let v = records::find::<process_template_version::Entity, _>(db, version_id).await?;
    let stored: Value = v
        .stored
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| Error::internal(format!("version {version_id} is not published")))?;
    PublishedDefinition::restore(&stored).map_err(|e| {
        Error::internal(format!(
            "published version {version_id} does not restore: {e:?}"
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Instances: the engine under the lock

/// Who the process acts as when it runs an operation: the person whose input it handles, or
/// the one who started it, with an administrator's reach (a process acts for the company,
/// not within one colleague's visibility).
fn process_caller(actor: &Actor, fallback: Option<Uuid>) -> Caller {
    Caller {
        user_id: actor.user_id.or(fallback).unwrap_or_else(Uuid::nil),
        roles: RoleSet::new([Role::Admin]),
        api_token_id: actor.api_token_id,
        correlation_id: actor.request_id.clone(),
    }
}

fn refusal(r: ProcessRefusal) -> Error {
    let msg = r.to_string();
    match r {
        ProcessRefusal::DocumentRequired { .. } => {
            Error::field("file_ids", "document_required", msg)
        }
        ProcessRefusal::FieldsRequired { .. } => Error::field("fields", "fields_required", msg),
        ProcessRefusal::CommentRequired { .. } => Error::field("comment", "required", msg),
        ProcessRefusal::OutcomeNotOffered { .. } => Error::field("outcome", "not_offered", msg),
        ProcessRefusal::ReasonRequired => Error::field("reason", "required", msg),
        ProcessRefusal::NotYourTask => Error::forbidden(msg),
        ProcessRefusal::TaskClosed { .. } | ProcessRefusal::NotRunning { .. } => {
            Error::new(ErrorCode::InvalidTransition, msg)
        }
        ProcessRefusal::AlreadyStarted => Error::new(ErrorCode::Conflict, msg),
        ProcessRefusal::UnknownTask { .. }
        | ProcessRefusal::Runaway(_)
        | ProcessRefusal::Inconsistent(_) => Error::internal(msg),
    }
}

fn status_name(s: &InstanceState) -> &'static str {
    s.status.name()
}

fn purpose_text(p: TimerPurpose) -> String {
    match p {
        TimerPurpose::Wait => "wait".into(),
        TimerPurpose::Timeout => "timeout".into(),
        TimerPurpose::Remind => "remind".into(),
        TimerPurpose::Escalate { repeat } => format!("escalate:{repeat}"),
    }
}

fn purpose_of(s: &str) -> Option<TimerPurpose> {
    match s {
        "wait" => Some(TimerPurpose::Wait),
        "timeout" => Some(TimerPurpose::Timeout),
        "remind" => Some(TimerPurpose::Remind),
        _ => s
            .strip_prefix("escalate:")
            .and_then(|n| n.parse().ok())
            .map(|repeat| TimerPurpose::Escalate { repeat }),
    }
}

/// The running context of one input: who, how deep in a cascade.
struct Ctx<'a> {
    actor: &'a Actor,
    depth: u32,
}

impl Ctx<'_> {
    fn deeper(&self) -> OpResult<Ctx<'_>> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::new(
                ErrorCode::Conflict,
                "processes keep triggering each other; the chain was stopped",
            ));
        }
        Ok(Ctx {
            actor: self.actor,
            depth: self.depth + 1,
        })
    }
}

fn entity_of(i: &process_instance::Model) -> OpResult<EntityType> {
    parse_entity_type(&i.entity_type)
        .ok_or_else(|| Error::internal(format!("instance {} has a bad entity type", i.id)))
}

/// Starts `template` on a record, in the caller's transaction.
async fn start_in<
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    ctx: &Ctx<'_>,
    template: &process_template::Model,
    entity_id: Uuid,
    parent: Option<(Uuid, ActionKey)>,
) -> OpResult<process_instance::Model> {
    let Some(version_id) = template.published_version_id else {
        return Err(Error::field(
            "template_id",
            "not_published",
            "the template has no published version",
        ));
    };
    let entity = parse_entity_type(&template.entity_type)
        .ok_or_else(|| Error::internal("a template with a bad entity type"))?;
    let def = published_of(txn, version_id).await?;
    let facts = facts_of(txn, entity, entity_id).await?;
    let at = now();
    let t = bp::process(&def, &InstanceState::new(), &Input::Start, &facts, at).map_err(refusal)?;
    let model = process_instance::Model {
        id: Uuid::now_v7(),
        template_id: template.id,
        template_version_id: version_id,
        entity_type: entity.as_str().to_owned(),
        entity_id,
        status: status_name(&t.state).to_owned(),
        state: serde_json::to_string(&t.state).map_err(Error::internal)?,
        parent_instance_id: parent.as_ref().map(|p| p.0),
        parent_step: parent.as_ref().map(|p| p.1.step.clone()),
        parent_round: parent.as_ref().map(|p| p.1.round as i32),
        started_by: ctx.actor.user_id,
        started_at: at,
        ended_at: t.state.finished_at,
        cancel_reason: cancel_reason(&t.state),
        cost_minor: t.state.cost.to_minor().unwrap_or(0),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let inst =
        records::create::<process_instance::Entity, _>(txn, ctx.actor, model, instance_public)
            .await?;
    sync_steps(txn, &inst, &def, &InstanceState::new(), &t.state).await?;
    Box::pin(apply(txn, ctx, &inst, &def, &facts, t.effects)).await?;
    Ok(inst)
}

fn cancel_reason(s: &InstanceState) -> Option<String> {
    match &s.status {
        bp::InstanceStatus::Cancelled { reason } => Some(reason.clone()),
        bp::InstanceStatus::NotStarted
        | bp::InstanceStatus::Running
        | bp::InstanceStatus::Completed => None,
    }
}

/// Feeds one input to an instance under its lock and writes what follows. A refusal changes
/// nothing and is answered as the refusal.
async fn feed<C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>>(
    txn: &C,
    ctx: &Ctx<'_>,
    instance_id: Uuid,
    input: Input,
) -> OpResult<process_instance::Model> {
    lock_row(txn, "process_instances", instance_id).await?;
    let inst = records::find::<process_instance::Entity, _>(txn, instance_id).await?;
    let def = published_of(txn, inst.template_version_id).await?;
    let state: InstanceState = serde_json::from_str(&inst.state).map_err(Error::internal)?;
    let entity = entity_of(&inst)?;
    let facts = facts_of(txn, entity, inst.entity_id).await?;
    let t = bp::process(&def, &state, &input, &facts, now()).map_err(refusal)?;
    if t.state == state && t.effects.is_empty() {
        return Ok(inst);
    }
    let text = serde_json::to_string(&t.state).map_err(Error::internal)?;
    let status = status_name(&t.state);
    let ended = t.state.finished_at;
    let reason = cancel_reason(&t.state);
    let cost = t.state.cost.to_minor().unwrap_or(0);
    // The compare-and-set on the version read under the lock: on SQLite (no row locks) it is
    // what keeps two writers from both applying an input.
    let written = records::update::<process_instance::Entity, _, _, Error>(
        txn,
        ctx.actor,
        instance_id,
        Some(inst.version),
        |i| {
            i.state = text;
            i.status = status.to_owned();
            i.ended_at = ended;
            i.cancel_reason = reason;
            i.cost_minor = cost;
            Ok(())
        },
        instance_public,
    )
    .await
    .map_err(|e| match e {
        StoreError::StaleVersion { .. } => Error::new(
            ErrorCode::Conflict,
            "the process instance changed meanwhile; retry",
        ),
        other => other.into(),
    })??;
    sync_steps(txn, &written, &def, &state, &t.state).await?;
    Box::pin(apply(txn, ctx, &written, &def, &facts, t.effects)).await?;
    Ok(written)
}

/// (round, status, started, finished, due, outcome) of one row of `process_steps`.
type StepRow = (
    u32,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
);

/// Keeps `process_steps` (one row per step and round) in step with the state, for the
/// queries and reports.
async fn sync_steps<C: ConnectionTrait>(
    txn: &C,
    inst: &process_instance::Model,
    def: &PublishedDefinition,
    before: &InstanceState,
    after: &InstanceState,
) -> OpResult<()> {
    let at = now();
    for (id, st) in &after.steps {
        let old = before.steps.get(id);
        if old == Some(st) {
            continue;
        }
        let kind = def.step(id).map_or("task", |s| s.body.kind());
        let mut rows: Vec<StepRow> = Vec::new();
        let known = old.map_or(0, |o| o.history.len());
        for h in st.history.iter().skip(known) {
            rows.push((
                h.round,
                h.status.name().to_owned(),
                h.started_at,
                h.finished_at,
                None,
                h.outcome.clone(),
            ));
        }
        if st.status != bp::StepStatus::Pending {
            rows.push((
                st.round,
                st.status.name().to_owned(),
                st.started_at,
                st.finished_at,
                st.due_at,
                st.outcome.clone(),
            ));
        }
        for (round, status, started, finished, due, outcome) in rows {
            let row = process_step::Model {
                id: Uuid::now_v7(),
                instance_id: inst.id,
                template_id: inst.template_id,
                step_id: id.clone(),
                round: round as i32,
                kind: kind.to_owned(),
                status,
                started_at: started,
                finished_at: finished,
                due_at: due,
                outcome,
                cost_minor: st.cost.to_minor().unwrap_or(0),
                updated_at: at,
            };
            process_step::Entity::insert(row.into_active_model())
                .on_conflict(
                    OnConflict::columns([
                        process_step::Column::InstanceId,
                        process_step::Column::StepId,
                        process_step::Column::Round,
                    ])
                    .update_columns([
                        process_step::Column::Status,
                        process_step::Column::StartedAt,
                        process_step::Column::FinishedAt,
                        process_step::Column::DueAt,
                        process_step::Column::Outcome,
                        process_step::Column::CostMinor,
                        process_step::Column::UpdatedAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(txn)
                .await
                .map_err(StoreError::from)?;
        }
    }
    Ok(())
}

async fn task_link<C: ConnectionTrait>(
    txn: &C,
    instance_id: Uuid,
    key: &TaskKey,
) -> OpResult<Option<process_task::Model>> {
    Ok(process_task::Entity::find()
        .filter(process_task::Column::InstanceId.eq(instance_id))
        .filter(process_task::Column::StepId.eq(key.step.as_str()))
        .filter(process_task::Column::Round.eq(key.round as i32))
        .filter(process_task::Column::Participant.eq(key.participant as i32))
        .one(txn)
        .await
        .map_err(StoreError::from)?)
}

fn entity_static(e: EntityType) -> &'static str {
    e.as_str()
}

/// The users a participant stands for: the user, the role's active holders, the pool's
/// members.
async fn users_of<C: ConnectionTrait>(txn: &C, p: Participant) -> OpResult<Vec<Uuid>> {
    Ok(match p {
        Participant::User(u) => vec![u],
        Participant::Pool(id) => crate::approvals::members(txn, id).await?,
        Participant::Role(r) => user::Entity::find()
            .filter(user::Column::Active.eq(true))
            .filter(user::Column::DeletedAt.is_null())
            .all(txn)
            .await
            .map_err(StoreError::from)?
            .into_iter()
            .filter(|u| RoleSet::from_storage(&u.roles).contains(r))
            .map(|u| u.id)
            .collect(),
    })
}

/// Writes the effects of a transition, in order.
async fn apply<
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    ctx: &Ctx<'_>,
    inst: &process_instance::Model,
    def: &PublishedDefinition,
    facts: &EntityFacts,
    effects: Vec<Effect>,
) -> OpResult<()> {
    let entity = entity_of(inst)?;
    for effect in effects {
        match effect {
            Effect::CreateTask {
                key,
                title,
                task_type,
                assignee,
                due_at,
                outcomes,
                requires,
                cost,
            } => {
                if task_link(txn, inst.id, &key).await?.is_some() {
                    continue;
                }
                let new_assignee = match assignee {
                    Participant::User(u) => NewAssignee::User(u),
                    Participant::Role(r) => NewAssignee::Role(r.as_str()),
                    Participant::Pool(p) => NewAssignee::Pool(p),
                };
                let kind_word = match task_type {
                    bp::TaskType::Task => "task",
                    bp::TaskType::Call => "call",
                    bp::TaskType::Meeting => "meeting",
                };
                let mut model = store::new_task_model(
                    txn,
                    NewTask {
                        kind: TASK_KIND,
                        title: title.chars().take(255).collect(),
                        description: Some(format!(
                            "{} · {} · {}",
                            def.definition().name,
                            key,
                            kind_word
                        )),
                        subject_type: Some(entity_static(entity)),
                        subject_id: Some(inst.entity_id),
                        step_id: None,
                        assignee: new_assignee,
                        outcomes: Vec::new(),
                        due_at,
                        author_id: inst.started_by,
                    },
                )
                .await?;
                model.outcomes = outcomes
                    .iter()
                    .map(|o| o.id.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                let t = records::create::<task::Entity, _>(txn, ctx.actor, model, |t| {
                    present(&TaskView::from(t))
                })
                .await?;
                process_task::Entity::insert(
                    process_task::Model {
                        task_id: t.id,
                        instance_id: inst.id,
                        step_id: key.step.clone(),
                        round: key.round as i32,
                        participant: key.participant as i32,
                        requires: serde_json::to_string(&requires).unwrap_or_else(|_| "[]".into()),
                        outcomes: serde_json::to_string(&outcomes).unwrap_or_else(|_| "[]".into()),
                        cost_minor: cost.and_then(|c| c.to_minor().ok()),
                    }
                    .into_active_model(),
                )
                .exec_without_returning(txn)
                .await
                .map_err(StoreError::from)?;
                super::approvals::announce_task(txn, &t, t.description.as_deref().unwrap_or(""))
                    .await?;
            }
            Effect::CloseTask { key, reason } => {
                if reason == bp::CloseReason::Completed {
                    // The completion wrote the task itself.
                    continue;
                }
                let Some(link) = task_link(txn, inst.id, &key).await? else {
                    continue;
                };
                let t = records::find::<task::Entity, _>(txn, link.task_id).await?;
                if t.state != store::TASK_OPEN && t.state != store::TASK_CLAIMED {
                    continue;
                }
                let mut next = t.clone();
                next.state = store::TASK_CANCELLED.into();
                let why = match reason {
                    bp::CloseReason::Superseded => "decided without this task",
                    bp::CloseReason::Cancelled | bp::CloseReason::Completed => {
                        "the process moved on or stopped"
                    }
                };
                super::approvals::transition_task(txn, ctx.actor, &t, next, "cancelled", Some(why))
                    .await?
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::Conflict,
                            "a process task changed meanwhile; retry",
                        )
                    })?;
            }
            Effect::ScheduleTimer { key, at } => schedule_timer(txn, inst.id, &key, at).await?,
            Effect::CancelTimer { key } => {
                process_timer::Entity::update_many()
                    .col_expr(process_timer::Column::State, Expr::value(CANCELLED))
                    .filter(process_timer::Column::InstanceId.eq(inst.id))
                    .filter(process_timer::Column::StepId.eq(key.step.as_str()))
                    .filter(process_timer::Column::Round.eq(key.round as i32))
                    .filter(process_timer::Column::Purpose.eq(purpose_text(key.purpose)))
                    .filter(process_timer::Column::State.eq(PENDING))
                    .exec(txn)
                    .await
                    .map_err(StoreError::from)?;
            }
            Effect::RunAction { key, action } => {
                run_action_once(txn, ctx, inst, facts, &key, &action).await?;
            }
            Effect::BillTask {
                key,
                mode,
                hourly_rate,
                notify_responsible,
            } => {
                // WF-BILL-1 in the completion's transaction; a task already billed is not
                // billed again (one billing record per task).
                if let Some(link) = task_link(txn, inst.id, &key).await? {
                    let config = bp::BillTime {
                        mode,
                        hourly_rate,
                        notify_responsible,
                    };
                    super::billing::bill_task_time(txn, ctx.actor, link.task_id, &config).await?;
                }
            }
            Effect::Notify {
                kind,
                task,
                assignee,
                due_at,
            } => {
                let title = def
                    .step(&task.step)
                    .and_then(|s| s.title.clone())
                    .unwrap_or_else(|| task.step.clone());
                let link = task_link(txn, inst.id, &task).await?;
                let holders = match &link {
                    Some(l) => {
                        let t = records::find::<task::Entity, _>(txn, l.task_id).await?;
                        match t.claimed_by.or(t.assignee_user_id) {
                            Some(u) => vec![u],
                            None => users_of(txn, assignee).await?,
                        }
                    }
                    None => users_of(txn, assignee).await?,
                };
                let due = due_at
                    .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default();
                let entity_ref = link.as_ref().map(|l| EntityRef {
                    entity_type: "task",
                    entity_id: l.task_id,
                });
                match kind {
                    bp::NotifyKind::Reminder => {
                        for u in holders {
                            notifications::notify_and_email(
                                txn,
                                u,
                                "process_task_reminder",
                                &format!("Срок задачи подходит: {title}"),
                                &format!("Срок: {due}"),
                                entity_ref,
                            )
                            .await?;
                        }
                    }
                    bp::NotifyKind::Escalation { repeat } => {
                        let mut told = BTreeSet::new();
                        for u in holders {
                            let to = crate::people::supervisor_of(txn, u).await?;
                            let Some(to) = to else { continue };
                            if !told.insert(to) {
                                continue;
                            }
                            notifications::notify_and_email(
                                txn,
                                to,
                                "process_task_escalation",
                                &format!("Просрочена задача: {title}"),
                                &format!("Срок был: {due}; эскалация {}", repeat + 1),
                                entity_ref,
                            )
                            .await?;
                        }
                    }
                }
            }
            Effect::Finished { result, .. } => {
                // Open tasks of a finished process were closed by the effects before.
                if let (Some(parent), Some(step), Some(round)) = (
                    inst.parent_instance_id,
                    &inst.parent_step,
                    inst.parent_round,
                ) {
                    let deeper = ctx.deeper()?;
                    feed(
                        txn,
                        &deeper,
                        parent,
                        Input::SubProcessFinished {
                            action: ActionKey {
                                step: step.clone(),
                                round: round as u32,
                            },
                            result,
                        },
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}

async fn schedule_timer<C: ConnectionTrait>(
    txn: &C,
    instance_id: Uuid,
    key: &TimerKey,
    at: DateTime<Utc>,
) -> OpResult<()> {
    let row = process_timer::Model {
        id: Uuid::now_v7(),
        instance_id,
        step_id: key.step.clone(),
        round: key.round as i32,
        purpose: purpose_text(key.purpose),
        due_at: at,
        state: PENDING.into(),
        attempts: 0,
        lease_owner: None,
        lease_until: None,
        created_at: now(),
        fired_at: None,
    };
    process_timer::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::columns([
                process_timer::Column::InstanceId,
                process_timer::Column::StepId,
                process_timer::Column::Round,
                process_timer::Column::Purpose,
            ])
            .update_columns([
                process_timer::Column::DueAt,
                process_timer::Column::State,
                process_timer::Column::LeaseOwner,
                process_timer::Column::LeaseUntil,
            ])
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// Runs an action of the catalogue once for its key: the key's row is inserted first, and
/// an action whose row exists already ran (in a committed transaction). A failing action is
/// rolled back alone (a savepoint), recorded as failed with its reason, and the process goes
/// on: a process must not stall on an impossible side effect.
async fn run_action_once<
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    ctx: &Ctx<'_>,
    inst: &process_instance::Model,
    facts: &EntityFacts,
    key: &ActionKey,
    action: &bp::Action,
) -> OpResult<()> {
    let id = Uuid::now_v7();
    let inserted = process_action::Entity::insert(
        process_action::Model {
            id,
            instance_id: inst.id,
            step_id: key.step.clone(),
            round: key.round as i32,
            kind: action.kind().to_owned(),
            state: "done".into(),
            result: None,
            created_at: now(),
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::columns([
            process_action::Column::InstanceId,
            process_action::Column::StepId,
            process_action::Column::Round,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await
    .map_err(StoreError::from)?;
    if inserted == 0 {
        return Ok(());
    }
    let outcome = run_action(txn, ctx, inst, facts, key, action).await;
    let (state, result) = match outcome {
        Ok(r) => ("done", r),
        Err(e) => {
            tracing::warn!(instance_id = %inst.id, step = %key.step, error = %e, "process action failed");
            ("failed", Some(json!({"error": e.to_string()})))
        }
    };
    process_action::Entity::update_many()
        .col_expr(process_action::Column::State, Expr::value(state))
        .col_expr(
            process_action::Column::Result,
            Expr::value(result.map(|r| r.to_string())),
        )
        .filter(process_action::Column::Id.eq(id))
        .exec(txn)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// The users (and contact emails) a recipient names.
async fn recipients<C: ConnectionTrait>(
    txn: &C,
    inst: &process_instance::Model,
    facts: &EntityFacts,
    r: &bp::Recipient,
) -> OpResult<(Vec<Uuid>, Vec<String>)> {
    Ok(match r {
        bp::Recipient::User { id } => (vec![*id], Vec::new()),
        bp::Recipient::Role { role } => match bp::parse_role(role) {
            Some(r) => (users_of(txn, Participant::Role(r)).await?, Vec::new()),
            None => (Vec::new(), Vec::new()),
        },
        bp::Recipient::Pool { id } => (users_of(txn, Participant::Pool(*id)).await?, Vec::new()),
        bp::Recipient::Responsible => (facts.responsible.into_iter().collect(), Vec::new()),
        bp::Recipient::Supervisor => (
            facts.supervisor.or(facts.responsible).into_iter().collect(),
            Vec::new(),
        ),
        bp::Recipient::Contact => (Vec::new(), contact_emails(txn, inst).await?),
    })
}

async fn contact_emails<C: ConnectionTrait>(
    txn: &C,
    inst: &process_instance::Model,
) -> OpResult<Vec<String>> {
    let ids: Vec<Uuid> = match inst.entity_type.as_str() {
        "deal" => crate::sales::deal_contacts(txn, inst.entity_id).await?,
        "contact" => vec![inst.entity_id],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for id in ids {
        if let Ok(c) = records::find::<contact::Entity, _>(txn, id).await {
            let first = c.emails.as_array().and_then(|a| a.first()).and_then(|e| {
                e.as_str()
                    .map(str::to_owned)
                    .or_else(|| e["address"].as_str().map(str::to_owned))
            });
            out.extend(first);
        }
    }
    Ok(out)
}

async fn own_organization<C: ConnectionTrait>(txn: &C) -> OpResult<Uuid> {
    organization::Entity::find()
        .filter(organization::Column::DeletedAt.is_null())
        .order_by_asc(organization::Column::CreatedAt)
        .one(txn)
        .await
        .map_err(StoreError::from)?
        .map(|o| o.id)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::Conflict,
                "there is no own organisation to issue documents from",
            )
        })
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> OpResult<T> {
    serde_json::from_value(v).map_err(Error::internal)
}

/// Runs one action through the existing operation, inside a savepoint of the input's
/// transaction; answers what it made.
async fn run_action<
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    ctx: &Ctx<'_>,
    inst: &process_instance::Model,
    facts: &EntityFacts,
    key: &ActionKey,
    action: &bp::Action,
) -> OpResult<Option<Value>> {
    let sp = txn.begin().await.map_err(StoreError::from)?;
    let caller = process_caller(ctx.actor, inst.started_by);
    let result = run_action_in(&sp, ctx, &caller, inst, facts, key, action).await;
    match result {
        Ok(v) => {
            sp.commit().await.map_err(StoreError::from)?;
            Ok(v)
        }
        Err(e) => {
            sp.rollback().await.map_err(StoreError::from)?;
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_action_in(
    txn: &sea_orm::DatabaseTransaction,
    ctx: &Ctx<'_>,
    caller: &Caller,
    inst: &process_instance::Model,
    facts: &EntityFacts,
    key: &ActionKey,
    action: &bp::Action,
) -> OpResult<Option<Value>> {
    let entity = entity_of(inst)?;
    let db = Db::Joined(txn);
    let entity_ref = EntityRef {
        entity_type: entity_static(entity),
        entity_id: inst.entity_id,
    };
    match action {
        bp::Action::Notify { to, text } => {
            let (users, _) = recipients(txn, inst, facts, to).await?;
            for u in &users {
                notifications::notify(txn, *u, "process_notice", text, "", Some(entity_ref))
                    .await?;
            }
            Ok(Some(json!({ "notified": users })))
        }
        bp::Action::SendEmail { to, subject, body } => {
            let (users, mut emails) = recipients(txn, inst, facts, to).await?;
            for u in users {
                if let Some(u) = user::Entity::find_by_id(u)
                    .one(txn)
                    .await
                    .map_err(StoreError::from)?
                {
                    emails.push(u.email);
                }
            }
            if emails.is_empty() {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    "nobody to send the email to",
                ));
            }
            crate::outbox::enqueue_email(
                txn,
                &crate::outbox::OutgoingEmail {
                    to: emails.clone(),
                    subject: subject.clone(),
                    text_body: body.clone(),
                },
            )
            .await?;
            Ok(Some(json!({ "emailed": emails })))
        }
        bp::Action::SetField { field, value } => {
            set_field(db, caller, entity, inst.entity_id, field, value).await?;
            Ok(Some(json!({ "set": field })))
        }
        bp::Action::MoveToStage { stage } => {
            set_field(db, caller, entity, inst.entity_id, "stage", &json!(stage)).await?;
            Ok(Some(json!({ "stage": stage })))
        }
        bp::Action::CreateCalendarEvent {
            title,
            starts_in,
            duration,
            participants,
        } => {
            let mut users = BTreeSet::new();
            for p in participants {
                users.extend(recipients(txn, inst, facts, p).await?.0);
            }
            let starts = now() + starts_in.duration();
            let e = super::calendar::create_event(
                db,
                caller,
                from_json(json!({
                    "title": title,
                    "starts_at": starts,
                    "ends_at": starts + duration.duration(),
                    "participants": users,
                    "owner_type": owner_type(entity),
                    "owner_id": owner_type(entity).map(|_| inst.entity_id),
                    "responsible_id": facts.responsible,
                }))?,
            )
            .await?;
            Ok(Some(json!({ "calendar_event_id": e.id })))
        }
        bp::Action::CreateReminder {
            text,
            remind_in,
            to,
        } => {
            let (users, _) = recipients(txn, inst, facts, to).await?;
            let at = now() + remind_in.duration();
            let mut ids = Vec::new();
            for u in users {
                let e = super::calendar::create_event(
                    db,
                    caller,
                    from_json(json!({
                        "title": text,
                        "starts_at": at,
                        "ends_at": at + chrono::Duration::minutes(15),
                        "owner_type": owner_type(entity),
                        "owner_id": owner_type(entity).map(|_| inst.entity_id),
                        "responsible_id": u,
                        "remind_at": at,
                        "reminder_message": text,
                    }))?,
                )
                .await?;
                ids.push(e.id);
            }
            Ok(Some(json!({ "calendar_event_ids": ids })))
        }
        bp::Action::CreateDocument { document } => {
            let org = own_organization(txn).await?;
            match document {
                bp::DocumentKind::Quote => {
                    let q = super::quotes::create_quote(
                        db,
                        caller,
                        from_json(json!({ "deal_id": inst.entity_id, "organization_id": org }))?,
                    )
                    .await?;
                    Ok(Some(json!({ "quote_id": present(&q)["id"] })))
                }
                bp::DocumentKind::Invoice => {
                    let i = super::invoices::create_invoice(
                        db,
                        caller,
                        from_json(json!({ "deal_id": inst.entity_id, "organization_id": org }))?,
                    )
                    .await?;
                    Ok(Some(json!({ "invoice_id": present(&i)["id"] })))
                }
            }
        }
        bp::Action::StartProcess { template, wait } => {
            let t = process_template::Entity::find()
                .filter(process_template::Column::Code.eq(template.as_str()))
                .filter(process_template::Column::DeletedAt.is_null())
                .one(txn)
                .await
                .map_err(StoreError::from)?
                .ok_or_else(|| {
                    Error::new(ErrorCode::Conflict, format!("no template {template}"))
                })?;
            let deeper = ctx.deeper()?;
            let parent = wait.then(|| (inst.id, key.clone()));
            let child = start_in(txn, &deeper, &t, inst.entity_id, parent).await?;
            Ok(Some(json!({ "instance_id": child.id })))
        }
        bp::Action::BillTime {
            task,
            mode,
            hourly_rate,
            notify_responsible,
        } => {
            // Every completed task of that step, in every round; each is billed once.
            let config = bp::BillTime {
                mode: *mode,
                hourly_rate: *hourly_rate,
                notify_responsible: *notify_responsible,
            };
            let links = process_task::Entity::find()
                .filter(process_task::Column::InstanceId.eq(inst.id))
                .filter(process_task::Column::StepId.eq(task.as_str()))
                .all(txn)
                .await
                .map_err(StoreError::from)?;
            let mut billed = Vec::new();
            for link in links {
                let t = records::find::<task::Entity, _>(txn, link.task_id).await?;
                if t.state != store::TASK_COMPLETED {
                    continue;
                }
                if let Some(b) =
                    super::billing::bill_task_time(txn, ctx.actor, link.task_id, &config).await?
                {
                    billed.push(b.id);
                }
            }
            Ok(Some(json!({ "billings": billed })))
        }
        bp::Action::CallWebhook { url, event } => {
            let delivery = super::webhooks::call_from_process(
                txn,
                ctx.actor,
                url,
                event,
                entity.as_str(),
                inst.entity_id,
                facts.responsible,
                json!({
                    "instance_id": inst.id,
                    "template_id": inst.template_id,
                    "step": key.step,
                    "round": key.round,
                }),
            )
            .await?;
            Ok(Some(json!({ "delivery_id": delivery })))
        }
    }
}

fn owner_type(e: EntityType) -> Option<&'static str> {
    match e {
        EntityType::Lead => Some("lead"),
        EntityType::Deal => Some("deal"),
        EntityType::Company => Some("company"),
        EntityType::Contact => Some("contact"),
        EntityType::Invoice => Some("invoice"),
        EntityType::Contract | EntityType::SupplierInvoice => None,
    }
}

/// Sets one field of the record through its update operation (so that the change is checked,
/// journalled and heard by the processes of the record like any other).
async fn set_field(
    db: Db<'_>,
    caller: &Caller,
    entity: EntityType,
    id: Uuid,
    field: &str,
    value: &Value,
) -> OpResult<()> {
    match entity {
        EntityType::Deal => {
            let patch = match field {
                "stage" => {
                    let d = records::find::<deal::Entity, _>(&db, id).await?;
                    let code = value.as_str().unwrap_or_default();
                    let stage = deal_stage_for(&db, &d, code).await?.ok_or_else(|| {
                        Error::new(
                            ErrorCode::Conflict,
                            format!("the deal's pipeline has no stage {code}"),
                        )
                    })?;
                    if stage.kind == "lost" && d.loss_reason.is_none() {
                        json!({ "stage_id": stage.id, "loss_reason": "Процесс: клиент отказался" })
                    } else {
                        json!({ "stage_id": stage.id })
                    }
                }
                "responsible" => json!({ "responsible_id": value }),
                "company" => json!({ "company_id": value }),
                "legal_entity" => json!({ "legal_entity_id": value }),
                other => json!({ other: value }),
            };
            super::deals::update_deal(db, caller, id, None, from_json(patch)?).await?;
        }
        EntityType::Lead => {
            let patch = match field {
                "responsible" => json!({ "responsible_id": value }),
                other => json!({ other: value }),
            };
            super::leads::update_lead(db, caller, id, None, from_json(patch)?).await?;
        }
        EntityType::Company => {
            let patch = match field {
                "title" => json!({ "name": value }),
                "responsible" => json!({ "responsible_id": value }),
                other => json!({ other: value }),
            };
            super::companies::update_company(db, caller, id, None, from_json(patch)?).await?;
        }
        EntityType::Contact if field == "responsible" => {
            let patch = json!({ "responsible_id": value });
            super::contacts::update_contact(db, caller, id, None, from_json(patch)?).await?;
        }
        EntityType::Contact
        | EntityType::Invoice
        | EntityType::Contract
        | EntityType::SupplierInvoice => {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "the field {field} of a {} is not set by processes",
                    entity.as_str()
                ),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Hooks called by the operations of the records

async fn templates_for<C: ConnectionTrait>(
    txn: &C,
    entity: EntityType,
    mode: StartMode,
) -> OpResult<Vec<process_template::Model>> {
    Ok(process_template::Entity::find()
        .filter(process_template::Column::EntityType.eq(entity.as_str()))
        .filter(process_template::Column::StartMode.eq(mode.as_str()))
        .filter(process_template::Column::PublishedVersionId.is_not_null())
        .filter(process_template::Column::DeletedAt.is_null())
        .order_by_asc(process_template::Column::CreatedAt)
        .all(txn)
        .await
        .map_err(StoreError::from)?)
}

/// A record was created: the entity type's default processes start on it, in the same
/// transaction, and hand out their first tasks.
pub async fn on_entity_created<
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    actor: &Actor,
    entity: EntityType,
    id: Uuid,
) -> OpResult<()> {
    let ctx = Ctx { actor, depth: 0 };
    for t in templates_for(txn, entity, StartMode::OnCreate).await? {
        start_in(txn, &ctx, &t, id, None).await?;
    }
    Ok(())
}

/// A record changed: its running processes hear what changed (a wait for a payment, a
/// field, a stage), and templates that start on such a change start. `before` is what
/// [`facts_of`] answered before the change.
pub async fn on_entity_changed<
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    actor: &Actor,
    entity: EntityType,
    id: Uuid,
    before: &EntityFacts,
) -> OpResult<()> {
    let ctx = Ctx { actor, depth: 0 };
    changed(txn, &ctx, entity, id, before).await
}

async fn changed<
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    ctx: &Ctx<'_>,
    entity: EntityType,
    id: Uuid,
    before: &EntityFacts,
) -> OpResult<()> {
    let after = facts_of(txn, entity, id).await?;
    let mut events = Vec::new();
    let mut triggers = Vec::new();
    for (field, value) in &after.fields {
        if before.fields.get(field) == Some(value) {
            continue;
        }
        events.push(EntityEvent::FieldChanged {
            field: field.clone(),
            value: value.clone(),
        });
        triggers.push(TriggerEvent::FieldChanged {
            field: field.clone(),
            value: value.clone(),
        });
        if field == "stage"
            && let FieldValue::Choice(s) = value
        {
            events.push(EntityEvent::StageEntered { stage: s.clone() });
            triggers.push(TriggerEvent::StageEntered { stage: s.clone() });
        }
        if field == "payment_percent"
            && let FieldValue::Number(p) = value
        {
            let was = match before.fields.get(field) {
                Some(FieldValue::Number(b)) => *b,
                _ => Decimal::ZERO,
            };
            if *p > was {
                events.push(EntityEvent::PaymentReceived {
                    payment_percent: *p,
                });
            }
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    let deeper = ctx.deeper()?;
    let running = process_instance::Entity::find()
        .filter(process_instance::Column::EntityType.eq(entity.as_str()))
        .filter(process_instance::Column::EntityId.eq(id))
        .filter(process_instance::Column::Status.eq(RUNNING))
        .filter(process_instance::Column::DeletedAt.is_null())
        .order_by_asc(process_instance::Column::CreatedAt)
        .all(txn)
        .await
        .map_err(StoreError::from)?;
    for inst in &running {
        for e in &events {
            feed(txn, &deeper, inst.id, Input::Entity(e.clone())).await?;
        }
    }
    for t in templates_for(txn, entity, StartMode::OnChange).await? {
        let Some(vid) = t.published_version_id else {
            continue;
        };
        let def = published_of(txn, vid).await?;
        if !triggers.iter().any(|e| def.starts_on(e)) {
            continue;
        }
        if running.iter().any(|i| i.template_id == t.id) {
            continue;
        }
        start_in(txn, &deeper, &t, id, None).await?;
    }
    Ok(())
}

/// A process task is completed through the task inbox: `None` when the task is not a
/// process's (the inbox completes it as before). The task and the engine's answer are written
/// in the caller's transaction; a refusal (a required document missing, an outcome the step
/// does not offer) is the answer and changes nothing.
pub async fn on_task_completed<
    C: ConnectionTrait + TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: &super::tasks::CompleteTask,
) -> OpResult<Option<task::Model>> {
    let (outcome, comment, file_ids) =
        (req.outcome.as_str(), req.comment.as_deref(), &req.file_ids);
    let time_spent_minutes = req.time_spent_minutes;
    let Some(t) = task::Entity::find_by_id(id)
        .one(txn)
        .await
        .map_err(StoreError::from)?
    else {
        return Ok(None);
    };
    if t.kind != TASK_KIND {
        return Ok(None);
    }
    let Some(link) = process_task::Entity::find_by_id(id)
        .one(txn)
        .await
        .map_err(StoreError::from)?
    else {
        return Ok(None);
    };
    let (t, _) = super::approvals::visible_task(txn, caller, id).await?;
    if let Some(v) = if_match
        && v != t.version
    {
        return Err(StoreError::StaleVersion {
            expected: v,
            current: t.version,
        }
        .into());
    }
    if t.state != store::TASK_OPEN && t.state != store::TASK_CLAIMED {
        return Err(Error::new(
            ErrorCode::InvalidTransition,
            format!("the task is {}", t.state),
        ));
    }
    let holds = t.assignee_user_id == Some(caller.user_id) || t.claimed_by == Some(caller.user_id);
    if t.claimed_by.is_some_and(|c| c != caller.user_id) && !caller.is_admin() {
        return Err(Error::new(
            ErrorCode::AlreadyClaimed,
            "another user has claimed this task",
        ));
    }
    if !holds && t.assignee_user_id.is_some() && !caller.is_admin() {
        return Err(Error::forbidden("only the assignee may complete this task"));
    }
    lock_row(txn, "process_instances", link.instance_id).await?;
    let inst = records::find::<process_instance::Entity, _>(txn, link.instance_id).await?;
    let state: InstanceState = serde_json::from_str(&inst.state).map_err(Error::internal)?;
    let key = TaskKey {
        step: link.step_id.clone(),
        round: link.round as u32,
        participant: link.participant as u32,
    };
    // The inbox decided who may complete the task (a deputy, a delegate, a pool member); the
    // engine hears it as its participant's completion.
    let by = state
        .steps
        .get(&key.step)
        .and_then(|s| s.tasks.iter().find(|p| p.key == key))
        .and_then(|p| match p.assignee {
            Participant::User(u) => Some(u),
            Participant::Role(_) | Participant::Pool(_) => None,
        })
        .unwrap_or(caller.user_id);
    let entity = entity_of(&inst)?;
    let documents = documents_of(txn, entity, inst.entity_id, file_ids).await?;
    let at = now();
    let mut next = t.clone();
    next.state = store::TASK_COMPLETED.into();
    next.outcome = Some(outcome.to_owned());
    next.comment = comment
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    next.completed_by = Some(caller.user_id);
    next.completed_at = Some(at);
    // The time spent, for task billing (WF-BILL-1) and the reports.
    if let Some(m) = time_spent_minutes {
        next.time_spent_minutes = Some(i32::try_from(m).unwrap_or(i32::MAX));
    }
    if next.claimed_by.is_none() && t.assignee_user_id.is_none() {
        next.claimed_by = Some(caller.user_id);
        next.claimed_at = Some(at);
    }
    let done =
        super::approvals::transition_task(txn, &caller.actor(), &t, next, "completed", comment)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Conflict,
                    "the task changed meanwhile; read it again",
                )
            })?;
    let actor = caller.actor();
    let ctx = Ctx {
        actor: &actor,
        depth: 0,
    };
    feed(
        txn,
        &ctx,
        inst.id,
        Input::TaskCompleted(TaskCompletion {
            task: key,
            by,
            outcome: outcome.to_owned(),
            comment: comment.unwrap_or_default().to_owned(),
            documents,
            filled_fields: Vec::new(),
        }),
    )
    .await?;
    Ok(Some(done))
}

// ---------------------------------------------------------------------------------------------
// Instances over the API

async fn check_entity_visible<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    entity: EntityType,
    id: Uuid,
) -> OpResult<EntityFacts> {
    let facts = match facts_of(db, entity, id).await {
        Ok(f) => f,
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(Error::field(
                "entity_id",
                "not_found",
                format!("no {} {id}", entity.as_str()),
            ));
        }
        Err(e) => return Err(e),
    };
    let scope = caller.visibility(db).await?;
    if !scope.allows(facts.responsible) {
        return Err(Error::field(
            "entity_id",
            "not_found",
            format!("no {} {id}", entity.as_str()),
        ));
    }
    Ok(facts)
}

/// Starts a published template on a record by hand.
pub async fn start_instance(
    db: Db<'_>,
    caller: &Caller,
    req: StartInstance,
) -> OpResult<InstanceView> {
    let txn = db.begin().await?;
    let t = match records::find::<process_template::Entity, _>(&txn, req.template_id).await {
        Ok(t) => t,
        Err(StoreError::NotFound) => {
            return Err(Error::field(
                "template_id",
                "not_found",
                format!("template_id {} does not exist", req.template_id),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let entity = parse_entity_type(&t.entity_type)
        .ok_or_else(|| Error::internal("a template with a bad entity type"))?;
    check_entity_visible(&txn, caller, entity, req.entity_id).await?;
    let actor = caller.actor();
    let ctx = Ctx {
        actor: &actor,
        depth: 0,
    };
    let inst = start_in(&txn, &ctx, &t, req.entity_id, None).await?;
    let inst = records::find::<process_instance::Entity, _>(&txn, inst.id).await?;
    txn.commit().await?;
    Ok(InstanceView::from(&inst))
}

async fn visible_instance<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<process_instance::Model> {
    let inst = records::find::<process_instance::Entity, _>(db, id).await?;
    if caller.is_admin() || inst.started_by == Some(caller.user_id) {
        return Ok(inst);
    }
    let entity = entity_of(&inst)?;
    let facts = facts_of(db, entity, inst.entity_id)
        .await
        .map_err(|_| Error::not_found())?;
    let scope = caller.visibility(db).await?;
    if scope.allows(facts.responsible) {
        Ok(inst)
    } else {
        Err(Error::not_found())
    }
}

pub async fn get_instance(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<InstanceView> {
    Ok(InstanceView::from(
        &visible_instance(&db, caller, id).await?,
    ))
}

/// Stops a running instance with a reason; its open tasks close and its timers go.
pub async fn cancel_instance(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: CancelInstance,
) -> OpResult<InstanceView> {
    if req.reason.trim().is_empty() {
        return Err(Error::field(
            "reason",
            "required",
            "reason must not be blank",
        ));
    }
    let txn = db.begin().await?;
    visible_instance(&txn, caller, id).await?;
    let actor = caller.actor();
    let ctx = Ctx {
        actor: &actor,
        depth: 0,
    };
    let inst = feed(
        &txn,
        &ctx,
        id,
        Input::Cancel {
            reason: req.reason.trim().to_owned(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(InstanceView::from(&inst))
}

fn instance_sorts() -> [SortKey<process_instance::Entity>; 2] {
    [
        SortKey {
            name: "created_at",
            column: process_instance::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: process_instance::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
    ]
}

/// The instances, a page at a time: of one record with `entity_type` and `entity_id`. A user
/// who is not an admin sees those of the records he may see, and those he started.
pub async fn list_instances(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: InstanceListFilter,
) -> OpResult<ListPage<InstanceView>> {
    let sorts = instance_sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut q =
        process_instance::Entity::find().filter(process_instance::Column::DeletedAt.is_null());
    if let Some(e) = f.entity_type {
        q = q.filter(process_instance::Column::EntityType.eq(EntityType::from(e).as_str()));
    }
    if let Some(id) = f.entity_id {
        q = q.filter(process_instance::Column::EntityId.eq(id));
    }
    if let Some(s) = &f.status {
        if !["running", "completed", "cancelled"].contains(&s.as_str()) {
            return Err(Error::field(
                "status",
                "invalid",
                "status is running, completed or cancelled",
            ));
        }
        q = q.filter(process_instance::Column::Status.eq(s.clone()));
    }
    if let Some(t) = f.template_id {
        q = q.filter(process_instance::Column::TemplateId.eq(t));
    }
    if let Some(t) = page.updated_since {
        q = q.filter(process_instance::Column::UpdatedAt.gte(t));
    }
    if !caller.is_admin() {
        match (f.entity_type, f.entity_id) {
            (Some(e), Some(id)) => {
                check_entity_visible(&db, caller, e.into(), id).await?;
            }
            _ => q = q.filter(process_instance::Column::StartedBy.eq(caller.user_id)),
        }
    }
    let page = fetch_page(&db, q, req, process_instance::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| InstanceView::from(m)))
}

/// WF-BP-3: the process map of an instance as JSON — every step in drawing order with its
/// state, assignees, times, due and overdue, outcome, round and cost; the edges taken; and
/// on whom it waits, since when.
pub async fn instance_map(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<Value> {
    let (def, map) = map_of(&db, caller, id).await?;
    let _ = def;
    serde_json::to_value(&map).map_err(Error::internal)
}

/// WF-BP-3, the process map as a picture: drawn from the same map as the JSON.
pub async fn instance_map_svg(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<String> {
    let (def, map) = map_of(&db, caller, id).await?;
    Ok(bp::svg::render(&def, &map))
}

/// The published definition and the map of an instance (the SVG picture is drawn from both).
pub async fn map_of<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<(PublishedDefinition, bp::ProcessMap)> {
    let inst = visible_instance(db, caller, id).await?;
    let def = published_of(db, inst.template_version_id).await?;
    let state: InstanceState = serde_json::from_str(&inst.state).map_err(Error::internal)?;
    let map = bp::map(&def, &state, now());
    Ok((def, map))
}

/// "On whom are they held up": the open process tasks with their holder and age, oldest
/// first.
pub async fn held_up(
    db: Db<'_>,
    caller: &Caller,
    f: HeldUpFilter,
) -> OpResult<ListPage<HeldUpStep>> {
    let rows = open_process_tasks(&db, f.entity_type.map(EntityType::from), f.entity_id).await?;
    let at = now();
    let mut out = Vec::new();
    for (t, link, inst) in rows {
        if !caller.is_admin() && visible_instance(&db, caller, inst.id).await.is_err() {
            continue;
        }
        out.push(HeldUpStep {
            instance_id: inst.id,
            entity_type: inst.entity_type.clone(),
            entity_id: inst.entity_id,
            template_id: inst.template_id,
            step_id: link.step_id.clone(),
            round: link.round,
            task_id: t.id,
            title: t.title.clone(),
            user_id: t.claimed_by.or(t.assignee_user_id),
            role: t.assignee_role.clone(),
            pool_id: t.assignee_pool_id,
            since: t.created_at,
            age_seconds: (at - t.created_at).num_seconds(),
            due_at: t.due_at,
            overdue: t.due_at.is_some_and(|d| d < at),
        });
    }
    out.sort_by_key(|h| h.since);
    Ok(ListPage::whole(out))
}

async fn open_process_tasks<C: ConnectionTrait>(
    db: &C,
    entity: Option<EntityType>,
    entity_id: Option<Uuid>,
) -> OpResult<Vec<(task::Model, process_task::Model, process_instance::Model)>> {
    let tasks = task::Entity::find()
        .filter(task::Column::Kind.eq(TASK_KIND))
        .filter(task::Column::State.is_in([store::TASK_OPEN, store::TASK_CLAIMED]))
        .filter(task::Column::DeletedAt.is_null())
        .order_by_asc(task::Column::CreatedAt)
        .all(db)
        .await
        .map_err(StoreError::from)?;
    let ids: Vec<Uuid> = tasks.iter().map(|t| t.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let links: BTreeMap<Uuid, process_task::Model> = process_task::Entity::find()
        .filter(process_task::Column::TaskId.is_in(ids))
        .all(db)
        .await
        .map_err(StoreError::from)?
        .into_iter()
        .map(|l| (l.task_id, l))
        .collect();
    let inst_ids: BTreeSet<Uuid> = links.values().map(|l| l.instance_id).collect();
    let mut q = process_instance::Entity::find()
        .filter(process_instance::Column::Id.is_in(inst_ids))
        .filter(process_instance::Column::Status.eq(RUNNING));
    if let Some(e) = entity {
        q = q.filter(process_instance::Column::EntityType.eq(e.as_str()));
    }
    if let Some(id) = entity_id {
        q = q.filter(process_instance::Column::EntityId.eq(id));
    }
    let instances: BTreeMap<Uuid, process_instance::Model> = q
        .all(db)
        .await
        .map_err(StoreError::from)?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    Ok(tasks
        .into_iter()
        .filter_map(|t| {
            let link = links.get(&t.id)?.clone();
            let inst = instances.get(&link.instance_id)?.clone();
            Some((t, link, inst))
        })
        .collect())
}

/// How many open process tasks each performer carries (a user, or a role or pool while
/// nobody has claimed them), most loaded first.
pub async fn workload(db: Db<'_>, caller: &Caller) -> OpResult<ListPage<PerformerLoad>> {
    let rows = open_process_tasks(&db, None, None).await?;
    let at = now();
    let mut by: BTreeMap<(String, String), PerformerLoad> = BTreeMap::new();
    for (t, _, inst) in rows {
        if !caller.is_admin() && visible_instance(&db, caller, inst.id).await.is_err() {
            continue;
        }
        let (kind, who) = match (
            t.claimed_by.or(t.assignee_user_id),
            &t.assignee_role,
            t.assignee_pool_id,
        ) {
            (Some(u), _, _) => ("user", u.to_string()),
            (None, _, Some(p)) => ("pool", p.to_string()),
            (None, Some(r), None) => ("role", r.clone()),
            (None, None, None) => continue,
        };
        let e = by
            .entry((kind.to_owned(), who.clone()))
            .or_insert_with(|| PerformerLoad {
                performer_type: kind.to_owned(),
                performer: who,
                open_tasks: 0,
                overdue_tasks: 0,
                oldest_since: t.created_at,
            });
        e.open_tasks += 1;
        if t.due_at.is_some_and(|d| d < at) {
            e.overdue_tasks += 1;
        }
        e.oldest_since = e.oldest_since.min(t.created_at);
    }
    let mut out: Vec<PerformerLoad> = by.into_values().collect();
    out.sort_by(|a, b| {
        b.open_tasks
            .cmp(&a.open_tasks)
            .then(a.oldest_since.cmp(&b.oldest_since))
    });
    Ok(ListPage::whole(out))
}

// ---------------------------------------------------------------------------------------------
// Timers

/// One pass of the timer job: claims due timers by lease and fires each in its own
/// transaction under the instance's lock. A timer is marked fired with a compare-and-set on
/// (pending, our lease) before the engine hears it, so two instances never fire one twice; the
/// engine ignores a timer its step has moved on from. Answers how many were claimed.
pub async fn fire_due_timers(
    store: &Store,
    owner: &str,
    lease: chrono::Duration,
    limit: u64,
) -> OpResult<usize> {
    const QUEUE: LeaseQueue = LeaseQueue {
        table: "process_timers",
        on_claim: ", attempts = attempts + 1",
        due: "state = 'pending' AND due_at <= $3",
        order_by: "due_at",
    };
    let claimed =
        jobs::claim::<process_timer::Entity, _>(&store.conn, &QUEUE, owner, lease, limit).await?;
    let n = claimed.len();
    for timer in claimed {
        if let Err(e) = fire_one(store, &timer, owner).await {
            tracing::warn!(timer_id = %timer.id, error = %e, "firing a process timer failed; will retry");
            process_timer::Entity::update_many()
                .col_expr(
                    process_timer::Column::LeaseOwner,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    process_timer::Column::LeaseUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(process_timer::Column::Id.eq(timer.id))
                .filter(process_timer::Column::State.eq(PENDING))
                .filter(process_timer::Column::LeaseOwner.eq(owner))
                .exec(&store.conn)
                .await
                .map_err(StoreError::from)?;
        }
    }
    Ok(n)
}

async fn fire_one(store: &Store, timer: &process_timer::Model, owner: &str) -> OpResult<()> {
    let txn = store.begin().await.map_err(StoreError::from)?;
    lock_row(&txn, "process_instances", timer.instance_id).await?;
    let res = process_timer::Entity::update_many()
        .col_expr(process_timer::Column::State, Expr::value(FIRED))
        .col_expr(process_timer::Column::FiredAt, Expr::value(Some(now())))
        .filter(process_timer::Column::Id.eq(timer.id))
        .filter(process_timer::Column::State.eq(PENDING))
        .filter(process_timer::Column::LeaseOwner.eq(owner))
        .exec(&txn)
        .await
        .map_err(StoreError::from)?;
    if res.rows_affected != 1 {
        // Taken over by another instance, or cancelled meanwhile.
        txn.rollback().await.map_err(StoreError::from)?;
        return Ok(());
    }
    let Some(purpose) = purpose_of(&timer.purpose) else {
        txn.commit().await.map_err(StoreError::from)?;
        return Ok(());
    };
    let actor = Actor::system();
    let ctx = Ctx {
        actor: &actor,
        depth: 0,
    };
    let key = TimerKey {
        step: timer.step_id.clone(),
        round: timer.round as u32,
        purpose,
    };
    match feed(&txn, &ctx, timer.instance_id, Input::TimerFired(key)).await {
        Ok(_) => {}
        // A finished instance hears nothing more; the timer is spent.
        Err(e) if e.code == ErrorCode::InvalidTransition || e.code == ErrorCode::NotFound => {}
        Err(e) => return Err(e),
    }
    txn.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// The pending timers of an instance (for the operators and the tests).
pub async fn pending_timers<C: ConnectionTrait>(
    db: &C,
    instance_id: Uuid,
) -> OpResult<Vec<process_timer::Model>> {
    Ok(process_timer::Entity::find()
        .filter(process_timer::Column::InstanceId.eq(instance_id))
        .filter(process_timer::Column::State.eq(PENDING))
        .all(db)
        .await
        .map_err(StoreError::from)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_purposes_round_trip() {
        for p in [
            TimerPurpose::Wait,
            TimerPurpose::Timeout,
            TimerPurpose::Remind,
            TimerPurpose::Escalate { repeat: 3 },
        ] {
            assert_eq!(purpose_of(&purpose_text(p)), Some(p));
        }
    }

    #[test]
    fn every_shipped_template_checks_against_its_entity_schema() {
        for (code, text) in bp::templates::SHIPPED {
            let def: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            let entity = def["entity_type"]
                .as_str()
                .and_then(parse_entity_type)
                .unwrap_or(EntityType::Deal);
            let dir = Directory {
                roles: Role::ALL.into_iter().collect(),
                fields: schema(entity),
                document_types: DOCUMENT_TYPES.iter().map(|s| (*s).to_owned()).collect(),
                ..Directory::default()
            };
            let res = bp::publish(&def, &dir);
            assert!(res.is_ok(), "{code}: {:?}", res.err());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// REP-4

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProcessReportQuery {
    /// Only this template.
    pub template_id: Option<Uuid>,
    /// An open step counts as stalled after this many hours, or as soon as it is overdue.
    /// Default 24.
    #[param(minimum = 0, maximum = 8760)]
    pub stalled_after_hours: Option<u32>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The average time a step of a template takes, over its finished rounds.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepDuration {
    pub template_id: Uuid,
    pub template_code: String,
    pub step_id: String,
    pub kind: String,
    pub finished_rounds: u64,
    pub average_seconds: i64,
}

/// WF-BP-6: what one instance cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceCost {
    pub instance_id: Uuid,
    pub template_id: Uuid,
    #[schema(value_type = EntityTypeName)]
    pub entity_type: String,
    pub entity_id: Uuid,
    pub status: String,
    #[schema(value_type = String, example = "2500.00")]
    pub cost: Money,
}

/// WF-BP-6: what the instances of a template cost together (activity-based costing).
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateCost {
    pub template_id: Uuid,
    pub template_code: String,
    pub instances: u64,
    #[schema(value_type = String, example = "125000.00")]
    pub cost: Money,
    #[schema(value_type = String, example = "2500.00")]
    pub average_cost: Money,
}

/// REP-4: stalled steps and on whom, open tasks per performer, the average duration of each
/// template step, and the cost per instance and per template.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessReport {
    pub stalled_after_hours: u32,
    pub stalled_steps: Vec<HeldUpStep>,
    pub open_tasks_per_performer: Vec<PerformerLoad>,
    pub step_durations: Vec<StepDuration>,
    pub cost_per_instance: Vec<InstanceCost>,
    pub cost_per_template: Vec<TemplateCost>,
}

/// REP-4 over every process (the report readers see all of them).
pub async fn process_report(
    db: Db<'_>,
    caller: &Caller,
    q: &ProcessReportQuery,
) -> OpResult<ProcessReport> {
    let hours = q.stalled_after_hours.unwrap_or(24);
    if hours > 8760 {
        return Err(Error::field(
            "stalled_after_hours",
            "out_of_range",
            "stalled_after_hours is 0 to 8760",
        ));
    }
    let templates: BTreeMap<Uuid, process_template::Model> = process_template::Entity::find()
        .all(&db)
        .await
        .map_err(StoreError::from)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let code = |id: Uuid| {
        templates
            .get(&id)
            .map(|t| t.code.clone())
            .unwrap_or_default()
    };
    let held = held_up(
        db,
        caller,
        HeldUpFilter {
            entity_type: None,
            entity_id: None,
        },
    )
    .await?
    .items;
    let limit = hours as i64 * 3600;
    let stalled_steps: Vec<HeldUpStep> = held
        .into_iter()
        .filter(|h| q.template_id.is_none_or(|t| t == h.template_id))
        .filter(|h| h.overdue || h.age_seconds >= limit)
        .collect();
    let open_tasks_per_performer = workload(db, caller).await?.items;

    let mut steps = process_step::Entity::find()
        .filter(process_step::Column::Status.eq("done"))
        .filter(process_step::Column::FinishedAt.is_not_null())
        .filter(process_step::Column::StartedAt.is_not_null());
    if let Some(t) = q.template_id {
        steps = steps.filter(process_step::Column::TemplateId.eq(t));
    }
    let mut durations: BTreeMap<(Uuid, String), (String, u64, i64)> = BTreeMap::new();
    for s in steps.all(&db).await.map_err(StoreError::from)? {
        let (Some(a), Some(b)) = (s.started_at, s.finished_at) else {
            continue;
        };
        let e = durations
            .entry((s.template_id, s.step_id.clone()))
            .or_insert((s.kind.clone(), 0, 0));
        e.1 += 1;
        e.2 += (b - a).num_seconds();
    }
    let step_durations = durations
        .into_iter()
        .map(|((template_id, step_id), (kind, n, total))| StepDuration {
            template_id,
            template_code: code(template_id),
            step_id,
            kind,
            finished_rounds: n,
            average_seconds: if n == 0 { 0 } else { total / n as i64 },
        })
        .collect();

    let mut instances = process_instance::Entity::find()
        .filter(process_instance::Column::DeletedAt.is_null())
        .order_by_asc(process_instance::Column::CreatedAt);
    if let Some(t) = q.template_id {
        instances = instances.filter(process_instance::Column::TemplateId.eq(t));
    }
    let instances = instances.all(&db).await.map_err(StoreError::from)?;
    let mut per_template: BTreeMap<Uuid, (u64, i64)> = BTreeMap::new();
    for i in &instances {
        let e = per_template.entry(i.template_id).or_insert((0, 0));
        e.0 += 1;
        e.1 += i.cost_minor;
    }
    let cost_per_instance = instances
        .iter()
        .map(|i| InstanceCost {
            instance_id: i.id,
            template_id: i.template_id,
            entity_type: i.entity_type.clone(),
            entity_id: i.entity_id,
            status: i.status.clone(),
            cost: Money::from_minor(i.cost_minor),
        })
        .collect();
    let cost_per_template = per_template
        .into_iter()
        .map(|(template_id, (n, total))| TemplateCost {
            template_id,
            template_code: code(template_id),
            instances: n,
            cost: Money::from_minor(total),
            average_cost: Money::from_minor(if n == 0 { 0 } else { total / n as i64 }),
        })
        .collect();
    Ok(ProcessReport {
        stalled_after_hours: hours,
        stalled_steps,
        open_tasks_per_performer,
        step_durations,
        cost_per_instance,
        cost_per_template,
    })
}
