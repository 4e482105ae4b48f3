import { render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { stubFetch } from '../test/fakeFetch';
import { makeDataset, makeJob } from '../test/fixtures';
import type { Overview } from '../types';
import { OverviewPage } from './OverviewPage';

const OVERVIEW: Overview = {
  jobs: { total: 3, active: 1, failed: 0, recent: [makeJob({ id: 7, kind: 'train', status: 'running', progress: 0.25 })] },
  datasets: { total: 2, ready: 1, recent: [makeDataset({ id: 5, name: 'casia', status: 'ready', images: 1200, identities: 40 })] },
  models: {
    total: 1,
    private: 1,
    recent: [{
      id: 9, name: 'casia dp', dataset: 5, job: 7, private: true, epsilon: 2.5, delta: 1e-5, accountant: 'rdp',
      verification_accuracy: 0.9, mia_auc: 0.51, created_at: '2025-01-02T12:00:00Z',
      ready: true, dp_unit: 'example', galleries: [], onnx: null,
    }],
  },
  privacy: [{ dataset: 5, name: 'casia', epsilon: 3.5, delta: 2e-5, runs: 2 }],
};

function renderPage() {
  return render(
    <MemoryRouter>
      <OverviewPage />
    </MemoryRouter>,
  );
}

describe('OverviewPage', () => {
  it('shows recent jobs, datasets, models and the privacy spent', async () => {
    const calls = stubFetch(() => ({ body: OVERVIEW }));
    renderPage();
    const stats = await screen.findByTestId('overview-stats');
    expect(stats).toHaveTextContent('Jobs3');
    expect(stats).toHaveTextContent('1 queued or running');
    expect(stats).toHaveTextContent('Largest ε spent');
    expect(stats).toHaveTextContent('on casia');
    expect(screen.getByTestId('job-row-7')).toHaveTextContent('train');
    expect(within(screen.getByTestId('overview-datasets')).getByRole('link', { name: 'casia' })).toHaveAttribute(
      'href',
      '/datasets/5',
    );
    expect(within(screen.getByTestId('overview-models')).getByRole('link', { name: 'casia dp' })).toBeInTheDocument();
    expect(within(screen.getByTestId('overview-privacy')).getByText('2')).toBeInTheDocument();
    expect(calls.map((c) => c.url)).toEqual(['/api/overview/']);
    expect(screen.queryByText(/self-test/i)).not.toBeInTheDocument();
  });

  it('says what to do first when there is nothing yet', async () => {
    stubFetch(() => ({
      body: {
        jobs: { total: 0, active: 0, failed: 0, recent: [] },
        datasets: { total: 0, ready: 0, recent: [] },
        models: { total: 0, private: 0, recent: [] },
        privacy: [],
      },
    }));
    renderPage();
    expect(await screen.findByText('No jobs yet.')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Upload one' })).toHaveAttribute('href', '/datasets');
    expect(screen.getByText('no DP training yet')).toBeInTheDocument();
  });
});
