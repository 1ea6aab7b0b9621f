//! ACT-3 attachments: what kind of document a file is, what its bytes really are (content
//! sniffing, so a declared type cannot smuggle something else in), and how its name travels
//! back in a download.

use std::fmt;

/// The business meaning of an attached file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum DocumentType {
    InvoiceScan,
    Contract,
    SignedScan,
    ClosingDocument,
    Other,
}

impl DocumentType {
    pub const ALL: [DocumentType; 5] = [
        DocumentType::InvoiceScan,
        DocumentType::Contract,
        DocumentType::SignedScan,
        DocumentType::ClosingDocument,
        DocumentType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<DocumentType> {
        s.parse().ok()
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Pdf,
    Png,
    Jpeg,
    Gif,
    /// A ZIP container: DOCX, XLSX, PPTX, ODF documents or a plain archive.
    Zip,
    /// Valid UTF-8 without control characters (other than tabs and line breaks).
    Text,
}

impl fmt::Display for Sniffed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sniffed::Pdf => "PDF",
            Sniffed::Png => "PNG",
            Sniffed::Jpeg => "JPEG",
            Sniffed::Gif => "GIF",
            Sniffed::Zip => "ZIP (office document)",
            Sniffed::Text => "UTF-8 text",
        })
    }
}

/// How many leading bytes [`sniff`] needs.
pub const SNIFF_BYTES: usize = 8;

/// Recognises a binary format by its magic bytes. Text is not recognised here: it has no
/// magic, see [`TextCheck`].
pub fn sniff_magic(head: &[u8]) -> Option<Sniffed> {
    if head.starts_with(b"%PDF-") {
        Some(Sniffed::Pdf)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Sniffed::Png)
    } else if head.starts_with(b"\xff\xd8\xff") {
        Some(Sniffed::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(Sniffed::Gif)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Sniffed::Zip)
    } else {
        None
    }
}

/// Checks, chunk by chunk, that a whole stream is UTF-8 text, without holding it in memory.
#[derive(Debug, Default, Clone)]
pub struct TextCheck {
    /// The start of a character split across chunks.
    pending: Vec<u8>,
    broken: bool,
}

impl TextCheck {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.broken {
            return;
        }
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(chunk);
        let valid = match std::str::from_utf8(&buf) {
            Ok(s) => s,
            Err(e) if e.error_len().is_none() => {
                // Only an incomplete character at the very end: keep it for the next chunk.
                let (ok, rest) = buf.split_at(e.valid_up_to());
                self.pending = rest.to_vec();
                match std::str::from_utf8(ok) {
                    Ok(s) => s,
                    Err(_) => {
                        self.broken = true;
                        return;
                    }
                }
            }
            Err(_) => {
                self.broken = true;
                return;
            }
        };
        if valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
        {
            self.broken = true;
        }
    }

    /// Whether everything fed was text (a non-empty stream ending on a whole character).
    pub fn is_text(&self) -> bool {
        !self.broken && self.pending.is_empty()
    }
}

/// The verdict on an upload: the content type to store, or why it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentVerdict {
    Accepted(String),
    /// The bytes are none of the accepted formats.
    Unsupported,
    /// The part declared a type the bytes contradict.
    Mismatch {
        declared: String,
        actual: Sniffed,
    },
}

const OFFICE_PREFIXES: [&str; 3] = [
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
    "application/vnd.ms-",
];

/// Decides the stored content type from what the bytes are (`sniffed`) and what the client
/// declared for the part (`declared`, lower-cased essence such as `application/pdf`).
/// No declaration, or the generic `application/octet-stream`, trusts the bytes alone.
pub fn judge_content(sniffed: Option<Sniffed>, declared: Option<&str>) -> ContentVerdict {
    let Some(actual) = sniffed else {
        return ContentVerdict::Unsupported;
    };
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    let canonical = match actual {
        Sniffed::Pdf => "application/pdf",
        Sniffed::Png => "image/png",
        Sniffed::Jpeg => "image/jpeg",
        Sniffed::Gif => "image/gif",
        Sniffed::Zip => "application/zip",
        Sniffed::Text => "text/plain; charset=utf-8",
    };
    let Some(declared) = declared else {
        return ContentVerdict::Accepted(canonical.to_owned());
    };
    let agrees = match actual {
        Sniffed::Pdf => declared == "application/pdf",
        Sniffed::Png => declared == "image/png",
        Sniffed::Jpeg => matches!(
            declared.as_str(),
            "image/jpeg" | "image/jpg" | "image/pjpeg"
        ),
        Sniffed::Gif => declared == "image/gif",
        Sniffed::Zip => {
            matches!(
                declared.as_str(),
                "application/zip" | "application/x-zip-compressed"
            ) || OFFICE_PREFIXES.iter().any(|p| declared.starts_with(p))
        }
        Sniffed::Text => declared.starts_with("text/"),
    };
    if !agrees {
        return ContentVerdict::Mismatch { declared, actual };
    }
    ContentVerdict::Accepted(match actual {
        // A ZIP's declared office type is more precise than "zip", and the bytes do not
        // contradict it.
        Sniffed::Zip => declared,
        Sniffed::Text => format!("{declared}; charset=utf-8"),
        _ => canonical.to_owned(),
    })
}

/// The name a file is kept under: no directories, no control characters, at most 255
/// characters; an empty name becomes `file`.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "file".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// `Content-Disposition: attachment` with an ASCII fallback `filename` and the exact name as
/// RFC 8187 `filename*` (RFC 6266 §4.3), so Cyrillic names survive every browser.
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(file_name.len() * 3);
    for b in file_name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn magic_bytes_name_the_format() {
        assert_eq!(sniff_magic(b"%PDF-1.7\n"), Some(Sniffed::Pdf));
        assert_eq!(sniff_magic(b"\x89PNG\r\n\x1a\n...."), Some(Sniffed::Png));
        assert_eq!(sniff_magic(b"\xff\xd8\xff\xe0"), Some(Sniffed::Jpeg));
        assert_eq!(sniff_magic(b"GIF89a"), Some(Sniffed::Gif));
        assert_eq!(sniff_magic(b"PK\x03\x04\x14\x00"), Some(Sniffed::Zip));
        assert_eq!(sniff_magic(b"hello"), None);
    }

    #[test]
    fn declared_type_must_agree_with_the_bytes() {
        assert_eq!(
            judge_content(Some(Sniffed::Pdf), Some("application/pdf")),
            ContentVerdict::Accepted("application/pdf".into())
        );
        assert_eq!(
            judge_content(Some(Sniffed::Pdf), None),
            ContentVerdict::Accepted("application/pdf".into())
        );
        assert_eq!(
            judge_content(Some(Sniffed::Png), Some("application/octet-stream")),
            ContentVerdict::Accepted("image/png".into())
        );
        assert_eq!(
            judge_content(Some(Sniffed::Text), Some("application/pdf")),
            ContentVerdict::Mismatch {
                declared: "application/pdf".into(),
                actual: Sniffed::Text
            }
        );
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(
            judge_content(Some(Sniffed::Zip), Some(docx)),
            ContentVerdict::Accepted(docx.into())
        );
        assert_eq!(
            judge_content(Some(Sniffed::Text), Some("text/csv")),
            ContentVerdict::Accepted("text/csv; charset=utf-8".into())
        );
        assert_eq!(judge_content(None, None), ContentVerdict::Unsupported);
    }

    #[test]
    fn text_check_spans_chunks() {
        let s = "Счёт на оплату №1\n".as_bytes();
        let mut t = TextCheck::default();
        t.feed(&s[..1]);
        t.feed(&s[1..8]);
        t.feed(&s[8..]);
        assert!(t.is_text());
        let mut t = TextCheck::default();
        t.feed(b"abc\x00def");
        assert!(!t.is_text());
        let mut t = TextCheck::default();
        t.feed(&s[..1]);
        assert!(!t.is_text(), "a cut-off character is not text");
    }

    #[test]
    fn cyrillic_names_are_encoded_per_rfc_6266() {
        let h = content_disposition("Счёт №1.pdf");
        assert!(h.starts_with("attachment; filename=\"____ _1.pdf\"; filename*=UTF-8''"));
        assert!(h.ends_with("%D0%A1%D1%87%D1%91%D1%82%20%E2%84%961.pdf"));
        assert_eq!(clean_file_name("C:\\scans\\акт.pdf"), "акт.pdf");
        assert_eq!(clean_file_name("../"), "file");
    }

    proptest! {
        #[test]
        fn text_check_agrees_with_whole_validation(s in "\\PC{0,40}", cut in 0usize..200) {
            let bytes = s.as_bytes();
            let cut = cut.min(bytes.len());
            let mut t = TextCheck::default();
            t.feed(&bytes[..cut]);
            t.feed(&bytes[cut..]);
            let expected = !s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'));
            prop_assert_eq!(t.is_text(), expected);
        }

        #[test]
        fn disposition_is_always_a_valid_header(name in "\\PC{0,40}") {
            let h = content_disposition(&name);
            prop_assert!(h.bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }
}
