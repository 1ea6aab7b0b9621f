use sea_orm::entity::prelude::*;

/// A webhook subscription (INT-1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: String,
    pub skip_own_credential: bool,
    pub active: bool,
    pub secret: String,
    pub owner_id: Uuid,
    pub api_token_id: Option<Uuid>,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
