//! Admin commands at a shell: `sdelka user create`, `sdelka token create`.

use clap::Subcommand;
use sdelka_domain::email::Email;
use sdelka_domain::role::{Role, RoleSet};
use sdelka_persistence::credentials::{self, NewApiToken};
use sdelka_persistence::ops::dto::RoleName;
use sdelka_persistence::ops::users::{self as ops, CreateUser};
use sdelka_persistence::people;

use crate::auth::{API_TOKEN_PREFIX, random_secret};
use crate::config::Config;
use crate::server::build_state;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; a welcome email is queued as when an admin creates one over the API.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Initial password (8+ characters); generated and printed when omitted.
        #[arg(long, env = "SDELKA_NEW_USER_PASSWORD")]
        password: Option<String>,
        /// Comma-separated roles, e.g. `sales_manager,head`.
        #[arg(long, default_value = "")]
        roles: String,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a personal API token for a user and print its secret once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Comma-separated roles to limit the token to; default: all of the user's roles.
        #[arg(long)]
        roles: Option<String>,
    },
}

fn parse_roles(s: &str) -> anyhow::Result<RoleSet> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.parse::<Role>().map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

pub async fn user(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let state = build_state(config).await?;
    match cmd {
        UserCommand::Create {
            email,
            name,
            password,
            roles,
        } => {
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            let roles = parse_roles(&roles)?;
            if password.as_ref().is_some_and(|p| p.len() < 8) {
                anyhow::bail!("--password must be at least 8 characters");
            }
            let generated = password.is_none();
            let password = password.unwrap_or_else(|| random_secret()[..20].to_owned());
            let u = ops::create_user(
                state.db(),
                None,
                &state,
                &state.config.public_url,
                CreateUser {
                    email: email.as_str().to_owned(),
                    name,
                    password: Some(password.clone()),
                    roles: roles.iter().map(RoleName::from).collect(),
                    department_id: None,
                    supervisor_id: None,
                    deputy_id: None,
                    email_notifications: None,
                },
            )
            .await?;
            println!("user {} created: {}", u.id, u.email);
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
    }
}

pub async fn token(config: Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let state = build_state(config).await?;
    match cmd {
        TokenCommand::Create { email, name, roles } => {
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            let Some(u) = people::find_user_by_email(&state.store.conn, email.as_str()).await?
            else {
                anyhow::bail!("no user with email {}", email.as_str());
            };
            let held = RoleSet::from_storage(&u.roles);
            let roles = match roles {
                Some(r) => parse_roles(&r)?,
                None => held.clone(),
            };
            if !roles.is_subset(&held) {
                anyhow::bail!("the user does not hold all of these roles");
            }
            let secret = format!("{API_TOKEN_PREFIX}{}", random_secret());
            let t = credentials::insert_api_token(
                &state.store.conn,
                NewApiToken {
                    user_id: u.id,
                    name: &name,
                    secret: &secret,
                    roles: roles.to_storage(),
                    expires_at: None,
                },
            )
            .await?;
            println!("token {} created for {}", t.id, u.email);
            println!("{secret}");
            Ok(())
        }
    }
}
