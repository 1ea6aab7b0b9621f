//! Russian counterparty requisites (SPEC REQ-1): INN, KPP, OGRN/OGRNIP, BIK and bank accounts.
//!
//! Every type here is valid by construction: the only way to get one is `parse`, which checks
//! length, alphabet and the check digit (or the account control key). A value that exists is a
//! value that passed; nothing downstream re-validates.
//!
//! Input is trimmed of leading and trailing whitespace (people paste requisites from PDFs and
//! e-mails); whitespace *inside* a value is refused, because `7707 083893` may as well be two
//! typed-in fragments and silently gluing them together would hide a mistake.
//!
//! Failures are [`RequisiteError`]s: [`RequisiteError::code`] is a stable snake_case code for
//! machines, `to_string()` says in words which check failed, and [`RequisiteError::kind`] tells
//! which requisite it was — together they make the `{field, code, message}` of a 422 response.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

/// Which requisite a value or an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequisiteKind {
    /// ИНН, taxpayer identification number.
    Inn,
    /// КПП, tax registration reason code.
    Kpp,
    /// ОГРН, primary state registration number of a legal entity (13 digits).
    Ogrn,
    /// ОГРНИП, primary state registration number of an individual entrepreneur (15 digits).
    Ogrnip,
    /// Either OGRN or OGRNIP, told apart by length ([`Ogrn::parse`]).
    OgrnOrOgrnip,
    /// БИК, bank identification code.
    Bik,
    /// Расчётный счёт, the client's account at its bank.
    SettlementAccount,
    /// Корреспондентский счёт, the bank's account at the Bank of Russia.
    CorrespondentAccount,
}

impl RequisiteKind {
    /// A stable snake_case name, usable as a default field name in API errors.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inn => "inn",
            Self::Kpp => "kpp",
            Self::Ogrn => "ogrn",
            Self::Ogrnip => "ogrnip",
            Self::OgrnOrOgrnip => "ogrn_or_ogrnip",
            Self::Bik => "bik",
            Self::SettlementAccount => "settlement_account",
            Self::CorrespondentAccount => "correspondent_account",
        }
    }

    /// The human name used at the start of error messages.
    const fn label(self) -> &'static str {
        match self {
            Self::Inn => "INN",
            Self::Kpp => "KPP",
            Self::Ogrn => "OGRN",
            Self::Ogrnip => "OGRNIP",
            Self::OgrnOrOgrnip => "OGRN/OGRNIP",
            Self::Bik => "BIK",
            Self::SettlementAccount => "settlement account",
            Self::CorrespondentAccount => "correspondent account",
        }
    }
}

impl fmt::Display for RequisiteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a requisite was refused.
///
/// Each variant is one check; [`code`](Self::code) is the stable machine code, the `Display`
/// text names the requisite and the check (positions are 1-based, as a person counts them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequisiteError {
    /// Nothing but whitespace was given.
    #[error("{kind} is empty")]
    Empty {
        /// The requisite concerned.
        kind: RequisiteKind,
    },
    /// The value has the wrong number of characters.
    #[error("{kind} must be {expected} long, got {actual}")]
    InvalidLength {
        /// The requisite concerned.
        kind: RequisiteKind,
        /// The allowed length(s) in words, e.g. `"10 or 12 digits"`.
        expected: &'static str,
        /// The number of characters received (after trimming).
        actual: usize,
    },
    /// An all-digit requisite contains something else (a letter, an inner space, ...).
    #[error("{kind} must contain only digits, found {found:?} at position {position}")]
    NotDigits {
        /// The requisite concerned.
        kind: RequisiteKind,
        /// 1-based position of the first offending character.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The characters do not follow the requisite's pattern (KPP `NNNNPPNNN`).
    #[error("{kind} {detail}")]
    InvalidFormat {
        /// The requisite concerned.
        kind: RequisiteKind,
        /// What is wrong, phrased to follow the requisite's name.
        detail: String,
    },
    /// A check digit computed from the other digits differs from the one given.
    #[error(
        "{kind} check digit at position {position} does not match (expected {expected}, got {actual})"
    )]
    ChecksumMismatch {
        /// The requisite concerned.
        kind: RequisiteKind,
        /// 1-based position of the check digit.
        position: usize,
        /// The check digit the other digits call for.
        expected: u8,
        /// The check digit given.
        actual: u8,
    },
    /// A bank account's control key does not agree with the BIK it was given with.
    #[error("{kind} control key does not match BIK {bik}")]
    AccountKeyMismatch {
        /// [`RequisiteKind::SettlementAccount`] or [`RequisiteKind::CorrespondentAccount`].
        kind: RequisiteKind,
        /// The BIK the account was checked against.
        bik: String,
    },
    /// A correspondent account that belongs to another bank: its last three digits are not the
    /// BIK's last three (the key alone only checks the Bank of Russia division).
    #[error("{kind} ends in {actual}, the bank with BIK {bik} has one ending in {expected}")]
    BikMismatch {
        /// [`RequisiteKind::CorrespondentAccount`].
        kind: RequisiteKind,
        /// The BIK the account was checked against.
        bik: String,
        /// The BIK's last three digits.
        expected: String,
        /// The account's last three digits.
        actual: String,
    },
}

impl RequisiteError {
    /// Stable snake_case code for API error bodies: `empty`, `invalid_length`, `not_digits`,
    /// `invalid_format` or `checksum_mismatch` (the last covers both check digits and account
    /// control keys; the message tells them apart).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Empty { .. } => "empty",
            Self::InvalidLength { .. } => "invalid_length",
            Self::NotDigits { .. } => "not_digits",
            Self::InvalidFormat { .. } => "invalid_format",
            Self::ChecksumMismatch { .. } | Self::AccountKeyMismatch { .. } => "checksum_mismatch",
            Self::BikMismatch { .. } => "bik_mismatch",
        }
    }

    /// The requisite the error is about.
    #[must_use]
    pub const fn kind(&self) -> RequisiteKind {
        match self {
            Self::Empty { kind }
            | Self::InvalidLength { kind, .. }
            | Self::NotDigits { kind, .. }
            | Self::InvalidFormat { kind, .. }
            | Self::ChecksumMismatch { kind, .. }
            | Self::AccountKeyMismatch { kind, .. }
            | Self::BikMismatch { kind, .. } => *kind,
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Shared checks
// ------------------------------------------------------------------------------------------------

/// Trims the input and refuses an empty result.
fn trimmed(kind: RequisiteKind, input: &str) -> Result<&str, RequisiteError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(RequisiteError::Empty { kind });
    }
    Ok(s)
}

/// Trims, requires ASCII digits only and one of `lengths`; returns the trimmed text and its
/// digit values. Characters are checked before length, so `7707O83893` reports the letter.
fn digits<'a>(
    kind: RequisiteKind,
    input: &'a str,
    lengths: &[usize],
    expected: &'static str,
) -> Result<(&'a str, Vec<u8>), RequisiteError> {
    let s = trimmed(kind, input)?;
    let mut values = Vec::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match u8::try_from(c) {
            Ok(b) if b.is_ascii_digit() => values.push(b - b'0'),
            _ => {
                return Err(RequisiteError::NotDigits {
                    kind,
                    position: i + 1,
                    found: c,
                });
            }
        }
    }
    if !lengths.contains(&values.len()) {
        return Err(RequisiteError::InvalidLength {
            kind,
            expected,
            actual: values.len(),
        });
    }
    Ok((s, values))
}

/// A decimal digit (0..=9) as `u8`; callers only pass values below 10.
fn digit_u8(d: u32) -> u8 {
    u8::try_from(d % 10).unwrap_or(0)
}

/// FNS INN control number: weighted sum mod 11, then mod 10 (so a remainder of 10 gives 0).
fn inn_control(digits: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    digit_u8(sum % 11 % 10)
}

/// The number formed by `digits`, modulo `m`, then mod 10 — the OGRN/OGRNIP check digit.
fn decimal_mod_control(digits: &[u8], m: u64) -> u8 {
    let rem = digits
        .iter()
        .fold(0_u64, |acc, d| (acc * 10 + u64::from(*d)) % m);
    u8::try_from(rem % 10).unwrap_or(0)
}

fn expect_check_digit(
    kind: RequisiteKind,
    digits: &[u8],
    index: usize,
    expected: u8,
) -> Result<(), RequisiteError> {
    let actual = digits.get(index).copied().unwrap_or(u8::MAX);
    if actual == expected {
        Ok(())
    } else {
        Err(RequisiteError::ChecksumMismatch {
            kind,
            position: index + 1,
            expected,
            actual,
        })
    }
}

/// Writes `as_str`, `AsRef<str>`, `Display`, `FromStr`, `TryFrom<&str>`, `TryFrom<String>`,
/// `From<T> for String` and a string `Serialize` for a newtype over `String` with a `parse`.
macro_rules! string_newtype {
    ($ty:ident) => {
        impl $ty {
            /// The canonical (trimmed) text of the value.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = RequisiteError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = RequisiteError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = RequisiteError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        /// From a JSON string through `parse`; a refusal is a rule error carrying its code.
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::validation::deserialize_parsed(d, Self::parse)
            }
        }
    };
}

// ------------------------------------------------------------------------------------------------
// INN
// ------------------------------------------------------------------------------------------------

const INN10_WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12_N11_WEIGHTS: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12_N12_WEIGHTS: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// Whose INN it is; follows from the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InnKind {
    /// 10 digits: a legal entity (organisation).
    Organisation,
    /// 12 digits: a natural person, including an individual entrepreneur.
    Individual,
}

/// ИНН, taxpayer identification number: 10 digits for an organisation, 12 for an individual or
/// an individual entrepreneur, with the Federal Tax Service check digit(s) — one for 10 digits,
/// two for 12.
///
/// The check digits catch most typos but not all: a remainder of 10 is written as 0, so a
/// single changed digit can go unnoticed when the check digit is 0. That is the FNS algorithm,
/// not a shortcut here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Inn(String);

impl Inn {
    /// Parses an INN, checking length, digits and check digit(s).
    ///
    /// # Errors
    /// `empty`, `not_digits`, `invalid_length` (not 10 or 12), `checksum_mismatch`.
    pub fn parse(input: &str) -> Result<Self, RequisiteError> {
        let kind = RequisiteKind::Inn;
        let (s, d) = digits(kind, input, &[10, 12], "10 or 12 digits")?;
        if d.len() == 10 {
            expect_check_digit(kind, &d, 9, inn_control(&d[..9], &INN10_WEIGHTS))?;
        } else {
            expect_check_digit(kind, &d, 10, inn_control(&d[..10], &INN12_N11_WEIGHTS))?;
            expect_check_digit(kind, &d, 11, inn_control(&d[..11], &INN12_N12_WEIGHTS))?;
        }
        Ok(Self(s.to_owned()))
    }

    /// Organisation (10 digits) or individual (12 digits).
    #[must_use]
    pub fn kind(&self) -> InnKind {
        if self.0.len() == 10 {
            InnKind::Organisation
        } else {
            InnKind::Individual
        }
    }
}

string_newtype!(Inn);

// ------------------------------------------------------------------------------------------------
// KPP
// ------------------------------------------------------------------------------------------------

/// КПП, tax registration reason code: 9 characters `NNNNPPNNN` — a 4-digit tax office code,
/// a 2-character reason (a digit or a capital Latin letter A–Z each) and a 3-digit serial.
///
/// The reason characters may be letters since 2013 (FNS order ММВ-7-6/435@), so a KPP is not a
/// number and is kept as text. Lower-case letters are refused rather than upper-cased: the
/// register only has capitals, and a KPP typed in lower case was probably typed in wrong.
/// There is no check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kpp(String);

impl Kpp {
    /// Parses a KPP, checking length and the `NNNNPPNNN` pattern.
    ///
    /// # Errors
    /// `empty`, `invalid_length` (not 9 characters), `invalid_format`.
    pub fn parse(input: &str) -> Result<Self, RequisiteError> {
        let kind = RequisiteKind::Kpp;
        let s = trimmed(kind, input)?;
        let count = s.chars().count();
        if count != 9 {
            return Err(RequisiteError::InvalidLength {
                kind,
                expected: "9 characters",
                actual: count,
            });
        }
        for (i, c) in s.chars().enumerate() {
            let reason = (4..6).contains(&i);
            let ok = c.is_ascii_digit() || (reason && c.is_ascii_uppercase());
            if !ok {
                let wanted = if reason {
                    "a digit or a capital Latin letter A-Z"
                } else {
                    "a digit"
                };
                return Err(RequisiteError::InvalidFormat {
                    kind,
                    detail: format!(
                        "must match NNNNPPNNN: character {} must be {wanted}, found {c:?}",
                        i + 1
                    ),
                });
            }
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(Kpp);

// ------------------------------------------------------------------------------------------------
// OGRN / OGRNIP
// ------------------------------------------------------------------------------------------------

/// Which register number an [`Ogrn`] is; follows from the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OgrnKind {
    /// ОГРН, 13 digits: a legal entity.
    LegalEntity,
    /// ОГРНИП, 15 digits: an individual entrepreneur.
    Entrepreneur,
}

/// ОГРН (13 digits, legal entity) or ОГРНИП (15 digits, individual entrepreneur): the primary
/// state registration number from the Unified State Register.
///
/// One type for both because a counterparty has exactly one of them and it is stored in one
/// field (SPEC CRM-2 "OGRN or OGRNIP"); [`kind`](Self::kind) tells which. The last digit is a
/// check digit: the number formed by the other digits modulo 11 (OGRN) or 13 (OGRNIP), then
/// modulo 10 — so, as with the INN, some single-digit typos survive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ogrn(String);

impl Ogrn {
    /// Parses an OGRN or an OGRNIP, telling them apart by length (13 or 15 digits). Use this
    /// when the counterparty kind is not known; otherwise prefer the strict
    /// [`parse_ogrn`](Self::parse_ogrn) / [`parse_ogrnip`](Self::parse_ogrnip).
    ///
    /// # Errors
    /// `empty`, `not_digits`, `invalid_length` (not 13 or 15), `checksum_mismatch`.
    pub fn parse(input: &str) -> Result<Self, RequisiteError> {
        let (s, d) = digits(
            RequisiteKind::OgrnOrOgrnip,
            input,
            &[13, 15],
            "13 (OGRN) or 15 (OGRNIP) digits",
        )?;
        Self::checked(s, &d)
    }

    /// Parses a legal entity's OGRN only (13 digits).
    ///
    /// # Errors
    /// `empty`, `not_digits`, `invalid_length`, `checksum_mismatch`.
    pub fn parse_ogrn(input: &str) -> Result<Self, RequisiteError> {
        let (s, d) = digits(RequisiteKind::Ogrn, input, &[13], "13 digits")?;
        Self::checked(s, &d)
    }

    /// Parses an individual entrepreneur's OGRNIP only (15 digits).
    ///
    /// # Errors
    /// `empty`, `not_digits`, `invalid_length`, `checksum_mismatch`.
    pub fn parse_ogrnip(input: &str) -> Result<Self, RequisiteError> {
        let (s, d) = digits(RequisiteKind::Ogrnip, input, &[15], "15 digits")?;
        Self::checked(s, &d)
    }

    /// Checks the check digit of 13 or 15 digits (the length is already known to be one of them).
    fn checked(s: &str, d: &[u8]) -> Result<Self, RequisiteError> {
        let (kind, modulus) = if d.len() == 13 {
            (RequisiteKind::Ogrn, 11)
        } else {
            (RequisiteKind::Ogrnip, 13)
        };
        let last = d.len() - 1;
        expect_check_digit(kind, d, last, decimal_mod_control(&d[..last], modulus))?;
        Ok(Self(s.to_owned()))
    }

    /// Legal entity (OGRN, 13 digits) or entrepreneur (OGRNIP, 15 digits).
    #[must_use]
    pub fn kind(&self) -> OgrnKind {
        if self.0.len() == 13 {
            OgrnKind::LegalEntity
        } else {
            OgrnKind::Entrepreneur
        }
    }
}

string_newtype!(Ogrn);

// ------------------------------------------------------------------------------------------------
// BIK
// ------------------------------------------------------------------------------------------------

/// БИК, bank identification code: 9 digits, no check digit of its own.
///
/// It is still worth a type: it is what makes bank accounts checkable. Account numbers are only
/// unique within a bank, so the Bank of Russia's control key is computed over the BIK and the
/// account together — the same 20 digits can be valid at one bank and invalid at another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bik(String);

impl Bik {
    /// Parses a BIK: exactly 9 digits.
    ///
    /// # Errors
    /// `empty`, `not_digits`, `invalid_length`.
    pub fn parse(input: &str) -> Result<Self, RequisiteError> {
        let (s, _) = digits(RequisiteKind::Bik, input, &[9], "9 digits")?;
        Ok(Self(s.to_owned()))
    }

    /// The 3 digits that precede a settlement account in the control-key computation: the
    /// last three digits of the BIK (the bank's number within its region).
    fn settlement_prefix(&self) -> &str {
        &self.0[6..9]
    }

    /// The 3 digits that precede a correspondent account: `0` followed by BIK digits 5–6
    /// (the Bank of Russia division the correspondent account is held at).
    fn correspondent_prefix(&self) -> [u8; 3] {
        let b = self.0.as_bytes();
        [b'0', b[4], b[5]]
    }
}

string_newtype!(Bik);

// ------------------------------------------------------------------------------------------------
// Bank accounts
// ------------------------------------------------------------------------------------------------

/// The Bank of Russia account control key: the 3 prefix digits and the 20 account digits, weighted 7, 1, 3 repeating; the sum must end in 0.
///
/// All three weights are coprime with 10, so any single changed digit is always caught.
fn account_key_ok(prefix: &[u8], account: &[u8]) -> bool {
    const WEIGHTS: [u32; 3] = [7, 1, 3];
    let sum: u32 = prefix
        .iter()
        .map(|b| b.wrapping_sub(b'0'))
        .chain(account.iter().copied())
        .zip(WEIGHTS.iter().cycle())
        .map(|(d, w)| u32::from(d) * w)
        .sum();
    sum.is_multiple_of(10)
}

fn parse_account(
    kind: RequisiteKind,
    input: &str,
    prefix: &[u8],
    bik: &Bik,
) -> Result<String, RequisiteError> {
    let (s, d) = digits(kind, input, &[20], "20 digits")?;
    if account_key_ok(prefix, &d) {
        Ok(s.to_owned())
    } else {
        Err(RequisiteError::AccountKeyMismatch {
            kind,
            bik: bik.as_str().to_owned(),
        })
    }
}

/// Расчётный счёт: a client's 20-digit account at the bank identified by a [`Bik`].
///
/// Only valid *together with* its BIK (see [`Bik`]), so it is parsed with one and keeps it:
/// a `SettlementAccount` cannot be paired with a bank it was not checked against. Serialises as
/// the bare 20 digits. There is no `Deserialize`: 20 digits alone cannot be validated — read the
/// BIK too and call [`parse`](Self::parse).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SettlementAccount {
    number: String,
    bik: Bik,
}

impl SettlementAccount {
    /// Parses a settlement account and checks its control key against `bik`: the key is
    /// computed over the last 3 digits of the BIK followed by the 20 account digits.
    ///
    /// # Errors
    /// `empty`, `not_digits`, `invalid_length`, `checksum_mismatch` (key does not match the BIK).
    pub fn parse(account: &str, bik: &Bik) -> Result<Self, RequisiteError> {
        let number = parse_account(
            RequisiteKind::SettlementAccount,
            account,
            bik.settlement_prefix().as_bytes(),
            bik,
        )?;
        Ok(Self {
            number,
            bik: bik.clone(),
        })
    }

    /// The 20 digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The BIK the account was checked against.
    #[must_use]
    pub fn bik(&self) -> &Bik {
        &self.bik
    }
}

/// Корреспондентский счёт: the bank's own 20-digit account at the Bank of Russia.
///
/// Its control key is computed over `0` + BIK digits 5–6 (the Bank of Russia division that
/// holds it) followed by the 20 digits, so it too is parsed with, and keeps, its [`Bik`].
/// Serialises as the bare 20 digits; no `Deserialize`, for the same reason as
/// [`SettlementAccount`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CorrespondentAccount {
    number: String,
    bik: Bik,
}

impl CorrespondentAccount {
    /// Parses a correspondent account and checks its control key against `bik`, and that it
    /// is that bank's account: its last three digits are the BIK's last three.
    ///
    /// # Errors
    /// `empty`, `not_digits`, `invalid_length`, `checksum_mismatch` (key does not match the BIK),
    /// `bik_mismatch` (the account of another bank).
    pub fn parse(account: &str, bik: &Bik) -> Result<Self, RequisiteError> {
        let number = parse_account(
            RequisiteKind::CorrespondentAccount,
            account,
            &bik.correspondent_prefix(),
            bik,
        )?;
        let expected = bik.settlement_prefix();
        let actual = &number[17..20];
        if actual != expected {
            return Err(RequisiteError::BikMismatch {
                kind: RequisiteKind::CorrespondentAccount,
                bik: bik.as_str().to_owned(),
                expected: expected.to_owned(),
                actual: actual.to_owned(),
            });
        }
        Ok(Self {
            number,
            bik: bik.clone(),
        })
    }

    /// The 20 digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The BIK the account was checked against.
    #[must_use]
    pub fn bik(&self) -> &Bik {
        &self.bik
    }
}

macro_rules! account_impls {
    ($ty:ident) => {
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.number
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.number)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.number)
            }
        }
    };
}

account_impls!(SettlementAccount);
account_impls!(CorrespondentAccount);

// ------------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Sberbank: public requisites, each verified by hand against the algorithms.
    const SBER_INN: &str = "7707083893";
    const SBER_KPP: &str = "773601001";
    const SBER_OGRN: &str = "1027700132195";
    const SBER_BIK: &str = "044525225";
    const SBER_CORR: &str = "30101810400000000225";

    /// (account, BIK, correspondent account) of counterparties in
    /// `shared/fixtures/1c/client-bank-exchange_v1.02_cp1251_one_day.txt` whose keys check out
    /// (verified by a separate script before being written here).
    const FIXTURE_VALID_ACCOUNTS: [(&str, &str, &str); 8] = [
        ("40702810500001455357", "044525700", "30101810200000000700"),
        ("40702810299993174021", "044525187", "30101810700000000187"),
        ("40702810300000000640", "044525232", "30101810600000000232"),
        ("40702810700000005670", "044030861", "30101810800000000861"),
        ("61304810100000000002", "044525716", "30101810100000000716"),
        ("70601810500002710257", "044525716", "30101810100000000716"),
        ("70601810600002720257", "044525716", "30101810100000000716"),
        ("70601810800002740257", "044525716", "30101810100000000716"),
    ];

    fn ok<T, E: fmt::Debug>(r: Result<T, E>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => panic!("expected Ok, got {e:?}"),
        }
    }

    fn err<T: fmt::Debug>(r: Result<T, RequisiteError>) -> RequisiteError {
        match r {
            Ok(v) => panic!("expected Err, got {v:?}"),
            Err(e) => e,
        }
    }

    fn bik(s: &str) -> Bik {
        ok(Bik::parse(s))
    }

    // ---- INN ----

    #[test]
    fn inn_accepts_real_numbers() {
        for s in [SBER_INN, "7736050003", "7736207543", "7728168971"] {
            let inn = ok(Inn::parse(s));
            assert_eq!(inn.as_str(), s);
            assert_eq!(inn.kind(), InnKind::Organisation);
        }
        let person = ok(Inn::parse("500100732259"));
        assert_eq!(person.kind(), InnKind::Individual);
    }

    #[test]
    fn inn_trims_outer_whitespace() {
        let inn = ok(Inn::parse("  7707083893\t\r\n"));
        assert_eq!(inn.as_str(), SBER_INN);
        assert_eq!(inn.to_string(), SBER_INN);
    }

    #[test]
    fn inn_wrong_check_digit() {
        let e = err(Inn::parse("7707083894"));
        assert_eq!(e.code(), "checksum_mismatch");
        assert_eq!(e.kind(), RequisiteKind::Inn);
        assert_eq!(
            e.to_string(),
            "INN check digit at position 10 does not match (expected 3, got 4)"
        );
        // 12 digits: the 11th is checked first, then the 12th.
        let e = err(Inn::parse("500100732249"));
        assert!(matches!(
            e,
            RequisiteError::ChecksumMismatch {
                position: 11,
                expected: 5,
                actual: 4,
                ..
            }
        ));
        let e = err(Inn::parse("500100732258"));
        assert!(matches!(
            e,
            RequisiteError::ChecksumMismatch {
                position: 12,
                expected: 9,
                actual: 8,
                ..
            }
        ));
    }

    #[test]
    fn inn_from_fixture_is_refused() {
        // The anonymised payer/payee INN of the bank statement fixture.
        assert_eq!(err(Inn::parse("123123123123")).code(), "checksum_mismatch");
    }

    #[test]
    fn inn_wrong_length_and_alphabet() {
        let e = err(Inn::parse("77070838931"));
        assert_eq!(e.code(), "invalid_length");
        assert_eq!(e.to_string(), "INN must be 10 or 12 digits long, got 11");
        assert_eq!(err(Inn::parse("770708389")).code(), "invalid_length");
        assert_eq!(err(Inn::parse("7707083893123")).code(), "invalid_length");

        let e = err(Inn::parse("7707O83893"));
        assert_eq!(e.code(), "not_digits");
        assert_eq!(
            e.to_string(),
            "INN must contain only digits, found 'O' at position 5"
        );
        let e = err(Inn::parse("7707 083893"));
        assert_eq!(e.code(), "not_digits");
        assert_eq!(
            e.to_string(),
            "INN must contain only digits, found ' ' at position 5"
        );
        // Non-ASCII digits (Arabic-Indic, fullwidth) are not digits here.
        assert_eq!(err(Inn::parse("٧٧٠٧٠٨٣٨٩٣")).code(), "not_digits");
        assert_eq!(err(Inn::parse("７７０７０８３８９３")).code(), "not_digits");
        assert_eq!(err(Inn::parse("-707083893")).code(), "not_digits");

        let e = err(Inn::parse("   "));
        assert_eq!(e.code(), "empty");
        assert_eq!(e.to_string(), "INN is empty");
    }

    #[test]
    fn inn_check_digit_cannot_catch_every_typo() {
        // Documents the FNS algorithm's blind spot (remainder 10 is written as 0): these two
        // differ in one digit and both are valid.
        assert!(Inn::parse("6245736960").is_ok());
        assert!(Inn::parse("6545736960").is_ok());
    }

    // ---- KPP ----

    #[test]
    fn kpp_accepts_digits_and_capital_letters() {
        assert_eq!(ok(Kpp::parse(SBER_KPP)).as_str(), SBER_KPP);
        assert_eq!(ok(Kpp::parse(" 7736AB001 ")).as_str(), "7736AB001");
        assert!(Kpp::parse("77360Z001").is_ok());
        // The fixture's anonymised KPP is well-formed (a KPP has no check digit).
        assert!(Kpp::parse("123123123").is_ok());
    }

    #[test]
    fn kpp_refusals() {
        let e = err(Kpp::parse("77360100"));
        assert_eq!(e.code(), "invalid_length");
        assert_eq!(e.to_string(), "KPP must be 9 characters long, got 8");
        assert_eq!(err(Kpp::parse("7736 01001")).code(), "invalid_length");

        let e = err(Kpp::parse("7736ab001"));
        assert_eq!(e.code(), "invalid_format");
        assert_eq!(
            e.to_string(),
            "KPP must match NNNNPPNNN: character 5 must be a digit or a capital Latin letter A-Z, found 'a'"
        );
        let e = err(Kpp::parse("A73601001"));
        assert_eq!(e.code(), "invalid_format");
        assert_eq!(
            e.to_string(),
            "KPP must match NNNNPPNNN: character 1 must be a digit, found 'A'"
        );
        assert_eq!(err(Kpp::parse("7736010A1")).code(), "invalid_format");
        // Cyrillic А looks like Latin A but is not.
        assert_eq!(err(Kpp::parse("7736А0001")).code(), "invalid_format");
        assert_eq!(err(Kpp::parse("")).code(), "empty");
    }

    // ---- OGRN / OGRNIP ----

    #[test]
    fn ogrn_accepts_real_numbers() {
        for s in [SBER_OGRN, "1027700070518", "1027700229193"] {
            let o = ok(Ogrn::parse(s));
            assert_eq!(o.kind(), OgrnKind::LegalEntity);
            assert_eq!(ok(Ogrn::parse_ogrn(s)), o);
        }
        let ip = ok(Ogrn::parse("304500116000157"));
        assert_eq!(ip.kind(), OgrnKind::Entrepreneur);
        assert_eq!(ok(Ogrn::parse_ogrnip("304500116000157")), ip);
    }

    #[test]
    fn ogrn_refusals() {
        let e = err(Ogrn::parse("1027700132196"));
        assert_eq!(e.code(), "checksum_mismatch");
        assert_eq!(
            e.to_string(),
            "OGRN check digit at position 13 does not match (expected 5, got 6)"
        );
        let e = err(Ogrn::parse("304500116000158"));
        assert_eq!(
            e.to_string(),
            "OGRNIP check digit at position 15 does not match (expected 7, got 8)"
        );

        let e = err(Ogrn::parse("10277001321950"));
        assert_eq!(e.code(), "invalid_length");
        assert_eq!(
            e.to_string(),
            "OGRN/OGRNIP must be 13 (OGRN) or 15 (OGRNIP) digits long, got 14"
        );
        // Strict variants refuse the other kind by length.
        let e = err(Ogrn::parse_ogrn("304500116000157"));
        assert_eq!(e.code(), "invalid_length");
        assert_eq!(e.to_string(), "OGRN must be 13 digits long, got 15");
        let e = err(Ogrn::parse_ogrnip(SBER_OGRN));
        assert_eq!(e.to_string(), "OGRNIP must be 15 digits long, got 13");

        assert_eq!(err(Ogrn::parse("10277OO132195")).code(), "not_digits");
    }

    // ---- BIK ----

    #[test]
    fn bik_parse() {
        assert_eq!(ok(Bik::parse(SBER_BIK)).as_str(), SBER_BIK);
        assert_eq!(err(Bik::parse("04452522")).code(), "invalid_length");
        assert_eq!(
            err(Bik::parse("04452522X")).to_string(),
            "BIK must contain only digits, found 'X' at position 9"
        );
        assert_eq!(err(Bik::parse("\t")).code(), "empty");
    }

    // ---- accounts ----

    #[test]
    fn sberbank_correspondent_account() {
        let b = bik(SBER_BIK);
        let c = ok(CorrespondentAccount::parse(SBER_CORR, &b));
        assert_eq!(c.as_str(), SBER_CORR);
        assert_eq!(c.bik(), &b);
        // The same digits checked as a settlement account use another prefix and fail.
        let e = err(SettlementAccount::parse("30101810400000000226", &b));
        assert_eq!(e.code(), "checksum_mismatch");
    }

    #[test]
    fn fixture_accounts_that_check_out_are_accepted() {
        for (account, b, corr) in FIXTURE_VALID_ACCOUNTS {
            let b = bik(b);
            let a = ok(SettlementAccount::parse(account, &b));
            assert_eq!(a.as_str(), account);
            assert_eq!(a.bik(), &b);
            assert!(CorrespondentAccount::parse(corr, &b).is_ok(), "{corr}");
        }
        // Correspondent accounts of the payers' banks in the fixture.
        for (corr, b) in [
            ("30101810100000000716", "044525716"),
            ("30101810300000000176", "044525176"),
            ("30101810400000000225", "044525225"),
        ] {
            assert!(CorrespondentAccount::parse(corr, &bik(b)).is_ok(), "{corr}");
        }
    }

    #[test]
    fn fixture_anonymised_accounts_are_refused() {
        // The statement's own account, anonymised by its publisher: its key is wrong.
        let e = err(SettlementAccount::parse(
            "40702810200000000001",
            &bik("044525716"),
        ));
        assert_eq!(e.code(), "checksum_mismatch");
        assert_eq!(e.kind(), RequisiteKind::SettlementAccount);
        assert_eq!(
            e.to_string(),
            "settlement account control key does not match BIK 044525716"
        );
        // The anonymised 17-digit payer account.
        let e = err(SettlementAccount::parse(
            "12312312312312312",
            &bik("044525716"),
        ));
        assert_eq!(e.code(), "invalid_length");
        assert_eq!(
            e.to_string(),
            "settlement account must be 20 digits long, got 17"
        );
    }

    #[test]
    fn account_is_only_valid_with_its_own_bik() {
        // A valid account from the fixture, checked against another bank (different last three
        // BIK digits) is refused.
        let e = err(SettlementAccount::parse(
            "40702810500001455357",
            &bik(SBER_BIK),
        ));
        assert_eq!(
            e.to_string(),
            "settlement account control key does not match BIK 044525225"
        );
        let e = err(CorrespondentAccount::parse(SBER_CORR, &bik("044030861")));
        assert_eq!(
            e.to_string(),
            "correspondent account control key does not match BIK 044030861"
        );
    }

    #[test]
    fn correspondent_account_of_another_bank_is_refused() {
        // Another Moscow bank's account: same Bank of Russia division, so the key agrees.
        let e = err(CorrespondentAccount::parse(
            "30101810145250000974",
            &bik(SBER_BIK),
        ));
        assert_eq!(e.code(), "bik_mismatch");
        assert_eq!(e.kind(), RequisiteKind::CorrespondentAccount);
        assert_eq!(
            e.to_string(),
            "correspondent account ends in 974, the bank with BIK 044525225 has one ending in 225"
        );
        assert!(CorrespondentAccount::parse("30101810145250000974", &bik("044525974")).is_ok());
    }

    #[test]
    fn account_alphabet() {
        let b = bik(SBER_BIK);
        let e = err(SettlementAccount::parse("40702 810500001455357", &b));
        assert_eq!(e.code(), "not_digits");
        assert_eq!(
            err(CorrespondentAccount::parse("", &b)).to_string(),
            "correspondent account is empty"
        );
        assert_eq!(
            ok(SettlementAccount::parse(
                " 40702810500001455357 ",
                &bik("044525700")
            ))
            .as_str(),
            "40702810500001455357"
        );
    }

    // ---- serde ----

    #[test]
    fn string_conversions_round_trip() {
        let inn = ok(Inn::parse(SBER_INN));
        let back = ok(Inn::try_from(String::from(inn.clone())));
        assert_eq!(back, inn);
        assert_eq!(ok(SBER_KPP.parse::<Kpp>()).as_str(), SBER_KPP);
        assert_eq!(ok(Ogrn::try_from(SBER_OGRN)).as_ref(), SBER_OGRN);
    }

    #[test]
    fn deserialize_validates() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, StringDeserializer};
        let d: StringDeserializer<DeError> = String::from(" 7707083893 ").into_deserializer();
        assert_eq!(ok(Inn::deserialize(d)).as_str(), SBER_INN);
        let d: StringDeserializer<DeError> = String::from("7707083894").into_deserializer();
        let e = match Inn::deserialize(d) {
            Ok(v) => panic!("expected Err, got {v:?}"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("check digit"), "{e}");
    }

    // ---- properties ----

    fn to_string(d: &[u8]) -> String {
        d.iter().map(|x| char::from(b'0' + x)).collect()
    }

    fn valid_inn10() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..10, 9).prop_map(|mut d| {
            d.push(inn_control(&d, &INN10_WEIGHTS));
            d
        })
    }

    fn valid_inn12() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..10, 10).prop_map(|mut d| {
            d.push(inn_control(&d, &INN12_N11_WEIGHTS));
            d.push(inn_control(&d, &INN12_N12_WEIGHTS));
            d
        })
    }

    fn valid_ogrn(len: usize, modulus: u64) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..10, len - 1).prop_map(move |mut d| {
            d.push(decimal_mod_control(&d, modulus));
            d
        })
    }

    /// Replaces digit `pos` (taken modulo the length) by a different digit.
    fn mutate(d: &[u8], pos: usize, delta: u8) -> (Vec<u8>, usize) {
        let mut m = d.to_vec();
        let i = pos % m.len();
        m[i] = (m[i] + delta) % 10;
        (m, i)
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,30}") {
            let b = bik(SBER_BIK);
            let _ = Inn::parse(&s);
            let _ = Kpp::parse(&s);
            let _ = Ogrn::parse(&s);
            let _ = Ogrn::parse_ogrn(&s);
            let _ = Ogrn::parse_ogrnip(&s);
            let _ = Bik::parse(&s);
            let _ = SettlementAccount::parse(&s, &b);
            let _ = CorrespondentAccount::parse(&s, &b);
        }

        #[test]
        fn digit_strings_never_panic_and_length_decides(s in "[0-9]{0,25}", b in "[0-9]{9}") {
            let b = bik(&b);
            let inn = Inn::parse(&s);
            if ![10, 12].contains(&s.len()) {
                prop_assert!(inn.is_err());
            }
            let _ = Kpp::parse(&s);
            let _ = Ogrn::parse(&s);
            prop_assert_eq!(Bik::parse(&s).is_ok(), s.len() == 9);
            let acc = SettlementAccount::parse(&s, &b);
            if s.len() != 20 {
                prop_assert_eq!(acc.map_err(|e| e.code()).err(), Some(if s.is_empty() { "empty" } else { "invalid_length" }));
            }
            let _ = CorrespondentAccount::parse(&s, &b);
        }

        #[test]
        fn valid_inns_parse(d10 in valid_inn10(), d12 in valid_inn12()) {
            let a = Inn::parse(&to_string(&d10));
            prop_assert!(a.is_ok(), "{:?}", a);
            prop_assert_eq!(a.map(|i| i.kind()).ok(), Some(InnKind::Organisation));
            let b = Inn::parse(&to_string(&d12));
            prop_assert!(b.is_ok(), "{:?}", b);
            prop_assert_eq!(b.map(|i| i.kind()).ok(), Some(InnKind::Individual));
        }

        // One changed digit changes the weighted sum mod 11 (no weight and no digit difference
        // is a multiple of 11), but the check digit is that remainder mod 10, so remainders 0
        // and 10 collide. Hence the true property: a one-digit change is accepted only if the
        // original check digit(s) were 0 — and changing a check digit itself is always caught.
        #[test]
        fn inn10_single_digit_change(d in valid_inn10(), pos in 0usize..10, delta in 1u8..10) {
            let (m, i) = mutate(&d, pos, delta);
            let r = Inn::parse(&to_string(&m));
            if r.is_ok() {
                prop_assert_eq!(d[9], 0);
                prop_assert!(i < 9);
            } else {
                prop_assert_eq!(r.map_err(|e| e.code()).err(), Some("checksum_mismatch"));
            }
        }

        #[test]
        fn inn12_single_digit_change(d in valid_inn12(), pos in 0usize..12, delta in 1u8..10) {
            let (m, i) = mutate(&d, pos, delta);
            if Inn::parse(&to_string(&m)).is_ok() {
                prop_assert_eq!((d[10], d[11]), (0, 0));
                prop_assert!(i < 10);
            }
        }

        // OGRN: 10^k mod 11 is ±1, so a changed digit always changes the remainder mod 11;
        // only the 0/10 collision survives.
        #[test]
        fn ogrn_single_digit_change(d in valid_ogrn(13, 11), pos in 0usize..13, delta in 1u8..10) {
            prop_assert!(Ogrn::parse(&to_string(&d)).is_ok());
            let (m, i) = mutate(&d, pos, delta);
            if Ogrn::parse(&to_string(&m)).is_ok() {
                prop_assert_eq!(d[12], 0);
                prop_assert!(i < 12);
            }
        }

        // OGRNIP: 13 is prime and coprime with 10, so the remainder mod 13 always changes;
        // remainders 10, 11, 12 collide with 0, 1, 2 after the final mod 10.
        #[test]
        fn ogrnip_single_digit_change(d in valid_ogrn(15, 13), pos in 0usize..15, delta in 1u8..10) {
            prop_assert!(Ogrn::parse(&to_string(&d)).is_ok());
            let (m, i) = mutate(&d, pos, delta);
            if Ogrn::parse(&to_string(&m)).is_ok() {
                prop_assert!(d[14] <= 2);
                prop_assert!(i < 14);
            }
        }

        // Weights 7, 1, 3 are all coprime with 10: every single-digit change of an account is
        // caught, with no exception.
        #[test]
        fn account_single_digit_change_always_caught(
            b in "[0-9]{9}",
            mut acc in proptest::collection::vec(0u8..10, 20),
            pos in 0usize..20,
            delta in 1u8..10,
        ) {
            let b = bik(&b);
            // Fix the key digit (position 9, weight 3 after the 3-digit prefix).
            let Some(k) = (0..10).find(|k| {
                acc[8] = *k;
                account_key_ok(b.settlement_prefix().as_bytes(), &acc)
            }) else {
                return Err(TestCaseError::fail("no key digit found"));
            };
            acc[8] = k;
            prop_assert!(SettlementAccount::parse(&to_string(&acc), &b).is_ok());
            let (m, _) = mutate(&acc, pos, delta);
            prop_assert!(SettlementAccount::parse(&to_string(&m), &b).is_err());
        }
    }
}
