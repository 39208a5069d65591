/**
 * A clear sentence for every gRPC status code SeatRush can answer, with what the details add
 * (the seats someone else took, the field that was wrong, how long to wait). README "Status
 * codes" lists which RPC returns which code; this is the page's side of that table.
 */
import type { Failure } from "../client";

const BY_CODE: Record<string, string> = {
  Canceled: "The request was cancelled.",
  Unknown: "Something unexpected went wrong. Please try again.",
  InvalidArgument: "That request is not valid.",
  DeadlineExceeded: "The server took too long to answer. Please try again.",
  NotFound: "Not found: it may have been removed, or the link is wrong.",
  AlreadyExists: "That already exists.",
  PermissionDenied: "You are not allowed to do that.",
  ResourceExhausted: "Too many requests right now. Please wait a moment and try again.",
  FailedPrecondition: "That is no longer possible.",
  Aborted: "The request was interrupted. Please try again.",
  OutOfRange: "That value is out of range.",
  Unimplemented: "The server does not support this.",
  Internal: "The server had a problem. Please try again in a moment.",
  Unavailable: "The booking service is unavailable right now. Please try again in a moment.",
  DataLoss: "The server lost data for this request.",
  Unauthenticated: "Please sign in first (your session may have expired).",
};

/** What to tell the user about `failure`, as the result of `action` ("Hold", "Buy", …). */
export function describe(action: string, failure: Failure): string {
  const text = specific(failure) ?? BY_CODE[failure.code] ?? `Error: ${failure.code}.`;
  const wait = failure.retryAfterSeconds ? ` Try again in ${failure.retryAfterSeconds} s.` : "";
  return `${action}: ${text}${wait}`;
}

function specific(f: Failure): string | undefined {
  if (f.reason === "SEATS_UNAVAILABLE") {
    return `Sorry, someone else has just taken ${f.metadata?.seats ?? "a seat you chose"}.`;
  }
  if (f.reason === "LOGIN_THROTTLED") return "Too many failed sign-ins for this email.";
  if (f.reason === "HASHING_BUSY") return "The server is busy signing people in.";
  if (f.violations?.length) {
    return `Please check: ${f.violations.map((v) => `${v.field} ${v.description}`).join("; ")}.`;
  }
  switch (f.code) {
    case "AlreadyExists":
      return f.message.includes("email") ? "An account with this email already exists." : undefined;
    case "Unauthenticated":
      return f.message.includes("password") || f.message.includes("credentials")
        ? "Wrong email or password."
        : undefined;
    case "FailedPrecondition":
      return `That hold can no longer be changed (${f.message}).`;
    case "ResourceExhausted":
      return f.message.includes("seats")
        ? `You are holding as many seats as allowed (${f.message}).`
        : undefined;
    case "NotFound":
      return `Not found (${f.message}).`;
    case "PermissionDenied":
      return `That is not yours (${f.message}).`;
    default:
      return undefined;
  }
}
