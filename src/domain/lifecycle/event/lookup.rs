//! What a user may see of their own holds: the live ones, found by the same test every operation
//! on a hold makes ([`EventHolds::live`]), so a hold that lapsed, was released or was sold never
//! shows, even before the expiry pass has reached it.

use super::EventHolds;
use crate::domain::lifecycle::{HoldRefusal, LiveHold};
use crate::domain::{EventId, HoldToken, ReservationId, UnixMillis, UserId};

impl EventHolds {
    /// The hold `token` of this event (`event`), if it is `user`'s and live; otherwise why not,
    /// in the lifecycle's order (`Unknown`, `NotOwner`, `Sold`, `Released`, `Expired`).
    pub fn lookup(
        &self,
        event: EventId,
        token: HoldToken,
        user: UserId,
        now: UnixMillis,
    ) -> Result<LiveHold, HoldRefusal> {
        let hold = self.live(token, user, now)?;
        Ok(LiveHold {
            reservation: ReservationId::from_parts(event, token),
            seats: hold.seats.clone(),
            deadline: hold.deadline,
            created: hold.created,
        })
    }

    /// Every live hold of `user` in this event (`event`), in no particular order.
    pub fn holds_of(&self, event: EventId, user: UserId, now: UnixMillis) -> Vec<LiveHold> {
        self.live_by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|&token| self.lookup(event, token, user, now).ok())
            .collect()
    }
}
