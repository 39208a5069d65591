//! Protobuf <-> domain conversions shared by the handlers.

use super::observe;
use super::status::invalid_argument;
use crate::domain::{EventId, InvalidField, SeatStatus, UnixMillis};
use crate::proto::v1 as pb;
use prost_types::Timestamp;
use tonic::Status;

/// Parses a request's `event_id` and puts it on the call's span.
pub fn event_id(raw: &str) -> Result<EventId, Status> {
    let event = EventId::parse("event_id", raw).map_err(invalid_argument)?;
    observe::record_event(event);
    Ok(event)
}

pub fn timestamp(ms: UnixMillis) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Years 1970 to 9999, as `google.protobuf.Timestamp` allows.
pub fn parse_timestamp(field: &str, ts: Option<&Timestamp>) -> Result<UnixMillis, InvalidField> {
    let ts = ts.ok_or_else(|| InvalidField::new(field, "is required"))?;
    if !(0..=253_402_300_799).contains(&ts.seconds) || !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(InvalidField::new(
            field,
            "must be a valid timestamp between 1970 and 9999",
        ));
    }
    Ok(ts.seconds * 1000 + i64::from(ts.nanos) / 1_000_000)
}

pub fn seat_status(status: SeatStatus) -> pb::SeatStatus {
    match status {
        SeatStatus::Available => pb::SeatStatus::Available,
        SeatStatus::Held => pb::SeatStatus::Held,
        SeatStatus::Sold => pb::SeatStatus::Sold,
    }
}

pub fn change_reason(reason: crate::domain::ChangeReason) -> pb::ChangeReason {
    use crate::domain::ChangeReason;
    match reason {
        ChangeReason::Reserved => pb::ChangeReason::Reserved,
        ChangeReason::Released => pb::ChangeReason::Released,
        ChangeReason::Expired => pb::ChangeReason::Expired,
        ChangeReason::Sold => pb::ChangeReason::Sold,
    }
}

/// A price category as the API sends it.
pub fn category_message(
    category: &crate::domain::PriceCategory,
) -> crate::proto::v1::PriceCategory {
    crate::proto::v1::PriceCategory {
        code: category.code.clone(),
        name: category.name.clone(),
        price_minor: category.price_minor,
        currency: category.currency.as_str().to_owned(),
    }
}
