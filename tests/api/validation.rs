//! Bad input on every field: INVALID_ARGUMENT naming the field (in the message and as a
//! `google.rpc.BadRequest` detail), and the server keeps serving.

use crate::both_backends;
use crate::helpers::{ADMIN_TOKEN, Backend, PASSWORD, authed, spawn_app};
use seatrush::proto::v1 as pb;
use tonic::{Code, Status};
use tonic_types::StatusExt;

both_backends!(every_malformed_field_is_invalid_argument_naming_it);

pub fn expect_invalid<T: std::fmt::Debug>(case: &str, result: Result<T, Status>, field: &str) {
    let status = match result {
        Err(status) => status,
        Ok(ok) => panic!("{case}: expected INVALID_ARGUMENT on {field}, got {ok:?}"),
    };
    assert_eq!(status.code(), Code::InvalidArgument, "{case}: {status:?}");
    assert!(
        status.message().starts_with(field),
        "{case}: message {:?} should name {field}",
        status.message()
    );
    let details = status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("{case}: no BadRequest detail"));
    assert_eq!(details.field_violations[0].field, field, "{case}");
}

fn event(rows: Vec<pb::RowSpec>) -> pb::CreateEventRequest {
    pb::CreateEventRequest {
        name: "Show".into(),
        starts_at: Some(prost_types::Timestamp {
            seconds: 1_900_000_000,
            nanos: 0,
        }),
        rows,
        ..Default::default()
    }
}

fn section(code: &str, rows: Vec<pb::RowSpec>) -> pb::SectionSpec {
    pb::SectionSpec {
        code: code.into(),
        name: String::new(),
        rows,
        ..Default::default()
    }
}

fn row(row: &str, seat_count: u32) -> pb::RowSpec {
    pb::RowSpec {
        row: row.into(),
        seat_count,
        ..Default::default()
    }
}

async fn every_malformed_field_is_invalid_argument_naming_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut accounts = app.accounts.clone();
    let mut inventory = app.inventory.clone();
    let mut booking = app.booking.clone();

    let long = "x".repeat(300);
    for (case, email, password, field) in [
        ("empty email", "", PASSWORD, "email"),
        ("no at sign", "fan.example.com", PASSWORD, "email"),
        (
            "oversized email",
            &format!("{long}@example.com"),
            PASSWORD,
            "email",
        ),
        ("empty password", "a@b.c", "", "password"),
        ("short password", "a@b.c", "short", "password"),
        ("oversized password", "a@b.c", &long, "password"),
    ] {
        let register = accounts
            .register(pb::RegisterRequest {
                email: email.into(),
                password: password.into(),
            })
            .await;
        expect_invalid(case, register, field);
        let login = accounts
            .login(pb::LoginRequest {
                email: email.into(),
                password: password.into(),
            })
            .await;
        expect_invalid(case, login, field);
    }

    let cases: Vec<(&str, pb::CreateEventRequest, &str)> = vec![
        (
            "blank name",
            pb::CreateEventRequest {
                name: "  ".into(),
                ..event(vec![row("A", 1)])
            },
            "name",
        ),
        (
            "oversized name",
            pb::CreateEventRequest {
                name: long.clone(),
                ..event(vec![row("A", 1)])
            },
            "name",
        ),
        (
            "no start",
            pb::CreateEventRequest {
                starts_at: None,
                ..event(vec![row("A", 1)])
            },
            "starts_at",
        ),
        (
            "negative start",
            pb::CreateEventRequest {
                starts_at: Some(prost_types::Timestamp {
                    seconds: -5,
                    nanos: 0,
                }),
                ..event(vec![row("A", 1)])
            },
            "starts_at",
        ),
        ("no rows", event(vec![]), "rows"),
        ("zero seats", event(vec![row("A", 0)]), "rows[0].seat_count"),
        (
            "too many seats in a row",
            event(vec![row("A", 1_001)]),
            "rows[0].seat_count",
        ),
        (
            "empty row name",
            event(vec![row("A", 1), row("", 1)]),
            "rows[1].row",
        ),
        ("row with digits", event(vec![row("A1", 1)]), "rows[0].row"),
        (
            "duplicate row",
            event(vec![row("A", 1), row("a", 1)]),
            "rows[1].row",
        ),
        (
            "too many rows",
            event((0..201).map(|_| row("A", 1)).collect()),
            "rows",
        ),
        (
            "too many seats",
            event(
                (0..101)
                    .map(|i| {
                        row(
                            &format!(
                                "{}{}",
                                char::from(b'A' + (i / 26) as u8),
                                char::from(b'A' + (i % 26) as u8)
                            ),
                            1_000,
                        )
                    })
                    .collect(),
            ),
            "rows",
        ),
        (
            "rows and sections",
            pb::CreateEventRequest {
                sections: vec![section("1", vec![row("A", 1)])],
                ..event(vec![row("A", 1)])
            },
            "sections",
        ),
        (
            "repeated section",
            pb::CreateEventRequest {
                sections: vec![
                    section("n1", vec![row("A", 1)]),
                    section("N1", vec![row("A", 1)]),
                ],
                ..event(vec![])
            },
            "sections[1].code",
        ),
        (
            "section code with a dash",
            pb::CreateEventRequest {
                sections: vec![section("N-1", vec![row("A", 1)])],
                ..event(vec![])
            },
            "sections[0].code",
        ),
        (
            "section row of five characters",
            pb::CreateEventRequest {
                sections: vec![section("1", vec![row("ABCDE", 1)])],
                ..event(vec![])
            },
            "sections[0].rows[0].row",
        ),
    ];
    for (case, request, field) in cases {
        expect_invalid(
            case,
            inventory.create_event(authed(request, ADMIN_TOKEN)).await,
            field,
        );
    }
    for (case, id) in [
        ("empty event id", ""),
        ("malformed event id", "not-a-uuid"),
        ("oversized event id", long.as_str()),
    ] {
        expect_invalid(
            case,
            inventory
                .get_event(pb::GetEventRequest {
                    event_id: id.into(),
                })
                .await,
            "event_id",
        );
        expect_invalid(
            case,
            booking
                .get_seat_map(pb::GetSeatMapRequest {
                    event_id: id.into(),
                    ..Default::default()
                })
                .await,
            "event_id",
        );
    }
    expect_invalid(
        "bad page token",
        inventory
            .list_events(pb::ListEventsRequest {
                page_size: 1,
                page_token: "nope".into(),
            })
            .await,
        "page_token",
    );

    let token = app.user().await;
    let real = app.event(1, 20).await;
    let reserve = |seats: Vec<&str>, hold_seconds: u32| {
        authed(
            pb::ReserveRequest {
                event_id: real.event_id.clone(),
                seats: seats.into_iter().map(String::from).collect(),
                hold_seconds,
                best_available: None,
                general_admission: None,
            },
            &token,
        )
    };
    expect_invalid(
        "no seats",
        booking.reserve(reserve(vec![], 0)).await,
        "seats",
    );
    expect_invalid(
        "too many seats",
        booking
            .reserve(reserve((1..=11).map(|_| "A1").collect(), 0))
            .await,
        "seats",
    );
    expect_invalid(
        "malformed label",
        booking.reserve(reserve(vec!["A1", "1A"], 0)).await,
        "seats[1]",
    );
    expect_invalid(
        "zero seat",
        booking.reserve(reserve(vec!["A0"], 0)).await,
        "seats[0]",
    );
    expect_invalid(
        "repeated seat",
        booking.reserve(reserve(vec!["A1", "a1"], 0)).await,
        "seats[1]",
    );
    expect_invalid(
        "hold too long",
        booking.reserve(reserve(vec!["A1"], 100_000)).await,
        "hold_seconds",
    );
    let bad_event = authed(
        pb::ReserveRequest {
            event_id: "x".into(),
            seats: vec!["A1".into()],
            hold_seconds: 0,
            best_available: None,
            general_admission: None,
        },
        &token,
    );
    expect_invalid("bad event", booking.reserve(bad_event).await, "event_id");
    for (case, id) in [
        ("empty reservation", ""),
        ("short reservation", "abc"),
        ("non-hex reservation", &"z".repeat(64)),
    ] {
        expect_invalid(
            case,
            booking
                .purchase(authed(
                    pb::PurchaseRequest {
                        reservation_id: id.into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await,
            "reservation_id",
        );
        expect_invalid(
            case,
            booking
                .release(authed(
                    pb::ReleaseRequest {
                        reservation_id: id.into(),
                    },
                    &token,
                ))
                .await,
            "reservation_id",
        );
    }
    let held = app
        .reserve(&token, &real.event_id, &["A1"], 0)
        .await
        .expect("reserve");
    let extend = authed(
        pb::ExtendHoldRequest {
            reservation_id: held.reservation_id.clone(),
            hold_seconds: 0,
        },
        &token,
    );
    expect_invalid(
        "extend by nothing",
        booking.extend_hold(extend).await,
        "hold_seconds",
    );

    // An oversized message is refused before it is read: RESOURCE_EXHAUSTED, the gRPC status
    // table's code for a message over the size limit.
    let huge = authed(
        pb::ReserveRequest {
            event_id: real.event_id.clone(),
            seats: vec!["A".repeat(100_000)],
            hold_seconds: 0,
            best_available: None,
            general_admission: None,
        },
        &token,
    );
    assert_eq!(
        booking.reserve(huge).await.expect_err("oversized").code(),
        Code::ResourceExhausted
    );

    // Still serving.
    let map = app.seat_map(&real.event_id).await;
    assert_eq!(map.len(), 20);
    app.teardown().await;
}
