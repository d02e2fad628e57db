//! Applying a column's [`Rule`] to one value, with a secret key.
//!
//! A [`Transformer`] holds the key, prepared once: every keyed rule (pseudonyms, fake values)
//! clones a ready HMAC-SHA256 state, so a value costs a couple of SHA-256 blocks and nothing
//! more. `None` is SQL NULL (an empty CSV field): it stays NULL under every rule, and `null`
//! turns every value into it.
//!
//! Nothing here ever puts an original value in an error: a [`TransformError`] says which rule
//! failed, what it expected, and the value's length and shape (`A6 P1 A5 P1 N3` for
//! `SECRET-VALUE-123`: runs of letters `A`, digits `N`, whitespace `S`, anything else `P`;
//! no character of the value).
//!
//! | rule | output |
//! |------|--------|
//! | `keep` | the value |
//! | `null` | NULL |
//! | `pseudonym` | 26 characters `[a-z2-7]`: 128 bits of HMAC-SHA256(key, `pseudonym\0` + value), base32 |
//! | `email_pseudonym` | `u` + 26 such characters (from HMAC(key, `email_pseudonym\0` + the value [normalised](normalise_email))) + `@anonymised.invalid` |
//! | `fake` | a `fake` crate value, from a ChaCha8 RNG seeded with HMAC(key, `fake\0` + kind + `\0` + value); a draw equal to the value (ignoring case) is drawn again |
//! | `generalise` | postcode district, first day of the year or month, age band, rounded number |
//! | `map` | the mapped value, the default, or an error |

use crate::config::{FakeKind, Generalisation, Rule};
use fake::faker::address::raw as address;
use fake::faker::company::raw as company;
use fake::faker::impls::address::CityNameGenFn;
use fake::faker::lorem::raw as lorem;
use fake::faker::name::raw as name;
use fake::faker::phone_number::raw as phone;
use fake::locales::{AR_SA, CY_GB, DE_DE, EN, FR_FR, IT_IT, JA_JP, PT_BR, PT_PT, ZH_CN, ZH_TW};
use fake::Fake;
use hmac::{Hmac, Mac};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;

/// The domain of every email pseudonym: `.invalid` is reserved (RFC 2606), so no mail can ever
/// leave for a real address.
pub const EMAIL_DOMAIN: &str = "anonymised.invalid";

/// Domain separation of the keyed rules: one key, unrelated outputs per rule.
const PSEUDONYM_CONTEXT: &[u8] = b"pseudonym\0";
const EMAIL_CONTEXT: &[u8] = b"email_pseudonym\0";
const FAKE_CONTEXT: &[u8] = b"fake\0";

/// Why a key cannot be used. The key itself is never shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key given directly is too short.
    #[error(
        "the secret key is {length} bytes long; at least {MIN_KEY_LEN} are needed (e.g. `openssl rand -hex 32`)"
    )]
    TooShort {
        /// Its length in bytes.
        length: usize,
    },
    /// The key in an environment variable is too short.
    #[error(
        "the secret key in the environment variable {var} is {length} bytes long; at least {MIN_KEY_LEN} are needed (e.g. `export {var}=$(openssl rand -hex 32)`)"
    )]
    TooShortIn {
        /// The variable.
        var: String,
        /// The key's length in bytes.
        length: usize,
    },
    /// The environment variable is not set.
    #[error(
        "the environment variable {var} is not set: it must hold the secret key of the pseudonyms, and nothing runs without it (e.g. `export {var}=$(openssl rand -hex 32)`, kept as secret as the data: with it, pseudonyms can be re-identified by trying candidate inputs)"
    )]
    Missing {
        /// The variable.
        var: String,
    },
    /// The environment variable is set but empty.
    #[error(
        "the environment variable {var} is empty: it must hold the secret key of the pseudonyms (at least {MIN_KEY_LEN} bytes), and nothing runs without it"
    )]
    Empty {
        /// The variable.
        var: String,
    },
    /// The key in the environment variable starts or ends with whitespace (a newline left by
    /// `echo` or a file, say): taken as it is, it would silently change every pseudonym.
    #[error(
        "the secret key in the environment variable {var} starts or ends with whitespace (a trailing newline, say): remove it (e.g. `export {var}=\"$(tr -d '[:space:]' < keyfile)\"`); the key is used byte for byte, so whitespace would change every pseudonym"
    )]
    Whitespace {
        /// The variable.
        var: String,
    },
    /// The environment variable is not valid UTF-8.
    #[error("the environment variable {var} is not valid UTF-8; give the key as text (e.g. hex)")]
    NotUnicode {
        /// The variable.
        var: String,
    },
}

/// Why a value could not be transformed. Never holds the value: at most its length and shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The value is not of the form the rule needs.
    #[error(
        "{rule}: expected {expected}, got a value of {length} characters shaped `{shape}` (values are never shown)"
    )]
    Unparsable {
        /// The rule, e.g. `generalise to year`.
        rule: String,
        /// What it takes.
        expected: &'static str,
        /// The value's length in characters.
        length: usize,
        /// The value's shape (see [`shape`]).
        shape: String,
    },
    /// A `map` rule without a default met a value it does not map (fail closed).
    #[error(
        "map: a value of {length} characters shaped `{shape}` is not in the map and there is no default (add it to values, or give a default; values are never shown)"
    )]
    Unmapped {
        /// The value's length in characters.
        length: usize,
        /// The value's shape (see [`shape`]).
        shape: String,
    },
    /// A `fake` rule names a locale the `fake` crate does not have.
    #[error(
        "fake: unsupported locale \"{locale}\" (supported: {})",
        supported_locales()
    )]
    UnsupportedLocale {
        /// The locale as configured.
        locale: String,
    },
    /// The rule's parameters cannot be used (see [`check`]).
    #[error("{0}")]
    InvalidRule(String),
    /// Every draw of a `fake` rule gave the value back (ignoring case): a generator whose
    /// word list is tiny, or holds little but the value.
    #[error("fake {kind}: {FAKE_DRAWS} draws all gave the original value back, so it cannot be replaced (use pseudonym, map or null for this column; values are never shown)")]
    FakeIsOriginal {
        /// The kind of fake value.
        kind: &'static str,
    },
    /// The value is not text (bytes that are not UTF-8, or a blob): only `keep` and `null`
    /// apply to it.
    #[error("a value of {bytes} bytes is not text: only keep and null apply to binary values (values are never shown)")]
    NotText {
        /// Its length in bytes.
        bytes: usize,
    },
}

/// Applies rules to values with one secret key. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Transformer {
    /// HMAC-SHA256 keyed and ready (the padded key blocks already absorbed).
    mac: HmacSha256,
}

impl fmt::Debug for Transformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transformer")
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Transformer {
    /// A transformer with `key` (at least [`MIN_KEY_LEN`] bytes).
    pub fn new(key: &[u8]) -> Result<Self, KeyError> {
        if key.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort { length: key.len() });
        }
        let mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
        Ok(Self { mac })
    }

    /// A transformer with the key in the environment variable `var`: its bytes as they are
    /// (a hex key is used as text, not decoded). Unset, empty, short, or with whitespace at
    /// either end is an error.
    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        let key = match std::env::var(var) {
            Ok(key) => key,
            Err(std::env::VarError::NotPresent) => {
                return Err(KeyError::Missing { var: var.into() })
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(KeyError::NotUnicode { var: var.into() })
            }
        };
        if key.is_empty() {
            return Err(KeyError::Empty { var: var.into() });
        }
        if key.trim() != key {
            return Err(KeyError::Whitespace { var: var.into() });
        }
        Self::new(key.as_bytes()).map_err(|error| match error {
            KeyError::TooShort { length } => KeyError::TooShortIn {
                var: var.into(),
                length,
            },
            other => other,
        })
    }

    /// HMAC-SHA256(key, context + parts...).
    fn tag(&self, context: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(context);
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The keyed pseudonym of `value`: 26 characters `[a-z2-7]` (128 bits).
    pub fn pseudonym(&self, value: &str) -> String {
        let tag = self.tag(PSEUDONYM_CONTEXT, &[value.as_bytes()]);
        base32(&tag[..16])
    }

    /// The keyed email pseudonym of `value`: `u<26 characters>@anonymised.invalid`, whatever
    /// `value` looks like (unrelated to [`Self::pseudonym`] of the same value). Spellings of
    /// one address get one pseudonym (see [`normalise_email`]).
    pub fn email_pseudonym(&self, value: &str) -> String {
        let normalised = normalise_email(value);
        let tag = self.tag(EMAIL_CONTEXT, &[normalised.as_bytes()]);
        let mut email = String::with_capacity(1 + 26 + 1 + EMAIL_DOMAIN.len());
        email.push('u');
        email.push_str(&base32(&tag[..16]));
        email.push('@');
        email.push_str(EMAIL_DOMAIN);
        email
    }

    /// A fake value of `kind` in `locale` (default `en`), the same for the same value and key,
    /// and never the value itself (ignoring case): such a draw is drawn again.
    pub fn fake(
        &self,
        kind: FakeKind,
        locale: Option<&str>,
        value: &str,
    ) -> Result<String, TransformError> {
        let locale = Locale::parse(locale)?;
        let seed = self.tag(
            FAKE_CONTEXT,
            &[fake_kind_name(kind).as_bytes(), b"\0", value.as_bytes()],
        );
        let mut rng = ChaCha8Rng::from_seed(seed);
        draw_unlike(kind, value, || match locale {
            Locale::En => fake_in(EN, kind, false, &mut rng),
            Locale::FrFr => fake_in(FR_FR, kind, false, &mut rng),
            Locale::DeDe => fake_in(DE_DE, kind, true, &mut rng),
            Locale::ItIt => fake_in(IT_IT, kind, true, &mut rng),
            Locale::PtBr => fake_in(PT_BR, kind, true, &mut rng),
            Locale::PtPt => fake_in(PT_PT, kind, true, &mut rng),
            Locale::CyGb => fake_in(CY_GB, kind, false, &mut rng),
            Locale::JaJp => fake_in(JA_JP, kind, false, &mut rng),
            Locale::ZhCn => fake_in(ZH_CN, kind, false, &mut rng),
            Locale::ZhTw => fake_in(ZH_TW, kind, false, &mut rng),
            Locale::ArSa => fake_in(AR_SA, kind, false, &mut rng),
        })
    }

    /// Applies `rule` to one value (`None` is NULL). The error never holds the value.
    pub fn apply(
        &self,
        rule: &Rule,
        value: Option<&str>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else {
            return Ok(None);
        };
        match rule {
            Rule::Keep => Ok(Some(value.to_owned())),
            Rule::Null => Ok(None),
            Rule::Pseudonym => Ok(Some(self.pseudonym(value))),
            Rule::EmailPseudonym => Ok(Some(self.email_pseudonym(value))),
            // An empty string is no one's name or address: made up, it would look like one.
            Rule::Fake { .. } if value.is_empty() => Ok(Some(String::new())),
            Rule::Fake { kind, locale } => self.fake(*kind, locale.as_deref(), value).map(Some),
            Rule::Generalise {
                to,
                width,
                top,
                step,
            } => generalise(*to, *width, *top, *step, value).map(Some),
            Rule::Map { values, default } => match values.get(value).or(default.as_ref()) {
                Some(mapped) => Ok(Some(mapped.clone())),
                None => Err(TransformError::Unmapped {
                    length: value.chars().count(),
                    shape: shape(value),
                }),
            },
        }
    }
}

/// The smallest and largest `round` step: outside them, ordinary numbers would overflow or
/// round to nothing, and the run would blame a value for the config's mistake.
const STEPS: std::ops::RangeInclusive<f64> = 1e-9..=1e15;

/// Checks a rule's parameters (for the config check), so that no parameter fails a run half
/// way and gets blamed on a value: the locale of `fake`; the parameters of `generalise`, each
/// only where it applies, a band width of at least 1 under a top code at least as high, a step
/// from 1e-9 to 1e15; a `map` that could map something. The message names no column: the
/// caller adds it.
pub fn check(rule: &Rule) -> Result<(), String> {
    match rule {
        Rule::Keep | Rule::Null | Rule::Pseudonym | Rule::EmailPseudonym => Ok(()),
        Rule::Fake { locale, .. } => Locale::parse(locale.as_deref())
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Rule::Generalise {
            to,
            width,
            top,
            step,
        } => {
            let name = generalisation_name(*to);
            let mut problems = Vec::new();
            if *to != Generalisation::AgeBand {
                for (param, given) in [("width", width.is_some()), ("top", top.is_some())] {
                    if given {
                        problems.push(format!(
                            "generalise to {name} takes no {param} (it applies to age_band only)"
                        ));
                    }
                }
            }
            if *to != Generalisation::Round && step.is_some() {
                problems.push(format!(
                    "generalise to {name} takes no step (it applies to round only)"
                ));
            }
            if *width == Some(0) {
                problems.push("generalise to age_band: width must be at least 1".to_owned());
            }
            if *top == Some(0) {
                problems.push("generalise to age_band: top must be at least 1".to_owned());
            }
            let (w, t) = (width.unwrap_or(AGE_WIDTH), top.unwrap_or(AGE_TOP));
            if *to == Generalisation::AgeBand && w > 0 && t > 0 && t < w {
                problems.push(format!(
                    "generalise to age_band: top ({t}{}) is below the band width ({w}): every age under it would share one band (give a top of at least the width)",
                    if top.is_none() { ", the default" } else { "" }
                ));
            }
            if let Some(step) = step {
                if !STEPS.contains(step) {
                    problems.push(format!(
                        "generalise to round: step must be a number from {:e} to {:e} (smaller or larger steps overflow or round every value to nothing)",
                        STEPS.start(),
                        STEPS.end()
                    ));
                }
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("; "))
            }
        }
        Rule::Map { values, default } => {
            if values.is_empty() && default.is_none() {
                Err("map has no values and no default: every value would be refused (give values, a default, or use null)".to_owned())
            } else {
                Ok(())
            }
        }
    }
}

/// A value's shape, never a character of it: runs of letters `A`, digits `N`, whitespace
/// `S` and anything else (punctuation, symbols, controls) `P`, each with its length,
/// separated by spaces; at most 12 runs, then `…`. `SECRET-VALUE-123` is
/// `A6 P1 A5 P1 N3`, `1987/04/12` is `N4 P1 N2 P1 N2`. Punctuation is a class too: shown as
/// is, a value made of it (`!!--++##`) would be shown whole.
pub fn shape(value: &str) -> String {
    const MAX_RUNS: usize = 12;
    let class = |c: char| {
        if c.is_numeric() {
            'N'
        } else if c.is_alphabetic() {
            'A'
        } else if c.is_whitespace() {
            'S'
        } else {
            'P'
        }
    };
    let mut runs: Vec<String> = Vec::new();
    let mut chars = value.chars().map(class).peekable();
    while let Some(c) = chars.next() {
        if runs.len() == MAX_RUNS {
            runs.push("…".to_owned());
            break;
        }
        let mut n = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        runs.push(format!("{c}{n}"));
    }
    runs.join(" ")
}

/// An email as its pseudonym is keyed: the local part (before the last `@`) in Unicode NFC, its
/// case kept (RFC 5321 lets a server tell `Alice` from `alice`); the domain in its ASCII form
/// (IDNA: NFC, lowercase, punycode), so `bücher.example`, its NFD spelling,
/// `xn--bcher-kva.example` and `BÜCHER.example` are one domain. A domain IDNA refuses is
/// lowercased; a value without `@` is put in NFC only. ASCII addresses with a lowercase domain
/// are unchanged, so their pseudonyms are the ones earlier versions gave.
pub fn normalise_email(value: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    let nfc = |s: &str| -> String { s.nfc().collect() };
    let Some((local, domain)) = value.rsplit_once('@') else {
        return if is_nfc_quick(value.chars()) == IsNormalized::Yes {
            value.into()
        } else {
            nfc(value).into()
        };
    };
    let simple = |c: char| c.is_ascii() && !c.is_ascii_uppercase();
    if local.is_ascii() && domain.chars().all(simple) {
        return value.into();
    }
    let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| nfc(domain).to_lowercase());
    format!("{}@{domain}", nfc(local)).into()
}

/// Lowercase RFC 4648 base32 without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The `fake` crate locales a `fake` rule may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locale {
    En,
    FrFr,
    DeDe,
    ItIt,
    PtBr,
    PtPt,
    CyGb,
    JaJp,
    ZhCn,
    ZhTw,
    ArSa,
}

const LOCALES: [(&str, Locale); 11] = [
    ("en", Locale::En),
    ("fr_fr", Locale::FrFr),
    ("de_de", Locale::DeDe),
    ("it_it", Locale::ItIt),
    ("pt_br", Locale::PtBr),
    ("pt_pt", Locale::PtPt),
    ("cy_gb", Locale::CyGb),
    ("ja_jp", Locale::JaJp),
    ("zh_cn", Locale::ZhCn),
    ("zh_tw", Locale::ZhTw),
    ("ar_sa", Locale::ArSa),
];

fn supported_locales() -> String {
    LOCALES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Locale {
    /// `None` is `en`; names match case-insensitively, `-` for `_` (`fr-FR` is `fr_fr`).
    fn parse(name: Option<&str>) -> Result<Self, TransformError> {
        let Some(name) = name else {
            return Ok(Self::En);
        };
        let same = |known: &str| {
            known.len() == name.len()
                && known
                    .bytes()
                    .zip(name.bytes())
                    .all(|(k, n)| k == n.to_ascii_lowercase() || (k == b'_' && n == b'-'))
        };
        LOCALES
            .iter()
            .find(|(known, _)| same(known))
            .map(|(_, locale)| *locale)
            .ok_or_else(|| TransformError::UnsupportedLocale {
                locale: name.to_owned(),
            })
    }
}

fn fake_kind_name(kind: FakeKind) -> &'static str {
    match kind {
        FakeKind::Name => "name",
        FakeKind::FirstName => "first_name",
        FakeKind::LastName => "last_name",
        FakeKind::Phone => "phone",
        FakeKind::Address => "address",
        FakeKind::City => "city",
        FakeKind::Company => "company",
        FakeKind::Sentence => "sentence",
    }
}

/// Draws a fake value before giving up on one unlike the original.
const FAKE_DRAWS: usize = 16;

/// The first of `draw`'s values that differs from `original` ignoring case (the next draw of
/// the same keyed stream, so still the same for the same input and key); an error, never the
/// original, once [`FAKE_DRAWS`] draws all gave it back.
fn draw_unlike(
    kind: FakeKind,
    original: &str,
    mut draw: impl FnMut() -> String,
) -> Result<String, TransformError> {
    let original = original.to_lowercase();
    (0..FAKE_DRAWS)
        .map(|_| draw())
        .find(|fake| fake.to_lowercase() != original)
        .ok_or(TransformError::FakeIsOriginal {
            kind: fake_kind_name(kind),
        })
}

/// A fake value of `kind` in locale `l`; an address puts the street before the number where
/// the locale does (`Hauptstraße 12`).
fn fake_in<L: CityNameGenFn>(
    l: L,
    kind: FakeKind,
    street_first: bool,
    rng: &mut ChaCha8Rng,
) -> String {
    match kind {
        FakeKind::Name => name::Name(l).fake_with_rng(rng),
        FakeKind::FirstName => name::FirstName(l).fake_with_rng(rng),
        FakeKind::LastName => name::LastName(l).fake_with_rng(rng),
        FakeKind::Phone => phone::PhoneNumber(l).fake_with_rng(rng),
        FakeKind::Address => {
            let number: String = address::BuildingNumber(l).fake_with_rng(rng);
            let street: String = address::StreetName(l).fake_with_rng(rng);
            if street_first {
                format!("{street} {number}")
            } else {
                format!("{number} {street}")
            }
        }
        FakeKind::City => address::CityName(l).fake_with_rng(rng),
        FakeKind::Company => company::CompanyName(l).fake_with_rng(rng),
        FakeKind::Sentence => lorem::Sentence(l, 4..10).fake_with_rng(rng),
    }
}

/// A generalisation's name, as a config writes it.
pub(crate) fn generalisation_name(to: Generalisation) -> &'static str {
    match to {
        Generalisation::PostcodeDistrict => "postcode_district",
        Generalisation::Year => "year",
        Generalisation::Month => "month",
        Generalisation::AgeBand => "age_band",
        Generalisation::Round => "round",
    }
}

/// The default band width and top code of `age_band`.
const AGE_WIDTH: u32 = 10;
const AGE_TOP: u32 = 90;

const DATE: &str = "a date YYYY-MM-DD or a timestamp YYYY-MM-DD HH:MM[:SS[.f]][zone] (space or T)";
const AGE: &str = "a non-negative age in years";
const NUMBER: &str = "a number";

fn generalise(
    to: Generalisation,
    width: Option<u32>,
    top: Option<u32>,
    step: Option<f64>,
    value: &str,
) -> Result<String, TransformError> {
    let unparsable = |expected| TransformError::Unparsable {
        rule: format!("generalise to {}", generalisation_name(to)),
        expected,
        length: value.chars().count(),
        shape: shape(value),
    };
    match to {
        Generalisation::PostcodeDistrict => Ok(postcode_district(value)),
        Generalisation::Year | Generalisation::Month => {
            let trimmed = value.trim();
            // Postgres' special dates say nothing about anyone.
            if trimmed == "infinity" || trimmed == "-infinity" {
                return Ok(trimmed.to_owned());
            }
            let (year, month) = parse_date(trimmed).ok_or_else(|| unparsable(DATE))?;
            Ok(if to == Generalisation::Year {
                format!("{year}-01-01")
            } else {
                format!("{year}-{month:02}-01")
            })
        }
        Generalisation::AgeBand => {
            let width = u64::from(width.unwrap_or(AGE_WIDTH));
            let top = u64::from(top.unwrap_or(AGE_TOP));
            if width == 0 {
                return Err(TransformError::InvalidRule(
                    "generalise to age_band: width must be at least 1".into(),
                ));
            }
            let age = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|age| age.is_finite() && *age >= 0.0)
                .ok_or_else(|| unparsable(AGE))?;
            // Saturating: an absurd age lands in the top band.
            let age = age.floor() as u64;
            let band = if age >= top { top } else { age / width * width };
            Ok(band.to_string())
        }
        Generalisation::Round => {
            let step = step.unwrap_or(10.0);
            if !(step.is_finite() && step > 0.0) {
                return Err(TransformError::InvalidRule(
                    "generalise to round: step must be a positive number".into(),
                ));
            }
            let trimmed = value.trim();
            if let Some(rounded) = round_integer(trimmed, step) {
                return Ok(rounded);
            }
            let number = trimmed
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| unparsable(NUMBER))?;
            // `+ 0.0` turns -0 into 0.
            let rounded = (number / step).round() * step + 0.0;
            if !rounded.is_finite() {
                return Err(unparsable(NUMBER));
            }
            Ok(format!("{rounded:.0$}", decimals(step)))
        }
    }
}

/// `SW1A 1AA` and `sw1a1aa` to `SW1A`: the part before the first space, else the outward part
/// of a spaceless UK postcode (all but the inward `9AA`), else the first three characters;
/// uppercased. An empty value stays empty.
fn postcode_district(value: &str) -> String {
    let trimmed = value.trim();
    let mut parts = trimmed.split_whitespace();
    let first = parts.next().unwrap_or("");
    if parts.next().is_some() {
        return first.to_uppercase();
    }
    let chars: Vec<char> = first.chars().collect();
    let n = chars.len();
    let uk_inward = (5..=7).contains(&n)
        && chars.iter().all(char::is_ascii_alphanumeric)
        && chars[0].is_ascii_alphabetic()
        && chars[n - 3].is_ascii_digit()
        && chars[n - 2].is_ascii_alphabetic()
        && chars[n - 1].is_ascii_alphabetic();
    let keep = if uk_inward { n - 3 } else { n.min(3) };
    chars[..keep].iter().collect::<String>().to_uppercase()
}

/// The year (4 digits, as written) and month of `YYYY-MM-DD`, optionally followed by a time
/// after a space or `T`; the day must exist.
fn parse_date(value: &str) -> Option<(&str, u32)> {
    let b = value.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = value.get(..4).filter(|y| all_digits(y))?;
    let month = two_digits(&b[5..7])?;
    let day = two_digits(&b[8..10])?;
    let y: u32 = year.parse().ok()?;
    let leap = matches!((y % 4, y % 100, y % 400), (0, 1.., _) | (_, _, 0));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days {
        return None;
    }
    match b.get(10) {
        None => Some((year, month)),
        Some(b' ' | b'T') if valid_time(&b[11..]) => Some((year, month)),
        Some(_) => None,
    }
}

/// `HH:MM[:SS[.fraction]]` then nothing, `Z`, or `±HH[[:]MM[[:]SS]]`.
fn valid_time(b: &[u8]) -> bool {
    if b.len() < 5 || b[2] != b':' {
        return false;
    }
    match (two_digits(&b[..2]), two_digits(&b[3..5])) {
        (Some(h), Some(m)) if h <= 24 && m <= 59 => {}
        _ => return false,
    }
    let mut rest = &b[5..];
    if rest.first() == Some(&b':') {
        match rest.get(1..3).and_then(two_digits) {
            Some(s) if s <= 60 => rest = &rest[3..],
            _ => return false,
        }
        if rest.first() == Some(&b'.') {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return false;
            }
            rest = &rest[1 + digits..];
        }
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', zone @ ..] => {
            (2..=8).contains(&zone.len())
                && zone[..2].iter().all(u8::is_ascii_digit)
                && zone.iter().all(|c| c.is_ascii_digit() || *c == b':')
        }
        _ => false,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [t, u] if t.is_ascii_digit() && u.is_ascii_digit() => {
            Some(u32::from(t - b'0') * 10 + u32::from(u - b'0'))
        }
        _ => None,
    }
}

/// An integer rounded to a whole `step`, half away from zero, exactly; `None` when the value is
/// not an integer, the step is not whole, or the numbers are too large for exact arithmetic.
fn round_integer(value: &str, step: f64) -> Option<String> {
    if step.fract() != 0.0 || step > 1e18 {
        return None;
    }
    let n: i128 = value.parse().ok()?;
    let step = step as i128;
    let half = step / 2;
    let magnitude = n.checked_abs()?.checked_add(half)? / step * step;
    Some(if n < 0 { -magnitude } else { magnitude }.to_string())
}

/// The decimals a step is written with (`0.25` has 2, `10` none).
fn decimals(step: f64) -> usize {
    if step.fract() == 0.0 {
        return 0;
    }
    let written = step.to_string();
    written
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len().min(17))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const SECRET: &str = "SECRET-VALUE-123";

    fn t() -> Transformer {
        Transformer::new(KEY).unwrap()
    }

    fn generalise_rule(to: Generalisation) -> Rule {
        Rule::Generalise {
            to,
            width: None,
            top: None,
            step: None,
        }
    }

    fn gen(to: Generalisation, value: &str) -> Result<String, TransformError> {
        t().apply(&generalise_rule(to), Some(value))
            .map(Option::unwrap)
    }

    fn all_rules() -> Vec<Rule> {
        let mut rules = vec![
            Rule::Keep,
            Rule::Null,
            Rule::Pseudonym,
            Rule::EmailPseudonym,
            Rule::Fake {
                kind: FakeKind::Name,
                locale: None,
            },
            Rule::Map {
                values: BTreeMap::new(),
                default: Some("x".into()),
            },
        ];
        for to in [
            Generalisation::PostcodeDistrict,
            Generalisation::Year,
            Generalisation::Month,
            Generalisation::AgeBand,
            Generalisation::Round,
        ] {
            rules.push(generalise_rule(to));
        }
        rules
    }

    #[test]
    fn pinned_vectors() {
        let t = t();
        assert_eq!(
            t.pseudonym("alice@example.com"),
            "o3prswyu57qbfdzez7uwmpdgty"
        );
        assert_eq!(t.pseudonym("12345"), "32fhmxa5fosmtotcnbza4whmfa");
        assert_eq!(
            t.email_pseudonym("alice@example.com"),
            "uqqpvhwgqcil3buxjpzxxlttmfa@anonymised.invalid"
        );
        assert_eq!(
            t.email_pseudonym("12345"),
            "urrj5u7oabocgq7v5uh4gmpxo4q@anonymised.invalid"
        );
        // Fake values depend on the `fake` and `rand_chacha` versions too: this one moving means
        // a dependency update changed every fake value of every run.
        assert_eq!(
            t.fake(FakeKind::Name, None, "alice").unwrap(),
            "Matilda Wuckert"
        );
        // Through the rules, too.
        assert_eq!(
            t.apply(&Rule::Pseudonym, Some("12345")).unwrap().unwrap(),
            t.pseudonym("12345")
        );
        assert_eq!(
            t.apply(&Rule::EmailPseudonym, Some("12345"))
                .unwrap()
                .unwrap(),
            t.email_pseudonym("12345")
        );
    }

    #[test]
    fn same_key_same_output_other_key_other_output() {
        let a = Transformer::new(KEY).unwrap();
        let b = Transformer::new(KEY.to_vec().as_slice()).unwrap();
        let other = Transformer::new(b"another key, 16+ bytes long").unwrap();
        for value in ["alice@example.com", "12345", ""] {
            assert_eq!(a.pseudonym(value), b.pseudonym(value));
            assert_eq!(a.email_pseudonym(value), b.email_pseudonym(value));
            assert_ne!(a.pseudonym(value), other.pseudonym(value));
            assert_ne!(a.email_pseudonym(value), other.email_pseudonym(value));
            // Domain separation: the email's local part is not the pseudonym.
            assert!(!a.email_pseudonym(value).contains(&a.pseudonym(value)));
        }
        // A clone shares the key.
        assert_eq!(a.clone().pseudonym("x"), a.pseudonym("x"));
    }

    #[test]
    fn a_million_distinct_inputs_give_a_million_distinct_pseudonyms_and_emails() {
        const N: u32 = 1_000_000;
        let t = t();
        let mut seen = HashSet::with_capacity(N as usize);
        let mut emails = HashSet::with_capacity(N as usize);
        for i in 0..N {
            let value = format!("user{i}@example.com");
            let p = t.pseudonym(&value);
            assert_eq!(p.len(), 26);
            assert!(p.bytes().all(|c| matches!(c, b'a'..=b'z' | b'2'..=b'7')));
            assert!(seen.insert(p), "duplicate pseudonym at input {i}");
            assert!(
                emails.insert(t.email_pseudonym(&value)),
                "duplicate email pseudonym at input {i}"
            );
        }
        assert_eq!((seen.len(), emails.len()), (N as usize, N as usize));
    }

    #[test]
    fn email_pseudonyms_look_like_emails() {
        let t = t();
        let mut seen = HashSet::new();
        for value in [
            "alice@example.com",
            "Alice@example.com",
            "no-at-sign",
            "a@b@c",
            "",
            " ",
            "élodie@exemple.fr",
            "\"quoted\"@x",
        ] {
            let email = t.email_pseudonym(value);
            let (local, domain) = email.split_once('@').unwrap();
            assert_eq!(domain, EMAIL_DOMAIN);
            assert_eq!(local.len(), 27);
            assert!(local.starts_with('u'));
            assert!(local.bytes().all(|c| c.is_ascii_alphanumeric()));
            assert!(seen.insert(email), "{value:?}");
        }
    }

    #[test]
    fn base32_matches_rfc_4648() {
        for (input, output) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32(input.as_bytes()), output);
        }
        assert_eq!(base32(&[0xff; 16]).len(), 26);
    }

    #[test]
    fn fake_of_an_empty_string_is_an_empty_string() {
        let rule = Rule::Fake {
            kind: FakeKind::Name,
            locale: None,
        };
        assert_eq!(t().apply(&rule, Some("")).unwrap().as_deref(), Some(""));
        assert_eq!(t().apply(&rule, None).unwrap(), None);
        assert_ne!(t().apply(&rule, Some(" ")).unwrap().as_deref(), Some(" "));
    }

    #[test]
    fn fake_is_stable_per_input_and_varies_across_inputs() {
        let a = t();
        let b = Transformer::new(KEY).unwrap();
        let rule = Rule::Fake {
            kind: FakeKind::Name,
            locale: None,
        };
        let mut names = HashSet::new();
        for i in 0..100 {
            let value = format!("person {i}");
            let x = a.apply(&rule, Some(&value)).unwrap().unwrap();
            assert_eq!(x, b.apply(&rule, Some(&value)).unwrap().unwrap());
            assert!(x.contains(' '), "{x}");
            names.insert(x);
        }
        assert!(names.len() > 90, "{names:?}");
        // The kind is part of the seed; another key gives other values.
        let other = Transformer::new(b"another key, 16+ bytes long").unwrap();
        let differ = (0..50)
            .filter(|i| {
                let v = format!("person {i}");
                a.fake(FakeKind::Name, None, &v).unwrap()
                    != other.fake(FakeKind::Name, None, &v).unwrap()
            })
            .count();
        assert!(differ > 40, "{differ}");
    }

    #[test]
    fn every_kind_in_every_locale_gives_a_value() {
        let t = t();
        let kinds = [
            FakeKind::Name,
            FakeKind::FirstName,
            FakeKind::LastName,
            FakeKind::Phone,
            FakeKind::Address,
            FakeKind::City,
            FakeKind::Company,
            FakeKind::Sentence,
        ];
        for (locale, _) in LOCALES {
            for kind in kinds {
                for i in 0..200 {
                    let v = t.fake(kind, Some(locale), &i.to_string()).unwrap();
                    assert!(!v.trim().is_empty(), "{locale} {kind:?}");
                }
            }
        }
        // Locales change the values, and their names are forgiving about case and `-`.
        let en = t.fake(FakeKind::Address, None, "x").unwrap();
        let de = t.fake(FakeKind::Address, Some("de_de"), "x").unwrap();
        assert_ne!(en, de);
        assert_eq!(t.fake(FakeKind::Address, Some("de-DE"), "x").unwrap(), de);
        assert_eq!(t.fake(FakeKind::Address, Some("EN"), "x").unwrap(), en);
        assert!(t.fake(FakeKind::Name, Some("fr_fr"), "x").is_ok());
    }

    #[test]
    fn unsupported_locales_are_named() {
        let rule = Rule::Fake {
            kind: FakeKind::City,
            locale: Some("xx_yy".into()),
        };
        let error = t().apply(&rule, Some("Paris")).unwrap_err();
        assert!(matches!(error, TransformError::UnsupportedLocale { .. }));
        let text = error.to_string();
        assert!(
            text.contains("\"xx_yy\"") && text.contains("fr_fr"),
            "{text}"
        );
        assert!(!text.contains("Paris"));
        assert!(check(&rule).unwrap_err().contains("xx_yy"));
    }

    #[test]
    fn null_stays_null_and_null_nulls_everything() {
        let t = t();
        for rule in all_rules() {
            assert_eq!(t.apply(&rule, None).unwrap(), None, "{rule:?}");
        }
        assert_eq!(t.apply(&Rule::Null, Some("x")).unwrap(), None);
        assert_eq!(t.apply(&Rule::Keep, Some("x")).unwrap().unwrap(), "x");
        assert_eq!(t.apply(&Rule::Keep, Some("")).unwrap().unwrap(), "");
    }

    #[test]
    fn postcode_districts() {
        use Generalisation::PostcodeDistrict as P;
        assert_eq!(gen(P, "SW1A 1AA").unwrap(), "SW1A");
        assert_eq!(gen(P, "sw1a  1aa").unwrap(), "SW1A");
        assert_eq!(gen(P, " M1 1AE ").unwrap(), "M1");
        assert_eq!(gen(P, "SW1A1AA").unwrap(), "SW1A");
        assert_eq!(gen(P, "m11ae").unwrap(), "M1");
        assert_eq!(gen(P, "75008").unwrap(), "750");
        assert_eq!(gen(P, "10115").unwrap(), "101");
        assert_eq!(gen(P, "ab").unwrap(), "AB");
        assert_eq!(gen(P, "").unwrap(), "");
        assert_eq!(gen(P, "   ").unwrap(), "");
        assert_eq!(gen(P, "ßtraße").unwrap(), "SSTR");
    }

    #[test]
    fn years_and_months() {
        use Generalisation::{Month, Year};
        assert_eq!(gen(Year, "1987-04-12").unwrap(), "1987-01-01");
        assert_eq!(gen(Month, "1987-04-12").unwrap(), "1987-04-01");
        for timestamp in [
            "1987-04-12 10:11:12",
            "1987-04-12T10:11:12",
            "1987-04-12 10:11",
            "1987-04-12T10:11:12Z",
            "1987-04-12 10:11:12.123456+02",
            "1987-04-12T10:11:12+05:30",
            "1987-04-12 24:00:00",
        ] {
            assert_eq!(gen(Year, timestamp).unwrap(), "1987-01-01", "{timestamp}");
            assert_eq!(gen(Month, timestamp).unwrap(), "1987-04-01", "{timestamp}");
        }
        assert_eq!(gen(Year, "2000-02-29").unwrap(), "2000-01-01");
        assert_eq!(gen(Year, " 1987-04-12 ").unwrap(), "1987-01-01");
        assert_eq!(gen(Year, "infinity").unwrap(), "infinity");
        for bad in [
            "",
            "1987",
            "1987-04",
            "87-04-12",
            "1987/04/12",
            "12/04/1987",
            "1987-13-01",
            "1987-00-10",
            "1987-04-31",
            "1900-02-29",
            "1987-04-12x",
            "1987-04-12 10",
            "1987-04-12 25:00",
            "1987-04-12T10:11:12.",
            "1987-04-12 10:11:12 +02",
            "1987-04-12 10:11:12+2",
            "１９８７-04-12",
        ] {
            let error = gen(Year, bad).unwrap_err();
            assert!(
                matches!(error, TransformError::Unparsable { .. }),
                "{bad}: {error}"
            );
            assert!(gen(Month, bad).is_err(), "{bad}");
        }
        let text = gen(Year, "12/04/1987").unwrap_err().to_string();
        assert!(
            text.contains("N2 P1 N2 P1 N4") && text.contains("10 characters"),
            "{text}"
        );
        assert!(!text.contains("1987") && !text.contains("12/04"), "{text}");
    }

    #[test]
    fn age_bands() {
        use Generalisation::AgeBand;
        let band = |width, top, value: &str| {
            t().apply(
                &Rule::Generalise {
                    to: AgeBand,
                    width,
                    top,
                    step: None,
                },
                Some(value),
            )
            .map(Option::unwrap)
        };
        for (value, expected) in [
            ("37", "30"),
            ("0", "0"),
            ("9", "0"),
            ("10", "10"),
            ("89", "80"),
            ("90", "90"),
            ("95", "90"),
            ("130", "90"),
            ("37.9", "30"),
            (" 42 ", "40"),
            ("99999999999999999999999", "90"),
        ] {
            assert_eq!(band(None, None, value).unwrap(), expected, "{value}");
        }
        assert_eq!(band(Some(5), Some(85), "37").unwrap(), "35");
        assert_eq!(band(Some(5), Some(85), "84").unwrap(), "80");
        assert_eq!(band(Some(5), Some(85), "86").unwrap(), "85");
        assert_eq!(band(Some(10), Some(85), "84").unwrap(), "80");
        for bad in ["-1", "-0.5", "", "abc", "NaN", "inf", "3 7"] {
            assert!(
                matches!(
                    band(None, None, bad),
                    Err(TransformError::Unparsable { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            band(Some(0), None, "37"),
            Err(TransformError::InvalidRule(_))
        ));
    }

    #[test]
    fn rounding() {
        use Generalisation::Round;
        let round = |step, value: &str| {
            t().apply(
                &Rule::Generalise {
                    to: Round,
                    width: None,
                    top: None,
                    step,
                },
                Some(value),
            )
            .map(Option::unwrap)
        };
        for (step, value, expected) in [
            (None, "1234", "1230"),
            (None, "1235", "1240"),
            (None, "-1235", "-1240"),
            (None, "-4", "0"),
            (None, "0", "0"),
            (None, "+17", "20"),
            (Some(1000.0), "52499", "52000"),
            (Some(1000.0), "52500", "53000"),
            (Some(3.0), "4", "3"),
            (Some(3.0), "5", "6"),
            (
                Some(1000.0),
                "123456789012345678901234567890",
                "123456789012345678901234568000",
            ),
            (None, "1234.56", "1230"),
            (None, "-4.9", "0"),
            (Some(0.5), "1.3", "1.5"),
            (Some(0.1), "1234.5678", "1234.6"),
            (Some(0.25), "0.3", "0.25"),
            (Some(2.5), "6", "5.0"),
            (None, "1e3", "1000"),
        ] {
            assert_eq!(round(step, value).unwrap(), expected, "{step:?} {value}");
        }
        for bad in ["", "abc", "NaN", "inf", "12,5", "1e400"] {
            assert!(
                matches!(round(None, bad), Err(TransformError::Unparsable { .. })),
                "{bad}"
            );
        }
        for step in [0.0, -10.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                round(Some(step), "5"),
                Err(TransformError::InvalidRule(_))
            ));
        }
    }

    #[test]
    fn maps_with_default_and_fail_closed() {
        let t = t();
        let values: BTreeMap<String, String> = [("active", "A"), ("closed", "C")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let closed = Rule::Map {
            values: values.clone(),
            default: None,
        };
        let open = Rule::Map {
            values,
            default: Some("OTHER".into()),
        };
        assert_eq!(t.apply(&closed, Some("active")).unwrap().unwrap(), "A");
        assert_eq!(t.apply(&open, Some("closed")).unwrap().unwrap(), "C");
        assert_eq!(t.apply(&open, Some("frozen")).unwrap().unwrap(), "OTHER");
        let error = t.apply(&closed, Some("frozen")).unwrap_err();
        assert_eq!(
            error,
            TransformError::Unmapped {
                length: 6,
                shape: "A6".into()
            }
        );
        assert!(!error.to_string().contains("frozen"));
        // Exact matches only.
        assert!(t.apply(&closed, Some("Active")).is_err());
    }

    #[test]
    fn errors_never_hold_the_value() {
        let t = t();
        let mut errors = Vec::new();
        for to in [
            Generalisation::Year,
            Generalisation::Month,
            Generalisation::AgeBand,
            Generalisation::Round,
        ] {
            errors.push(t.apply(&generalise_rule(to), Some(SECRET)).unwrap_err());
        }
        errors.push(
            t.apply(
                &Rule::Map {
                    values: BTreeMap::new(),
                    default: None,
                },
                Some(SECRET),
            )
            .unwrap_err(),
        );
        errors.push(
            t.apply(
                &Rule::Fake {
                    kind: FakeKind::Name,
                    locale: Some("klingon".into()),
                },
                Some(SECRET),
            )
            .unwrap_err(),
        );
        errors.push(
            t.apply(
                &Rule::Generalise {
                    to: Generalisation::Round,
                    width: None,
                    top: None,
                    step: Some(0.0),
                },
                Some(SECRET),
            )
            .unwrap_err(),
        );
        errors.push(draw_unlike(FakeKind::Name, SECRET, || SECRET.to_lowercase()).unwrap_err());
        let kinds: HashSet<_> = errors.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds.len(), 5, "every variant is covered");
        for error in &errors {
            for text in [error.to_string(), format!("{error:?}")] {
                for part in ["SECRET", "VALUE", "123"] {
                    assert!(!text.contains(part), "{text}");
                }
            }
        }
        assert!(
            errors[0].to_string().contains("A6 P1 A5 P1 N3"),
            "{}",
            errors[0]
        );
        assert!(errors[0].to_string().contains("16 characters"));
    }

    #[test]
    fn shapes() {
        assert_eq!(shape(SECRET), "A6 P1 A5 P1 N3");
        assert_eq!(shape("1987/04/12"), "N4 P1 N2 P1 N2");
        assert_eq!(shape("Élodie  Dupré"), "A6 S2 A5");
        assert_eq!(shape(""), "");
        assert_eq!(shape("a😀b"), "A1 P1 A1");
        assert_eq!(
            shape(&"a-".repeat(20)),
            "A1 P1 A1 P1 A1 P1 A1 P1 A1 P1 A1 P1 …"
        );
    }

    #[test]
    fn keys_too_short_or_missing_are_refused() {
        assert_eq!(
            Transformer::new(b"short").unwrap_err(),
            KeyError::TooShort { length: 5 }
        );
        assert!(Transformer::new(&[0; 15]).is_err());
        assert!(Transformer::new(&[0; 16]).is_ok());
        let var = "ANONYMISE_TRANSFORM_TEST_KEY_THAT_IS_NEVER_SET";
        let error = Transformer::from_env(var).unwrap_err();
        assert_eq!(error, KeyError::Missing { var: var.into() });
        assert!(error.to_string().contains(var), "{error}");

        let var = "ANONYMISE_TRANSFORM_TEST_KEY_EMPTY";
        std::env::set_var(var, "");
        let error = Transformer::from_env(var).unwrap_err();
        assert!(matches!(error, KeyError::Empty { .. }));
        assert!(error.to_string().contains(var), "{error}");

        let var = "ANONYMISE_TRANSFORM_TEST_KEY_SHORT";
        std::env::set_var(var, "0123456789");
        let error = Transformer::from_env(var).unwrap_err();
        assert!(matches!(error, KeyError::TooShortIn { length: 10, .. }));
        let text = error.to_string();
        assert!(text.contains(var) && !text.contains("0123456789"), "{text}");

        let var = "ANONYMISE_TRANSFORM_TEST_KEY_GOOD";
        std::env::set_var(var, std::str::from_utf8(KEY).unwrap());
        let from_env = Transformer::from_env(var).unwrap();
        assert_eq!(from_env.pseudonym("12345"), t().pseudonym("12345"));
        // The key never shows.
        assert!(!format!("{from_env:?}").contains("0123456789"));
    }

    #[test]
    fn checks_of_rule_parameters() {
        for rule in all_rules() {
            assert_eq!(check(&rule), Ok(()), "{rule:?}");
        }
        let rule = |to, width, top, step| Rule::Generalise {
            to,
            width,
            top,
            step,
        };
        assert!(check(&rule(Generalisation::AgeBand, Some(5), Some(85), None)).is_ok());
        assert!(check(&rule(Generalisation::Round, None, None, Some(0.5))).is_ok());
        let problem = check(&rule(Generalisation::AgeBand, None, None, Some(5.0))).unwrap_err();
        assert!(problem.contains("takes no step"), "{problem}");
        let problem = check(&rule(Generalisation::Year, Some(5), None, None)).unwrap_err();
        assert!(problem.contains("takes no width"), "{problem}");
        assert!(check(&rule(Generalisation::AgeBand, Some(0), None, None)).is_err());
        assert!(check(&rule(Generalisation::AgeBand, None, Some(0), None)).is_err());
        assert!(check(&rule(Generalisation::Round, None, None, Some(-1.0))).is_err());
        assert!(check(&rule(Generalisation::Round, None, None, Some(f64::NAN))).is_err());
        assert!(check(&Rule::Map {
            values: BTreeMap::new(),
            default: None
        })
        .is_err());
        for locale in ["en", "fr_fr", "de_de", "FR-fr"] {
            let fake = Rule::Fake {
                kind: FakeKind::Name,
                locale: Some(locale.into()),
            };
            assert!(check(&fake).is_ok(), "{locale}");
        }
    }

    #[test]
    fn shapes_show_no_character_of_the_value() {
        for value in [
            "!!--++##",
            "a.b@c.d",
            "(555) 010-9999",
            "x/y\\z_w",
            "€ £ ¥ ?",
            "'\"`;",
        ] {
            let s = shape(value);
            for c in value
                .chars()
                .filter(|c| !c.is_alphanumeric() && !c.is_whitespace())
            {
                assert!(!s.contains(c), "{value:?} shaped {s:?}");
            }
        }
        assert_eq!(shape("!!--++##"), "P8");
    }

    #[test]
    fn keys_with_surrounding_whitespace_are_refused_without_showing_them() {
        let key = std::str::from_utf8(KEY).unwrap();
        for (i, spaced) in [
            format!("{key}\n"),
            format!("{key}\r\n"),
            format!(" {key}"),
            format!("\t{key} "),
        ]
        .iter()
        .enumerate()
        {
            let var = format!("ANONYMISE_TRANSFORM_TEST_KEY_SPACED_{i}");
            std::env::set_var(&var, spaced);
            let error = Transformer::from_env(&var)
                .err()
                .unwrap_or_else(|| panic!("{spaced:?} accepted"));
            let text = error.to_string();
            assert!(
                text.contains(&var) && text.contains("whitespace") && !text.contains(key),
                "{text}"
            );
        }
    }

    #[test]
    fn email_pseudonyms_are_the_same_for_nfc_nfd_punycode_and_domain_case() {
        let t = t();
        let e = |v: &str| t.email_pseudonym(v);
        // NFC (one code point for ë) and NFD (e + combining diaeresis), in either part.
        assert_eq!(e("zo\u{eb}@example.com"), e("zoe\u{308}@example.com"));
        assert_eq!(e("a@b\u{fc}cher.example"), e("a@bu\u{308}cher.example"));
        // An internationalised domain and its punycode.
        assert_eq!(e("a@b\u{fc}cher.example"), e("a@xn--bcher-kva.example"));
        assert_eq!(e("a@B\u{dc}CHER.example"), e("a@xn--bcher-kva.example"));
        // Domains are case-insensitive; local parts are not (RFC 5321).
        assert_eq!(e("alice@EXAMPLE.com"), e("alice@example.com"));
        assert_ne!(e("Alice@example.com"), e("alice@example.com"));
        assert_ne!(e("a@b\u{fc}cher.example"), e("a@bucher.example"));
        // The pinned vector does not move.
        assert_eq!(
            e("alice@example.com"),
            "uqqpvhwgqcil3buxjpzxxlttmfa@anonymised.invalid"
        );
    }

    /// The first value the keyed stream of `value` draws, before any check against `value`.
    fn first_draw(t: &Transformer, kind: FakeKind, value: &str) -> (String, ChaCha8Rng) {
        let seed = t.tag(
            FAKE_CONTEXT,
            &[fake_kind_name(kind).as_bytes(), b"\0", value.as_bytes()],
        );
        let mut rng = ChaCha8Rng::from_seed(seed);
        (fake_in(EN, kind, false, &mut rng), rng)
    }

    #[test]
    fn a_fake_equal_to_its_original_ignoring_case_is_drawn_again() {
        let t = t();
        let kind = FakeKind::FirstName;
        // An original whose keyed stream draws the original itself first (in some case).
        let candidates: HashSet<String> = (0..20_000)
            .map(|i| first_draw(&t, kind, &i.to_string()).0)
            .collect();
        let original = candidates
            .iter()
            .flat_map(|c| [c.clone(), c.to_uppercase(), c.to_lowercase()])
            .find(|c| first_draw(&t, kind, c).0.to_lowercase() == c.to_lowercase())
            .expect("a name drawn for itself");
        let (first, mut rest) = first_draw(&t, kind, &original);
        let next = fake_in(EN, kind, false, &mut rest);
        let fake = t.fake(kind, None, &original).unwrap();
        assert_ne!(fake.to_lowercase(), original.to_lowercase(), "{first}");
        assert_eq!(fake, next, "the next draw of the same stream");
        assert_eq!(t.fake(kind, None, &original).unwrap(), fake);
    }

    #[test]
    fn tiny_huge_and_unordered_parameters_are_refused_by_the_check() {
        let rule = |to, width, top, step| Rule::Generalise {
            to,
            width,
            top,
            step,
        };
        for step in [5e-324, 1e-300, f64::MIN_POSITIVE, 1e300, f64::MAX] {
            let problem = check(&rule(Generalisation::Round, None, None, Some(step)))
                .expect_err(&step.to_string());
            assert!(problem.contains("step"), "{problem}");
        }
        for step in [0.001, 0.25, 1.0, 1000.0, 1e9] {
            assert!(check(&rule(Generalisation::Round, None, None, Some(step))).is_ok());
        }
        // A top code below the band width: every age under it would share one band.
        let problem = check(&rule(Generalisation::AgeBand, Some(10), Some(5), None)).unwrap_err();
        assert!(problem.contains("top"), "{problem}");
        let problem = check(&rule(Generalisation::AgeBand, Some(100), None, None)).unwrap_err();
        assert!(problem.contains("top"), "{problem}");
        assert!(check(&rule(Generalisation::AgeBand, Some(10), Some(10), None)).is_ok());
    }

    #[test]
    fn transformers_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Transformer>();
    }
}
