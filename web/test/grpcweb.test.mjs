// gRPC-Web from a real browser: a page on another origin than SeatRush's listener uses the
// generated Connect-Web clients (src/client.ts) to read the seat map, reserve, keep WatchSeats
// open while another client (Node, the same generated client) reserves, and read a failed call's
// code and google.rpc details exactly as a gRPC client would.
import assert from "node:assert/strict";

export const DEMO_EVENT = "0193f5a0-0000-7000-8000-00000000de00";

let serial = 0;
/** A fresh address, so the tests can run again against the same data directory. */
export function email(who) {
  serial += 1;
  return `${who}-${Date.now()}-${serial}@example.com`;
}

async function probePage(ctx) {
  const page = await ctx.browser.newPage();
  await page.goto(`${ctx.probeOrigin}/`);
  await page.evaluate((grpc) => window.startProbe(grpc), ctx.grpc);
  const origin = await page.evaluate(() => window.probe.origin);
  assert.notEqual(origin, new URL(ctx.grpc).origin, "the page must be on another origin");
  return page;
}

async function nodeUser(ctx, who) {
  const address = email(who);
  await ctx.node.accounts.register({ email: address, password: "correct horse" });
  const login = await ctx.node.accounts.login({ email: address, password: "correct horse" });
  return login.sessionToken;
}

function unwrap(outcome) {
  assert.ok(outcome.ok, `call failed: ${JSON.stringify(outcome.failure)}`);
  return outcome.value;
}

export const tests = [
  [
    "a page on another origin reads the seat map and reserves over gRPC-Web",
    async (ctx) => {
      const page = await probePage(ctx);
      const map = unwrap(await page.evaluate((e) => window.probe.getSeatMap(e), DEMO_EVENT));
      assert.equal(map.seats.length, 200);
      assert.deepEqual(map.seats[0], { label: "A1", status: "AVAILABLE" });
      const token = unwrap(
        await page.evaluate((a) => window.probe.signUp(a, "correct horse"), email("ann")),
      );
      const held = unwrap(
        await page.evaluate(([t, e]) => window.probe.reserve(t, e, ["C3", "C4"]), [
          token,
          DEMO_EVENT,
        ]),
      );
      assert.deepEqual(held.seats, ["C3", "C4"]);
      const after = unwrap(await page.evaluate((e) => window.probe.getSeatMap(e, 2), DEMO_EVENT));
      assert.deepEqual(
        after.seats.map((s) => s.label),
        ["C3", "C4"],
        "GetSeatMap filtered by HELD shows the page's hold",
      );
      unwrap(await page.evaluate(([t, r]) => window.probe.release(t, r), [token, held.id]));
      await page.close();
    },
  ],
  [
    "WatchSeats stays open in the browser and sees another client's Reserve and Release",
    async (ctx) => {
      const page = await probePage(ctx);
      unwrap(await page.evaluate((e) => window.probe.watch(e), DEMO_EVENT));
      const token = await nodeUser(ctx, "bob");
      const { reservation } = await ctx.node.booking.reserve(
        { eventId: DEMO_EVENT, seats: ["D7"] },
        ctx.client.bearer(token),
      );
      await page.waitForFunction(
        () => window.probe.seen.updates.some((u) => u.label === "D7" && u.status === "HELD"),
        null,
        { timeout: 5_000 },
      );
      await ctx.node.booking.release(
        { reservationId: reservation.reservationId },
        ctx.client.bearer(token),
      );
      await page.waitForFunction(
        () =>
          window.probe.seen.updates.some(
            (u) => u.label === "D7" && u.status === "AVAILABLE" && u.reason === "RELEASED",
          ),
        null,
        { timeout: 5_000 },
      );
      const seen = await page.evaluate(() => window.probe.seen);
      assert.equal(seen.ended, undefined, "the stream is still open");
      assert.equal(seen.snapshot.seatCount, 200);
      await page.evaluate(() => window.probe.stopWatching());
      await page.close();
    },
  ],
  [
    "a failed call's status carries ErrorInfo and BadRequest to the browser client",
    async (ctx) => {
      const page = await probePage(ctx);
      const token = await nodeUser(ctx, "carol");
      await ctx.node.booking.reserve({ eventId: DEMO_EVENT, seats: ["E2"] }, ctx.client.bearer(token));
      const other = unwrap(
        await page.evaluate((a) => window.probe.signUp(a, "correct horse"), email("dan")),
      );

      const taken = await page.evaluate(([t, e]) => window.probe.reserve(t, e, ["E2", "E3"]), [
        other,
        DEMO_EVENT,
      ]);
      assert.equal(taken.ok, false);
      assert.equal(taken.failure.code, "AlreadyExists");
      assert.equal(taken.failure.message, "seats not available: E2");
      assert.equal(taken.failure.reason, "SEATS_UNAVAILABLE");
      assert.deepEqual(taken.failure.metadata, { seats: "E2" });

      const bad = await page.evaluate(() => window.probe.getSeatMap("nope"));
      assert.equal(bad.ok, false);
      assert.equal(bad.failure.code, "InvalidArgument");
      assert.deepEqual(bad.failure.violations, [{ field: "event_id", description: "is not a UUID" }]);

      const anonymous = await page.evaluate((e) => window.probe.reserve("", e, ["E4"]), DEMO_EVENT);
      assert.equal(anonymous.ok, false);
      assert.equal(anonymous.failure.code, "Unauthenticated");
      await page.close();
    },
  ],
];
