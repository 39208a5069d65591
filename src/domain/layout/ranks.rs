//! Ranks set at event creation for best available (see `domain::best`): a row's seats may each
//! get a rank, stored with the layout; rows without keep the default rule.

use super::{InvalidField, Layout};
use std::sync::Arc;

/// The ranks of a row's seats (lower is better), as best available reads them: the lowest, each
/// seat's distance above it, and the least sum of `n` such distances for every `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRanks {
    pub base: u32,
    pub offsets: Arc<[u32]>,
    /// `least[n - 1]`: the sum of the `n` smallest offsets.
    pub least: Arc<[u64]>,
}

/// The highest rank a seat may be given.
pub const MAX_RANK: u32 = 1_000_000_000;

impl SeatRanks {
    pub fn new(ranks: &[u32]) -> Self {
        let base = ranks.iter().copied().min().unwrap_or(0);
        let offsets: Arc<[u32]> = ranks.iter().map(|r| r - base).collect();
        let mut sorted = offsets.to_vec();
        sorted.sort_unstable();
        let least = sorted
            .iter()
            .scan(0u64, |sum, o| {
                *sum += u64::from(*o);
                Some(*sum)
            })
            .collect();
        Self {
            base,
            offsets,
            least,
        }
    }

    /// The absolute ranks, in seat order.
    pub fn ranks(&self) -> impl Iterator<Item = u32> + '_ {
        self.offsets.iter().map(|o| o + self.base)
    }
}

impl Layout {
    /// Gives seated rows the ranks set at creation: `rows` names each seated row's ranks in
    /// layout order, with the request field they came from; an empty list keeps the default.
    pub fn ranked<'a>(
        mut self,
        rows: impl IntoIterator<Item = (String, &'a [u32])>,
    ) -> Result<Self, InvalidField> {
        let seated = self.seated;
        let mut rows = rows.into_iter();
        for row in self.sections[..seated]
            .iter_mut()
            .flat_map(|s| s.rows.iter_mut())
        {
            let Some((field, ranks)) = rows.next() else {
                break;
            };
            if ranks.is_empty() {
                continue;
            }
            if ranks.len() != row.seats as usize {
                return Err(InvalidField::new(
                    field,
                    format!(
                        "has {} ranks for {} seats: give one per seat, or none",
                        ranks.len(),
                        row.seats
                    ),
                ));
            }
            if ranks.iter().any(|r| *r > MAX_RANK) {
                return Err(InvalidField::new(
                    field,
                    format!("ranks must be at most {MAX_RANK}"),
                ));
            }
            row.ranks = Some(SeatRanks::new(ranks));
        }
        Ok(self)
    }
}
