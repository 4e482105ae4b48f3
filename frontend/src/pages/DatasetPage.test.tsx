import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeUploadServer } from '../test/fakeUploadServer';
import { FakeSocket } from '../test/fakeSocket';
import { makeDataset, makeEvent, makeJob } from '../test/fixtures';
import type { Dataset } from '../types';
import { CHUNK_SIZE_KEY, discardUploader } from '../upload/uploader';
import { DatasetPage } from './DatasetPage';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

function renderDataset(id: number) {
  return render(
    <MemoryRouter initialEntries={[`/datasets/${id}`]}>
      <Routes>
        <Route path="/datasets/:id" element={<DatasetPage />} />
        <Route path="/datasets" element={<h1>Dataset list</h1>} />
      </Routes>
    </MemoryRouter>,
  );
}

function content(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
}

describe('DatasetPage', () => {
  beforeEach(() => {
    localStorage.clear();
    document.cookie = 'csrftoken=tok; path=/';
    FakeSocket.all = [];
    vi.stubGlobal('WebSocket', FakeSocket);
  });
  afterEach(() => {
    discardUploader(7);
  });

  it('uploading: resumes an incomplete file, starts extraction, follows the job to ready', async () => {
    localStorage.setItem(CHUNK_SIZE_KEY, '100');
    const server = new FakeUploadServer(7).install();
    const rec = content(400);
    server.seed('train.rec', rec, 100);
    const idx = server.seed('train.idx', content(10), 10);
    idx.complete = true;
    let dataset: Dataset = makeDataset({ id: 7, status: 'uploading' });
    const current = () => ({ ...dataset, files: [...server.files.values()].map((f) => ({ ...f.meta })) });
    server.intercept = ({ method, path }) => {
      if (method === 'GET' && path === '/api/datasets/7/') return json(current());
      if (method === 'POST' && path === '/api/datasets/7/finalize/') {
        dataset = { ...dataset, status: 'validating', job: 31 };
        return json(makeJob({ id: 31, kind: 'dataset_extract' }), 202);
      }
      if (path === '/api/datasets/7/identities/') {
        return json({ count: 2, results: [{ label: 0, count: 5, samples: ['http://x/0/1.jpg'] }, { label: 1, count: 3, samples: [] }] });
      }
      return undefined;
    };
    renderDataset(7);

    // After a reload the incomplete file waits for the user to drop it again.
    const recRow = await screen.findByTestId('file-row-train.rec');
    expect(within(recRow).getByTestId('file-status')).toHaveTextContent('paused — drop the file again to resume');
    expect(within(recRow).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '25');
    expect(within(screen.getByTestId('file-row-train.idx')).getByTestId('file-status')).toHaveTextContent('uploaded');
    const start = screen.getByRole('button', { name: 'Start extraction' });
    expect(start).toBeDisabled();
    expect(screen.getByTestId('start-blocker')).toHaveTextContent('Still uploading: train.rec.');

    const input = screen.getByLabelText('Choose files') as HTMLInputElement;
    expect(input).toHaveAttribute('multiple');
    expect(input.accept).toBe('.rec,.idx,.lst,.bin,property');
    fireEvent.change(input, { target: { files: [new File([rec as BlobPart], 'train.rec', { lastModified: 5 })] } });

    await waitFor(() => expect(within(recRow).getByTestId('file-status')).toHaveTextContent('uploaded'));
    expect(server.puts.map((p) => p.offset)).toEqual([100, 200, 300]); // resumed, not from 0
    expect(within(recRow).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100');
    expect(within(recRow).getByTestId('file-bytes')).toHaveTextContent('400 B / 400 B');
    await waitFor(() => expect(start).toBeEnabled());

    fireEvent.click(start);
    const link = await screen.findByRole('link', { name: 'Job #31' });
    expect(link).toHaveAttribute('href', '/jobs/31');
    expect(screen.getByTestId('dataset-status')).toHaveTextContent('validating');
    await waitFor(() => expect(FakeSocket.all).toHaveLength(1));
    const ws = FakeSocket.last();
    expect(ws.url).toMatch(/\/ws\/jobs\/31\/\?after=0$/);
    act(() => {
      ws.open();
      ws.send({ type: 'job', job: makeJob({ id: 31, status: 'running' }) });
      ws.send({
        type: 'event',
        event: makeEvent(1, 'progress', { progress: 0.4, message: 'Extracting train.rec', bytes_done: 160, bytes_total: 400 }, 31),
      });
    });
    expect(screen.getByRole('progressbar', { name: 'Extraction progress' })).toHaveAttribute('aria-valuenow', '40');
    expect(screen.getByTestId('extraction-message')).toHaveTextContent('Extracting train.rec — 160 B of 400 B');

    dataset = { ...dataset, status: 'ready', layout: 'rec', images: 8, identities: 2 };
    const gets = () => server.requests.filter((r) => r === 'GET /api/datasets/7/').length;
    const before = gets();
    act(() => ws.send({ type: 'event', event: makeEvent(2, 'status', { status: 'succeeded' }, 31) }));
    expect(await screen.findByTestId('dataset-images')).toHaveTextContent('8');
    expect(gets()).toBe(before + 1); // one refetch, no polling
    expect(screen.getByTestId('dataset-status')).toHaveTextContent('ready');
    expect(await screen.findByAltText('identity 0')).toHaveAttribute('src', 'http://x/0/1.jpg');
  });

  it('ready: summary, histogram and thumbnails', async () => {
    const calls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        calls.push(url);
        if (url.startsWith('/api/datasets/7/identities/')) {
          return json({
            count: 10,
            results: Array.from({ length: 10 }, (_, label) => ({
              label,
              count: 8,
              samples: [`http://testserver/api/datasets/7/images/${label}/0.jpg`],
            })),
          });
        }
        if (url === '/api/datasets/7/privacy-ledger/') {
          return json({
            total: { epsilon: 5.25, delta: 2e-5 },
            entries: [
              { id: 1, job: 40, model: 12, epsilon: 2.5, delta: 1e-5, accountant: 'rdp', created_at: '2025-01-02T12:00:00Z' },
              { id: 2, job: 41, model: null, epsilon: 2.75, delta: 1e-5, accountant: 'pld', created_at: '2025-01-03T12:00:00Z' },
            ],
          });
        }
        return json(makeDataset({ id: 7, status: 'ready', layout: 'rec', images: 80, identities: 10, job: 4 }));
      }),
    );
    renderDataset(7);
    expect(await screen.findByTestId('dataset-images')).toHaveTextContent('80');
    expect(screen.getByTestId('dataset-identities')).toHaveTextContent('10');
    expect(screen.getByTestId('dataset-layout')).toHaveTextContent('rec');
    expect(screen.queryByRole('button', { name: 'Start extraction' })).toBeNull();
    const thumbs = await screen.findAllByRole('img', { name: /^identity \d+$/ });
    expect(thumbs).toHaveLength(10);
    expect(thumbs[3]).toHaveAttribute('src', 'http://testserver/api/datasets/7/images/3/0.jpg');
    const histogram = screen.getByTestId('identity-histogram');
    expect(histogram.querySelectorAll('rect')).toHaveLength(10);
    expect(screen.getByText(/Min 8, median 8, max 8/)).toBeInTheDocument();
    expect(calls).toContain('/api/datasets/7/identities/?offset=0&limit=1000');

    // The privacy ledger: total spent and one row per DP run, linking its model and job.
    const ledger = screen.getByRole('region', { name: 'Privacy ledger' });
    expect(await within(ledger).findByTestId('ledger-total-epsilon')).toHaveTextContent('5.25');
    expect(within(ledger).getByTestId('ledger-total-delta')).toHaveTextContent('2e-5');
    const first = within(ledger).getByTestId('ledger-entry-1');
    expect(within(first).getByTestId('ledger-epsilon')).toHaveTextContent('2.50');
    expect(within(first).getByRole('link', { name: 'model #12' })).toHaveAttribute('href', '/models/12');
    expect(within(first).getByRole('link', { name: 'job #40' })).toHaveAttribute('href', '/jobs/40');
    const second = within(ledger).getByTestId('ledger-entry-2');
    expect(second).toHaveTextContent('(deleted)');
    expect(second).toHaveTextContent('PLD');
    expect(within(ledger).getByRole('link', { name: 'Train a model' })).toHaveAttribute('href', '/training?dataset=7');
  });

  it('ready: an empty privacy ledger says so', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url === '/api/datasets/7/privacy-ledger/') return json({ total: { epsilon: 0, delta: 0 }, entries: [] });
        if (url.startsWith('/api/datasets/7/identities/')) return json({ count: 0, results: [] });
        return json(makeDataset({ id: 7, status: 'ready', layout: 'rec', images: 80, identities: 10 }));
      }),
    );
    renderDataset(7);
    expect(await screen.findByTestId('ledger-empty')).toBeInTheDocument();
    expect(screen.getByTestId('ledger-total-epsilon')).toHaveTextContent('0.00');
  });

  it('failed: shows the error prominently; Delete asks, deletes and goes back to the list', async () => {
    const calls: Array<[string, string]> = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit = {}) => {
        calls.push([init.method ?? 'GET', url]);
        if (init.method === 'DELETE') return new Response(null, { status: 204 });
        return json(makeDataset({ id: 7, status: 'failed', error: 'train.rec: record 12 is truncated', job: 9 }));
      }),
    );
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(false).mockReturnValueOnce(true);
    renderDataset(7);
    expect(await screen.findByTestId('dataset-error')).toHaveTextContent('train.rec: record 12 is truncated');
    expect(screen.getByTestId('dataset-status')).toHaveTextContent('failed');
    expect(screen.getByRole('link', { name: 'job #9' })).toHaveAttribute('href', '/jobs/9');

    fireEvent.click(screen.getByRole('button', { name: 'Delete dataset' }));
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(calls.some(([m]) => m === 'DELETE')).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Delete dataset' }));
    expect(await screen.findByRole('heading', { name: 'Dataset list' })).toBeInTheDocument();
    expect(calls).toContainEqual(['DELETE', '/api/datasets/7/']);
  });

  it('shows the server detail when finalize is refused', async () => {
    const dataset = makeDataset({
      id: 7,
      files: [
        { id: 1, role: 'rec', filename: 'train.rec', size: 10, sha256: 'a'.repeat(64), received: 10, complete: true, created_at: '' },
        { id: 2, role: 'idx', filename: 'train.idx', size: 5, sha256: 'b'.repeat(64), received: 5, complete: true, created_at: '' },
      ],
    });
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_url: string, init: RequestInit = {}) =>
        init.method === 'POST' ? json({ detail: 'dataset is already validating' }, 409) : json(dataset),
      ),
    );
    renderDataset(7);
    fireEvent.click(await screen.findByRole('button', { name: 'Start extraction' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('dataset is already validating');
  });

  it('says so when the dataset does not exist', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json({ detail: 'Not found.' }, 404)));
    renderDataset(7);
    expect(await screen.findByRole('alert')).toHaveTextContent('Dataset not found.');
  });
});
