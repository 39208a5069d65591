//! The domain's parsers of text from outside, called directly (faster than through a request,
//! so the fuzzer goes deeper into each): the first byte picks the parser, the rest is its input.
//!
//! Besides not panicking or hanging, what parses must round-trip: a normalised email, a seat
//! label or a layout read back from its own text is the same value, and every seat of a parsed
//! layout is found again under its label. A layout is given as lines `code|name|A:30,B:20`
//! (sections) or one line `A:30,B:20` (rows).

#![no_main]

use libfuzzer_sys::fuzz_target;
use seatrush::config::Settings;
use seatrush::internals::domain::{
    Choice, Email, EventId, EventName, HoldTtl, Layout, LayoutLimits, NewPassword, PageCursor,
    Password, Pool, ReservationId, SeatLabel, SectionSpec, SessionToken, area_plan, best_plan,
};
use std::sync::LazyLock;

static SETTINGS: LazyLock<Settings> = LazyLock::new(Settings::defaults);

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let text = text.as_ref();
    match which % 12 {
        0 => email(text),
        1 => drop(Password::parse("password", text)),
        2 => drop(NewPassword::parse("password", text)),
        3 => drop(EventId::parse("event_id", text)),
        4 => {
            if let Ok(id) = ReservationId::parse("reservation_id", text) {
                let again = ReservationId::parse("reservation_id", &id.to_string());
                assert!(again.is_ok_and(|again| again == id), "{text:?}");
            }
        }
        5 => label(text),
        6 => drop(EventName::parse("name", text)),
        7 => {
            if let Ok(cursor) = PageCursor::parse("page_token", text) {
                let again = PageCursor::parse("page_token", &cursor.encode());
                assert_eq!(again.ok(), Some(cursor), "{text:?}");
            }
        }
        8 => drop(SessionToken::parse(text)),
        9 => {
            // The stored form is trusted (the database's), so only: no panic on any of it.
            if let Some(layout) = Layout::decode(text) {
                for index in indexes(&layout, rest) {
                    let _ = layout.label(index).map(|label| layout.find(&label));
                }
                // Choosing walks every seat: only layouts of a size CreateEvent allows.
                if layout.seat_count() <= 100_000 {
                    choose_in(&layout, rest);
                }
            }
        }
        10 => {
            let mut seconds = [0u8; 4];
            let n = rest.len().min(4);
            seconds[..n].copy_from_slice(&rest[..n]);
            let policy = SETTINGS.hold_policy();
            drop(HoldTtl::parse(
                "hold_seconds",
                u32::from_le_bytes(seconds),
                &policy,
            ));
        }
        _ => layout(text, rest),
    }
});

/// Normalisation is idempotent: the stored form of an address parses to itself.
fn email(text: &str) {
    if let Ok(email) = Email::parse("email", text) {
        let again = Email::parse("email", email.as_str());
        assert_eq!(again.as_ref().ok(), Some(&email), "{text:?}: {again:?}");
    }
}

/// A label parses to its canonical (upper-case) self.
fn label(text: &str) {
    if let Ok(label) = SeatLabel::parse("seat", text) {
        let again = SeatLabel::parse("seat", label.as_str());
        assert_eq!(again.as_ref().ok(), Some(&label), "{text:?}");
        let parts = label.parts();
        assert!((1..=9_999).contains(&parts.number), "{text:?}");
    }
}

fn layout(text: &str, raw: &[u8]) {
    let limits: LayoutLimits = SETTINGS.layout_limits();
    let lines: Vec<&str> = text.lines().collect();
    let parsed = if lines.len() == 1 && !lines[0].contains('|') {
        Layout::parse_rows("rows", rows(lines[0]).into_iter(), &limits)
    } else {
        let specs: Vec<SectionSpec<'_>> = lines
            .iter()
            .map(|line| {
                let mut fields = line.splitn(3, '|');
                SectionSpec {
                    code: fields.next().unwrap_or(""),
                    name: fields.next().unwrap_or(""),
                    rows: rows(fields.next().unwrap_or("")),
                }
            })
            .collect();
        Layout::parse_sections("sections", specs.into_iter(), &limits)
    };
    if let Ok(layout) = parsed {
        assert!(layout.seat_count() <= limits.max_seats);
        let decoded = Layout::decode(&layout.encode());
        assert_eq!(decoded.as_ref(), Some(&layout), "{text:?}");
        check_layout(&layout, raw);
    }
}

/// `A:30,B:20`; a count that is not a number is `u32::MAX` (the parser must refuse it).
fn rows(spec: &str) -> Vec<(&str, u32)> {
    spec.split(',')
        .filter(|row| !row.is_empty())
        .map(|row| match row.split_once(':') {
            Some((name, count)) => (name, count.parse().unwrap_or(u32::MAX)),
            None => (row, 1),
        })
        .collect()
}

/// Best available and general admission over any stored layout, with the seats the input marks
/// taken: whatever is chosen is free, in the plan, and as many as asked.
fn choose_in(layout: &Layout, raw: &[u8]) {
    let taken = |i: u32| {
        raw.get(i as usize % raw.len().max(1))
            .is_some_and(|b| b & 1 == 1)
    };
    let count = raw.first().map_or(2, |b| usize::from(b % 10) + 1);
    let mut plans = vec![(best_plan(layout, &Pool::Event), Choice::Best)];
    plans.extend((0..layout.areas().len()).map(|a| (area_plan(layout, a), Choice::Any)));
    for (plan, choice) in plans {
        if let Some(seats) = choice.choose(&plan, count, |i| !taken(i)) {
            assert_eq!(seats.len(), count);
            for seat in seats {
                assert!(!taken(seat), "seat {seat} was taken");
                assert!(
                    plan.iter()
                        .any(|r| seat >= r.first && seat < r.first + r.seats),
                    "seat {seat} is not in the plan"
                );
            }
        }
    }
}

/// Seats at the ends, the middle and at indexes taken from the input, and one past the last.
fn indexes(layout: &Layout, raw: &[u8]) -> Vec<u32> {
    let count = layout.seat_count();
    let mut indexes = vec![0, count / 2, count.saturating_sub(1), count];
    indexes.extend(raw.chunks(4).take(8).map(|c| {
        let mut bytes = [0u8; 4];
        bytes[..c.len()].copy_from_slice(c);
        u32::from_le_bytes(bytes) % count.saturating_add(1)
    }));
    indexes
}

/// Every seat is found again under its label; past the last there is none.
fn check_layout(layout: &Layout, raw: &[u8]) {
    let count = layout.seat_count();
    for index in indexes(layout, raw) {
        match layout.label(index) {
            Some(label) => {
                assert!(index < count);
                assert_eq!(layout.find(&label), Some(index), "{label}");
            }
            None => assert!(index >= count, "seat {index} of {count} has no label"),
        }
    }
    assert!(!layout.digest().is_empty());
}
