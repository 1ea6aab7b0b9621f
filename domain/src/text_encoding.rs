//! The character encoding of an uploaded text file (INT-CSV). Excel in Russian locales saves
//! CSV as windows-1251; everything else sends UTF-8. A byte-order mark decides when there is
//! one, then the charset the sender named, then the bytes: valid UTF-8 is UTF-8, anything else
//! is read as windows-1251.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1251};

/// A file's text and the encoding it was read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The WHATWG name of the encoding (`UTF-8`, `windows-1251`, …).
    pub encoding: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("`{0}` is not a known charset; use utf-8 or windows-1251")]
    UnknownCharset(String),
    #[error("the file is not valid {encoding} (first bad byte at offset {offset})")]
    Invalid {
        encoding: &'static str,
        offset: usize,
    },
}

/// The encoding a charset label names (`utf-8`, `windows-1251`, `cp1251`, …), if known.
pub fn encoding_for_label(label: &str) -> Result<&'static Encoding, DecodeError> {
    Encoding::for_label(label.trim().as_bytes())
        .ok_or_else(|| DecodeError::UnknownCharset(label.trim().to_owned()))
}

/// Decodes `bytes`: by its byte-order mark, else by `named`, else UTF-8 when the bytes are
/// valid UTF-8 and windows-1251 when not.
pub fn decode(bytes: &[u8], named: Option<&str>) -> Result<Decoded, DecodeError> {
    let named = match named.map(str::trim).filter(|n| !n.is_empty()) {
        Some(label) => Some(encoding_for_label(label)?),
        None => None,
    };
    let (encoding, body) = match Encoding::for_bom(bytes) {
        Some((enc, bom_len)) => (enc, &bytes[bom_len..]),
        None => match named {
            Some(enc) => (enc, bytes),
            None => match std::str::from_utf8(bytes) {
                Ok(text) if !misread_windows_1251(text, bytes) => (UTF_8, bytes),
                _ => (WINDOWS_1251, bytes),
            },
        },
    };
    if encoding == UTF_8 {
        return match std::str::from_utf8(body) {
            Ok(text) => Ok(Decoded {
                text: text.to_owned(),
                encoding: UTF_8.name(),
            }),
            Err(e) => Err(DecodeError::Invalid {
                encoding: UTF_8.name(),
                offset: e.valid_up_to() + (bytes.len() - body.len()),
            }),
        };
    }
    match encoding.decode_without_bom_handling_and_without_replacement(body) {
        Some(text) => Ok(Decoded {
            text: text.into_owned(),
            encoding: encoding.name(),
        }),
        None => {
            // Find the first bad byte for the message.
            let mut decoder = encoding.new_decoder_without_bom_handling();
            let mut out = String::with_capacity(body.len() * 2);
            let (_, read) = decoder.decode_to_string_without_replacement(body, &mut out, true);
            Err(DecodeError::Invalid {
                encoding: encoding.name(),
                offset: read + (bytes.len() - body.len()),
            })
        }
    }
}

/// Whether bytes that happen to be valid UTF-8 are Russian windows-1251 text: read as UTF-8
/// they hold no Cyrillic at all, only Latin-1 signs (`Вё` in windows-1251 is the bytes of `¸`
/// in UTF-8), while read as windows-1251 they are Cyrillic words, ASCII and the punctuation of
/// Russian text. Such short files are ambiguous; a Russian CRM reads them as Russian.
fn misread_windows_1251(utf8: &str, bytes: &[u8]) -> bool {
    let latin1_only = !utf8.is_ascii()
        && utf8
            .chars()
            .all(|c| c.is_ascii() || ('\u{80}'..='\u{ff}').contains(&c));
    if !latin1_only {
        return false;
    }
    let (cp1251, _, _) = WINDOWS_1251.decode(bytes);
    cp1251
        .chars()
        .all(|c| c.is_ascii() || ('\u{400}'..='\u{4ff}').contains(&c) || "«»№—–“”„".contains(c))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn windows_1251_is_detected_when_the_bytes_are_not_utf8() {
        let (bytes, _, _) = WINDOWS_1251.encode("Наименование;ИНН\nТСЖ «Ромашка»;7707083893\n");
        let d = decode(&bytes, None).unwrap();
        assert_eq!(d.encoding, "windows-1251");
        assert!(d.text.starts_with("Наименование;ИНН"));
    }

    #[test]
    fn short_windows_1251_that_is_also_valid_utf8_is_read_as_windows_1251() {
        let (bytes, _, _) = WINDOWS_1251.encode("Вё");
        assert_eq!(decode(&bytes, None).unwrap().text, "Вё");
        // Latin text stays UTF-8.
        assert_eq!(decode("café".as_bytes(), None).unwrap().text, "café");
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let d = decode("\u{feff}Имя\n".as_bytes(), None).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Имя\n", "UTF-8"));
        let d = decode("Имя\n".as_bytes(), None).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Имя\n", "UTF-8"));
    }

    #[test]
    fn a_named_charset_wins_over_detection() {
        // "Имя" in UTF-8 read as windows-1251 is mojibake, but it is what was asked for.
        let d = decode("Имя".as_bytes(), Some("cp1251")).unwrap();
        assert_eq!(d.encoding, "windows-1251");
        assert_ne!(d.text, "Имя");
        let (bytes, _, _) = WINDOWS_1251.encode("Имя");
        assert_eq!(
            decode(&bytes, Some("utf-8")),
            Err(DecodeError::Invalid {
                encoding: "UTF-8",
                offset: 0
            })
        );
        assert!(matches!(
            decode(b"a", Some("klingon")),
            Err(DecodeError::UnknownCharset(_))
        ));
    }

    proptest! {
        #[test]
        fn cyrillic_text_round_trips_through_windows_1251(s in "[А-Яа-яЁё0-9 ;,\"\n«»№-]{0,200}") {
            let (bytes, _, unmappable) = WINDOWS_1251.encode(&s);
            prop_assert!(!unmappable);
            let d = decode(&bytes, None).unwrap();
            prop_assert_eq!(d.text, s);
        }

        #[test]
        fn utf8_text_is_read_as_utf8(s in "\\PC{0,200}") {
            // Text whose bytes are also Russian windows-1251 is read as that (see
            // `misread_windows_1251`); every other UTF-8 text is UTF-8.
            prop_assume!(!misread_windows_1251(&s, s.as_bytes()));
            let d = decode(s.as_bytes(), None).unwrap();
            prop_assert_eq!(d.text, s.trim_start_matches('\u{feff}'));
        }
    }
}
