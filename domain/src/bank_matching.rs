//! Matching a bank payment to the invoice it pays (SPEC INT-1C-2): the invoice number in the
//! purpose text, the payer's INN and the amount. People write the number many ways —
//! `№ СЧ-00042`, `сч.42`, `счету 42 от 01.12.2026`, the whole `СЧ-RM/2612-00042` — so a
//! number is compared both whole and by its counter (the last run of digits, leading zeros
//! dropped). A match is *sure* only when number, payer and amount all agree and no other
//! invoice fits as well; anything less is *unsure* and names what did not agree.

use serde::Serialize;
use uuid::Uuid;

/// An open invoice the payment could pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: Uuid,
    pub number: String,
    pub buyer_inn: String,
    /// Total minus what is paid, in kopecks.
    pub outstanding_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Sure,
    Unsure,
    None,
}

impl Confidence {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sure => "sure",
            Self::Unsure => "unsure",
            Self::None => "none",
        }
    }
}

/// The outcome: the invoice (when any fits), how sure, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub invoice_id: Option<Uuid>,
    pub confidence: Confidence,
    pub reason: String,
}

fn normalise(s: &str) -> String {
    s.to_lowercase()
        .replace('ё', "е")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The counter of a number: its last run of digits without leading zeros (`СЧ-RM/2612-00042`
/// → `42`).
#[must_use]
pub fn counter_of(number: &str) -> Option<String> {
    let digits: String = number
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if digits.is_empty() {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
}

/// The invoice numbers a purpose text refers to, as counters: what follows `сч` (сч., счет,
/// счету, счёт, СЧ-) or `№`.
#[must_use]
pub fn referenced_counters(purpose: &str) -> Vec<String> {
    let text: Vec<char> = purpose.to_lowercase().replace('ё', "е").chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let at_marker = text[i] == '№'
            || text[i] == '#'
            || (text[i] == 'с'
                && text.get(i + 1) == Some(&'ч')
                && (i == 0 || !text[i - 1].is_alphabetic()));
        if !at_marker {
            i += 1;
            continue;
        }
        let mut j = i;
        // Past the marker words and separators: `№ сч-`, `счету `, `сч.`
        loop {
            let start = j;
            if text.get(j) == Some(&'с') && text.get(j + 1) == Some(&'ч') {
                j += 2;
                while j < text.len() && text[j].is_alphabetic() {
                    j += 1;
                }
            }
            while j < text.len() && matches!(text[j], ' ' | '.' | ':' | '№' | '#' | '-' | '\u{a0}')
            {
                j += 1;
            }
            if j == start {
                break;
            }
        }
        // The number: letters, digits, `/` and `-`, ending in digits.
        let begin = j;
        while j < text.len() && (text[j].is_alphanumeric() || matches!(text[j], '/' | '-')) {
            j += 1;
        }
        let token: String = text[begin..j].iter().collect();
        if token.chars().any(|c| c.is_ascii_digit())
            && let Some(c) = counter_of(&token)
            && !out.contains(&c)
        {
            out.push(c);
        }
        i = j.max(i + 1);
    }
    out
}

/// Finds the invoice a payment of `amount_minor` from `payer_inn` with `purpose` pays.
#[must_use]
pub fn match_payment(
    purpose: &str,
    payer_inn: Option<&str>,
    amount_minor: i64,
    candidates: &[&Candidate],
) -> Match {
    let whole = normalise(purpose);
    let counters = referenced_counters(purpose);
    let by_number: Vec<&Candidate> = candidates
        .iter()
        .copied()
        .filter(|c| {
            let n = normalise(&c.number);
            (!n.is_empty() && whole.contains(&n))
                || counter_of(&c.number).is_some_and(|k| counters.contains(&k))
        })
        .collect();
    let inn_ok = |c: &Candidate| payer_inn.is_some_and(|i| i == c.buyer_inn);
    let amount_ok = |c: &Candidate| c.outstanding_minor == amount_minor;
    let money = |m: i64| {
        let sign = if m < 0 { "-" } else { "" };
        format!("{sign}{}.{:02}", m.abs() / 100, m.abs() % 100)
    };
    if by_number.is_empty() {
        let of_payer: Vec<&Candidate> = candidates
            .iter()
            .copied()
            .filter(|c| inn_ok(c) && amount_ok(c))
            .collect();
        return match of_payer.as_slice() {
            [one] => Match {
                invoice_id: Some(one.id),
                confidence: Confidence::Unsure,
                reason: format!(
                    "the purpose names no invoice; {} is the payer's only open invoice for {}",
                    one.number,
                    money(amount_minor)
                ),
            },
            _ => Match {
                invoice_id: None,
                confidence: Confidence::None,
                reason: if payer_inn.is_some_and(|i| candidates.iter().any(|c| c.buyer_inn == i)) {
                    "the purpose names no invoice, and no single open invoice of the payer has this amount".to_owned()
                } else {
                    "the purpose names no open invoice and the payer has none".to_owned()
                },
            },
        };
    }
    let best: Vec<&Candidate> = by_number
        .iter()
        .copied()
        .filter(|c| inn_ok(c) && amount_ok(c))
        .collect();
    if let [one] = best.as_slice() {
        return Match {
            invoice_id: Some(one.id),
            confidence: Confidence::Sure,
            reason: format!(
                "invoice {} named in the purpose, payer INN and amount {} agree",
                one.number,
                money(amount_minor)
            ),
        };
    }
    if best.len() > 1 {
        return Match {
            invoice_id: None,
            confidence: Confidence::Unsure,
            reason: format!(
                "the purpose fits {} invoices of the payer with this amount: {}",
                best.len(),
                best.iter()
                    .map(|c| c.number.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    // The number fits, something else does not: the closest candidate, with what differs.
    let of_payer: Vec<&Candidate> = by_number.iter().copied().filter(|c| inn_ok(c)).collect();
    let pick = of_payer.first().or(by_number.first()).copied();
    let Some(c) = pick else {
        return Match {
            invoice_id: None,
            confidence: Confidence::None,
            reason: "no open invoice fits".to_owned(),
        };
    };
    let mut differs = Vec::new();
    if !inn_ok(c) {
        differs.push(match payer_inn {
            Some(i) => format!("the payer INN {i} is not the buyer's {}", c.buyer_inn),
            None => format!(
                "the payer has no valid INN (the buyer's is {})",
                c.buyer_inn
            ),
        });
    }
    if !amount_ok(c) {
        differs.push(format!(
            "the amount {} differs from the outstanding {}",
            money(amount_minor),
            money(c.outstanding_minor)
        ));
    }
    Match {
        invoice_id: Some(c.id),
        confidence: Confidence::Unsure,
        reason: format!(
            "invoice {} named in the purpose, but {}",
            c.number,
            differs.join(" and ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_an_invoice_number() {
        for (purpose, want) in [
            ("Оплата по счету № СЧ-00042 от 01.12.2026", vec!["42"]),
            ("оплата сч.42, в т.ч. НДС 22 %", vec!["42"]),
            ("Оплата по счету 42 от 01.12.2026", vec!["42"]),
            ("Оплата по счёту СЧ-RM/2612-00042", vec!["42"]),
            ("Оплата по сч № 7 и сч. 0009", vec!["7", "9"]),
            ("Оплата за услуги, в т.ч. НДС 22% - 100.00", vec![]),
            ("Возврат займа 12 от 01.12.2026", vec![]),
        ] {
            assert_eq!(referenced_counters(purpose), want, "{purpose}");
        }
    }

    fn cand(n: u128, number: &str, inn: &str, outstanding: i64) -> Candidate {
        Candidate {
            id: Uuid::from_u128(n),
            number: number.to_owned(),
            buyer_inn: inn.to_owned(),
            outstanding_minor: outstanding,
        }
    }

    #[test]
    fn sure_only_when_number_payer_and_amount_agree() {
        let a = cand(1, "СЧ-RM/2612-00042", "7707083893", 100_000);
        let b = cand(2, "СЧ-RM/2612-00043", "7707083893", 50_000);
        let all = [&a, &b];
        let m = match_payment("сч.42", Some("7707083893"), 100_000, &all);
        assert_eq!((m.invoice_id, m.confidence), (Some(a.id), Confidence::Sure));
        let m = match_payment("сч.42", Some("7707083893"), 90_000, &all);
        assert_eq!(m.confidence, Confidence::Unsure);
        assert!(
            m.reason
                .contains("900.00 differs from the outstanding 1000.00"),
            "{}",
            m.reason
        );
        let m = match_payment("сч.42", Some("500100732259"), 100_000, &all);
        assert_eq!(m.confidence, Confidence::Unsure);
        assert!(m.reason.contains("not the buyer's"), "{}", m.reason);
        let m = match_payment("аванс", Some("7707083893"), 50_000, &all);
        assert_eq!(
            (m.invoice_id, m.confidence),
            (Some(b.id), Confidence::Unsure)
        );
        let m = match_payment("аванс", Some("500100732259"), 50_000, &all);
        assert_eq!((m.invoice_id, m.confidence), (None, Confidence::None));
    }
}
