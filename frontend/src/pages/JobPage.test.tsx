import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { stubFetch } from '../test/fakeFetch';
import { FakeSocket } from '../test/fakeSocket';
import { makeEvent, makeJob } from '../test/fixtures';
import { JobPage } from './JobPage';

function renderJob(id: number) {
  return render(
    <MemoryRouter initialEntries={[`/jobs/${id}`]}>
      <Routes>
        <Route path="/jobs/:id" element={<JobPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('JobPage', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.stubGlobal('WebSocket', FakeSocket);
  });

  it('shows live progress from the websocket and cancels', async () => {
    const calls = stubFetch((c) =>
      c.url.endsWith('/cancel/')
        ? { body: makeJob({ id: 3, status: 'running', cancel_requested: true }) }
        : { body: makeJob({ id: 3 }) },
    );
    renderJob(3);
    expect(await screen.findByTestId('job-status')).toHaveTextContent('queued');
    const ws = FakeSocket.last();
    expect(ws.url).toMatch(/\/ws\/jobs\/3\/\?after=0$/);
    act(() => {
      ws.open();
      ws.send({ type: 'job', job: makeJob({ id: 3, status: 'running' }) });
      ws.send({ type: 'event', event: makeEvent(1, 'progress', { progress: 0.3, message: 'step 6/20' }, 3) });
      ws.send({ type: 'event', event: makeEvent(2, 'log', { message: 'hello from the worker' }, 3) });
    });
    expect(screen.getByTestId('connection')).toHaveTextContent('live');
    expect(screen.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '30');
    // A log line shows in the event log, not as the job's message.
    expect(screen.getByText('step 6/20', { selector: '.job-message' })).toBeInTheDocument();
    expect(within(screen.getByRole('list', { name: 'Event log' })).getByText('hello from the worker')).toBeInTheDocument();

    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(await screen.findByRole('button', { name: 'Cancelling…' })).toBeDisabled();
    expect(calls.at(-1)).toMatchObject({ method: 'POST', url: '/api/jobs/3/cancel/' });
    act(() => ws.send({ type: 'event', event: makeEvent(3, 'status', { status: 'cancelled' }, 3) }));
    expect(screen.getByTestId('job-status')).toHaveTextContent('cancelled');
    expect(screen.queryByRole('button', { name: /Cancel/ })).toBeNull();
  });

  it('train job: live charts from progress and metric events, current ε, then the model link', async () => {
    const params = { dataset_id: 3, name: 'tiny', config: { use_dp: true, epochs: 2, noise_multiplier: 1, delta: 1e-5 } };
    const result = { model_id: 9, epsilon: 2.31, stopped: 'completed', epochs_completed: 2 };
    let done = false;
    const calls = stubFetch((c) => {
      // History from before the page opened: the first step and a stale copy of the second.
      if (c.url === '/api/jobs/5/events/?after=0') {
        return {
          body: [
            makeEvent(10, 'progress', { progress: 0.25, message: 'Epoch 1 · step 1 of 4', step: 1, total: 4, loss: 2.6 }, 5),
            makeEvent(11, 'progress', { progress: 0.5, message: 'Epoch 1 · step 2 of 4', step: 2, total: 4, loss: 2.2 }, 5),
          ],
        };
      }
      if (c.url === '/api/jobs/5/') {
        return { body: makeJob({ id: 5, kind: 'train', status: done ? 'succeeded' : 'running', params, result: done ? result : null }) };
      }
      return undefined;
    });
    renderJob(5);
    const ws = FakeSocket.last();
    act(() => {
      ws.open();
      // The API serves an unfinished job's result as {}.
      ws.send({ type: 'job', job: makeJob({ id: 5, kind: 'train', status: 'running', params, result: {} }) });
      ws.send({ type: 'event', event: makeEvent(11, 'progress', { progress: 0.5, message: 'Epoch 1 · step 2 of 4', step: 2, total: 4, loss: 2.2 }, 5) });
      ws.send({ type: 'event', event: makeEvent(12, 'log', { message: 'epoch 1 done' }, 5) });
      ws.send({
        type: 'event',
        event: makeEvent(13, 'metric', { epoch: 1, step: 2, loss: 2.3, accuracy: 0.2, epsilon: 1.5, verification_accuracy: 0.61 }, 5),
      });
    });
    const training = await screen.findByRole('region', { name: 'Training' });
    await waitFor(() => expect(screen.getByTestId('chart-loss-step')).toHaveAttribute('data-count', '2'));
    expect(calls.some((c) => c.url === '/api/jobs/5/events/?after=0')).toBe(true);
    expect(screen.getByTestId('chart-loss-epoch')).toHaveAttribute('data-count', '1');
    expect(screen.getByTestId('chart-loss-step').querySelector('polyline')!.getAttribute('points')!.split(' ')).toHaveLength(2);
    expect(screen.getByTestId('chart-accuracy-train').querySelectorAll('circle')).toHaveLength(1);
    expect(screen.getByTestId('chart-accuracy-verification').querySelectorAll('circle')).toHaveLength(1);
    expect(screen.getByTestId('chart-epsilon-epsilon').querySelectorAll('circle')).toHaveLength(1);
    expect(within(training).getByTestId('current-epsilon')).toHaveTextContent('1.50');
    expect(within(training).getByTestId('current-epoch')).toHaveTextContent('1 / 2');
    expect(screen.getByText('Epoch 1 · step 2 of 4', { selector: '.job-message' })).toBeInTheDocument();

    act(() => {
      ws.send({ type: 'event', event: makeEvent(14, 'progress', { progress: 0.75, message: 'Epoch 2 · step 3 of 4', step: 3, total: 4, loss: 1.9 }, 5) });
      ws.send({ type: 'event', event: makeEvent(15, 'progress', { progress: 1, message: 'Epoch 2 · step 4 of 4', step: 4, total: 4, loss: 1.7 }, 5) });
      ws.send({
        type: 'event',
        event: makeEvent(16, 'metric', { epoch: 2, step: 4, loss: 1.8, accuracy: 0.4, epsilon: 2.31, verification_accuracy: 0.7 }, 5),
      });
    });
    expect(screen.getByTestId('chart-loss-step')).toHaveAttribute('data-count', '4');
    expect(screen.getByTestId('chart-epsilon-epsilon').querySelectorAll('circle')).toHaveLength(2);
    expect(screen.getByTestId('chart-epsilon-epsilon').querySelector('polyline')).not.toBeNull();
    expect(within(training).getByTestId('current-epsilon')).toHaveTextContent('2.31');
    expect(within(training).getByTestId('current-loss')).toHaveTextContent('1.700');

    done = true;
    act(() => ws.send({ type: 'event', event: makeEvent(17, 'status', { status: 'succeeded', message: 'Done' }, 5) }));
    const link = await screen.findByTestId('model-link');
    expect(link).toHaveAttribute('href', '/models/9');
    expect(link).toHaveTextContent('Open model #9');
    expect(screen.getByTestId('training-result')).toHaveTextContent('Completed 2 epochs.');
  });

  it('federated job: per-round charts and the latest round’s clients, live, then the model link', async () => {
    const params = {
      dataset_id: 3,
      name: 'fed',
      mode: 'simulation',
      config: { num_clients: 3, num_rounds: 2, dp_level: 'client', noise_multiplier: 0.5, delta: 1e-5 },
    };
    const result = { model_id: 12, epsilon: 3.2, stopped: 'completed', rounds_completed: 2, verification_accuracy: 0.66 };
    const row = (partition: number | string, over: Record<string, unknown> = {}) => ({
      partition,
      examples: 21 + Number(partition) || 0,
      identities: 3,
      steps: 3,
      seconds: 5.25,
      rounds: 1,
      loss: 2.5,
      accuracy: 0.25,
      status: 'ok',
      ...over,
    });
    const round = (id: number, r: number, clients: unknown[], over: Record<string, unknown> = {}) =>
      makeEvent(
        id,
        'metric',
        { round: r, loss: 3 - r, accuracy: 0.2 * r, held_accuracy: 0.1 * r, epsilon: 1.6 * r, verification_accuracy: 0.6 + 0.03 * r,
          sampled: 3, replied: 3, failed: 0, clients, ...over },
        6,
      );
    let done = false;
    const calls = stubFetch((c) => {
      if (c.url === '/api/jobs/6/events/?after=0') {
        return { body: [makeEvent(20, 'progress', { progress: 0, message: 'Federated run: 3 clients, 2 rounds' }, 6)] };
      }
      if (c.url === '/api/jobs/6/') {
        return { body: makeJob({ id: 6, kind: 'federated', status: done ? 'succeeded' : 'running', params, result: done ? result : null }) };
      }
      return undefined;
    });
    renderJob(6);
    const ws = FakeSocket.last();
    act(() => {
      ws.open();
      ws.send({ type: 'job', job: makeJob({ id: 6, kind: 'federated', status: 'running', params, result: {} }) });
    });
    const panel = await screen.findByRole('region', { name: 'Federated training' });
    await waitFor(() => expect(calls.some((c) => c.url === '/api/jobs/6/events/?after=0')).toBe(true));
    expect(within(panel).getByTestId('client-table-empty')).toBeInTheDocument();
    expect(within(panel).getByTestId('current-epsilon')).toHaveTextContent('—');
    expect(within(panel).getByTestId('dp-unit')).toHaveTextContent("protects one client's whole dataset (user-level DP)");

    act(() => {
      ws.send({ type: 'event', event: round(21, 1, [row(1), row(0), row(2)]) });
      ws.send({ type: 'event', event: makeEvent(22, 'progress', { progress: 0.5, message: 'Round 1 of 2: 3 of 3 clients replied', round: 1, total: 2 }, 6) });
    });
    expect(screen.getByTestId('chart-loss-loss')).toHaveAttribute('data-count', '1');
    expect(screen.getByTestId('chart-accuracy-train')).toHaveAttribute('data-count', '1');
    expect(screen.getByTestId('chart-accuracy-held')).toHaveAttribute('data-count', '1');
    expect(screen.getByTestId('chart-verification-verification')).toHaveAttribute('data-count', '1');
    expect(screen.getByTestId('chart-epsilon-epsilon')).toHaveAttribute('data-count', '1');
    expect(within(panel).getByTestId('current-round')).toHaveTextContent('1 / 2');
    expect(within(panel).getByTestId('current-epsilon')).toHaveTextContent('1.60');
    expect(screen.getByText('Round 1 of 2: 3 of 3 clients replied', { selector: '.job-message' })).toBeInTheDocument();
    const table = within(panel).getByRole('table', { name: 'Clients' });
    expect(table).toHaveAttribute('data-round', '1');
    expect(within(table).getAllByRole('row').slice(1).map((r) => r.getAttribute('data-testid'))).toEqual([
      'client-row-0',
      'client-row-1',
      'client-row-2',
    ]);
    expect(within(screen.getByTestId('client-row-1')).getAllByRole('cell').map((c) => c.textContent)).toEqual([
      'client 1', '22', '3', '2.500', '25.0%', '3', '5.3', '1', 'ok',
    ]);

    // Round 2: one client failed; its row says why, the rows are the new round's.
    act(() => {
      ws.send({
        type: 'event',
        // The engine sends partitions as strings ("0"), a failed client's too.
        event: round(23, 2, [row('0', { rounds: 2, loss: 1.25 }), row('2', { rounds: 2 }), { partition: '1', status: 'failed', reason: 'out of memory' }],
          { replied: 2, failed: 1 }),
      });
    });
    expect(screen.getByTestId('chart-loss-loss')).toHaveAttribute('data-count', '2');
    expect(screen.getByTestId('chart-epsilon-epsilon').querySelector('polyline')).not.toBeNull();
    expect(table).toHaveAttribute('data-round', '2');
    expect(within(screen.getByTestId('client-row-0')).getByTestId('client-loss')).toHaveTextContent('1.250');
    expect(within(screen.getByTestId('client-row-0')).getAllByRole('cell')[0]).toHaveTextContent('client 0');
    expect(screen.getByTestId('client-row-1')).toHaveTextContent('failed out of memory');
    expect(within(panel).getByText('2 of 3 clients replied, 1 failed')).toBeInTheDocument();

    done = true;
    act(() => ws.send({ type: 'event', event: makeEvent(24, 'status', { status: 'succeeded', message: 'Done' }, 6) }));
    const link = await screen.findByTestId('model-link');
    expect(link).toHaveAttribute('href', '/models/12');
    expect(screen.getByTestId('training-result')).toHaveTextContent('Completed 2 rounds.');
    expect(within(panel).getByTestId('current-epsilon')).toHaveTextContent('3.20');
  });

  it('shows "Job not found" on 404 / close code 4404', async () => {
    stubFetch(() => ({ status: 404, body: { detail: 'Not found.' } }));
    renderJob(99);
    act(() => FakeSocket.last().drop(4404));
    expect(await screen.findByRole('alert')).toHaveTextContent('Job not found.');
    expect(screen.getByTestId('connection')).toHaveTextContent('disconnected: Job not found.');
  });
});
