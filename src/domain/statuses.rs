//! The status of every seat of an event, in layout order, two bits per seat: what changes in a
//! seat map, apart from the layout, which never does. 100,000 seats fit in 25 KB, so a snapshot
//! is cheap to keep, share and send.

use super::SeatStatus;

/// Two bits per seat: `00` available, `01` held, `10` sold. Seat `i` sits in byte `i / 4`, at
/// bits `2 * (i % 4)` (least significant first), which is also the wire form.
#[derive(Clone, PartialEq, Eq)]
pub struct SeatStatuses {
    bytes: Vec<u8>,
    len: usize,
}

impl SeatStatuses {
    /// `len` seats, all available.
    pub fn available(len: usize) -> Self {
        Self {
            bytes: vec![0; len.div_ceil(4)],
            len,
        }
    }

    /// The status of seat `index`; a seat past the end is available.
    pub fn get(&self, index: usize) -> SeatStatus {
        if index >= self.len {
            return SeatStatus::Available;
        }
        match (self.bytes[index / 4] >> (2 * (index % 4))) & 0b11 {
            0b01 => SeatStatus::Held,
            0b10 => SeatStatus::Sold,
            _ => SeatStatus::Available,
        }
    }

    /// Sets seat `index`; an index past the end is ignored.
    pub fn set(&mut self, index: usize, status: SeatStatus) {
        if index >= self.len {
            return;
        }
        let code = match status {
            SeatStatus::Available => 0b00,
            SeatStatus::Held => 0b01,
            SeatStatus::Sold => 0b10,
        };
        let shift = 2 * (index % 4);
        let byte = &mut self.bytes[index / 4];
        *byte = (*byte & !(0b11 << shift)) | (code << shift);
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = SeatStatus> + '_ {
        (0..self.len).map(|i| self.get(i))
    }

    /// Seat `index`'s status in a packed form (see the type's documentation).
    pub fn packed_get(packed: &[u8], index: usize) -> SeatStatus {
        match packed
            .get(index / 4)
            .map(|b| (b >> (2 * (index % 4))) & 0b11)
        {
            Some(0b01) => SeatStatus::Held,
            Some(0b10) => SeatStatus::Sold,
            _ => SeatStatus::Available,
        }
    }

    /// The packed form (see the type's documentation).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl FromIterator<SeatStatus> for SeatStatuses {
    fn from_iter<I: IntoIterator<Item = SeatStatus>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut statuses = Self::available(0);
        statuses.bytes.reserve(iter.size_hint().0.div_ceil(4));
        for status in iter {
            if statuses.len.is_multiple_of(4) {
                statuses.bytes.push(0);
            }
            statuses.len += 1;
            statuses.set(statuses.len - 1, status);
        }
        statuses
    }
}

impl std::fmt::Debug for SeatStatuses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (mut held, mut sold) = (0, 0);
        for status in self.iter() {
            match status {
                SeatStatus::Held => held += 1,
                SeatStatus::Sold => sold += 1,
                SeatStatus::Available => {}
            }
        }
        write!(
            f,
            "SeatStatuses({} seats, {held} held, {sold} sold)",
            self.len
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_pack_four_seats_per_byte() {
        let mut statuses = SeatStatuses::available(6);
        statuses.set(1, SeatStatus::Held);
        statuses.set(2, SeatStatus::Sold);
        statuses.set(5, SeatStatus::Held);
        assert_eq!(statuses.as_bytes(), &[0b0010_0100, 0b0000_0100]);
        assert_eq!(statuses.get(2), SeatStatus::Sold);
        statuses.set(2, SeatStatus::Available);
        assert_eq!(statuses.get(2), SeatStatus::Available);
        assert_eq!(statuses.get(1), SeatStatus::Held);
    }

    #[test]
    fn collecting_matches_setting_one_by_one() {
        let all = [SeatStatus::Available, SeatStatus::Held, SeatStatus::Sold];
        let wanted: Vec<SeatStatus> = (0..103).map(|i| all[(i * 7) % 3]).collect();
        let collected: SeatStatuses = wanted.iter().copied().collect();
        assert_eq!(collected.iter().len(), 103);
        assert_eq!(collected.iter().collect::<Vec<_>>(), wanted);
        assert_eq!(collected.as_bytes().len(), 26);
    }

    #[test]
    fn out_of_range_seats_read_available_and_ignore_writes() {
        let mut statuses = SeatStatuses::available(3);
        statuses.set(3, SeatStatus::Sold);
        assert_eq!(statuses.get(3), SeatStatus::Available);
        assert_eq!(statuses.as_bytes(), &[0]);
    }
}
