import { describe, expect, it } from 'vitest';
import {
  addFederatedEvents,
  EMPTY_FEDERATED,
  latestClients,
  latestRound,
  latestRoundEpsilon,
  roundPoints,
} from './federatedSeries';
import { makeEvent } from './test/fixtures';

const client = (partition: number | string, over: Record<string, unknown> = {}) => ({
  partition,
  examples: 20,
  identities: 3,
  steps: 3,
  seconds: 4.2,
  rounds: 1,
  loss: 2.5,
  accuracy: 0.3,
  status: 'ok',
  ...over,
});
const metric = (id: number, round: number, over: Record<string, unknown> = {}) =>
  makeEvent(id, 'metric', {
    round,
    loss: 3 - round,
    accuracy: 0.1 * round,
    held_accuracy: 0.05 * round,
    epsilon: round * 1.5,
    verification_accuracy: 0.5 + 0.05 * round,
    sampled: 3,
    replied: 3,
    failed: 0,
    clients: [client(2), client(0), client(1)],
    ...over,
  });

describe('addFederatedEvents', () => {
  it('folds metric events into one row per round (any order, repeats replace), totals from progress', () => {
    let s = addFederatedEvents(EMPTY_FEDERATED, [
      makeEvent(1, 'progress', { progress: 0, message: 'Federated run: 3 clients, 2 rounds' }),
      makeEvent(3, 'progress', { progress: 0.5, message: 'Round 1 of 2: 3 of 3 clients replied', round: 1, total: 2 }),
    ]);
    expect(s.totalRounds).toBe(2);
    expect(s.rounds).toEqual([]);
    s = addFederatedEvents(s, [metric(5, 2), metric(2, 1), metric(2, 1, { loss: 9 })]);
    expect(s.rounds.map((r) => r.round)).toEqual([1, 2]);
    expect(s.rounds[0].loss).toBe(9);
    expect(roundPoints(s, 'loss')).toEqual([
      { x: 1, y: 9 },
      { x: 2, y: 1 },
    ]);
    expect(roundPoints(s, 'epsilon')).toEqual([
      { x: 1, y: 1.5 },
      { x: 2, y: 3 },
    ]);
    expect(latestRound(s)!.round).toBe(2);
    expect(latestRoundEpsilon(s)).toBe(3);
    // Unrelated events (a train job's epoch metric, logs) change nothing: same object.
    expect(addFederatedEvents(s, [makeEvent(9, 'metric', { epoch: 1, loss: 1 }), makeEvent(10, 'log', { message: 'hi' })])).toBe(s);
  });

  it('skips nulls in the charts and keeps the latest round’s clients, by partition, failed ones last', () => {
    const s = addFederatedEvents(EMPTY_FEDERATED, [
      metric(1, 1, { epsilon: null, verification_accuracy: null }),
      metric(2, 2, {
        epsilon: null,
        replied: 2,
        failed: 1,
        clients: [client(1, { rounds: 2 }), { partition: 'node 77', status: 'failed', reason: 'out of memory' }, client(0, { rounds: 2 })],
      }),
    ]);
    expect(roundPoints(s, 'epsilon')).toEqual([]);
    expect(latestRoundEpsilon(s)).toBeNull();
    expect(roundPoints(s, 'verification_accuracy')).toEqual([{ x: 2, y: 0.6 }]);
    expect(latestClients(s).map((c) => c.partition)).toEqual([0, 1, 'node 77']);
    expect(latestClients(s)[2]).toMatchObject({ status: 'failed', reason: 'out of memory' });
    expect(latestClients(EMPTY_FEDERATED)).toEqual([]);
  });
});
