//! Every method's request: the first byte picks the method, the rest is its protobuf message,
//! decoded by prost and converted into domain values by the handler's own code. One target for
//! all fifteen methods keeps the build and the CI run short; the corpus holds valid requests of
//! each, so mutations start from messages that get past the decoder.
//!
//! Besides not panicking or hanging, every refusal must be INVALID_ARGUMENT: anything else (an
//! INTERNAL, say) would tell a client that its typo is the server's fault.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seatrush::internals::fuzzing::{RPCS, parse_request};
use tonic::Code;

fuzz_target!(|data: &[u8]| {
    let Some((&which, message)) = data.split_first() else {
        return;
    };
    let rpc = RPCS[usize::from(which) % RPCS.len()];
    if let Err(status) = parse_request(rpc, message) {
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{rpc}: {}",
            status.message()
        );
    }
});
