//! The seat-change messages the scripts publish on `{prefix}:feed`:
//! `event|label|code|version|at`, the code being `R` reserved, `L` released, `E` expired or
//! `S` sold (written by `publish` in `lua/prelude.lua`).

use crate::domain::{ChangeReason, EventId, SeatChange, SeatLabel};

fn reason(code: &str) -> Option<ChangeReason> {
    Some(match code {
        "R" => ChangeReason::Reserved,
        "L" => ChangeReason::Released,
        "E" => ChangeReason::Expired,
        "S" => ChangeReason::Sold,
        _ => return None,
    })
}

/// A published change; `None` for anything the scripts did not write.
pub(super) fn decode(payload: &str) -> Option<SeatChange> {
    let mut parts = payload.split('|');
    let event = EventId::parse("event", parts.next()?).ok()?;
    let label = SeatLabel::parse("label", parts.next()?).ok()?;
    let reason = reason(parts.next()?)?;
    let version = parts.next()?.parse().ok()?;
    let at = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(SeatChange {
        event,
        label,
        reason,
        version,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_change_decodes() {
        let event = EventId::generate();
        let change = decode(&format!("{event}|A12|E|42|1700000000000")).expect("valid");
        assert_eq!(change.label.as_str(), "A12");
        assert_eq!(change.reason, ChangeReason::Expired);
        assert_eq!(change.version, 42);
        for garbage in [
            "garbage",
            &format!("{event}|A12|X|1|1"),
            &format!("{event}|A12|E|1|1|x"),
        ] {
            assert!(decode(garbage).is_none(), "{garbage}");
        }
    }
}
