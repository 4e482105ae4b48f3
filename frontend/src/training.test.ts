import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { makeDataset, makeEvent } from './test/fixtures';
import { TRAINING_LIMITS } from './test/limits';
import {
  DEFAULT_FORM,
  estimateSummary,
  fieldOfDetail,
  formatDelta,
  formatEpsilon,
  numExamples,
  placeServerError,
  privacyQueryOf,
  validateTrainingForm,
} from './training';
import type { TrainingForm } from './training';
import { addTrainingEvents, EMPTY_SERIES, epochLossByStep, epochPoints, latestEpsilon, MAX_STEP_POINTS } from './trainingSeries';

const ready = makeDataset({ id: 5, status: 'ready', images: 80, identities: 10 });
const form = (over: Partial<TrainingForm> = {}): TrainingForm => ({ ...DEFAULT_FORM, dataset: '5', batch_size: '16', ...over });

describe('training form', () => {
  it('builds the request from a valid form (DP fields only with DP)', () => {
    const plain = validateTrainingForm(form({ name: ' tiny ', epochs: '2' }), ready);
    expect(plain.errors).toEqual({});
    expect(plain.request).toMatchObject({ dataset: 5, name: 'tiny', config: { epochs: 2, batch_size: 16, use_dp: false, lr: 0.1 } });
    expect(plain.request!.config).not.toHaveProperty('noise_multiplier');
    expect(plain.request!.config).not.toHaveProperty('delta');

    const dp = validateTrainingForm(form({ use_dp: true, dp_mode: 'target', target_epsilon: '3', accountant: 'pld' }), ready);
    expect(dp.request!.config).toMatchObject({ use_dp: true, target_epsilon: 3, l2_norm_clip: 1, delta: 1e-5, accountant: 'pld' });
    expect(dp.request!.config).not.toHaveProperty('noise_multiplier');
  });

  it('checks the ranges only once the server has sent them (it refuses the rest with a 400)', () => {
    const loading = validateTrainingForm(form({ epochs: '5000', lr: '50', momentum: 'x' }), ready);
    expect(loading.errors).toEqual({ momentum: 'Must be a number.' });
    const loaded = validateTrainingForm(form({ epochs: '5000', lr: '50' }), ready, TRAINING_LIMITS);
    expect(loaded.errors).toEqual({ epochs: 'Must be a whole number from 1 to 1000.' }); // the server has no lr limit
  });

  it('reports every bad field with a message', () => {
    const { errors, request } = validateTrainingForm(
      form({
        dataset: '',
        embedding_size: '0',
        epochs: '2.5',
        lr: '-1',
        image_size: '8',
        holdout_fraction: '0.7',
        lr_schedule: 'step',
        lr_steps: '5, x',
        use_dp: true,
        noise_multiplier: '',
        delta: '1',
        l2_norm_clip: '0',
      }),
      null,
      TRAINING_LIMITS,
    );
    expect(request).toBeUndefined();
    expect(errors).toMatchObject({
      dataset: 'Choose a ready dataset.',
      embedding_size: 'Must be a whole number from 1 to 4096.',
      epochs: 'Must be a whole number from 1 to 1000.',
      lr: 'Must be a number above 0.',
      image_size: 'Must be a whole number from 16 to 1024.',
      holdout_fraction: 'Must be a number from 0 to 0.5.',
      noise_multiplier: 'Required.',
      delta: expect.stringMatching(/between 0 and 1/),
      l2_norm_clip: expect.stringMatching(/above 0/),
      lr_steps: 'Whole epochs, separated by commas.',
    });
  });

  it('checks the batch size against the training images and LR steps against the epochs', () => {
    expect(validateTrainingForm(form({ batch_size: '73' }), ready).errors.batch_size).toBe(
      'Must not exceed the 72 training images of the dataset.',
    );
    expect(validateTrainingForm(form({ lr_schedule: 'step', lr_steps: '10', epochs: '10' }), ready).errors.lr_steps).toBe(
      'Whole epochs from 1 to 9, separated by commas.',
    );
    const ok = validateTrainingForm(form({ lr_schedule: 'step', lr_steps: '15, 10 10', epochs: '20' }), ready);
    expect(ok.request!.config.lr_steps).toEqual([10, 15]);
  });

  it('privacy query: training images after the holdout, noise or target', () => {
    expect(numExamples(80, 0.1)).toBe(72);
    expect(privacyQueryOf(form({ use_dp: true, epochs: '3', noise_multiplier: '1.5' }), ready)).toEqual({
      query: { dataset: ready.id, holdout_fraction: 0.1, batch_size: 16, epochs: 3, delta: 1e-5, accountant: 'rdp', noise_multiplier: 1.5 },
    });
    expect(privacyQueryOf(form({ use_dp: true, dp_mode: 'target', target_epsilon: '4', holdout_fraction: '0.25' }), ready)).toEqual({
      query: { dataset: ready.id, holdout_fraction: 0.25, batch_size: 16, epochs: 20, delta: 1e-5, accountant: 'rdp', target_epsilon: 4 },
    });
    expect(privacyQueryOf(form({ use_dp: true, epochs: '' }), ready)).toEqual({ problem: 'Fix Epochs to see the privacy estimate.' });
    expect(privacyQueryOf(form({ use_dp: true }), null)).toHaveProperty('problem');
  });

  it('places server errors next to the field they name', () => {
    const detail = (d: string) => new ApiError(d, 400, { detail: d });
    expect(fieldOfDetail('--epochs must be a whole number >= 1, got 0')).toBe('epochs');
    expect(placeServerError(detail('--epochs must be a whole number >= 1, got 0'))).toEqual({
      fields: { epochs: '--epochs must be a whole number >= 1, got 0' },
      general: null,
    });
    expect(placeServerError(detail('--use_dp needs --noise_multiplier or --target_epsilon')).fields).toHaveProperty('use_dp');
    expect(placeServerError(detail('--dataset_path is set by the server'))).toEqual({
      fields: {},
      general: '--dataset_path is set by the server',
    });
    const drf = new ApiError('dataset: bad', 400, { dataset: ['A valid integer is required.'] }, {
      dataset: ['A valid integer is required.'],
    });
    expect(placeServerError(drf)).toEqual({ fields: { dataset: 'A valid integer is required.' }, general: null });
    expect(placeServerError(new ApiError("dataset 'x' is extracting, not ready", 409, {})).fields.dataset).toMatch(/not ready/);
  });
});

describe('formatting', () => {
  it('formats ε, δ and the estimate line', () => {
    expect(formatEpsilon(2.3141)).toBe('2.31');
    expect(formatEpsilon(null)).toBe('∞');
    expect(formatEpsilon(0.01234)).toBe('0.0123');
    expect(formatDelta(1e-5)).toBe('1e-5');
    expect(formatDelta(2.0000000000000002e-5)).toBe('2e-5');
    expect(formatDelta(0.01)).toBe('0.01');
    expect(
      estimateSummary({ epsilon: 2.3141, noise_multiplier: 1, delta: 1e-5, accountant: 'rdp', steps: 1234, sample_rate: 0.2 }),
    ).toBe('ε = 2.31 at δ = 1e-5 (RDP), 1,234 steps');
  });
});

describe('training series', () => {
  it('folds progress and metric events, replacing repeats and sorting late history in', () => {
    let s = addTrainingEvents(EMPTY_SERIES, [
      makeEvent(3, 'progress', { progress: 0.5, step: 2, total: 4, loss: 2.0 }),
      makeEvent(4, 'log', { message: 'hi' }),
      makeEvent(5, 'metric', { epoch: 1, step: 2, loss: 2.1, accuracy: 0.2, epsilon: 1.5, verification_accuracy: null }),
    ]);
    // History arrives after the live events: step 1 goes first, step 2 is not doubled.
    s = addTrainingEvents(s, [
      makeEvent(2, 'progress', { progress: 0.25, step: 1, total: 4, loss: 2.5 }),
      makeEvent(3, 'progress', { progress: 0.5, step: 2, total: 4, loss: 2.0 }),
    ]);
    expect(s.stepLoss).toEqual([
      { x: 1, y: 2.5 },
      { x: 2, y: 2.0 },
    ]);
    expect(s.totalSteps).toBe(4);
    expect(epochPoints(s, 'epsilon')).toEqual([{ x: 1, y: 1.5 }]);
    expect(epochPoints(s, 'verification_accuracy')).toEqual([]);
    expect(epochLossByStep(s)).toEqual([{ x: 2, y: 2.1 }]);
    expect(latestEpsilon(s)).toBe(1.5);
    // Nothing relevant: same object (no re-render).
    expect(addTrainingEvents(s, [makeEvent(9, 'log', { message: 'x' })])).toBe(s);
  });

  it('thins out a very long loss curve', () => {
    const events = Array.from({ length: MAX_STEP_POINTS + 1 }, (_, i) => makeEvent(i + 1, 'progress', { step: i + 1, loss: 1 }));
    const s = addTrainingEvents(EMPTY_SERIES, events);
    expect(s.stepLoss.length).toBeLessThanOrEqual(MAX_STEP_POINTS / 2 + 2);
    expect(s.stepLoss.at(-1)!.x).toBe(MAX_STEP_POINTS + 1);
  });
});
