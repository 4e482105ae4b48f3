import { describe, expect, it } from 'vitest';
import { applyEvent } from './jobs';
import { makeEvent, makeJob } from './test/fixtures';

describe('applyEvent', () => {
  it('merges status, progress, message and error from the payload', () => {
    let job = makeJob();
    job = applyEvent(job, makeEvent(1, 'status', { status: 'running' }));
    expect(job.status).toBe('running');
    expect(job.started_at).toBe('2025-01-01T12:00:01Z');
    job = applyEvent(job, makeEvent(2, 'progress', { progress: 0.25, message: 'step 5/20' }));
    expect(job).toMatchObject({ progress: 0.25, message: 'step 5/20' });
    job = applyEvent(job, makeEvent(3, 'status', { status: 'failed', error: 'boom' }));
    expect(job).toMatchObject({ status: 'failed', error: 'boom', progress: 0.25 });
    expect(job.finished_at).not.toBeNull();
  });

  it('takes the message line only from status and progress events, not from logs', () => {
    let job = applyEvent(makeJob(), makeEvent(1, 'progress', { progress: 0.5, message: 'Epoch 1 · step 2 of 4' }));
    job = applyEvent(job, makeEvent(2, 'log', { message: 'loading shard 3', level: 'info' }));
    job = applyEvent(job, makeEvent(3, 'metric', { message: 'not a message', loss: 1 }));
    expect(job.message).toBe('Epoch 1 · step 2 of 4');
    job = applyEvent(job, makeEvent(4, 'status', { status: 'succeeded', message: 'Done' }));
    expect(job.message).toBe('Done');
  });

  it('treats progress on a queued job as running', () => {
    expect(applyEvent(makeJob(), makeEvent(1, 'progress', { progress: 0.1 })).status).toBe('running');
  });

  it('ignores unknown statuses and non-numeric progress', () => {
    const job = applyEvent(makeJob(), makeEvent(1, 'metric', { status: 'weird', progress: 'x', loss: 0.1 }));
    expect(job).toEqual(makeJob());
  });
});
