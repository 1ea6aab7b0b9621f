//! `/pipelines`: sales pipelines and their ordered stages (DEAL-1). Everyone reads them;
//! configuring them is for admins. The default pipeline "Продажи" comes with the schema.

use crate::entity::{pipeline, pipeline_stage};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey};
use crate::records;
use crate::sales::stages_of;
use chrono::{DateTime, Utc};
use sdelka_domain::deal::StageKind;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{Error, OpResult};

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

/// The kind of a stored stage; the schema only ever stores the three kinds.
pub fn kind_of(s: &pipeline_stage::Model) -> StageKind {
    StageKind::parse(&s.kind).unwrap_or(StageKind::Open)
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
