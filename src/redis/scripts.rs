//! The Lua scripts, each with `lua/prelude.lua` (the lifecycle's shared checks) in front. Their
//! header comments give their keys and arguments.

use redis::Script;
use std::sync::LazyLock;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(super) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(
                include_str!("lua/prelude.lua"),
                include_str!(concat!("lua/", $file))
            ))
        });
    };
}

script!(RESERVE, "reserve.lua");
script!(RESERVE_BEST, "reserve_best.lua");
script!(PREPARE_BEST, "prepare_best.lua");
script!(BEGIN_PURCHASE, "begin_purchase.lua");
script!(ABORT_PURCHASE, "abort_purchase.lua");
script!(FINISH_PURCHASE, "finish_purchase.lua");
script!(RELEASE, "release.lua");
script!(RELEASE_USER, "release_user.lua");
script!(EXTEND, "extend.lua");
script!(SNAPSHOT, "snapshot.lua");
script!(MARK_SOLD, "mark_sold.lua");
script!(HELD, "held.lua");
script!(LOOKUP, "lookup.lua");
script!(HOLDS_OF, "holds_of.lua");
script!(SWEEP, "sweep.lua");
