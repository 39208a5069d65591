//! Price categories: what a seat costs. An event names its categories at creation (a code, a
//! name, a price in minor units of one currency) and every row belongs to one; an event without
//! categories is free. Prices live in the layout, so they are as fixed as the seats and reading
//! one costs no query.
//!
//! One currency per event: a reservation's total is then a plain sum, and a mixed list is refused
//! at creation rather than discovered at the till.

use super::InvalidField;

/// Categories an event may have.
pub const MAX_CATEGORIES: usize = 50;
const MAX_CODE: usize = 16;
const MAX_NAME: usize = 100;
/// Keeps any reservation's total far from `u64::MAX`.
pub const MAX_PRICE_MINOR: u64 = 1_000_000_000_000;

/// An ISO 4217 code: three upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidField> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidField::new(
                field,
                "must be an ISO 4217 code: three upper-case letters, e.g. EUR",
            ))
        }
    }

    /// A code read back from storage, trusted as written.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What one seat costs, or what one ticket was sold for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub minor: u64,
    pub currency: Currency,
}

/// One price category of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceCategory {
    /// 1 to 16 ASCII letters, digits, `-` or `_`, stored upper-case, unique in the event.
    pub code: String,
    /// For people; the code when none was given.
    pub name: String,
    pub price_minor: u64,
    pub currency: Currency,
}

/// A requested category, as the api layer read it.
pub struct CategorySpec<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub price_minor: u64,
    pub currency: &'a str,
}

impl PriceCategory {
    /// The categories of the request field `field`: at most [`MAX_CATEGORIES`], codes unique,
    /// one currency for all.
    pub fn parse_all<'a>(
        field: &str,
        specs: impl ExactSizeIterator<Item = CategorySpec<'a>>,
    ) -> Result<Vec<Self>, InvalidField> {
        if specs.len() > MAX_CATEGORIES {
            return Err(InvalidField::new(
                field,
                format!("must have at most {MAX_CATEGORIES} categories"),
            ));
        }
        let mut parsed: Vec<Self> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.enumerate() {
            let at = format!("{field}[{i}]");
            let code = category_code(&format!("{at}.code"), spec.code)?;
            if parsed.iter().any(|c| c.code == code) {
                return Err(InvalidField::new(
                    format!("{at}.code"),
                    format!("category {code} appears twice"),
                ));
            }
            let name = display_name(&format!("{at}.name"), spec.name, &code, MAX_NAME)?;
            if spec.price_minor > MAX_PRICE_MINOR {
                return Err(InvalidField::new(
                    format!("{at}.price_minor"),
                    format!("must be at most {MAX_PRICE_MINOR}"),
                ));
            }
            let currency = Currency::parse(&format!("{at}.currency"), spec.currency)?;
            if let Some(first) = parsed.first()
                && first.currency != currency
            {
                return Err(InvalidField::new(
                    format!("{at}.currency"),
                    format!(
                        "one currency per event: the first category is in {}",
                        first.currency.as_str()
                    ),
                ));
            }
            parsed.push(Self {
                code,
                name,
                price_minor: spec.price_minor,
                currency,
            });
        }
        Ok(parsed)
    }

    /// What a seat of this category costs.
    pub fn price(&self) -> Price {
        Price {
            minor: self.price_minor,
            currency: self.currency.clone(),
        }
    }

    /// A category read back from storage, trusted as written.
    pub fn from_trusted(code: String, name: String, price_minor: u64, currency: String) -> Self {
        Self {
            code,
            name,
            price_minor,
            currency: Currency::from_trusted(currency),
        }
    }
}

/// What some seats cost: one price per seat, in the order asked, and their sum. `currency` is
/// `None` for a free event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quote {
    pub prices: Vec<u64>,
    pub total: u64,
    pub currency: Option<Currency>,
}

fn category_code(field: &str, raw: &str) -> Result<String, InvalidField> {
    let code = raw.trim();
    if code.is_empty() || code.len() > MAX_CODE {
        return Err(InvalidField::new(
            field,
            format!("must be 1 to {MAX_CODE} characters"),
        ));
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(InvalidField::new(
            field,
            "must be ASCII letters, digits, '-' or '_'",
        ));
    }
    Ok(code.to_ascii_uppercase())
}

/// A name for people: trimmed, at most `max` characters, no control characters; `fallback` when
/// blank. Shared by categories and sections.
pub(super) fn display_name(
    field: &str,
    raw: &str,
    fallback: &str,
    max: usize,
) -> Result<String, InvalidField> {
    let name = raw.trim();
    if name.is_empty() {
        return Ok(fallback.to_owned());
    }
    if name.chars().count() > max {
        return Err(InvalidField::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(InvalidField::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}
