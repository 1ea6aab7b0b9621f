//! INT-1C-2: a large bank statement runs as a job with progress, like a CSV import. The
//! statement row carries its state (`queued`, `running`, `completed`, `failed`), how many of
//! its documents are done, the file until it is (base64), and the lease of the runner that
//! holds it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for col in [
            string("state").default("completed").to_owned(),
            integer("processed_documents").default(0).to_owned(),
            text_null("content").to_owned(),
            text_null("error").to_owned(),
            string_null("lease_owner").to_owned(),
            timestamp_with_time_zone_null("lease_until").to_owned(),
            timestamp_with_time_zone_null("finished_at").to_owned(),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table("bank_statements")
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            "finished_at",
            "lease_until",
            "lease_owner",
            "error",
            "content",
            "processed_documents",
            "state",
        ] {
            m.alter_table(
                Table::alter()
                    .table("bank_statements")
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
