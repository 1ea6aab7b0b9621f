use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub title: String,
    pub source: String,
    pub status: String,
    pub category: Option<String>,
    pub potential_amount_minor: Option<i64>,
    pub currency: String,
    pub probability: Option<i32>,
    pub responsible_id: Uuid,
    pub company_name: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub inn: Option<String>,
    pub address: Option<String>,
    pub comment: Option<String>,
    pub external_id: Option<String>,
    #[serde(skip_serializing)]
    pub import_key: Option<String>,
    pub import_id: Option<Uuid>,
    pub converted_at: Option<DateTimeUtc>,
    pub converted_contact_id: Option<Uuid>,
    pub converted_company_id: Option<Uuid>,
    pub converted_deal_id: Option<Uuid>,
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
