//! One integration-test binary: every test starts real servers on port 0 and calls them with the
//! generated clients, on the embedded and on the distributed backend.

mod account_cap;
mod accounts;
mod accounts_under_attack;
mod best;
mod booking;
mod calls;
mod cluster;
mod concurrency;
mod connections;
mod contract;
mod cooldown;
mod feed;
mod fuzz;
mod health;
mod helpers;
mod inventory;
mod kills;
mod limits;
mod memory;
mod page;
mod payments;
mod prices;
mod process;
mod protocol;
mod recent_sales;
mod records;
mod sales;
mod stadium;
mod standing;
mod storage_tls;
mod telemetry;
mod tls;
mod validation;
mod web;
