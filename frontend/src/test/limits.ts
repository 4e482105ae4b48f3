// What GET /api/training/limits/ and /api/federated/limits/ answer (limits.json: the engines'
// FIELD_BOUNDS; tests/training_api/test_limits.py fails when it differs from the server's).
import type { Limits } from '../limits';
import { FEDERATED_LIMITS_URL, TRAINING_LIMITS_URL } from '../limits';
import answers from './limits.json';

export const TRAINING_LIMITS: Limits = answers.training.bounds;
export const FEDERATED_LIMITS: Limits = answers.federated.bounds;

/** The limits endpoints' answer for a call to `url` (undefined for other URLs). */
export function limitsAnswer(url: string): { body: unknown } | undefined {
  if (url === TRAINING_LIMITS_URL) return { body: answers.training };
  if (url === FEDERATED_LIMITS_URL) return { body: answers.federated };
  return undefined;
}
