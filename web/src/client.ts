/**
 * SeatRush's public API from a browser: the generated Connect clients over the gRPC-Web
 * transport (binary), and a failed call's status read back with its `google.rpc` details.
 *
 * The page and the browser tests share this file, so what the tests prove is what the page uses.
 */
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AccountService } from "./gen/seatrush/v1/accounts_pb";
import { BookingService } from "./gen/seatrush/v1/booking_pb";
import { InventoryService } from "./gen/seatrush/v1/inventory_pb";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb";

export interface SeatRush {
  accounts: Client<typeof AccountService>;
  booking: Client<typeof BookingService>;
  inventory: Client<typeof InventoryService>;
}

/** Clients for the gRPC(-Web) listener at `baseUrl` (e.g. `http://127.0.0.1:50051`). */
export function connect(baseUrl: string): SeatRush {
  const transport = createGrpcWebTransport({ baseUrl, useBinaryFormat: true });
  return {
    accounts: createClient(AccountService, transport),
    booking: createClient(BookingService, transport),
    inventory: createClient(InventoryService, transport),
  };
}

/** Call options carrying a session token. */
export function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${token}` } };
}

/** A failed call as plain data: the code's name, the message and the details SeatRush sends. */
export interface Failure {
  code: string;
  message: string;
  reason?: string;
  metadata?: Record<string, string>;
  violations?: { field: string; description: string }[];
  retryAfterSeconds?: number;
}

export function failure(err: unknown): Failure {
  const error = ConnectError.from(err);
  const out: Failure = { code: Code[error.code] ?? String(error.code), message: error.rawMessage };
  const [info] = error.findDetails(ErrorInfoSchema);
  if (info) {
    out.reason = info.reason;
    out.metadata = { ...info.metadata };
  }
  const [bad] = error.findDetails(BadRequestSchema);
  if (bad) {
    out.violations = bad.fieldViolations.map((v) => ({
      field: v.field,
      description: v.description,
    }));
  }
  const [retry] = error.findDetails(RetryInfoSchema);
  if (retry?.retryDelay) {
    out.retryAfterSeconds = Number(retry.retryDelay.seconds);
  }
  return out;
}
