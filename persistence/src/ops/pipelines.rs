//! `/pipelines`: sales pipelines and their ordered stages (DEAL-1). Everyone reads them;
//! configuring them is for admins. The default pipeline "Продажи" comes with the schema.

use crate::entity::{pipeline, pipeline_stage};
use crate::journal::now;
use crate::pagination::fetch_page;
use crate::pagination::{CursorValue, SortKey};
use crate::records;
use crate::sales::{deals_in_pipeline, deals_in_stage, pipelines_query, stages_of};
use chrono::{DateTime, Utc};
use sdelka_domain::deal::StageKind;
use sdelka_domain::validation::{FieldViolation, Violations};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};

/// What a stage means: `open` (in work), `won`, `lost` (needs a loss reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageKindName {
    Open,
    Won,
    Lost,
}

impl From<StageKindName> for StageKind {
    fn from(k: StageKindName) -> StageKind {
        match k {
            StageKindName::Open => StageKind::Open,
            StageKindName::Won => StageKind::Won,
            StageKindName::Lost => StageKind::Lost,
        }
    }
}

impl From<StageKind> for StageKindName {
    fn from(k: StageKind) -> StageKindName {
        match k {
            StageKind::Open => StageKindName::Open,
            StageKind::Won => StageKindName::Won,
            StageKind::Lost => StageKindName::Lost,
        }
    }
}

/// The kind of a stored stage, for views and filters; decisions read it with [`stored_kind`].
pub fn kind_of(s: &pipeline_stage::Model) -> StageKind {
    StageKind::parse(&s.kind).unwrap_or(StageKind::Open)
}

/// The kind of a stored stage; the schema only ever stores the three kinds, so another value
/// is a broken record.
pub fn stored_kind(s: &pipeline_stage::Model) -> OpResult<StageKind> {
    super::workflow::stored("pipeline stage", "kind", s.id, &s.kind)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageView {
    pub id: Uuid,
    #[schema(example = "В работе")]
    pub name: String,
    pub kind: StageKindName,
    /// Position in the pipeline (ascending).
    pub sort: i32,
    pub version: i32,
}

impl From<&pipeline_stage::Model> for StageView {
    fn from(s: &pipeline_stage::Model) -> Self {
        StageView {
            id: s.id,
            name: s.name.clone(),
            kind: kind_of(s).into(),
            sort: s.sort,
            version: s.version,
        }
    }
}

/// A pipeline with its stages in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineView {
    pub id: Uuid,
    #[schema(example = "Продажи")]
    pub name: String,
    pub sort: i32,
    /// Deals created without `pipeline_id` go to the default pipeline.
    pub is_default: bool,
    pub stages: Vec<StageView>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PipelineView {
    pub fn new(p: &pipeline::Model, stages: &[pipeline_stage::Model]) -> Self {
        PipelineView {
            id: p.id,
            name: p.name.clone(),
            sort: p.sort,
            is_default: p.is_default,
            stages: stages
                .iter()
                .filter(|s| s.pipeline_id == p.id)
                .map(StageView::from)
                .collect(),
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStage {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    #[schema(example = "Переговоры")]
    pub name: String,
    pub kind: StageKindName,
    /// Position; default: after the stages before it in the request (10, 20, …), or after the
    /// last stage when added to an existing pipeline.
    #[validate(range(min = 0, max = 1_000_000_000, message = "sort is 0 to 1000000000"))]
    pub sort: Option<i32>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePipeline {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    #[schema(example = "Холодный обзвон УК")]
    pub name: String,
    #[validate(range(min = 0, max = 1_000_000_000, message = "sort is 0 to 1000000000"))]
    pub sort: Option<i32>,
    /// At least one stage of kind `open`: new deals start in the first one.
    #[validate(length(min = 1, max = 50), nested)]
    pub stages: Vec<NewStage>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipeline {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    pub name: Option<String>,
    #[validate(range(min = 0, max = 1_000_000_000, message = "sort is 0 to 1000000000"))]
    pub sort: Option<i32>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStage {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    pub name: Option<String>,
    pub kind: Option<StageKindName>,
    #[validate(range(min = 0, max = 1_000_000_000, message = "sort is 0 to 1000000000"))]
    pub sort: Option<i32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StagePath {
    /// Pipeline id.
    pub id: Uuid,
    /// Stage id.
    pub stage_id: Uuid,
}

pub fn sorts() -> [SortKey<pipeline::Entity>; 3] {
    [
        SortKey {
            name: "sort",
            column: pipeline::Column::Sort,
            key: |m| CursorValue::Int(m.sort.into()),
        },
        SortKey {
            name: "created_at",
            column: pipeline::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: pipeline::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
    ]
}

pub fn stage_model(
    pipeline_id: Uuid,
    name: &str,
    kind: StageKind,
    sort: i32,
) -> pipeline_stage::Model {
    let at = now();
    pipeline_stage::Model {
        id: Uuid::now_v7(),
        pipeline_id,
        name: name.trim().to_owned(),
        kind: kind.as_str().to_owned(),
        sort,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    }
}

pub fn no_open_stage(field: &str) -> Error {
    Error::field(
        field,
        "open_stage_required",
        "a pipeline needs at least one stage of kind `open`: new deals start there",
    )
}

pub async fn pipeline_with_stages<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> OpResult<(pipeline::Model, Vec<pipeline_stage::Model>)> {
    let p = records::find::<pipeline::Entity, _>(db, id).await?;
    let stages = stages_of(db, &[id]).await?;
    Ok((p, stages))
}

// ---------------------------------------------------------------------------------------------
// Operations

fn stage_public(s: &pipeline_stage::Model) -> serde_json::Value {
    present(&StageView::from(s))
}

/// Pipelines with their stages, a page at a time.
pub async fn list_pipelines(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
) -> OpResult<ListPage<PipelineView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "sort")?;
    let query = pipelines_query(page.updated_since);
    let page = fetch_page(&db, query, req, pipeline::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
    let stages = stages_of(&db, &ids).await?;
    Ok(ListPage::of(page, |p| PipelineView::new(p, &stages)))
}

/// Creates a pipeline with its stages; at least one stage must be `open`.
pub async fn create_pipeline(
    db: Db<'_>,
    caller: &Caller,
    req: CreatePipeline,
) -> OpResult<PipelineView> {
    let mut v = Violations::new();
    if req.name.trim().is_empty() {
        v.push(FieldViolation::new(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    for (i, s) in req.stages.iter().enumerate() {
        if s.name.trim().is_empty() {
            v.push(FieldViolation::new(
                format!("stages[{i}].name"),
                "required",
                "name must not be blank",
            ));
        }
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    if !req.stages.iter().any(|s| s.kind == StageKindName::Open) {
        return Err(no_open_stage("stages"));
    }
    let at = now();
    let model = pipeline::Model {
        id: Uuid::now_v7(),
        name: req.name.trim().to_owned(),
        sort: req.sort.unwrap_or(0),
        is_default: false,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let stages: Vec<pipeline_stage::Model> = req
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let sort = s.sort.unwrap_or((i as i32 + 1) * 10);
            stage_model(model.id, &s.name, s.kind.into(), sort)
        })
        .collect();
    let mut sorted = stages.clone();
    sorted.sort_by_key(|s| (s.sort, s.id));
    let actor = caller.actor();
    let txn = db.begin().await?;
    let saved = records::create::<pipeline::Entity, _>(&txn, &actor, model, |p| {
        present(&PipelineView::new(p, &sorted))
    })
    .await?;
    for s in &stages {
        records::create::<pipeline_stage::Entity, _>(&txn, &actor, s.clone(), stage_public).await?;
    }
    txn.commit().await?;
    Ok(PipelineView::new(&saved, &sorted))
}

/// One pipeline with its stages.
pub async fn get_pipeline(db: Db<'_>, _caller: &Caller, id: Uuid) -> OpResult<PipelineView> {
    let (p, stages) = pipeline_with_stages(&db, id).await?;
    Ok(PipelineView::new(&p, &stages))
}

/// Renames or reorders a pipeline.
pub async fn update_pipeline(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdatePipeline,
) -> OpResult<PipelineView> {
    let txn = db.begin().await?;
    let stages = stages_of(&txn, &[id]).await?;
    let updated = records::update::<pipeline::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |p| {
            if let Some(n) = &req.name {
                if n.trim().is_empty() {
                    return Err(Error::field("name", "required", "name must not be blank"));
                }
                p.name = n.trim().to_owned();
            }
            if let Some(s) = req.sort {
                p.sort = s;
            }
            Ok(())
        },
        |p| present(&PipelineView::new(p, &stages)),
    )
    .await??;
    txn.commit().await?;
    Ok(PipelineView::new(&updated, &stages))
}

/// Deletes a pipeline and its stages; refused for the default pipeline and while deals are in
/// it.
pub async fn delete_pipeline(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let actor = caller.actor();
    let txn = db.begin().await?;
    let (p, stages) = pipeline_with_stages(&txn, id).await?;
    if p.is_default {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the default pipeline cannot be deleted",
        ));
    }
    let in_use = deals_in_pipeline(&txn, id).await?;
    if in_use > 0 {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("{in_use} deal(s) are in this pipeline; move or delete them first"),
        ));
    }
    records::soft_delete::<pipeline::Entity, _>(&txn, &actor, id, if_match, |p| {
        present(&PipelineView::new(p, &stages))
    })
    .await?;
    for s in &stages {
        records::soft_delete::<pipeline_stage::Entity, _>(&txn, &actor, s.id, None, stage_public)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// A pipeline with a stage added, and the new stage's id.
pub struct StageAdded {
    pub stage_id: Uuid,
    pub pipeline: PipelineView,
}

/// Adds a stage to a pipeline (at the end unless `sort` is given).
pub async fn add_stage(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: NewStage,
) -> OpResult<StageAdded> {
    if req.name.trim().is_empty() {
        return Err(Error::field("name", "required", "name must not be blank"));
    }
    let txn = db.begin().await?;
    let (p, existing) = pipeline_with_stages(&txn, id).await?;
    let sort = req.sort.unwrap_or_else(|| {
        existing
            .iter()
            .map(|s| s.sort)
            .max()
            .unwrap_or(0)
            .saturating_add(10)
    });
    let stage = stage_model(id, &req.name, req.kind.into(), sort);
    let stage_id = stage.id;
    records::create::<pipeline_stage::Entity, _>(&txn, &caller.actor(), stage, stage_public)
        .await?;
    let stages = stages_of(&txn, &[id]).await?;
    txn.commit().await?;
    Ok(StageAdded {
        stage_id,
        pipeline: PipelineView::new(&p, &stages),
    })
}

/// Renames, re-kinds or moves a stage; a pipeline keeps at least one `open` stage.
pub async fn update_stage(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    stage_id: Uuid,
    if_match: Option<i32>,
    req: UpdateStage,
) -> OpResult<PipelineView> {
    let txn = db.begin().await?;
    let (p, existing) = pipeline_with_stages(&txn, id).await?;
    if !existing.iter().any(|s| s.id == stage_id) {
        return Err(Error::not_found());
    }
    if let Some(kind) = req.kind
        && kind != StageKindName::Open
        && !existing
            .iter()
            .any(|s| s.id != stage_id && kind_of(s) == StageKind::Open)
    {
        return Err(no_open_stage("kind"));
    }
    records::update::<pipeline_stage::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        stage_id,
        if_match,
        |s| {
            if let Some(n) = &req.name {
                if n.trim().is_empty() {
                    return Err(Error::field("name", "required", "name must not be blank"));
                }
                s.name = n.trim().to_owned();
            }
            if let Some(k) = req.kind {
                s.kind = StageKind::from(k).as_str().to_owned();
            }
            if let Some(o) = req.sort {
                s.sort = o;
            }
            Ok(())
        },
        stage_public,
    )
    .await??;
    let stages = stages_of(&txn, &[id]).await?;
    txn.commit().await?;
    Ok(PipelineView::new(&p, &stages))
}

/// Deletes a stage; refused while deals stand in it or when it is the last `open` one.
pub async fn delete_stage(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    stage_id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let (_, existing) = pipeline_with_stages(&txn, id).await?;
    let Some(stage) = existing.iter().find(|s| s.id == stage_id) else {
        return Err(Error::not_found());
    };
    let in_use = deals_in_stage(&txn, stage_id).await?;
    if in_use > 0 {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("{in_use} deal(s) are in this stage; move them to another stage first"),
        ));
    }
    if stored_kind(stage)? == StageKind::Open
        && !existing
            .iter()
            .any(|s| s.id != stage_id && kind_of(s) == StageKind::Open)
    {
        return Err(Error::new(
            ErrorCode::Conflict,
            "this is the pipeline's last open stage; new deals would have nowhere to start",
        ));
    }
    records::soft_delete::<pipeline_stage::Entity, _>(
        &txn,
        &caller.actor(),
        stage_id,
        if_match,
        stage_public,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
