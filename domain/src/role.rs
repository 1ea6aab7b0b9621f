//! Roles of ORG-2. A user may hold several; permissions are checked against the set.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    /// A decision maker: approves, sees his department's records.
    Head,
    SalesManager,
    Accountant,
    PurchasingManager,
    Lawyer,
    Signer,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Head,
        Role::SalesManager,
        Role::Accountant,
        Role::PurchasingManager,
        Role::Lawyer,
        Role::Signer,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl crate::validation::RuleBroken for UnknownRole {
    fn code(&self) -> &'static str {
        "unknown_role"
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// The roles a principal acts with. Ordered so that its stored form is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        Self(roles.into_iter().collect())
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// Roles held by both sets: an API token never acts with more than its owner has now.
    pub fn intersection(&self, other: &RoleSet) -> RoleSet {
        RoleSet(self.0.intersection(&other.0).copied().collect())
    }

    pub fn is_subset(&self, other: &RoleSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Comma-separated storage form, e.g. `admin,head`.
    pub fn to_storage(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the storage form; unknown names (from a newer version) are skipped, never
    /// granted.
    pub fn from_storage(s: &str) -> RoleSet {
        RoleSet(
            s.split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.parse().ok())
                .collect(),
        )
    }

    pub fn to_vec(&self) -> Vec<Role> {
        self.0.iter().copied().collect()
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<T: IntoIterator<Item = Role>>(iter: T) -> Self {
        RoleSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn storage_round_trips(mask in 0u8..128) {
            let set: RoleSet = Role::ALL.into_iter().enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0).map(|(_, r)| r).collect();
            prop_assert_eq!(RoleSet::from_storage(&set.to_storage()), set);
        }
    }

    #[test]
    fn unknown_role_is_refused() {
        assert!("superuser".parse::<Role>().is_err());
        assert_eq!("sales_manager".parse::<Role>(), Ok(Role::SalesManager));
    }
}
