import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/sim/events.js';
import { seededRandom } from '../../src/util/random.js';

describe('the event queue', () => {
  it('pops events in time order, growing as needed', () => {
    const q = new EventQueue(2);
    const rand = seededRandom(1);
    const times = Array.from({ length: 5000 }, () => rand() * 100);
    times.forEach((t, i) => q.push(t, i % 7, i));
    const popped: number[] = [];
    while (q.pop()) popped.push(q.now);
    expect(popped).toEqual([...times].sort((a, b) => a - b));
  });

  it('pops simultaneous events in the order they were scheduled (runs are deterministic)', () => {
    const q = new EventQueue();
    for (let i = 0; i < 100; i++) q.push(i % 3, 1, i);
    const order: number[] = [];
    while (q.pop()) order.push(q.nowSubject);
    const expected = [0, 1, 2].flatMap((t) => Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 3 === t));
    expect(order).toEqual(expected);
  });

  it('carries kind and subject with each event, and interleaves pushes and pops', () => {
    const q = new EventQueue();
    q.push(5, 2, 50);
    q.push(1, 3, 10);
    expect(q.pop()).toBe(true);
    expect([q.now, q.nowKind, q.nowSubject]).toEqual([1, 3, 10]);
    q.push(2, 4, 20);
    expect(q.pop() && q.nowSubject).toBe(20);
    expect(q.pop() && q.nowSubject).toBe(50);
    expect(q.pop()).toBe(false);
    expect(q.length).toBe(0);
  });
});
