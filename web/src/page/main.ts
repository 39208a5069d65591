/**
 * The seat-map page: an event's map, live, and the booking flow (sign in, hold, extend, release,
 * buy), over SeatRush's public gRPC API through gRPC-Web. The gRPC address comes from the
 * `seatrush-grpc` meta tag the server fills in; the event from `?event=` or the first listed.
 *
 * The map is drawn from the layout (fetched once) and a WatchSeats stream: a snapshot of packed
 * statuses, then batches of changes; the stream is reopened with backoff when it ends.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { bearer, connect, failure } from "../client";
import type { Reservation } from "../gen/seatrush/v1/booking_pb";
import { describe } from "./errors";
import { AVAILABLE, HELD, SeatMap } from "./map";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const grpc =
  document.querySelector<HTMLMetaElement>('meta[name="seatrush-grpc"]')?.content ?? "";
const api = connect(grpc);

let map: SeatMap | undefined;
let eventId = "";
let token = sessionStorage.getItem("seatrush-token") ?? "";
let who = sessionStorage.getItem("seatrush-email") ?? "";
const holds = new Map<string, Reservation>();
/** General-admission areas by code: name, free places and capacity, as the feed reports them. */
const areas = new Map<string, { name: string; available: number; capacity: number }>();
/** Each hold's length as the server granted it: Extend asks for that much again. */
const lengths = new Map<string, number>();

function say(text: string, kind: "error" | "info" = "error"): void {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
}

async function attempt<T>(action: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await call();
    say("", "info");
    return value;
  } catch (err) {
    const f = failure(err);
    say(describe(action, f));
    if (f.code === "Unauthenticated" && token) {
      // The session expired or was revoked: back to the sign-in form.
      token = "";
      sessionStorage.removeItem("seatrush-token");
      showAccount();
    }
    return undefined;
  }
}

async function start(): Promise<void> {
  eventId = new URLSearchParams(location.search).get("event") ?? "";
  if (!eventId) {
    const list = await attempt("Loading events", () => api.inventory.listEvents({ pageSize: 1 }));
    eventId = list?.events[0]?.eventId ?? "";
    if (!eventId) return say(list ? "No events yet." : $("message").textContent ?? "");
  }
  const event = await attempt("Loading the event", () => api.inventory.getEvent({ eventId }));
  const layout = await attempt("Loading the map", () => api.booking.getSeatLayout({ eventId }));
  if (!event?.event || !layout) return;
  $("event-name").textContent = event.event.name;
  $("seat-count").textContent = `${layout.seatCount.toLocaleString("en")} seats`;
  for (const a of layout.areas) {
    areas.set(a.code, { name: a.name || a.code, available: a.capacity, capacity: a.capacity });
  }
  showAreas();
  map = new SeatMap($<HTMLCanvasElement>("map"), layout);
  window.seatMap = map;
  const canvas = $<HTMLCanvasElement>("map");
  canvas.addEventListener("click", (e) => {
    const r = canvas.getBoundingClientRect();
    const seat = map?.hit(e.clientX - r.left, e.clientY - r.top);
    if (seat !== undefined) toggle(seat);
  });
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    const seat = map?.hit(e.clientX - r.left, e.clientY - r.top);
    canvas.title = seat === undefined || !map ? "" : `${map.label(seat)}: ${map.shown(seat)}`;
  });
  let width = canvas.parentElement?.clientWidth ?? 0;
  new ResizeObserver(() => {
    const now = canvas.parentElement?.clientWidth ?? 0;
    if (map && Math.abs(now - width) > 40) map.place((width = now));
  }).observe(canvas.parentElement ?? canvas);
  void watch();
}

/** Keeps a WatchSeats stream open, reopening it with backoff; every (re)open starts with a
 *  snapshot, so nothing is missed. */
async function watch(): Promise<void> {
  let wait = 500;
  for (;;) {
    try {
      for await (const message of api.booking.watchSeats({ eventId })) {
        const p = message.payload;
        if (p.case === "snapshot") {
          map?.setPacked(p.value.statuses);
          countAreas(p.value.areas);
          live(true);
          wait = 500;
        } else if (p.case === "changes") {
          for (const u of p.value.updates) map?.set(u.seatIndex, u.status - 1);
          countAreas(p.value.areas);
        }
      }
    } catch (err) {
      const f = failure(err);
      if (f.code === "NotFound") return say(describe("Watching the map", f));
    }
    live(false);
    await new Promise((ok) => setTimeout(ok, wait));
    wait = Math.min(wait * 2, 10_000);
  }
}

/** The free places of the areas the feed reported (a batch lists only those that changed). */
function countAreas(counts: { code: string; available: number }[]): void {
  for (const c of counts) {
    const area = areas.get(c.code);
    if (area) area.available = c.available;
  }
  if (counts.length) showAreas();
}

function showAreas(): void {
  $("areas").textContent = [...areas.values()]
    .map((a) => `${a.name}: ${a.available.toLocaleString("en")} of ${a.capacity.toLocaleString("en")} places free`)
    .join(" · ");
}

function live(on: boolean): void {
  $("live").textContent = on ? "live" : "reconnecting…";
  $("live").className = on ? "live" : "stale";
}

function toggle(seat: number): void {
  if (!map) return;
  if (map.selected.has(seat)) map.selected.delete(seat);
  else if (map.status[seat] === AVAILABLE) map.selected.add(seat);
  else return say(`${map.label(seat)} is ${map.shown(seat)}.`, "info");
  map.touch(seat);
  const n = map.selected.size;
  $("selection").textContent = n
    ? [...map.selected].map((i) => map!.label(i)).join(", ")
    : "Click available seats to choose them.";
  $<HTMLButtonElement>("hold").disabled = n === 0;
  $("hold").textContent = n > 1 ? `Hold ${n} seats` : "Hold seat";
}

async function hold(): Promise<void> {
  if (!map || map.selected.size === 0) return;
  const m = map;
  const seats = [...m.selected].map((i) => m.label(i));
  const answer = await attempt("Hold", () => api.booking.reserve({ eventId, seats }, bearer(token)));
  const reservation = answer?.reservation;
  for (const i of [...m.selected]) {
    m.selected.delete(i);
    m.touch(i);
  }
  toggleReset();
  if (!reservation) return;
  holds.set(reservation.reservationId, reservation);
  lengths.set(reservation.reservationId, secondsLeft(reservation));
  for (const label of reservation.seats) {
    const i = m.find(label);
    if (i !== undefined) {
      m.mine.add(i);
      m.set(i, HELD);
    }
  }
  renderHolds();
}

function toggleReset(): void {
  $("selection").textContent = "Click available seats to choose them.";
  $<HTMLButtonElement>("hold").disabled = true;
  $("hold").textContent = "Hold seat";
}

function forget(id: string): void {
  const r = holds.get(id);
  holds.delete(id);
  lengths.delete(id);
  for (const label of r?.seats ?? []) {
    const i = map?.find(label);
    if (i !== undefined && map) {
      map.mine.delete(i);
      map.touch(i);
    }
  }
  renderHolds();
}

function renderHolds(): void {
  const list = $("holds");
  list.replaceChildren();
  for (const [id, r] of holds) {
    const item = document.createElement("li");
    item.dataset.reservation = id;
    const text = document.createElement("span");
    text.textContent = r.seats.join(", ");
    const clock = document.createElement("span");
    clock.className = "countdown";
    const buttons = [
      ["Extend", () => extend(id)],
      ["Release", () => release(id)],
      ["Buy", () => buy(id)],
    ] as const;
    item.append(text, " ", clock);
    for (const [name, act] of buttons) {
      const b = document.createElement("button");
      b.textContent = name;
      b.addEventListener("click", () => void act());
      item.append(" ", b);
    }
    list.append(item);
  }
  tick();
}

function secondsLeft(r: Reservation): number {
  if (!r.expiresAt) return 0;
  return Math.max(0, Math.round((timestampDate(r.expiresAt).getTime() - Date.now()) / 1000));
}

function tick(): void {
  for (const item of $("holds").querySelectorAll<HTMLLIElement>("li")) {
    const r = holds.get(item.dataset.reservation ?? "");
    const clock = item.querySelector(".countdown");
    if (!r?.expiresAt || !clock) continue;
    const left = secondsLeft(r);
    clock.textContent = left > 0 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left` : "expired";
  }
}

async function extend(id: string): Promise<void> {
  const answer = await attempt("Extend", () =>
    api.booking.extendHold(
      { reservationId: id, holdSeconds: Math.max(1, lengths.get(id) ?? 60) },
      bearer(token),
    ),
  );
  if (answer?.reservation) {
    holds.set(id, answer.reservation);
    renderHolds();
    say("Hold extended.", "info");
  }
}

async function release(id: string): Promise<void> {
  if (await attempt("Release", () => api.booking.release({ reservationId: id }, bearer(token)))) {
    forget(id);
  }
}

async function buy(id: string): Promise<void> {
  const answer = await attempt("Buy", () =>
    api.booking.purchase({ reservationId: id }, bearer(token)),
  );
  if (!answer) return;
  forget(id);
  for (const ticket of answer.tickets) {
    const item = document.createElement("li");
    item.className = "ticket";
    item.textContent = `Seat ${ticket.label} · ticket ${ticket.ticketId}`;
    $("tickets").append(item);
  }
  say(`Bought ${answer.tickets.length} ticket(s).`, "info");
}

async function account(register: boolean): Promise<void> {
  const email = $<HTMLInputElement>("email").value.trim();
  const password = $<HTMLInputElement>("password").value;
  if (register) {
    const done = await attempt("Register", () => api.accounts.register({ email, password }));
    if (!done) return;
  }
  const login = await attempt("Sign in", () => api.accounts.login({ email, password }));
  if (!login) return;
  token = login.sessionToken;
  who = email;
  sessionStorage.setItem("seatrush-token", token);
  sessionStorage.setItem("seatrush-email", who);
  showAccount();
}

async function signOut(): Promise<void> {
  await attempt("Sign out", () => api.accounts.logout({}, bearer(token)));
  token = "";
  who = "";
  sessionStorage.clear();
  showAccount();
}

function showAccount(): void {
  $("signed-out").hidden = token !== "";
  $("signed-in").hidden = token === "";
  $("who").textContent = who;
}

declare global {
  interface Window {
    seatMap: SeatMap;
  }
}

$("register").addEventListener("click", () => void account(true));
$("signin").addEventListener("click", () => void account(false));
$("signout").addEventListener("click", () => void signOut());
$("hold").addEventListener("click", () => void hold());
setInterval(tick, 250);
showAccount();
toggleReset();
if (!grpc) say("This page was not given a SeatRush address.");
else void start();
