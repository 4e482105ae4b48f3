import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JobStream } from './jobStream';
import type { StreamState } from './jobStream';
import { FakeSocket } from './test/fakeSocket';
import { makeEvent, makeJob } from './test/fixtures';
import type { JobEvent } from './types';

function setup() {
  const events: JobEvent[] = [];
  const states: StreamState[] = [];
  const stream = new JobStream({
    jobId: 7,
    baseUrl: 'ws://test',
    createSocket: (url) => new FakeSocket(url),
    onEvent: (ev) => events.push(ev),
    onStateChange: (s) => states.push(s),
  });
  stream.start();
  return { stream, events, states };
}

const progress = (id: number, p: number) => ({ type: 'event', event: makeEvent(id, 'progress', { progress: p }, 7) });

describe('JobStream', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('connects with after=0 and dedupes events by id', () => {
    const { events, states } = setup();
    const ws = FakeSocket.last();
    expect(ws.url).toBe('ws://test/ws/jobs/7/?after=0');
    ws.open();
    ws.send({ type: 'job', job: makeJob({ id: 7, status: 'running' }) });
    ws.send(progress(1, 0.1));
    ws.send(progress(2, 0.2));
    ws.send(progress(2, 0.2)); // duplicate around the replay boundary
    ws.send(progress(3, 0.3));
    expect(events.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(states).toEqual(['connecting', 'live']);
  });

  it('reconnects after a drop with after=<last id> and backs off', () => {
    const { events, states, stream } = setup();
    let ws = FakeSocket.last();
    ws.open();
    ws.send({ type: 'job', job: makeJob({ id: 7, status: 'running' }) });
    ws.send(progress(4, 0.4));
    ws.send(progress(5, 0.5));
    ws.drop();
    expect(states.at(-1)).toBe('reconnecting');
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(500);
    expect(FakeSocket.all).toHaveLength(2);
    ws = FakeSocket.last();
    expect(ws.url).toBe('ws://test/ws/jobs/7/?after=5');

    // Second failure in a row (before any snapshot) waits longer.
    ws.drop();
    vi.advanceTimersByTime(999);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    ws = FakeSocket.last();
    ws.open();
    ws.send({ type: 'job', job: makeJob({ id: 7, status: 'running' }) });
    ws.send(progress(5, 0.5)); // replayed duplicate
    ws.send(progress(6, 0.6));
    expect(events.map((e) => e.id)).toEqual([4, 5, 6]);
    expect(stream.backoffDelay(10)).toBe(8000);
  });

  it('does not reconnect on 4404 and reports the error', () => {
    const { states } = setup();
    FakeSocket.last().drop(4404);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(states.at(-1)).toBe('error');
  });

  it('stops reconnecting once the job is terminal and the socket closed', () => {
    const { states } = setup();
    const ws = FakeSocket.last();
    ws.open();
    ws.send({ type: 'job', job: makeJob({ id: 7, status: 'running' }) });
    ws.send({ type: 'event', event: makeEvent(9, 'status', { status: 'succeeded' }, 7) });
    ws.drop(1000);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(states.at(-1)).toBe('closed');
  });

  it('stop() closes the socket and cancels a pending reconnect', () => {
    const { stream } = setup();
    FakeSocket.last().drop();
    stream.stop();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);

    const { stream: s2 } = setup();
    const ws = FakeSocket.last();
    s2.stop();
    expect(ws.closedByClient).toBe(true);
  });
});
