//! m0009 on a database that already holds data (SQLite, where every table that gets a key is
//! rebuilt): every row survives, a deal's contact ids become `deal_contacts` rows, an id that
//! names no contact is dropped, and the new keys hold for rows written afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sdelka_migrations::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DbBackend, Statement, Value,
};

const USER: &str = "01930000-0000-7000-8000-0000000000aa";
const CONTACT: &str = "01930000-0000-7000-8000-0000000000cc";
const GHOST: &str = "01930000-0000-7000-8000-0000000000ff";
const DEAL: &str = "01930000-0000-7000-8000-0000000000dd";
const PIPELINE: &str = "01930000-0000-7000-8000-00005a1e0001";
const STAGE: &str = "01930000-0000-7000-8000-00005a1e0101";

async fn count(db: &impl ConnectionTrait, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

#[tokio::test]
async fn existing_rows_survive_and_deal_contacts_become_links() {
    let dir = std::env::temp_dir().join(format!("sdelka-m0009-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    let _ = std::fs::remove_file(&path);
    // One connection, as the service runs SQLite: the migration switches key checks off and on
    // around its transaction on that connection.
    let mut opts = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let db = Database::connect(opts).await.unwrap();
    db.execute_unprepared("PRAGMA foreign_keys = ON")
        .await
        .unwrap();
    Migrator::up(&db, Some(8)).await.unwrap();

    let id = |s: &str| uuid::Uuid::parse_str(s).unwrap();
    let now = chrono_now();
    let exec = |sql: &'static str, values: Vec<Value>| {
        let db = &db;
        async move {
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await
        }
    };
    exec(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) \
         VALUES (?1, 'm@example.com', 'M', 'x', ?2, ?2)",
        vec![id(USER).into(), now.clone()],
    )
    .await
    .unwrap();
    exec(
        "INSERT INTO contacts (id, last_name, phones, emails, messengers, responsible_id, \
         external_ids, phone_index, email_index, search_text, created_at, updated_at) \
         VALUES (?1, 'Иванов', '[]', '[]', '[]', ?2, '[]', '', '', 'иванов', ?3, ?3)",
        vec![id(CONTACT).into(), id(USER).into(), now.clone()],
    )
    .await
    .unwrap();
    // A deal naming a real contact and one that never existed (references were not checked
    // before m0009), and a company that does not exist.
    exec(
        "INSERT INTO deals (id, title, search_text, pipeline_id, stage_id, stage_changed_at, \
         company_id, contact_ids, responsible_id, currency, amount_minor, close_date_sort, \
         invoice_numbers, created_at, updated_at) \
         VALUES (?1, 'Лифты', 'лифты', ?2, ?3, ?4, ?5, ?6, ?7, 'RUB', 12345, '9999-12-31', '[]', \
         ?4, ?4)",
        vec![
            id(DEAL).into(),
            id(PIPELINE).into(),
            id(STAGE).into(),
            now.clone(),
            id("01930000-0000-7000-8000-0000000000ee").into(),
            format!("[\"{CONTACT}\",\"{GHOST}\"]").into(),
            id(USER).into(),
        ],
    )
    .await
    .unwrap();

    Migrator::up(&db, None).await.unwrap();

    assert_eq!(count(&db, "SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM contacts").await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM deals WHERE amount_minor = 12345 AND title = 'Лифты'"
        )
        .await,
        1,
        "the deal and its columns survive the rebuild"
    );
    assert_eq!(
        db.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT count(*) AS n FROM deal_contacts WHERE deal_id = ?1 AND contact_id = ?2 \
             AND position = 0",
            [id(DEAL).into(), id(CONTACT).into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap(),
        1
    );
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM deal_contacts").await,
        1
    );
    let columns = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA table_info(deals)",
        ))
        .await
        .unwrap();
    assert!(
        !columns
            .iter()
            .any(|c| c.try_get::<String>("", "name").unwrap() == "contact_ids"),
        "contact_ids is gone"
    );
    // The indexes of a rebuilt table are back.
    assert!(
        count(
            &db,
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deals' \
             AND sql IS NOT NULL"
        )
        .await
            > 0
    );
    // The new keys hold for what is written now.
    let refused = exec(
        "UPDATE deals SET company_id = ?1 WHERE id = ?2",
        vec![
            id("01930000-0000-7000-8000-0000000000ef").into(),
            id(DEAL).into(),
        ],
    )
    .await;
    assert!(refused.is_err(), "a deal's company must exist now");
    let refused = exec(
        "INSERT INTO deal_contacts (deal_id, contact_id, position) VALUES (?1, ?2, 1)",
        vec![id(DEAL).into(), id(GHOST).into()],
    )
    .await;
    assert!(refused.is_err(), "a deal's contact must exist");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A timestamp as the service stores it.
fn chrono_now() -> Value {
    Value::from(
        sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc::from(std::time::SystemTime::now()),
    )
}
