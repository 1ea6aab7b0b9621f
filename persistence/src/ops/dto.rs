//! Wire types shared by several route families.

use sdelka_domain::role::Role;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A role of ORG-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Admin,
    Head,
    SalesManager,
    Accountant,
    PurchasingManager,
    Lawyer,
    Signer,
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Role {
        match r {
            RoleName::Admin => Role::Admin,
            RoleName::Head => Role::Head,
            RoleName::SalesManager => Role::SalesManager,
            RoleName::Accountant => Role::Accountant,
            RoleName::PurchasingManager => Role::PurchasingManager,
            RoleName::Lawyer => Role::Lawyer,
            RoleName::Signer => Role::Signer,
        }
    }
}

impl From<Role> for RoleName {
    fn from(r: Role) -> RoleName {
        match r {
            Role::Admin => RoleName::Admin,
            Role::Head => RoleName::Head,
            Role::SalesManager => RoleName::SalesManager,
            Role::Accountant => RoleName::Accountant,
            Role::PurchasingManager => RoleName::PurchasingManager,
            Role::Lawyer => RoleName::Lawyer,
            Role::Signer => RoleName::Signer,
        }
    }
}

/// For PATCH fields that may be set to `null`: absent = keep, `null` = clear, value = set.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
