//! INT-1C-1: which 1C catalog (`Каталог/Ид`) brought which product, so that a full load
//! (`СодержитТолькоИзменения=false`) deactivates only the products of the catalog being
//! loaded, never those of another catalog or made in the CRM.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("cml_catalog_products")
                .col(uuid("id").primary_key())
                .col(string_len("catalog_id", 255))
                .col(uuid("product_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "cml_catalog_products",
                "ux_cml_catalog_products",
                &["catalog_id", "product_id"],
            )
            .unique()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("cml_catalog_products").to_owned())
            .await
    }
}
