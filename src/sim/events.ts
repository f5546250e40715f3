/**
 * The simulator's future-event list: a binary min-heap over (time, insertion order) held in typed arrays, so
 * millions of events cost no allocation. Equal times pop in insertion order, which keeps runs deterministic.
 * An event is a kind (small integer) and a subject (a frame, device, worker... id).
 */
export class EventQueue {
  private time: Float64Array;
  private seq: Float64Array;
  private kind: Uint8Array;
  private subject: Int32Array;
  private size = 0;
  private counter = 0;
  /** The event last popped. */
  now = 0;
  nowKind = 0;
  nowSubject = 0;

  constructor(capacity = 1024) {
    this.time = new Float64Array(capacity);
    this.seq = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.subject = new Int32Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(time: number, kind: number, subject: number): void {
    if (this.size === this.time.length) this.grow();
    let i = this.size++;
    const seq = this.counter++;
    // sift up: move parents down until the slot fits
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.time[parent]! < time || (this.time[parent] === time && this.seq[parent]! < seq)) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, time, seq, kind, subject);
  }

  /** Pop the earliest event into now/nowKind/nowSubject; false when empty. */
  pop(): boolean {
    if (this.size === 0) return false;
    this.now = this.time[0]!;
    this.nowKind = this.kind[0]!;
    this.nowSubject = this.subject[0]!;
    const last = --this.size;
    if (last === 0) return true;
    const t = this.time[last]!;
    const s = this.seq[last]!;
    const k = this.kind[last]!;
    const sub = this.subject[last]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const child = r < last && (this.time[r]! < this.time[l]! || (this.time[r] === this.time[l] && this.seq[r]! < this.seq[l]!)) ? r : l;
      if (t < this.time[child]! || (t === this.time[child] && s < this.seq[child]!)) break;
      this.move(child, i);
      i = child;
    }
    this.set(i, t, s, k, sub);
    return true;
  }

  /** Slot i holds this event: the one place all four columns are written together. */
  private set(i: number, time: number, seq: number, kind: number, subject: number): void {
    this.time[i] = time;
    this.seq[i] = seq;
    this.kind[i] = kind;
    this.subject[i] = subject;
  }

  private move(from: number, to: number): void {
    this.time[to] = this.time[from]!;
    this.seq[to] = this.seq[from]!;
    this.kind[to] = this.kind[from]!;
    this.subject[to] = this.subject[from]!;
  }

  private grow(): void {
    const n = this.time.length * 2;
    const grow = <T extends Float64Array | Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.time = grow(this.time, (k) => new Float64Array(k));
    this.seq = grow(this.seq, (k) => new Float64Array(k));
    this.kind = grow(this.kind, (k) => new Uint8Array(k));
    this.subject = grow(this.subject, (k) => new Int32Array(k));
  }
}
