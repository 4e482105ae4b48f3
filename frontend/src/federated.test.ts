import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import {
  DEFAULT_FEDERATED_FORM,
  federatedPrivacyQueryOf,
  placeFederatedError,
  unitOf,
  validateFederatedForm,
} from './federated';
import type { FederatedForm } from './federated';
import { makeDataset } from './test/fixtures';
import { FEDERATED_LIMITS } from './test/limits';

const DATASET = makeDataset({ id: 5, name: 'webface_tiny', status: 'ready', images: 80, identities: 10 });
const form = (over: Partial<FederatedForm> = {}): FederatedForm => ({ ...DEFAULT_FEDERATED_FORM, dataset: '5', ...over });

describe('validateFederatedForm', () => {
  it('builds the request body of the defaults: no DP fields without DP, blanks left out', () => {
    const { errors, request } = validateFederatedForm(form({ name: ' fed ' }), DATASET);
    expect(errors).toEqual({});
    expect(request).toEqual({
      dataset: 5,
      name: 'fed',
      mode: 'simulation',
      config: {
        num_clients: 5,
        num_rounds: 10,
        partition: 'by_identity',
        head: 'private',
        local_epochs: 1,
        model: 'mobilefacenet',
        head_type: 'arcface',
        embedding_size: 512,
        image_size: 112,
        batch_size: 32,
        optimizer: 'sgd',
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.0005,
        holdout_fraction: 0.1,
        dp_level: 'none',
        secagg: false,
      },
    });
  });

  it('sends the DP fields of each level', () => {
    const sample = validateFederatedForm(form({ dp_level: 'sample', noise_multiplier: '1.5' }), DATASET).request!.config;
    expect(sample).toMatchObject({ dp_level: 'sample', noise_multiplier: 1.5, l2_norm_clip: 1, delta: 1e-5, accountant: 'rdp' });
    expect(sample).not.toHaveProperty('clipping');
    const client = validateFederatedForm(
      form({ dp_level: 'client', dp_mode: 'target', target_epsilon: '4', secagg: true, clients_per_round: '3', seed: '7' }),
      DATASET,
    ).request!.config;
    expect(client).toMatchObject({ dp_level: 'client', target_epsilon: 4, clipping: 'client', secagg: true, clients_per_round: 3, seed: 7 });
    expect(client).not.toHaveProperty('noise_multiplier');
    expect(client).not.toHaveProperty('accountant');
    const dirichlet = validateFederatedForm(form({ partition: 'dirichlet', alpha: '0.3' }), DATASET).request!.config;
    expect(dirichlet.alpha).toBe(0.3);
  });

  it('names the bad fields with the server bounds and the cross-field rules', () => {
    const { errors, request } = validateFederatedForm(
      form({ num_clients: '1', num_rounds: '0', image_size: '300', embedding_size: '4', lr: '0', clients_per_round: '9' }),
      DATASET,
      FEDERATED_LIMITS,
    );
    expect(request).toBeUndefined();
    expect(errors).toMatchObject({
      num_clients: 'Must be a whole number from 2 to 1000.',
      num_rounds: 'Must be a whole number from 1 to 1000.',
      image_size: 'Must be a whole number from 16 to 224.',
      embedding_size: 'Must be a whole number from 8 to 2048.',
      lr: 'Must be a number above 0, at most 10.',
    });
    expect(validateFederatedForm(form({ clients_per_round: '9' }), DATASET).errors.clients_per_round).toBe(
      'Must be a whole number from 1 to 5 (the clients), or blank for all.',
    );
    expect(validateFederatedForm(form({ clients_per_round: '3', min_clients: '4' }), DATASET).errors.min_clients).toMatch(
      /from 1 to 3/,
    );
    expect(validateFederatedForm(form({ head: 'shared' }), DATASET).errors.head).toMatch(/IID/);
    expect(validateFederatedForm(form({ head: 'shared', partition: 'iid', dp_level: 'client' }), DATASET).errors.head).toMatch(
      /client-level DP/,
    );
    expect(validateFederatedForm(form({ head: 'shared', partition: 'iid' }), DATASET).errors).toEqual({});
    expect(
      validateFederatedForm(form({ dp_level: 'client', secagg: true, clipping: 'server' }), DATASET).errors.clipping,
    ).toMatch(/secure aggregation/);
    expect(validateFederatedForm(form({ dataset: '' }), DATASET).errors.dataset).toBe('Choose a ready dataset.');
  });
});

describe('federatedPrivacyQueryOf', () => {
  it('is null without DP, asks only what ε depends on, and names what blocks it', () => {
    expect(federatedPrivacyQueryOf(form(), DATASET)).toBeNull();
    expect(federatedPrivacyQueryOf(form({ dp_level: 'sample', lr: 'oops' }), DATASET)).toEqual({
      query: {
        dataset: 5,
        config: {
          num_clients: 5,
          num_rounds: 10,
          partition: 'by_identity',
          dp_level: 'sample',
          delta: 1e-5,
          holdout_fraction: 0.1,
          noise_multiplier: 1,
          batch_size: 32,
          local_epochs: 1,
          accountant: 'rdp',
        },
      },
    });
    const client = federatedPrivacyQueryOf(form({ dp_level: 'client', dp_mode: 'target', clients_per_round: '2' }), DATASET);
    expect(client).toEqual({
      query: {
        dataset: 5,
        config: {
          num_clients: 5,
          num_rounds: 10,
          partition: 'by_identity',
          dp_level: 'client',
          delta: 1e-5,
          holdout_fraction: 0.1,
          target_epsilon: 8,
          clients_per_round: 2,
        },
      },
    });
    expect(federatedPrivacyQueryOf(form({ dp_level: 'client', num_rounds: '', delta: '2' }), DATASET, FEDERATED_LIMITS)).toEqual({
      problem: 'Fix Rounds, δ to see the privacy estimate.',
    });
    expect(federatedPrivacyQueryOf(form({ dp_level: 'sample' }), null)).toEqual({
      problem: 'Choose a dataset to see the privacy estimate.',
    });
  });
});

describe('placeFederatedError', () => {
  const bad = (body: unknown, status = 400) => new ApiError('x', status, body, {});
  it('puts a --field message, a DRF field error and a 409 at their fields; the rest above the button', () => {
    const detail = '--num_clients must be a whole number from 2 to 1000, got 1';
    expect(placeFederatedError(bad({ detail, num_clients: [detail] }))).toEqual({ fields: { num_clients: detail }, general: null });
    expect(placeFederatedError(new ApiError('x', 400, { batch_size: ['must be at most 7'] }, { batch_size: ['must be at most 7'] }))).toEqual({
      fields: { batch_size: 'must be at most 7' },
      general: null,
    });
    expect(placeFederatedError(bad({ detail: 'mode deployment needs FLOWER_SUPERLINK set on the server' }))).toEqual({
      fields: { mode: 'mode deployment needs FLOWER_SUPERLINK set on the server' },
      general: null,
    });
    expect(placeFederatedError(bad({ detail: 'flip: set by the server, not by a request' })).general).toMatch(/flip/);
    expect(placeFederatedError(new ApiError("dataset 'x' is extracting, not ready", 409, {})).fields.dataset).toMatch(/not ready/);
  });
});

describe('unitOf', () => {
  it('says what ε protects at each level', () => {
    expect(unitOf('sample')).toBe('one image of one client (example-level DP)');
    expect(unitOf('client')).toBe("one client's whole dataset (user-level DP)");
    expect(unitOf('client', 'the server says')).toBe('the server says');
  });
});
