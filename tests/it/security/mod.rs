//! Security findings of the review of `8d4b31e` (issue 17), each reproduced
//! against the real binary, the simulator and a real SQLite file.

mod authority;
mod bodies;
mod database;
mod demo;
mod dumps;
mod proxy;
mod secrets;

use crate::support::setup;
