//! What the server reads from a call before any message: the gRPC frames of the request body
//! (flag, length, message; cut anywhere by HTTP/2), the `authorization` header and the
//! `x-forwarded-for` header behind a trusted proxy. The first byte picks which.
//!
//! Besides not panicking or hanging: the frame check gives the same answer however the body is
//! cut, and a refused body is INVALID_ARGUMENT or RESOURCE_EXHAUSTED, never anything else.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seatrush::internals::fuzzing::{check_frames, forwarded_client, session_token};
use tonic::Code;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => frames(rest),
        1 => {
            if let Err(status) = session_token(rest) {
                assert_eq!(status.code(), Code::Unauthenticated);
            }
        }
        _ => drop(forwarded_client(rest.split(|&b| b == b'\n'))),
    }
});

/// The body whole, and cut into pieces whose size the first byte gives.
fn frames(data: &[u8]) {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let whole = check_frames([body]).map_err(|s| s.code());
    let pieces = check_frames(body.chunks(usize::from(cut).max(1))).map_err(|s| s.code());
    assert_eq!(whole, pieces, "cut every {cut} bytes");
    if let Err(code) = whole {
        assert!(
            matches!(code, Code::InvalidArgument | Code::ResourceExhausted),
            "{code:?}"
        );
    }
}
