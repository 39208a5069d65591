//! A connection whose commands each get a `redis` client span (for traces), named like
//! `EVALSHA reserve`. Arguments are never recorded: they carry user ids and hold tokens.

use super::connection::RedisConnection;
use crate::telemetry::CLIENT_TARGET;
use tracing::Instrument;

pub(super) struct Traced {
    pub(super) conn: RedisConnection,
    pub(super) name: &'static str,
}

impl redis::aio::ConnectionLike for Traced {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let span = tracing::debug_span!(
            target: CLIENT_TARGET,
            "redis",
            otel.name = self.name,
            otel.kind = "client",
            db.system.name = "redis",
            db.operation.name = "EVALSHA",
        );
        Box::pin(self.conn.req_packed_command(cmd).instrument(span))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        self.conn.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}
