//! general-admission: places in one area, the hot spot of a standing on-sale. Two measurements,
//! each against a baseline of the same run:
//! - filling a 10,000-place area 2 places at a time, against Reserves of 2 named seats of a
//!   10,000-seat event (the same hold, without the choice), under load and one after another;
//! - a rush of `rush` clients at the last 100 places of an area (1 place each, most refused),
//!   against as many clients at one named seat (hot-seat: one wins, the rest are refused).

use super::best::{Pick, run};
use crate::Args;
use crate::report::{Figure, percentiles_against};
use crate::target::Target;
use seatrush::proto::v1 as pb;
use std::sync::Arc;

const AREA: &str = "FLOOR";

pub(crate) async fn general_admission(
    target: &Target,
    args: &Args,
    rush: usize,
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    // Few users: the server allows any number of seats per user here.
    let tokens = Arc::new(target.users(8).await?);
    for (mode, concurrency) in [("under load", args.concurrency), ("sequential", 1)] {
        let calls = if concurrency == 1 { 1_000 } else { 5_000 };
        let (named_event, labels) = target.event(100, 100).await?;
        let area_event = area(target, 10_000).await?;
        let mut named = run(
            target,
            &tokens,
            Pick::Named(named_event, Arc::new(labels)),
            calls,
            concurrency,
        )
        .await;
        let mut places = run(
            target,
            &tokens,
            Pick::Area(area_event, AREA, 2),
            calls,
            concurrency,
        )
        .await;
        if places.codes.len() != 1 || !places.codes.contains_key("OK") {
            return Err(format!("general-admission calls failed: {:?}", places.codes).into());
        }
        if concurrency > 1 {
            figures.push(Figure {
                scenario: "general-admission",
                name: format!("2 places held/s {mode}"),
                value: places.per_second(),
                unit: "1/s",
                baseline: Some(("named pairs/s".into(), named.per_second())),
            });
        }
        percentiles_against(
            figures,
            "general-admission",
            "2 places",
            mode,
            &mut places,
            "named",
            &mut named,
        );
    }

    // The rush: everyone at once, at the last 100 places or at one seat.
    let (seat_event, _) = target.event(1, 10).await?;
    let last = area(target, 100).await?;
    let concurrency = rush.min(10_000);
    let mut seat = run(
        target,
        &tokens,
        Pick::Seat(seat_event, "A1".into()),
        rush,
        concurrency,
    )
    .await;
    let mut places = run(
        target,
        &tokens,
        Pick::Area(last, AREA, 1),
        rush,
        concurrency,
    )
    .await;
    let held = places.codes.get("OK").copied().unwrap_or(0);
    if held != 100 {
        return Err(format!(
            "the rush held {held} of the last 100 places: {:?}",
            places.codes
        )
        .into());
    }
    figures.push(Figure {
        scenario: "general-admission",
        name: format!("rush of {rush} at 100 places: calls/s"),
        value: places.per_second(),
        unit: "1/s",
        baseline: Some(("rush at 1 seat/s".into(), seat.per_second())),
    });
    percentiles_against(
        figures,
        "general-admission",
        "rush",
        "",
        &mut places,
        "1-seat rush",
        &mut seat,
    );
    Ok(())
}

/// An event of one area of `capacity` places.
async fn area(target: &Target, capacity: u32) -> Result<String, Box<dyn std::error::Error>> {
    target
        .create_event(pb::CreateEventRequest {
            name: "Bench open air".into(),
            starts_at: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            areas: vec![pb::AreaSpec {
                code: AREA.into(),
                capacity,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
}
