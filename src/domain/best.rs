//! Best available: which `n` free seats a Reserve that names none gets. The rule lives here once;
//! the in-process store runs it under its lock, `redis/lua/reserve_best.lua` repeats it inside the
//! script that then holds the seats (the choice and the hold are one step), and the contract suite
//! runs the same sequences against both and compares the seats they chose.
//!
//! Every seat has a rank (lower is better): the one set at event creation, else by default its
//! row's base (front rows first: the row's position in its section times [`ROW_STEP`]) plus its
//! distance from the middle of the row (`|2·number − (seats + 1)|`, below [`ROW_STEP`] for any
//! row the limits allow). A row's base is its lowest rank. A block of `n`
//! adjacent free seats in one row scores the sum of its ranks, and the lowest score wins, ties
//! going to the earlier row of the plan and then the lower seat number; but a block that would
//! leave a single free seat between it and a taken seat or the end of the row (an orphan nobody
//! can sell as a pair) is taken only when every block would. Within one run of free seats, a
//! block that leaves a multiple of `n` free seats on each side comes first, so that a run of
//! requests of one size (what an on-sale mostly is) fills a row without a gap; between runs and
//! rows the score decides.
//!
//! With no `n` adjacent free seats in any row, the seats are taken one by one,
//! rows in plan order, each row's seats nearest the middle first.

use super::InvalidField;
use super::layout::{Layout, SeatRanks};
use super::seat::SectionCode;

/// Row bases step by this much, more than any distance from the middle of a row.
pub const ROW_STEP: u32 = 1_000;

/// One row of a plan: seats `first .. first + seats` in layout order, and its rank base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    pub first: u32,
    pub seats: u32,
    pub base: u32,
    /// What the row's labels start with ("112-F-" or "A"): the number follows.
    pub prefix: String,
    /// The seats' ranks set at creation (`base` is then their lowest); `None`: the default.
    pub ranks: Option<SeatRanks>,
}

impl PlanRow {
    /// Seat `k`'s (from 1) rank above the row's base.
    pub fn offset(&self, k: u32) -> u64 {
        match &self.ranks {
            Some(ranks) => (k as usize)
                .checked_sub(1)
                .and_then(|i| ranks.offsets.get(i))
                .map_or(u64::MAX / 4, |o| u64::from(*o)),
            None => spread(k, self.seats),
        }
    }

    /// The lowest sum of offsets any `n` seats of the row can have.
    pub fn least(&self, n: u32) -> u64 {
        match &self.ranks {
            Some(ranks) => (n as usize)
                .checked_sub(1)
                .map_or(Some(0), |i| ranks.least.get(i).copied())
                .unwrap_or(u64::MAX / 4),
            None => least_spread(n, self.seats),
        }
    }
}

/// Where the seats may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pool {
    Event,
    /// A section, by its index in the layout.
    Section(usize),
    /// A price category, by its index in the layout's categories.
    Category(usize),
    /// A general-admission area's places, by its index in [`Layout::areas`].
    Area(usize),
}

/// Where a best-available request looks, as the caller named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Within {
    Event,
    Section(SectionCode),
    /// A price category code, upper-case.
    Category(String),
}

/// How many seats, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestAvailable {
    pub count: usize,
    pub within: Within,
}

impl BestAvailable {
    /// `count` seats (1 to `max`) from the section or the price category named by code (at most
    /// one of the two; neither: the whole event), from the request field `field`.
    pub fn parse(
        field: &str,
        count: u32,
        section: &str,
        category: &str,
        max: usize,
    ) -> Result<Self, InvalidField> {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count == 0 || count > max {
            return Err(InvalidField::new(
                format!("{field}.count"),
                format!("must be 1 to {max}"),
            ));
        }
        let (section, category) = (section.trim(), category.trim());
        let within = match (section.is_empty(), category.is_empty()) {
            (true, true) => Within::Event,
            (false, true) => {
                Within::Section(SectionCode::parse(&format!("{field}.section"), section)?)
            }
            (true, false) => {
                let field = format!("{field}.price_category");
                if category.len() > 16
                    || !category
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(InvalidField::new(
                        field,
                        "must be a price category code: 1 to 16 ASCII letters, digits, '-' or '_'",
                    ));
                }
                Within::Category(category.to_ascii_uppercase())
            }
            (false, false) => {
                return Err(InvalidField::new(
                    format!("{field}.section"),
                    "give a section or a price category, not both",
                ));
            }
        };
        Ok(Self { count, within })
    }

    /// The pool this request names in `layout`; `None` when the layout has no such section or
    /// price category.
    pub fn pool(&self, layout: &Layout) -> Option<Pool> {
        match &self.within {
            Within::Event => Some(Pool::Event),
            Within::Section(code) => layout
                .sections()
                .iter()
                .position(|s| s.code.as_ref() == Some(code))
                .map(Pool::Section),
            Within::Category(code) => layout
                .categories()
                .iter()
                .position(|c| c.code.eq_ignore_ascii_case(code))
                .map(Pool::Category),
        }
    }
}

/// Places in a general-admission area, as the caller asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralAdmission {
    pub area: SectionCode,
    pub count: usize,
}

impl GeneralAdmission {
    /// `count` places (1 to `max`) in the area `area`, from the request field `field`.
    pub fn parse(field: &str, area: &str, count: u32, max: usize) -> Result<Self, InvalidField> {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count == 0 || count > max {
            return Err(InvalidField::new(
                format!("{field}.count"),
                format!("must be 1 to {max}"),
            ));
        }
        Ok(Self {
            area: SectionCode::parse(&format!("{field}.area"), area.trim())?,
            count,
        })
    }

    /// The area's index in [`Layout::areas`], if the layout has it.
    pub fn area_index(&self, layout: &Layout) -> Option<usize> {
        layout
            .areas()
            .iter()
            .position(|a| a.code.as_ref() == Some(&self.area))
    }
}

/// The rows of `pool` in plan order: by base, then layout order.
pub fn plan(layout: &Layout, pool: &Pool) -> Vec<PlanRow> {
    if let Pool::Area(area) = pool {
        return area_plan(layout, *area);
    }
    let mut rows = Vec::new();
    for (s, section) in layout.sections().iter().enumerate() {
        if matches!(pool, Pool::Section(only) if *only != s) {
            continue;
        }
        for (r, row) in section.rows.iter().enumerate() {
            if matches!(pool, Pool::Category(c) if *c != row.category) {
                continue;
            }
            let prefix = match &section.code {
                Some(code) => format!("{}-{}-", code.as_str(), row.name.as_str()),
                None => row.name.as_str().to_owned(),
            };
            rows.push(PlanRow {
                first: row.first,
                seats: row.seats,
                base: row.ranks.as_ref().map_or(
                    u32::try_from(r)
                        .unwrap_or(u32::MAX / 2)
                        .saturating_mul(ROW_STEP),
                    |ranks| ranks.base,
                ),
                prefix,
                ranks: row.ranks.clone(),
            });
        }
    }
    rows.sort_by_key(|r| (r.base, r.first));
    rows
}

/// The rows of area `area` (its index in [`Layout::areas`]), in order: any free place will do.
pub fn area_plan(layout: &Layout, area: usize) -> Vec<PlanRow> {
    layout.areas().get(area).map_or_else(Vec::new, |section| {
        let code = section.code_str();
        section
            .rows
            .iter()
            .map(|row| PlanRow {
                first: row.first,
                seats: row.seats,
                base: 0,
                prefix: format!("{code}-{}-", row.name.as_str()),
                ranks: None,
            })
            .collect()
    })
}

/// The first `n` free places of an area's plan, in order; `None` when fewer are free.
pub fn choose_any(plan: &[PlanRow], n: usize, free: impl Fn(u32) -> bool) -> Option<Vec<u32>> {
    let picked: Vec<u32> = plan
        .iter()
        .flat_map(|row| row.first..row.first + row.seats)
        .filter(|i| free(*i))
        .take(n)
        .collect();
    (picked.len() == n && n > 0).then_some(picked)
}

/// How the seats of a plan are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The best seats ([`choose`]).
    Best,
    /// Any free places of a general-admission area ([`choose_any`]).
    Any,
}

impl Choice {
    pub fn choose(
        self,
        plan: &[PlanRow],
        n: usize,
        free: impl Fn(u32) -> bool,
    ) -> Option<Vec<u32>> {
        match self {
            Self::Best => choose(plan, n, free),
            Self::Any => choose_any(plan, n, free),
        }
    }
}

/// Distance of seat `k` (from 1) from the middle of a row of `seats`.
fn spread(k: u32, seats: u32) -> u64 {
    (2 * u64::from(k)).abs_diff(u64::from(seats) + 1)
}

/// The lowest spread any `n` seats of a row of `seats` can have: the middle seats' (0, 2, 2, 4, 4…
/// for an odd row, 1, 1, 3, 3… for an even one).
fn least_spread(n: u32, seats: u32) -> u64 {
    (0..u64::from(n))
        .map(|j| {
            if seats % 2 == 1 {
                j.div_ceil(2) * 2
            } else {
                j / 2 * 2 + 1
            }
        })
        .sum()
}

#[derive(Clone, Copy)]
struct Block {
    score: u64,
    row: usize,
    start: u32,
}

/// The tier of a block that leaves `left` and `right` free seats beside it in its run: 0 fills
/// evenly, 1 leaves no orphan, 2 does (see the module doc).
fn tier(left: u32, right: u32, n: u32) -> usize {
    if left == 1 || right == 1 {
        2
    } else if left.is_multiple_of(n) && right.is_multiple_of(n) {
        0
    } else {
        1
    }
}

/// The layout indices of the `n` seats to hold, or `None` when fewer than `n` are free. `free`
/// says whether seat `index` may be held.
pub fn choose(plan: &[PlanRow], n: usize, free: impl Fn(u32) -> bool) -> Option<Vec<u32>> {
    let n32 = u32::try_from(n).ok().filter(|n| *n > 0)?;
    // The best block leaving no orphan, and the best one leaving one.
    let mut best: [Option<Block>; 2] = [None; 2];
    for (r, row) in plan.iter().enumerate() {
        if row.seats < n32 {
            continue;
        }
        let bound = u64::from(n32) * u64::from(row.base) + row.least(n32);
        if best[0].is_some_and(|b| bound >= b.score) {
            continue;
        }
        let mut k = 1;
        while k <= row.seats {
            if !free(row.first + k - 1) {
                k += 1;
                continue;
            }
            let a = k;
            while k <= row.seats && free(row.first + k - 1) {
                k += 1;
            }
            let b = k - 1;
            if b - a + 1 < n32 {
                continue;
            }
            let mut run: [Option<Block>; 3] = [None; 3];
            for start in a..=b + 1 - n32 {
                let end = start + n32 - 1;
                let score = u64::from(n32) * u64::from(row.base)
                    + (start..=end).map(|s| row.offset(s)).sum::<u64>();
                let slot = &mut run[tier(start - a, b - end, n32)];
                if slot.is_none_or(|b| score < b.score) {
                    *slot = Some(Block {
                        score,
                        row: r,
                        start,
                    });
                }
            }
            let (pick, orphaning) = match run {
                [Some(pick), _, _] | [None, Some(pick), _] => (pick, 0),
                [None, None, Some(pick)] => (pick, 1),
                [None, None, None] => continue,
            };
            if best[orphaning].is_none_or(|b| pick.score < b.score) {
                best[orphaning] = Some(pick);
            }
        }
    }
    if let Some(block) = best.iter().flatten().next() {
        let first = plan[block.row].first + block.start - 1;
        return Some((first..first + n32).collect());
    }
    let mut picked = Vec::with_capacity(n);
    for row in plan {
        let mut numbers: Vec<u32> = (1..=row.seats).collect();
        numbers.sort_by_key(|k| (row.offset(*k), *k));
        for k in numbers {
            if free(row.first + k - 1) {
                picked.push(row.first + k - 1);
                if picked.len() == n {
                    return Some(picked);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
