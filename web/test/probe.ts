/**
 * The browser side of the gRPC-Web tests: a page on another origin than SeatRush's listener,
 * driving the generated clients (src/client.ts, as the seat-map page does). Playwright calls
 * `window.probe.*` and reads back plain data (no bigints, no class instances).
 */
import { bearer, connect, failure, type Failure } from "../src/client";
import { SeatStatus, ChangeReason } from "../src/gen/seatrush/v1/booking_pb";

type Outcome<T> = { ok: true; value: T } | { ok: false; failure: Failure };

async function outcome<T>(call: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    return { ok: false, failure: failure(err) };
  }
}

interface Seen {
  snapshot?: { version: string; seatCount: number };
  updates: { label: string; status: string; reason: string; version: string }[];
  ended?: Failure | "done";
}

function probe(baseUrl: string) {
  const api = connect(baseUrl);
  const seen: Seen = { updates: [] };
  const abort = new AbortController();
  return {
    origin: location.origin,
    seen,
    getSeatMap: (eventId: string, status = 0) =>
      outcome(async () => {
        const map = await api.booking.getSeatMap({ eventId, status });
        return {
          version: String(map.version),
          seats: map.seats.map((s) => ({ label: s.label, status: SeatStatus[s.status] })),
        };
      }),
    signUp: (email: string, password: string) =>
      outcome(async () => {
        await api.accounts.register({ email, password });
        const login = await api.accounts.login({ email, password });
        return login.sessionToken;
      }),
    reserve: (token: string, eventId: string, seats: string[]) =>
      outcome(async () => {
        const { reservation } = await api.booking.reserve({ eventId, seats }, bearer(token));
        return { id: reservation?.reservationId ?? "", seats: reservation?.seats ?? [] };
      }),
    release: (token: string, reservationId: string) =>
      outcome(async () => {
        await api.booking.release({ reservationId }, bearer(token));
        return true;
      }),
    /** Opens WatchSeats (with labels) and resolves once its snapshot has arrived. */
    watch: (eventId: string) =>
      new Promise<Outcome<string>>((resolve) => {
        (async () => {
          try {
            const stream = api.booking.watchSeats(
              { eventId, labels: true },
              { signal: abort.signal },
            );
            for await (const message of stream) {
              const payload = message.payload;
              if (payload.case === "snapshot") {
                seen.snapshot = {
                  version: String(payload.value.version),
                  seatCount: payload.value.seatCount,
                };
                resolve({ ok: true, value: seen.snapshot.version });
              } else if (payload.case === "changes") {
                for (const u of payload.value.updates) {
                  seen.updates.push({
                    label: u.label,
                    status: SeatStatus[u.status],
                    reason: ChangeReason[u.reason],
                    version: String(payload.value.toVersion),
                  });
                }
              }
            }
            seen.ended = "done";
          } catch (err) {
            seen.ended = failure(err);
            resolve({ ok: false, failure: seen.ended });
          }
        })();
      }),
    stopWatching: () => abort.abort(),
  };
}

declare global {
  interface Window {
    probe: ReturnType<typeof probe>;
    startProbe: (baseUrl: string) => void;
  }
}

window.startProbe = (baseUrl: string) => {
  window.probe = probe(baseUrl);
};
