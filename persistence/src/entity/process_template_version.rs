use sea_orm::entity::prelude::*;

/// WF-BP-4: one version of a template; a draft is edited, a published one is frozen.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "process_template_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub template_id: Uuid,
    pub number: i32,
    /// `draft` or `published`.
    pub state: String,
    /// The definition JSON as written.
    pub definition: String,
    /// The frozen form (definition and field schema) of a published version.
    pub stored: Option<String>,
    pub published_at: Option<DateTimeUtc>,
    pub published_by: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
