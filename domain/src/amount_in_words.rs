//! DOC-3: the total of an invoice in words, in Russian, as printed forms require:
//! «одна тысяча двести сорок пять рублей 50 копеек». Thousands are feminine («одна тысяча»,
//! «две тысячи»), rubles and millions masculine, and every noun takes the form its number
//! asks for (1 рубль, 2 рубля, 5 рублей; 11–14 always take the many-form).

const UNITS_MASCULINE: [&str; 10] = [
    "",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
];
const UNITS_FEMININE: [&str; 10] = [
    "",
    "одна",
    "две",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
];
const TEENS: [&str; 10] = [
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
];
const TENS: [&str; 10] = [
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
];
const HUNDREDS: [&str; 10] = [
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Gender {
    Masculine,
    Feminine,
}

/// The three forms of a counted noun: for 1, for 2–4, for 5–20 (and 0).
struct Noun {
    one: &'static str,
    few: &'static str,
    many: &'static str,
    gender: Gender,
}

const RUBLE: Noun = Noun {
    one: "рубль",
    few: "рубля",
    many: "рублей",
    gender: Gender::Masculine,
};
const KOPECK: Noun = Noun {
    one: "копейка",
    few: "копейки",
    many: "копеек",
    gender: Gender::Feminine,
};
/// Up to quadrillions: enough for every amount an `i64` of kopecks can hold.
const SCALES: [Noun; 5] = [
    Noun {
        one: "тысяча",
        few: "тысячи",
        many: "тысяч",
        gender: Gender::Feminine,
    },
    Noun {
        one: "миллион",
        few: "миллиона",
        many: "миллионов",
        gender: Gender::Masculine,
    },
    Noun {
        one: "миллиард",
        few: "миллиарда",
        many: "миллиардов",
        gender: Gender::Masculine,
    },
    Noun {
        one: "триллион",
        few: "триллиона",
        many: "триллионов",
        gender: Gender::Masculine,
    },
    Noun {
        one: "квадриллион",
        few: "квадриллиона",
        many: "квадриллионов",
        gender: Gender::Masculine,
    },
];

impl Noun {
    /// The form the number `n` asks for.
    fn form(&self, n: u64) -> &'static str {
        match (n % 100, n % 10) {
            (11..=14, _) => self.many,
            (_, 1) => self.one,
            (_, 2..=4) => self.few,
            _ => self.many,
        }
    }
}

/// Words for 1..=999; empty for 0.
fn triad(n: u64, gender: Gender) -> Vec<&'static str> {
    let mut words = Vec::new();
    let (h, rest) = ((n / 100) as usize, n % 100);
    if h > 0 {
        words.push(HUNDREDS[h]);
    }
    match rest {
        10..=19 => words.push(TEENS[(rest - 10) as usize]),
        _ => {
            let (t, u) = ((rest / 10) as usize, (rest % 10) as usize);
            if t > 0 {
                words.push(TENS[t]);
            }
            if u > 0 {
                words.push(match gender {
                    Gender::Masculine => UNITS_MASCULINE[u],
                    Gender::Feminine => UNITS_FEMININE[u],
                });
            }
        }
    }
    words
}

/// A whole number in words, agreeing in gender with the noun it counts.
fn number_in_words(n: u64, gender: Gender) -> String {
    if n == 0 {
        return "ноль".into();
    }
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let mut words: Vec<&str> = Vec::new();
    for (i, &g) in groups.iter().enumerate().rev() {
        if g == 0 {
            continue;
        }
        if i == 0 {
            words.extend(triad(g, gender));
        } else if let Some(scale) = SCALES.get(i - 1) {
            words.extend(triad(g, scale.gender));
            words.push(scale.form(g));
        }
    }
    words.join(" ")
}

/// An amount in kopecks in words: rubles spelled out, kopecks as two digits, e.g.
/// `124550` → «одна тысяча двести сорок пять рублей 50 копеек».
pub fn rubles_in_words(kopecks: i64) -> String {
    let sign = if kopecks < 0 { "минус " } else { "" };
    let abs = kopecks.unsigned_abs();
    let (rubles, kop) = (abs / 100, abs % 100);
    format!(
        "{sign}{} {} {kop:02} {}",
        number_in_words(rubles, RUBLE.gender),
        RUBLE.form(rubles),
        KOPECK.form(kop)
    )
}

/// The same with a capital first letter, as the printed line starts a sentence.
pub fn rubles_in_words_capitalized(kopecks: i64) -> String {
    let s = rubles_in_words(kopecks);
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_amounts() {
        let cases = [
            (1, "ноль рублей 01 копейка"),
            (100, "один рубль 00 копеек"),
            (200, "два рубля 00 копеек"),
            (500, "пять рублей 00 копеек"),
            (1_100, "одиннадцать рублей 00 копеек"),
            (2_100, "двадцать один рубль 00 копеек"),
            (100_000, "одна тысяча рублей 00 копеек"),
            (124_550, "одна тысяча двести сорок пять рублей 50 копеек"),
            (200_000_000, "два миллиона рублей 00 копеек"),
            (100_000_000, "один миллион рублей 00 копеек"),
            (
                214_748_364_799,
                "два миллиарда сто сорок семь миллионов четыреста восемьдесят три тысячи \
                 шестьсот сорок семь рублей 99 копеек",
            ),
            (1_200_002, "двенадцать тысяч рублей 02 копейки"),
            (1_122, "одиннадцать рублей 22 копейки"),
            (511_411, "пять тысяч сто четырнадцать рублей 11 копеек"),
            (-350, "минус три рубля 50 копеек"),
        ];
        for (kopecks, words) in cases {
            assert_eq!(rubles_in_words(kopecks), words, "{kopecks}");
        }
        assert_eq!(
            rubles_in_words_capitalized(124_550),
            "Одна тысяча двести сорок пять рублей 50 копеек"
        );
    }

    #[test]
    fn the_largest_amount_is_spelled_out_whole() {
        assert_eq!(
            rubles_in_words(i64::MAX),
            "девяносто два квадриллиона двести тридцать три триллиона семьсот двадцать \
             миллиардов триста шестьдесят восемь миллионов пятьсот сорок семь тысяч \
             семьсот пятьдесят восемь рублей 07 копеек"
        );
        assert!(rubles_in_words(i64::MIN).starts_with("минус девяносто два квадриллиона"));
    }

    #[test]
    fn thousands_agree_in_gender_and_number() {
        assert_eq!(number_in_words(2_000, Gender::Masculine), "две тысячи");
        assert_eq!(
            number_in_words(21_000, Gender::Masculine),
            "двадцать одна тысяча"
        );
        assert_eq!(number_in_words(5_000, Gender::Masculine), "пять тысяч");
        assert_eq!(
            number_in_words(11_000, Gender::Masculine),
            "одиннадцать тысяч"
        );
        assert_eq!(
            number_in_words(1_001_001, Gender::Masculine),
            "один миллион одна тысяча один"
        );
    }

    proptest! {
        #[test]
        fn every_amount_has_words_and_its_kopecks(k in any::<i64>()) {
            let s = rubles_in_words(k);
            let expected = format!(" {:02} ", k.unsigned_abs() % 100);
            prop_assert!(s.contains(&expected));
            prop_assert!(!s.contains("  "));
        }
    }
}
