import { act, fireEvent, render, screen, within } from '@testing-library/react';
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
    expect(within(screen.getByRole('list', { name: 'Event log' })).getByText('hello from the worker')).toBeInTheDocument();

    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(await screen.findByRole('button', { name: 'Cancelling…' })).toBeDisabled();
    expect(calls.at(-1)).toMatchObject({ method: 'POST', url: '/api/jobs/3/cancel/' });
    act(() => ws.send({ type: 'event', event: makeEvent(3, 'status', { status: 'cancelled' }, 3) }));
    expect(screen.getByTestId('job-status')).toHaveTextContent('cancelled');
    expect(screen.queryByRole('button', { name: /Cancel/ })).toBeNull();
  });

  it('shows "Job not found" on 404 / close code 4404', async () => {
    stubFetch(() => ({ status: 404, body: { detail: 'Not found.' } }));
    renderJob(99);
    act(() => FakeSocket.last().drop(4404));
    expect(await screen.findByRole('alert')).toHaveTextContent('Job not found.');
    expect(screen.getByTestId('connection')).toHaveTextContent('disconnected: Job not found.');
  });
});
