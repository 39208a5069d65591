//! Reserve without naming seats: the best available seats, or places in a general-admission
//! area. The service resolves where to look against the layout and hands the hold store a plan
//! of rows (`domain::best`); the store chooses and holds in one step.

use super::BookingService;
use crate::domain::{
    BestAvailable, BestOutcome, Choice, GeneralAdmission, HoldOutcome, HoldTerms, PlanRow, Pool,
    ReservationId, SeatLabel, UserId, Within,
};
use crate::ports::{BestRequest, StoreError};
use crate::service::{EventSeats, ServiceError, ServiceResult};
use std::sync::Arc;

/// What a Reserve asks for.
#[derive(Debug, Clone)]
pub enum Pick {
    /// These seats, all or none.
    Seats(Vec<SeatLabel>),
    /// The best `count` free seats of the event, a section or a price category.
    Best(BestAvailable),
    /// `count` places in a general-admission area.
    Area(GeneralAdmission),
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
            Self::Area(area) => area.count,
        }
    }
}

/// Where a chosen hold looks, resolved against the layout.
pub(super) struct Ask {
    pub(super) count: usize,
    pub(super) plan: Arc<[PlanRow]>,
    pub(super) choice: Choice,
    /// For people: "in section 112", "in area FLOOR".
    pub(super) within: String,
}

impl Ask {
    /// The best seats `best` asks for; NOT_FOUND for a section or category the event lacks.
    pub(super) fn best(layout: &EventSeats, best: &BestAvailable) -> ServiceResult<Self> {
        let within = match &best.within {
            Within::Event => "the event".to_owned(),
            Within::Section(code) => format!("section {}", code.as_str()),
            Within::Category(code) => format!("price category {code}"),
        };
        let pool = best.pool(layout.layout()).ok_or_else(|| {
            ServiceError::NotFound(format!("event {} has no {within}", layout.event.id))
        })?;
        Ok(Self {
            count: best.count,
            plan: layout.plan(pool),
            choice: Choice::Best,
            within: format!("in {within}"),
        })
    }

    /// The places `area` asks for; NOT_FOUND for an area the event lacks.
    pub(super) fn area(layout: &EventSeats, area: &GeneralAdmission) -> ServiceResult<Self> {
        let index = area.area_index(layout.layout()).ok_or_else(|| {
            ServiceError::NotFound(format!(
                "event {} has no general-admission area {}",
                layout.event.id,
                area.area.as_str()
            ))
        })?;
        Ok(Self {
            count: area.count,
            plan: layout.plan(Pool::Area(index)),
            choice: Choice::Any,
            within: format!("in area {}", area.area.as_str()),
        })
    }
}

impl BookingService {
    /// Chooses and holds what `ask` asks for; the seats chosen and what holding them came to.
    pub(super) async fn hold_chosen(
        &self,
        layout: &EventSeats,
        reservation: ReservationId,
        user: UserId,
        ask: Ask,
        terms: HoldTerms,
    ) -> ServiceResult<(Vec<SeatLabel>, HoldOutcome)> {
        let event = layout.event.id;
        let request = BestRequest {
            reservation,
            user,
            count: ask.count,
            plan: ask.plan,
            choice: ask.choice,
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
                    "the hold store did not keep its index of taken seats",
                ))
            })
            .await?;
        match outcome {
            BestOutcome::Chosen { seats, outcome } => Ok((seats, outcome)),
            BestOutcome::NotEnough => Err(ServiceError::NotEnoughSeats {
                asked: ask.count,
                within: ask.within,
            }),
            BestOutcome::NotLoaded | BestOutcome::NotPrepared => Err(ServiceError::Internal(
                StoreError::internal("chosen hold: unexpected store answer"),
            )),
        }
    }
}
