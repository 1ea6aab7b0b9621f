//! First start (RUN-1): the data folder, the JWT secret and the first admin.

use std::path::Path;

use sdelka_domain::email::Email;
use sdelka_domain::role::{Role, RoleSet};
use sdelka_persistence::entity::user;
use sdelka_persistence::journal::now;
use sdelka_persistence::{Actor, StoreError, people, records};
use uuid::Uuid;

use crate::auth::{hash_password, random_secret};
use crate::config::Config;
use crate::state::AppState;

/// The JWT signing secret: configured, or generated once and kept in the data folder.
pub fn jwt_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &config.jwt_secret {
        if s.expose().len() < 32 {
            anyhow::bail!("SDELKA_JWT_SECRET must be at least 32 characters");
        }
        return Ok(s.expose().as_bytes().to_vec());
    }
    let path = config.data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(existing.into_bytes());
        }
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let secret = random_secret();
    write_private(&path, &secret)?;
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(content.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, content)
    }
}

/// Creates the first admin when there are no users at all. Returns the generated password
/// when one was generated, so the caller can print it once.
pub async fn ensure_first_admin(
    state: &AppState,
) -> anyhow::Result<Option<(String, Option<String>)>> {
    let db = &state.store.conn;
    if people::user_count(db).await? > 0 {
        return Ok(None);
    }
    let email = Email::parse(&state.config.admin_email)
        .map_err(|e| anyhow::anyhow!("SDELKA_ADMIN_EMAIL is invalid: {e}"))?;
    let (password, generated) = match &state.config.admin_password {
        Some(p) => (p.expose().to_owned(), false),
        None => {
            let p = random_secret()[..20].to_owned();
            (p, true)
        }
    };
    let hash = hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let at = now();
    let txn = sdelka_persistence::db::begin_writing(db).await?;
    let created = records::create::<user::Entity, _>(
        &txn,
        &Actor::system(),
        user::Model {
            id: Uuid::now_v7(),
            email: email.as_str().to_owned(),
            name: "Administrator".into(),
            password_hash: hash,
            active: true,
            roles: RoleSet::new([Role::Admin]).to_storage(),
            department_id: None,
            supervisor_id: None,
            deputy_id: None,
            absent: false,
            email_notifications: false,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        },
        sdelka_persistence::ops::users::public,
    )
    .await;
    match created {
        Ok(_) => {
            txn.commit().await?;
            Ok(Some((
                email.as_str().to_owned(),
                generated.then_some(password),
            )))
        }
        // Another instance created it first.
        Err(StoreError::Duplicate(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
