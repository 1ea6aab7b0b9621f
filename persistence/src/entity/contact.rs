use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub last_name: String,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub position: Option<String>,
    /// Digits in international form, e.g. `["74951234567"]`.
    pub phones: Json,
    /// Lower-cased addresses.
    pub emails: Json,
    /// `[{"kind": "telegram", "address": "@ivanov"}]`.
    pub messengers: Json,
    pub postal_address: Option<String>,
    /// `email`, `phone`, `messenger` or `post`.
    pub preferred_channel: Option<String>,
    pub preferred_address: Option<String>,
    pub responsible_id: Uuid,
    pub external_ids: Json,
    /// `|74951234567|…|`, for the `phone` filter and duplicate warnings.
    #[serde(skip_serializing)]
    pub phone_index: String,
    /// `|ivan@example.ru|…|`.
    #[serde(skip_serializing)]
    pub email_index: String,
    /// Lower-cased full name.
    #[serde(skip_serializing)]
    pub search_text: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
