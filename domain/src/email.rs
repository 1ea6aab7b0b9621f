//! E-mail addresses (users, contacts, offer delivery).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

/// Longest address accepted, in bytes: the 254-octet limit of a forward path (RFC 5321 §4.5.3.1.3,
/// 256 minus the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Why an address was refused. Every variant has the same machine code, `invalid_email`; the
/// message says which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but whitespace was given.
    #[error("email is empty")]
    Empty,
    /// Longer than [`MAX_EMAIL_LEN`] bytes.
    #[error("email must be at most 254 characters long, got {0}")]
    TooLong(usize),
    /// Whitespace inside the address.
    #[error("email must not contain whitespace")]
    ContainsWhitespace,
    /// Not exactly one `@`.
    #[error("email must contain exactly one '@', found {0}")]
    AtSignCount(usize),
    /// Nothing before the `@`.
    #[error("email has nothing before the '@'")]
    EmptyLocalPart,
    /// The domain has no dot, or an empty label (`a@.com`, `a@b..c`, `a@b.`).
    #[error("email domain {0:?} must be dot-separated non-empty labels, like example.com")]
    InvalidDomain(String),
}

impl EmailError {
    /// Stable machine code for API error bodies: always `invalid_email`.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "invalid_email"
    }
}

/// An e-mail address that passed a deliberately modest check.
///
/// Full RFC 5322 validation accepts addresses no mail server will deliver to and refuses
/// nothing useful; the only proof an address works is a message that arrives. So `parse`
/// catches the mistakes people actually make — blanks, a missing or doubled `@`, a domain
/// without a dot, stray spaces — and nothing more.
///
/// The whole address is **lower-cased**, local part included. Strictly, the local part is
/// case-sensitive, but no mainstream provider treats it so, and one canonical form makes
/// `Ivan@Example.ru` and `ivan@example.ru` the same user — which is what a login or a
/// duplicate check needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Email(String);

impl Email {
    /// Trims, lower-cases and checks an address.
    ///
    /// # Errors
    /// An [`EmailError`] naming the failed check; its code is always `invalid_email`.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(EmailError::ContainsWhitespace);
        }
        let s = trimmed.to_lowercase();
        if s.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong(s.len()));
        }
        let ats = s.matches('@').count();
        if ats != 1 {
            return Err(EmailError::AtSignCount(ats));
        }
        let (local, domain) = s.split_once('@').unwrap_or((&s, ""));
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(EmailError::InvalidDomain(domain.to_owned()));
        }
        Ok(Self(s))
    }

    /// The canonical (trimmed, lower-case) address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    #[must_use]
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Email {
    type Error = EmailError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> Email {
        match Email::parse(s) {
            Ok(e) => e,
            Err(e) => panic!("{s:?} refused: {e}"),
        }
    }

    fn err(s: &str) -> EmailError {
        match Email::parse(s) {
            Ok(e) => panic!("{s:?} accepted as {e}"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(ok("ivan@example.ru").as_str(), "ivan@example.ru");
        assert_eq!(
            ok("  Ivan.Petrov@Example.RU \n").as_str(),
            "ivan.petrov@example.ru"
        );
        assert_eq!(ok("a+tag@mail.example.com").domain(), "mail.example.com");
        assert_eq!(ok("иван@почта.рф").as_str(), "иван@почта.рф");
        assert_eq!(ok("ИВАН@ПОЧТА.РФ"), ok("иван@почта.рф"));
    }

    #[test]
    fn refusals_say_which_check_failed() {
        let cases = [
            ("", "email is empty"),
            ("   ", "email is empty"),
            (
                "ivan petrov@example.ru",
                "email must not contain whitespace",
            ),
            ("ivan@exa mple.ru", "email must not contain whitespace"),
            (
                "ivan.example.ru",
                "email must contain exactly one '@', found 0",
            ),
            (
                "ivan@@example.ru",
                "email must contain exactly one '@', found 2",
            ),
            (
                "a@b@example.ru",
                "email must contain exactly one '@', found 2",
            ),
            ("@example.ru", "email has nothing before the '@'"),
            (
                "ivan@",
                "email domain \"\" must be dot-separated non-empty labels, like example.com",
            ),
            (
                "ivan@localhost",
                "email domain \"localhost\" must be dot-separated non-empty labels, like example.com",
            ),
            (
                "ivan@.ru",
                "email domain \".ru\" must be dot-separated non-empty labels, like example.com",
            ),
            (
                "ivan@example..ru",
                "email domain \"example..ru\" must be dot-separated non-empty labels, like example.com",
            ),
            (
                "ivan@example.ru.",
                "email domain \"example.ru.\" must be dot-separated non-empty labels, like example.com",
            ),
        ];
        for (input, message) in cases {
            let e = err(input);
            assert_eq!(e.code(), "invalid_email");
            assert_eq!(e.to_string(), message, "{input:?}");
        }
    }

    #[test]
    fn length_limit_is_254() {
        let domain = "@example.ru";
        let at_limit = format!("{}{domain}", "a".repeat(MAX_EMAIL_LEN - domain.len()));
        assert_eq!(ok(&at_limit).as_str().len(), 254);
        let over = format!("a{at_limit}");
        assert_eq!(err(&over), EmailError::TooLong(255));
        assert_eq!(
            err(&over).to_string(),
            "email must be at most 254 characters long, got 255"
        );
    }

    #[test]
    fn string_conversions() {
        let e = ok("Ivan@Example.ru");
        assert_eq!(e.to_string(), "ivan@example.ru");
        assert_eq!(String::from(e.clone()), "ivan@example.ru");
        assert_eq!("ivan@example.ru".parse::<Email>(), Ok(e));
    }

    #[test]
    fn deserialize_validates() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, StringDeserializer};
        let d: StringDeserializer<DeError> = String::from("X@Y.RU").into_deserializer();
        assert_eq!(
            Email::deserialize(d).map(String::from),
            Ok("x@y.ru".to_owned())
        );
        let d: StringDeserializer<DeError> = String::from("nope").into_deserializer();
        assert!(Email::deserialize(d).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_and_output_is_canonical(s in "\\PC{0,300}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(e.as_str().len() <= MAX_EMAIL_LEN);
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
                prop_assert_eq!(e.as_str().to_lowercase(), e.as_str());
                // Parsing the canonical form gives it back unchanged.
                prop_assert_eq!(Email::parse(e.as_str()).ok(), Some(e.clone()));
            }
        }

        #[test]
        fn simple_addresses_parse(local in "[a-zA-Z0-9._+-]{1,30}", host in "[a-z0-9-]{1,20}", tld in "[a-z]{2,6}") {
            let s = format!("{local}@{host}.{tld}");
            let e = Email::parse(&s);
            prop_assert_eq!(e.map(String::from).ok(), Some(s.to_lowercase()));
        }
    }
}
