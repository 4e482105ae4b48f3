// Chart data of a `train` job, folded from its events: the loss of each reported step
// (`progress` events) and one row per epoch (`metric` events). Pure; no React.
import type { JobEvent } from './types';

export interface Point {
  x: number;
  y: number;
}

export interface EpochMetrics {
  epoch: number;
  /** Global step at the end of the epoch. */
  step: number | null;
  loss: number | null;
  accuracy: number | null;
  /** null without DP. */
  epsilon: number | null;
  /** null without an evaluation .bin. */
  verification_accuracy: number | null;
}

export interface TrainingSeries {
  /** Sorted by step; one point per step (a replayed step replaces the earlier one). */
  stepLoss: Point[];
  /** Sorted by epoch; one row per epoch. */
  epochs: EpochMetrics[];
  /** Total steps of the run, from the progress events. */
  totalSteps: number | null;
}

export const EMPTY_SERIES: TrainingSeries = { stepLoss: [], epochs: [], totalSteps: null };

/** Past this many step points, every other one is dropped (the chart is ~600 px wide anyway). */
export const MAX_STEP_POINTS = 4000;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Index of the first element whose key is >= key (arr sorted by key). */
function lowerBound<T>(arr: readonly T[], key: number, keyOf: (t: T) => number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keyOf(arr[mid]) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Insert or replace by key, keeping `arr` sorted (mutates `arr`, a copy owned by the caller). */
function upsert<T>(arr: T[], item: T, keyOf: (t: T) => number): void {
  const key = keyOf(item);
  const last = arr[arr.length - 1];
  if (last === undefined || keyOf(last) < key) {
    arr.push(item);
    return;
  }
  const i = lowerBound(arr, key, keyOf);
  if (i < arr.length && keyOf(arr[i]) === key) arr[i] = item;
  else arr.splice(i, 0, item);
}

function decimate(points: Point[]): Point[] {
  const last = points[points.length - 1];
  const kept = points.filter((_, i) => i % 2 === 0);
  if (kept[kept.length - 1] !== last) kept.push(last);
  return kept;
}

/** Fold events (in any order, repeats allowed) into the series; returns a new object when anything changed. */
export function addTrainingEvents(series: TrainingSeries, events: readonly JobEvent[]): TrainingSeries {
  let stepLoss: Point[] | null = null;
  let epochs: EpochMetrics[] | null = null;
  let totalSteps = series.totalSteps;
  for (const ev of events) {
    const p = ev.payload ?? {};
    if (ev.kind === 'progress') {
      const step = num(p.step);
      const loss = num(p.loss);
      const total = num(p.total);
      if (total !== null && total > 0) totalSteps = total;
      if (step === null || loss === null) continue;
      stepLoss ??= [...series.stepLoss];
      upsert(stepLoss, { x: step, y: loss }, (pt) => pt.x);
    } else if (ev.kind === 'metric') {
      const epoch = num(p.epoch);
      if (epoch === null) continue;
      epochs ??= [...series.epochs];
      upsert(
        epochs,
        {
          epoch,
          step: num(p.step),
          loss: num(p.loss),
          accuracy: num(p.accuracy),
          epsilon: num(p.epsilon),
          verification_accuracy: num(p.verification_accuracy),
        },
        (m) => m.epoch,
      );
    }
  }
  if (stepLoss && stepLoss.length > MAX_STEP_POINTS) stepLoss = decimate(stepLoss);
  if (!stepLoss && !epochs && totalSteps === series.totalSteps) return series;
  return { stepLoss: stepLoss ?? series.stepLoss, epochs: epochs ?? series.epochs, totalSteps };
}

/** Points of one epoch column (skipping epochs where it is null). */
export function epochPoints(series: TrainingSeries, key: 'loss' | 'accuracy' | 'epsilon' | 'verification_accuracy'): Point[] {
  const out: Point[] = [];
  for (const m of series.epochs) {
    const y = m[key];
    if (y !== null) out.push({ x: m.epoch, y });
  }
  return out;
}

/** Per-epoch loss placed on the step axis (at the epoch's last step). */
export function epochLossByStep(series: TrainingSeries): Point[] {
  const out: Point[] = [];
  for (const m of series.epochs) if (m.loss !== null && m.step !== null) out.push({ x: m.step, y: m.loss });
  return out;
}

/** The latest epoch's ε (null when no epoch reported one). */
export function latestEpsilon(series: TrainingSeries): number | null {
  for (let i = series.epochs.length - 1; i >= 0; i--) {
    const e = series.epochs[i].epsilon;
    if (e !== null) return e;
  }
  return null;
}
