//! `q=` on SQLite through an index. Each table whose lists take `q` (those of
//! `m0011_list_indexes::SEARCHED`) gets an FTS5 table with the `trigram` tokenizer over its
//! already lower-cased `search_text`, kept by triggers, so a search for a substring of three or
//! more characters looks up candidates instead of scanning every row (PostgreSQL has had its
//! `pg_trgm` indexes since m0011). The index only narrows: the list query keeps its `LIKE`,
//! so what `q` finds is the same on both backends, and a shorter `q` is a plain scan.
//!
//! The FTS rows name their record by `hex(id)` (an indexed column, so that a trigger finds the
//! row of an updated or deleted record through the index); no reliance on `rowid`, which
//! `VACUUM` may renumber in tables without an integer primary key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m0011_list_indexes::SEARCHED;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn statements(t: &str) -> [String; 5] {
    let by_old_id = format!("\"{t}_fts\" MATCH 'id : \"' || hex(old.id) || '\"'");
    [
        format!(
            "CREATE VIRTUAL TABLE \"{t}_fts\" USING fts5(id, search_text, \
             tokenize = 'trigram case_sensitive 1')"
        ),
        format!(
            "INSERT INTO \"{t}_fts\" (id, search_text) SELECT hex(id), search_text FROM \"{t}\""
        ),
        format!(
            "CREATE TRIGGER \"{t}_fts_insert\" AFTER INSERT ON \"{t}\" BEGIN \
             INSERT INTO \"{t}_fts\" (id, search_text) VALUES (hex(new.id), new.search_text); END"
        ),
        format!(
            "CREATE TRIGGER \"{t}_fts_update\" AFTER UPDATE OF search_text ON \"{t}\" \
             WHEN old.search_text IS NOT new.search_text BEGIN \
             DELETE FROM \"{t}_fts\" WHERE {by_old_id}; \
             INSERT INTO \"{t}_fts\" (id, search_text) VALUES (hex(new.id), new.search_text); END"
        ),
        format!(
            "CREATE TRIGGER \"{t}_fts_delete\" AFTER DELETE ON \"{t}\" BEGIN \
             DELETE FROM \"{t}_fts\" WHERE {by_old_id}; END"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        for table in SEARCHED {
            for sql in statements(table) {
                db.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        for t in SEARCHED {
            for what in ["insert", "update", "delete"] {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS \"{t}_fts_{what}\""))
                    .await?;
            }
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS \"{t}_fts\""))
                .await?;
        }
        Ok(())
    }
}
