use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

/// Which engine is behind the connection; a few statements (row locks) differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The connection pool and what it is connected to.
#[derive(Clone, Debug)]
pub struct Store {
    pub conn: DatabaseConnection,
    pub backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`).
    ///
    /// SQLite runs in WAL mode with a busy timeout and a single pooled connection: SQLite has
    /// one writer anyway, and one connection means transactions queue in the pool instead of
    /// failing with `SQLITE_BUSY` when two of them try to upgrade their locks at once.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, DbErr> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        let backend = if url.starts_with("sqlite:") {
            opts.max_connections(1).min_connections(1);
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .create_if_missing(true)
            });
            Backend::Sqlite
        } else {
            opts.max_connections(max_connections).min_connections(1);
            Backend::Postgres
        };
        let conn = Database::connect(opts).await?;
        Ok(Store { conn, backend })
    }

    /// Applies pending migrations. Safe to call from several instances at once on PostgreSQL:
    /// an advisory lock makes the others wait.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        match self.backend {
            Backend::Postgres => {
                // An advisory lock belongs to one session: taken and released through the pool
                // the two statements may land on different connections, leaving the lock held
                // by an idle pooled connection and every other instance waiting for ever. So
                // the lock lives on a connection of its own, outside the pool.
                use sea_orm::sqlx::{self, Connection};
                let lock_err = |e: sqlx::Error| DbErr::Custom(format!("migration lock: {e}"));
                let options = self.conn.get_postgres_connection_pool().connect_options();
                let mut lock = sqlx::PgConnection::connect_with(&options)
                    .await
                    .map_err(lock_err)?;
                sqlx::query("SELECT pg_advisory_lock(726172)")
                    .execute(&mut lock)
                    .await
                    .map_err(lock_err)?;
                let result = sdelka_migrations::Migrator::up(&self.conn, None).await;
                // Closing the session releases the lock even if the unlock fails.
                let _ = sqlx::query("SELECT pg_advisory_unlock(726172)")
                    .execute(&mut lock)
                    .await;
                let _ = lock.close().await;
                result
            }
            Backend::Sqlite => sdelka_migrations::Migrator::up(&self.conn, None).await,
        }
    }

    /// Opens a transaction for work that may write.
    ///
    /// On SQLite the transaction takes the write lock at `BEGIN` (`BEGIN IMMEDIATE`). A
    /// deferred transaction that reads first and writes later cannot wait for the lock when
    /// another connection — a second server instance on the same file, or the CLI — has
    /// committed in between: SQLite answers `SQLITE_BUSY` at once instead of honouring the
    /// busy timeout, because the reader's snapshot is already stale. Taking the lock up front
    /// turns that into an ordinary wait. PostgreSQL ignores the option.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_writing(&self.conn).await
    }

    /// Readiness probe: one round trip to the database.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    pub fn db_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }
}

/// [`Store::begin`] for code that holds only the connection.
pub async fn begin_writing(conn: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    conn.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
