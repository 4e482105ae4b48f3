import { fireEvent, render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { AuthProvider } from '../auth';
import { stubFetch } from '../test/fakeFetch';
import { makeJob } from '../test/fixtures';
import { JobsPage } from './JobsPage';

function renderPage() {
  return render(
    <AuthProvider>
      <MemoryRouter>
        <JobsPage />
      </MemoryRouter>
    </AuthProvider>,
  );
}

const STAFF = { id: 1, username: 'root', is_staff: true };
const USER = { id: 2, username: 'alice', is_staff: false };
const EMPTY = { count: 0, next: null, previous: null, results: [] };

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

  it('offers the self-test form to staff only (selftest jobs are staff-only)', async () => {
    stubFetch((c) => ({ body: c.url === '/api/auth/me/' ? USER : EMPTY }));
    renderPage();
    await screen.findByText('No jobs yet.');
    expect(screen.queryByRole('button', { name: 'Start self-test job' })).not.toBeInTheDocument();
  });

  it('starts a self-test job and shows server validation errors', async () => {
    document.cookie = 'csrftoken=abc; path=/';
    const calls = stubFetch((c) => {
      if (c.url === '/api/auth/me/') return { body: STAFF };
      if (c.method === 'GET') return { body: EMPTY };
      const { params } = c.body as { params: { steps: number } };
      if (params.steps > 100) return { status: 400, body: { params: ['steps must be ≤ 100'] } };
      return { status: 201, body: makeJob({ id: 5 }) };
    });
    renderPage();
    await screen.findByText('No jobs yet.');
    fireEvent.change(await screen.findByLabelText('Steps'), { target: { value: '10' } });
    fireEvent.change(screen.getByLabelText('Seconds per step'), { target: { value: '0.2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Start self-test job' }));
    await screen.findByTestId('job-row-5');
    expect(calls.find((c) => c.method === 'POST')).toMatchObject({
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
