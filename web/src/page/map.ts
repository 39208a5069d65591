/**
 * The seat map on one canvas: seat `i` of the layout is a square whose colour is its status.
 * A 100,000-seat venue is 100,000 rectangles in four fills (a few tens of milliseconds), never
 * 100,000 DOM nodes; a change repaints only its own square. Sections flow left to right and
 * wrap; the square's size follows the venue's size so the map fits a screen or two.
 */
import type { GetSeatLayoutResponse } from "../gen/seatrush/v1/booking_pb";

export const AVAILABLE = 0;
export const HELD = 1;
export const SOLD = 2;
export const NAMES = ["available", "held", "sold"];

const COLOURS = {
  available: "#2e9d5b",
  held: "#e0a100",
  sold: "#8a8f98",
  mine: "#2f6fe0",
  selected: "#111",
  label: "#444",
};

interface Block {
  label: string; // section code ("" without sections)
  x: number;
  y: number;
  rows: { name: string; first: number; count: number }[];
}

export class SeatMap {
  readonly count: number;
  readonly status: Uint8Array;
  readonly mine = new Set<number>();
  readonly selected = new Set<number>();
  private blocks: Block[] = [];
  /** Every row in layout order with its label prefix, for labels both ways. */
  private rows: { first: number; count: number; prefix: string }[] = [];
  private xs: Float32Array;
  private ys: Float32Array;
  private cell = 10;
  private ctx: CanvasRenderingContext2D;
  private dirty = new Set<number>();
  private full = true;
  private frame = 0;

  constructor(
    private canvas: HTMLCanvasElement,
    private layout: GetSeatLayoutResponse,
  ) {
    this.count = layout.seatCount;
    this.status = new Uint8Array(this.count);
    this.xs = new Float32Array(this.count);
    this.ys = new Float32Array(this.count);
    const ctx = canvas.getContext("2d", { alpha: false });
    if (!ctx) throw new Error("no 2D canvas");
    this.ctx = ctx;
    this.place(canvas.parentElement?.clientWidth ?? 900);
  }

  /** Positions every seat for a map `width` pixels wide. */
  place(width: number): void {
    const target = Math.max(width * 700, 1) / Math.max(this.count, 1);
    this.cell = Math.max(3, Math.min(22, Math.floor(Math.sqrt(target))));
    const c = this.cell;
    const gap = Math.max(6, c);
    const labelled = this.layout.sections.some((s) => s.code !== "");
    const head = labelled ? 14 : 0;
    const rowHead = c >= 12 ? 18 : 0; // row names only when there is room
    let x = 0;
    let y = 0;
    let lineHeight = 0;
    this.blocks = [];
    this.rows = [];
    for (const section of this.layout.sections) {
      const widest = Math.max(0, ...section.rows.map((r) => r.seatCount));
      const w = rowHead + widest * c;
      const h = head + section.rows.length * c;
      if (x > 0 && x + w > width) {
        x = 0;
        y += lineHeight + gap;
        lineHeight = 0;
      }
      const block: Block = { label: section.code, x, y, rows: [] };
      section.rows.forEach((row, r) => {
        const prefix = section.code ? `${section.code}-${row.row}-` : row.row;
        this.rows.push({ first: row.firstSeatIndex, count: row.seatCount, prefix });
        block.rows.push({ name: row.row, first: row.firstSeatIndex, count: row.seatCount });
        for (let n = 0; n < row.seatCount; n++) {
          this.xs[row.firstSeatIndex + n] = x + rowHead + n * c;
          this.ys[row.firstSeatIndex + n] = y + head + r * c;
        }
      });
      this.blocks.push(block);
      x += w + gap;
      lineHeight = Math.max(lineHeight, h);
    }
    this.canvas.width = Math.max(width, 1);
    this.canvas.height = y + lineHeight + 2;
    this.redraw();
  }

  /** Every status from a packed snapshot (2 bits a seat, 4 seats a byte). */
  setPacked(packed: Uint8Array): void {
    for (let i = 0; i < this.count; i++) {
      this.status[i] = ((packed[i >> 2] ?? 0) >> (2 * (i & 3))) & 3;
    }
    this.redraw();
  }

  set(index: number, status: number): void {
    if (index >= this.count) return;
    this.status[index] = status;
    if (status !== HELD) this.mine.delete(index);
    if (status !== AVAILABLE) this.selected.delete(index);
    this.touch(index);
  }

  touch(index: number): void {
    this.dirty.add(index);
    this.schedule();
  }

  redraw(): void {
    this.full = true;
    this.schedule();
  }

  /** What the page shows for seat `index`: available, held, sold, mine or selected. */
  shown(index: number): string {
    if (this.mine.has(index) && this.status[index] === HELD) return "mine";
    if (this.selected.has(index)) return "selected";
    return NAMES[this.status[index] ?? 0] ?? "available";
  }

  /** The seat under canvas point (x, y), if any. */
  hit(x: number, y: number): number | undefined {
    const c = this.cell;
    for (const block of this.blocks) {
      for (let r = 0; r < block.rows.length; r++) {
        const row = block.rows[r]!;
        const first = row.first;
        const top = this.ys[first] ?? -1;
        const left = this.xs[first] ?? -1;
        if (y >= top && y < top + c && x >= left && x < left + row.count * c) {
          return first + Math.floor((x - left) / c);
        }
      }
    }
    return undefined;
  }

  /** Seat `index`'s label as the API spells it ("A12", or "112-F-14" with sections). */
  label(index: number): string {
    let lo = 0;
    let hi = this.rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.rows[mid]!.first <= index) lo = mid;
      else hi = mid - 1;
    }
    const row = this.rows[lo];
    return row ? `${row.prefix}${index - row.first + 1}` : `#${index}`;
  }

  /** The index of `label`, or undefined. */
  find(label: string): number | undefined {
    const wanted = label.toUpperCase();
    for (const row of this.rows) {
      const rest = wanted.startsWith(row.prefix.toUpperCase()) && wanted.slice(row.prefix.length);
      if (rest && /^[0-9]+$/.test(rest)) {
        const n = Number(rest);
        if (n >= 1 && n <= row.count) return row.first + n - 1;
      }
    }
    return undefined;
  }

  /** The centre of seat `index`, in canvas pixels. */
  centre(index: number): { x: number; y: number } {
    return { x: (this.xs[index] ?? 0) + this.cell / 2, y: (this.ys[index] ?? 0) + this.cell / 2 };
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
  }

  private paint(): void {
    const { ctx } = this;
    if (this.full) {
      this.full = false;
      this.dirty.clear();
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
      this.paintLabels();
      for (const kind of ["available", "held", "sold", "mine", "selected"]) {
        ctx.fillStyle = COLOURS[kind as keyof typeof COLOURS];
        for (let i = 0; i < this.count; i++) if (this.shown(i) === kind) this.square(i);
      }
      return;
    }
    for (const i of this.dirty) {
      ctx.fillStyle = "#fff";
      ctx.fillRect(this.xs[i]!, this.ys[i]!, this.cell, this.cell);
      ctx.fillStyle = COLOURS[this.shown(i) as keyof typeof COLOURS];
      this.square(i);
    }
    this.dirty.clear();
  }

  private square(i: number): void {
    const inset = this.cell >= 6 ? 1 : 0;
    this.ctx.fillRect(
      this.xs[i]! + inset,
      this.ys[i]! + inset,
      this.cell - 2 * inset,
      this.cell - 2 * inset,
    );
  }

  private paintLabels(): void {
    const { ctx } = this;
    ctx.fillStyle = COLOURS.label;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "top";
    for (const block of this.blocks) {
      if (block.label) ctx.fillText(block.label, block.x, block.y);
      if (this.cell >= 12) {
        for (const row of block.rows) {
          ctx.fillText(row.name, block.x, (this.ys[row.first] ?? 0) + 1);
        }
      }
    }
  }
}
