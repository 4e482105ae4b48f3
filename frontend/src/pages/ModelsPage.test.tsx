import { fireEvent, render, screen, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { stubFetch } from '../test/fakeFetch';
import { makeDataset } from '../test/fixtures';
import type { TrainedModel, TrainedModelDetail } from '../types';
import { ModelPage } from './ModelPage';
import { ModelsPage } from './ModelsPage';

const PRIVATE: TrainedModel = {
  id: 9,
  name: 'tiny dp',
  dataset: 5,
  job: 77,
  private: true,
  epsilon: 2.3141,
  delta: 1e-5,
  accountant: 'rdp',
  verification_accuracy: 0.915,
  mia_auc: 0.5123,
  created_at: '2025-01-02T12:00:00Z',
  ready: true,
  dp_unit: 'example',
  galleries: [],
  onnx: null,
};
const PUBLIC: TrainedModel = {
  ...PRIVATE,
  id: 8,
  name: 'baseline',
  dataset: null,
  job: 70,
  private: false,
  epsilon: null,
  delta: null,
  accountant: '',
  verification_accuracy: null,
  mia_auc: 0.71,
};

const DETAIL: TrainedModelDetail = {
  ...PRIVATE,
  card: {
    model: { backbone: 'mobilefacenet', embedding_size: 64, input: '56x56 RGB, (x - 127.5) / 128', parameters: 123456 },
    data: { name: 'webface_tiny', images: 80, identities: 10, train_images: 70, holdout_images: 10 },
    parameters: { epochs: 1, batch_size: 16, lr: 0.1, use_dp: true, lr_steps: [] },
    training: { epochs_completed: 1, steps: 5, stopped: 'completed', final_loss: 2.3456, train_accuracy: 0.2 },
    dp: {
      enabled: true,
      epsilon: 2.3141,
      delta: 1e-5,
      accountant: 'rdp',
      noise_multiplier: 1,
      l2_norm_clip: 1,
      sample_rate: 0.2222,
      steps: 5,
      target_epsilon: null,
      unit: 'one image (example-level DP, not identity-level)',
    },
    verification: { bin: 'lfw_tiny.bin', accuracy: 0.915, pairs: 200 },
    membership_inference: { auc: 0.5123, advantage: 0.031, members: 70, non_members: 10 },
    caveats: ['Training loss is not covered by the DP guarantee.'],
    warnings: ['Only 10 identities: the numbers are noisy.'],
  },
};

function renderAt(url: string) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        <Route path="/models" element={<ModelsPage />} />
        <Route path="/models/:id" element={<ModelPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('ModelsPage', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
  });

  it('lists the registry: privacy badge, ε, δ, verification, MIA AUC', async () => {
    stubFetch((c) => {
      if (c.url === '/api/models/') return { body: { count: 2, next: null, previous: null, results: [PRIVATE, PUBLIC] } };
      if (c.url === '/api/datasets/') {
        return { body: { count: 1, next: null, previous: null, results: [makeDataset({ id: 5, name: 'webface_tiny' })] } };
      }
      return undefined;
    });
    renderAt('/models');
    const row = await screen.findByTestId('model-row-9');
    expect(within(row).getByRole('link', { name: 'tiny dp' })).toHaveAttribute('href', '/models/9');
    expect(within(row).getByRole('link', { name: 'webface_tiny' })).toHaveAttribute('href', '/datasets/5');
    expect(within(row).getByTestId('private-badge')).toHaveTextContent('private');
    expect(within(row).getByTestId('model-epsilon')).toHaveTextContent('2.31');
    const cells = within(row).getAllByRole('cell').map((c) => c.textContent);
    expect(cells.slice(4, 7)).toEqual(['1e-5', '91.5%', '0.512']);

    const other = screen.getByTestId('model-row-8');
    expect(within(other).getByTestId('private-badge')).toHaveTextContent('not private');
    expect(within(other).getByTestId('model-epsilon')).toHaveTextContent('—');
    expect(other).toHaveTextContent('(deleted)');
    expect(other).toHaveTextContent('0.710');
  });

  it('says so when there are no models', async () => {
    stubFetch((c) => (c.url === '/api/models/' ? { body: { count: 0, next: null, previous: null, results: [] } } : undefined));
    renderAt('/models');
    expect(await screen.findByTestId('no-models')).toHaveTextContent('No models yet.');
  });
});

describe('ModelPage', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
  });

  it('renders the model card in sections, links the download, deletes after confirming', async () => {
    const calls = stubFetch((c) => {
      if (c.url === '/api/models/9/' && c.method === 'GET') return { body: DETAIL };
      if (c.url === '/api/models/9/' && c.method === 'DELETE') return { status: 204 };
      if (c.url === '/api/models/') return { body: { count: 0, next: null, previous: null, results: [] } };
      return undefined;
    });
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(false).mockReturnValueOnce(true);
    renderAt('/models/9');
    expect(await screen.findByRole('heading', { level: 1, name: 'tiny dp' })).toBeInTheDocument();
    expect(screen.getByTestId('model-privacy')).toHaveTextContent('ε = 2.31 at δ = 1e-5 (RDP)');
    expect(screen.getByRole('link', { name: 'Download (.zip)' })).toHaveAttribute('href', '/api/models/9/download/');
    expect(screen.getByRole('link', { name: 'job #77' })).toHaveAttribute('href', '/jobs/77');

    const dp = screen.getByRole('region', { name: 'Differential privacy' });
    // Known keys in a fixed order (Postgres does not keep the JSON's).
    expect(within(dp).getAllByRole('term').slice(0, 3).map((t) => t.textContent)).toEqual(['ε', 'δ', 'Accountant']);
    expect(screen.getByRole('link', { name: 'webface_tiny' })).toHaveAttribute('href', '/datasets/5');
    const term = (section: HTMLElement, label: string) => within(section).getByText(label, { selector: 'dt' }).nextElementSibling;
    expect(term(dp, 'ε')).toHaveTextContent('2.31');
    expect(term(dp, 'δ')).toHaveTextContent('1e-5');
    expect(term(dp, 'Noise multiplier')).toHaveTextContent('1');
    expect(term(dp, 'Clipping norm (L2)')).toHaveTextContent('1');
    expect(term(dp, 'Target ε')).toHaveTextContent('—');
    expect(term(dp, 'Unit')).toHaveTextContent('one image (example-level DP, not identity-level)');
    expect(term(screen.getByRole('region', { name: 'Model' }), 'Backbone')).toHaveTextContent('mobilefacenet');
    expect(term(screen.getByRole('region', { name: 'Training data' }), 'Held-out images')).toHaveTextContent('10');
    expect(term(screen.getByRole('region', { name: 'Training' }), 'Final loss')).toHaveTextContent('2.346');
    expect(term(screen.getByRole('region', { name: 'Verification' }), 'Accuracy')).toHaveTextContent('91.5%');
    const mia = screen.getByRole('region', { name: 'Membership-inference audit' });
    expect(term(mia, 'AUC')).toHaveTextContent('0.512');
    expect(term(mia, 'Advantage')).toHaveTextContent('0.031');
    expect(screen.getByRole('region', { name: 'Warnings' })).toHaveTextContent('Only 10 identities: the numbers are noisy.');
    expect(screen.getByRole('region', { name: 'Caveats' })).toHaveTextContent('Training loss is not covered by the DP guarantee.');
    expect(term(screen.getByRole('region', { name: 'All parameters' }), 'Batch size')).toHaveTextContent('16');

    fireEvent.click(screen.getByRole('button', { name: 'Delete model' }));
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Delete model' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'Models' })).toBeInTheDocument();
    expect(calls).toContainEqual(expect.objectContaining({ method: 'DELETE', url: '/api/models/9/' }));
    expect(confirm.mock.calls[1][0]).toMatch(/privacy it spent stays on the dataset’s ledger/);
  });

  it('explains a non-private model and a missing audit', async () => {
    stubFetch((c) =>
      c.url === '/api/models/8/'
        ? { body: { ...PUBLIC, card: { dp: { enabled: false }, verification: null, membership_inference: null } } }
        : undefined,
    );
    renderAt('/models/8');
    expect(await screen.findByRole('region', { name: 'Differential privacy' })).toHaveTextContent('no privacy guarantee');
    expect(screen.getByTestId('model-privacy')).toHaveTextContent('not private');
    expect(screen.getByRole('region', { name: 'Verification' })).toHaveTextContent('no verification pairs');
    expect(screen.getByRole('region', { name: 'Membership-inference audit' })).toHaveTextContent('No membership-inference audit');
  });

  it('says "Model not found" on 404', async () => {
    stubFetch(() => ({ status: 404, body: { detail: 'Not found.' } }));
    renderAt('/models/99');
    expect(await screen.findByRole('alert')).toHaveTextContent('Model not found.');
  });
});
