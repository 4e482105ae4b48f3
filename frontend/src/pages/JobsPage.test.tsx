import { fireEvent, render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { stubFetch } from '../test/fakeFetch';
import { makeJob } from '../test/fixtures';
import { JobsPage } from './JobsPage';

function renderPage() {
  return render(
    <MemoryRouter>
      <JobsPage />
    </MemoryRouter>,
  );
}

describe('JobsPage', () => {
  it('renders the list from the API', async () => {
    stubFetch(() => ({
      body: {
        count: 2,
        next: null,
        previous: null,
        results: [
          makeJob({ id: 2, status: 'running', progress: 0.5 }),
          makeJob({ id: 1, status: 'succeeded', progress: 1 }),
        ],
      },
    }));
    renderPage();
    const row2 = await screen.findByTestId('job-row-2');
    expect(within(row2).getByTestId('job-status')).toHaveTextContent('running');
    expect(within(row2).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '50');
    expect(within(screen.getByTestId('job-row-1')).getByText('100%')).toBeInTheDocument();
  });

  it('starts a self-test job and shows server validation errors', async () => {
    document.cookie = 'csrftoken=abc; path=/';
    const calls = stubFetch((c) => {
      if (c.method === 'GET') return { body: { count: 0, next: null, previous: null, results: [] } };
      const { params } = c.body as { params: { steps: number } };
      if (params.steps > 100) return { status: 400, body: { params: ['steps must be ≤ 100'] } };
      return { status: 201, body: makeJob({ id: 5 }) };
    });
    renderPage();
    await screen.findByText('No jobs yet.');
    fireEvent.change(screen.getByLabelText('Steps'), { target: { value: '10' } });
    fireEvent.change(screen.getByLabelText('Seconds per step'), { target: { value: '0.2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Start self-test job' }));
    await screen.findByTestId('job-row-5');
    expect(calls[1]).toMatchObject({
      method: 'POST',
      url: '/api/jobs/',
      body: { kind: 'selftest', params: { steps: 10, step_seconds: 0.2 } },
      headers: { 'X-CSRFToken': 'abc' },
    });

    fireEvent.change(screen.getByLabelText('Steps'), { target: { value: '500' } });
    fireEvent.click(screen.getByRole('button', { name: 'Start self-test job' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('params: steps must be ≤ 100');
  });
});
