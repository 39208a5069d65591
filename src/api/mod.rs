//! The gRPC edge: the only layer that knows tonic and protobuf. Handlers parse requests into
//! domain values (bad input is INVALID_ARGUMENT naming the field), call a service, and turn the
//! answer back into protobuf; every error passes through [`status`] on the way out.

mod accounts;
mod auth;
mod booking;
mod convert;
#[cfg(feature = "internals")]
pub mod fuzzing;
mod inventory;
mod limits;
mod maps;
mod observe;
mod protocol;
mod shed;
mod status;
mod watch;
mod web;

pub use accounts::AccountsApi;
pub use auth::AdminGate;
pub use booking::BookingApi;
pub use inventory::InventoryApi;
pub use limits::{LimitLayer, Limiter};
pub use observe::ObserveLayer;
pub use protocol::ProtocolLayer;
pub use shed::ShedLayer;
pub use web::cors;

/// Largest request message any SeatRush RPC accepts from anyone.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest CreateEvent message, from a caller presenting the admin token (a stadium's layout of
/// 500 sections of 200 rows is about 1 MB).
pub const MAX_LAYOUT_BYTES: usize = 2 * 1024 * 1024;
