// Chart and table data of a `federated` job, folded from its events: one row per round
// (`metric` events, a replayed round replaces the earlier copy) with the clients' rows of the
// latest round, and the planned rounds (from `progress` events). Pure; no React.
import type { FederatedClientRow } from './federated';
import type { JobEvent } from './types';
import type { Point } from './trainingSeries';

export interface RoundMetrics {
  round: number;
  loss: number | null;
  accuracy: number | null;
  held_accuracy: number | null;
  /** null without DP. */
  epsilon: number | null;
  /** null without an evaluation .bin. */
  verification_accuracy: number | null;
  sampled: number | null;
  replied: number | null;
  failed: number | null;
  clients: FederatedClientRow[];
}

export interface FederatedSeries {
  /** Sorted by round; one row per round. */
  rounds: RoundMetrics[];
  /** Planned rounds, from the progress events ("Round r of R"). */
  totalRounds: number | null;
}

export const EMPTY_FEDERATED: FederatedSeries = { rounds: [], totalRounds: null };

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function clientsOf(v: unknown): FederatedClientRow[] {
  if (!Array.isArray(v)) return [];
  return v.filter((c): c is FederatedClientRow => Boolean(c) && typeof c === 'object' && 'partition' in c);
}

/** Fold events (any order, repeats allowed) into the series; returns a new object when anything changed. */
export function addFederatedEvents(series: FederatedSeries, events: readonly JobEvent[]): FederatedSeries {
  let rounds: RoundMetrics[] | null = null;
  let totalRounds = series.totalRounds;
  for (const ev of events) {
    const p = ev.payload ?? {};
    if (ev.kind === 'progress') {
      const total = num(p.total);
      if (num(p.round) !== null && total !== null && total > 0) totalRounds = total;
    } else if (ev.kind === 'metric') {
      const round = num(p.round);
      if (round === null) continue;
      rounds ??= [...series.rounds];
      const row: RoundMetrics = {
        round,
        loss: num(p.loss),
        accuracy: num(p.accuracy),
        held_accuracy: num(p.held_accuracy),
        epsilon: num(p.epsilon),
        verification_accuracy: num(p.verification_accuracy),
        sampled: num(p.sampled),
        replied: num(p.replied),
        failed: num(p.failed),
        clients: clientsOf(p.clients),
      };
      const i = rounds.findIndex((r) => r.round >= round);
      if (i === -1) rounds.push(row);
      else if (rounds[i].round === round) rounds[i] = row;
      else rounds.splice(i, 0, row);
    }
  }
  if (!rounds && totalRounds === series.totalRounds) return series;
  return { rounds: rounds ?? series.rounds, totalRounds };
}

export type RoundKey = 'loss' | 'accuracy' | 'held_accuracy' | 'epsilon' | 'verification_accuracy';

/** Points of one round column (skipping rounds where it is null). */
export function roundPoints(series: FederatedSeries, key: RoundKey): Point[] {
  const out: Point[] = [];
  for (const r of series.rounds) {
    const y = r[key];
    if (y !== null) out.push({ x: r.round, y });
  }
  return out;
}

/** The latest round (null before the first one ends). */
export function latestRound(series: FederatedSeries): RoundMetrics | null {
  return series.rounds.length ? series.rounds[series.rounds.length - 1] : null;
}

/** The latest round's ε (null when no round reported one). */
export function latestRoundEpsilon(series: FederatedSeries): number | null {
  for (let i = series.rounds.length - 1; i >= 0; i--) {
    const e = series.rounds[i].epsilon;
    if (e !== null) return e;
  }
  return null;
}

/** The latest round's client rows, ordered by partition (failed ones by their label). */
export function latestClients(series: FederatedSeries): FederatedClientRow[] {
  const last = latestRound(series);
  if (!last) return [];
  const key = (c: FederatedClientRow) => (typeof c.partition === 'number' ? c.partition : Number(c.partition));
  return [...last.clients].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (Number.isFinite(ka) && Number.isFinite(kb)) return ka - kb;
    if (Number.isFinite(ka)) return -1;
    if (Number.isFinite(kb)) return 1;
    return String(a.partition).localeCompare(String(b.partition));
  });
}
