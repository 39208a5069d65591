//! Reserve without naming seats: the service resolves where to look against the layout and
//! hands the hold store a plan of rows (`domain::best`); the store chooses and holds in one step.

use super::BookingService;
use crate::domain::{
    BestAvailable, BestOutcome, HoldOutcome, HoldTerms, ReservationId, SeatLabel, UserId, best_plan,
};
use crate::ports::{BestRequest, StoreError};
use crate::service::{EventSeats, ServiceError, ServiceResult};

/// What a Reserve asks for.
#[derive(Debug, Clone)]
pub enum Pick {
    /// These seats, all or none.
    Seats(Vec<SeatLabel>),
    /// The best `count` free seats of the event, a section or a price category.
    Best(BestAvailable),
}

impl From<Vec<SeatLabel>> for Pick {
    fn from(seats: Vec<SeatLabel>) -> Self {
        Self::Seats(seats)
    }
}

impl Pick {
    pub fn count(&self) -> usize {
        match self {
            Self::Seats(seats) => seats.len(),
            Self::Best(best) => best.count,
        }
    }
}

impl BookingService {
    /// Chooses and holds the best seats; the seats chosen and what holding them came to.
    pub(super) async fn hold_best(
        &self,
        layout: &EventSeats,
        reservation: ReservationId,
        user: UserId,
        best: &BestAvailable,
        terms: HoldTerms,
    ) -> ServiceResult<(Vec<SeatLabel>, HoldOutcome)> {
        let event = layout.event.id;
        let pool = best.pool(layout.layout()).ok_or_else(|| {
            ServiceError::NotFound(format!("event {event} has no {}", within(best)))
        })?;
        let request = BestRequest {
            reservation,
            user,
            count: best.count,
            plan: best_plan(layout.layout(), &pool),
            terms,
        };
        let outcome = self
            .sold
            .with_loaded(layout, || async {
                for _ in 0..2 {
                    match self.holds.hold_best(&request).await? {
                        BestOutcome::NotLoaded => return Ok(None),
                        BestOutcome::NotPrepared => {
                            self.holds.prepare_best(event, layout.layout()).await?;
                        }
                        outcome => return Ok(Some(outcome)),
                    }
                }
                Err(StoreError::internal(
                    "the hold store did not keep best available's seat index",
                ))
            })
            .await?;
        match outcome {
            BestOutcome::Chosen { seats, outcome } => Ok((seats, outcome)),
            BestOutcome::NotEnough => Err(ServiceError::NotEnoughSeats {
                asked: best.count,
                within: format!("in {}", within(best)),
            }),
            BestOutcome::NotLoaded | BestOutcome::NotPrepared => Err(ServiceError::Internal(
                StoreError::internal("best available: unexpected store answer"),
            )),
        }
    }
}

/// Where the request looked, for people.
fn within(best: &BestAvailable) -> String {
    match &best.within {
        crate::domain::Within::Event => "the event".to_owned(),
        crate::domain::Within::Section(code) => format!("section {}", code.as_str()),
        crate::domain::Within::Category(code) => format!("price category {code}"),
    }
}
