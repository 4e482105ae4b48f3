import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { clearLimits } from '../limits';
import { stubFetch } from '../test/fakeFetch';
import type { FakeCall } from '../test/fakeFetch';
import { makeJob } from '../test/fixtures';
import { limitsAnswer } from '../test/limits';
import { change, DATASETS, type Handler, input, renderRunPage } from '../test/runFormPage';
import { ESTIMATE_DEBOUNCE_MS } from '../useDebouncedEstimate';
import { FederatedPage } from './FederatedPage';
import { TrainingPage } from './TrainingPage';

const renderPage = (url = '/training/federated') =>
  renderRunPage(url, { '/training': <TrainingPage />, '/training/federated': <FederatedPage /> });


/** Datasets, an ε of 10 / noise (client level: 20 / noise), and `start` for the federated POST. */
function fakeServer(start: Handler = () => ({ status: 202, body: makeJob({ id: 88, kind: 'federated' }) })) {
  return stubFetch((c) => {
    if (c.url === '/api/auth/csrf/') return { body: { csrfToken: 'tok' } };
    const limits = limitsAnswer(c.url);
    if (limits) return limits;
    if (c.url === '/api/datasets/') return { body: DATASETS };
    if (c.url === '/api/datasets/?page=1') return { body: DATASETS };
    if (c.url === '/api/federated/privacy/') {
      const { config } = c.body as { config: Record<string, number | string> };
      if (config.accountant === 'pld') return { status: 400, body: { accountant: ['PLD is switched off here.'] } };
      const client = config.dp_level === 'client';
      const noise = config.noise_multiplier !== undefined ? Number(config.noise_multiplier) : 0.8765;
      const epsilon = config.target_epsilon !== undefined ? Number(config.target_epsilon) * 0.99 : (client ? 20 : 10) / noise;
      return {
        body: {
          epsilon,
          noise_multiplier: noise,
          delta: config.delta,
          dp_level: config.dp_level,
          unit: client ? "one client's whole dataset (user-level DP)" : 'one image of one client (example-level DP)',
          rounds: config.num_rounds,
          smallest_client: 21,
          client_sizes: [21, 24, 27],
        },
      };
    }
    if (c.url === '/api/federated/') return start(c);
    return undefined;
  });
}

const choose = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });
const privacyCalls = (calls: FakeCall[]) => calls.filter((c) => c.url === '/api/federated/privacy/');
const debounce = () =>
  act(async () => {
    vi.advanceTimersByTime(ESTIMATE_DEBOUNCE_MS);
  });

describe('FederatedPage', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
    clearLimits();
  });

  it('is one of the two Training modes', async () => {
    fakeServer();
    renderPage('/training');
    fireEvent.click(screen.getByRole('link', { name: 'Federated' }));
    expect(await screen.findByRole('form', { name: 'New federated run' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Federated' })).toHaveAttribute('aria-current', 'page');
    fireEvent.click(screen.getByRole('link', { name: 'Centralized' }));
    expect(await screen.findByRole('form', { name: 'New training run' })).toBeInTheDocument();
  });

  it('estimates ε (debounced) for the DP level, with what it protects', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    vi.stubGlobal('jest', { advanceTimersByTime: (ms: number) => vi.advanceTimersByTime(ms) });
    const calls = fakeServer();
    renderPage();
    await waitFor(() => expect(screen.getByLabelText('Dataset')).toHaveValue('5'));
    change('Clients', '3');
    change('Rounds', '2');
    expect(screen.queryByLabelText('Privacy estimate')).toBeNull();

    choose('DP level', 'sample');
    expect(screen.getByText('Estimating ε…')).toBeInTheDocument();
    expect(privacyCalls(calls)).toHaveLength(0);
    await debounce();
    await waitFor(() => expect(screen.getByTestId('epsilon-estimate')).toHaveTextContent('ε = 10.00 at δ = 1e-5, 2 rounds'));
    expect(screen.getByTestId('estimate-unit')).toHaveTextContent('protects one image of one client (example-level DP)');
    expect(screen.getByTestId('estimate-clients')).toHaveTextContent('3 clients of 21–27 training images (the smallest one sets ε)');
    expect(privacyCalls(calls)).toHaveLength(1);
    expect(privacyCalls(calls)[0].body).toEqual({
      dataset: 5,
      config: {
        num_clients: 3,
        num_rounds: 2,
        partition: 'by_identity',
        dp_level: 'sample',
        delta: 1e-5,
        holdout_fraction: 0.1,
        noise_multiplier: 1,
        batch_size: 32,
        local_epochs: 1,
        accountant: 'rdp',
      },
    });

    // Two quick edits: one request, for the last value.
    change('Noise multiplier', '2');
    await act(async () => {
      vi.advanceTimersByTime(ESTIMATE_DEBOUNCE_MS - 50);
    });
    change('Noise multiplier', '2.5');
    await debounce();
    await waitFor(() => expect(screen.getByTestId('epsilon-estimate')).toHaveTextContent('ε = 4.00'));
    expect(privacyCalls(calls)).toHaveLength(2);
    // An input that does not change ε asks nothing.
    change('Learning rate', '0.01');
    await debounce();
    expect(privacyCalls(calls)).toHaveLength(2);

    // Client level: another unit; the accountant gives way to who clips.
    choose('DP level', 'client');
    await debounce();
    await waitFor(() => expect(screen.getByTestId('estimate-unit')).toHaveTextContent("protects one client's whole dataset"));
    expect(screen.getByTestId('epsilon-estimate')).toHaveTextContent('ε = 8.00');
    expect(screen.queryByLabelText('Accountant')).toBeNull();
    expect(screen.getByLabelText('Who clips updates')).toBeInTheDocument();
    expect(privacyCalls(calls).at(-1)!.body).not.toHaveProperty('config.batch_size');

    // Target ε: the server calibrates the noise.
    fireEvent.click(screen.getByLabelText('target ε'));
    change('Target ε', '3');
    await debounce();
    await waitFor(() => expect(screen.getByTestId('epsilon-estimate')).toHaveTextContent('Noise multiplier 0.8765 → ε = 2.97'));
    expect(privacyCalls(calls).at(-1)!.body).toMatchObject({ config: { target_epsilon: 3 } });

    // A bad input: no request, a hint; a server error shows inline.
    const before = privacyCalls(calls).length;
    change('Rounds', '');
    expect(await screen.findByText('Fix Rounds to see the privacy estimate.')).toBeInTheDocument();
    change('Rounds', '2');
    choose('DP level', 'sample');
    choose('Accountant', 'pld');
    await debounce();
    expect(await screen.findByTestId('estimate-error')).toHaveTextContent('Accountant: PLD is switched off here.');
    expect(privacyCalls(calls).length).toBe(before + 1);
    vi.useRealTimers();
  });

  it('validates in the browser, shows a server error at its field, then starts the run and opens its job', async () => {
    let answer: { status: number; body: unknown } = {
      status: 400,
      body: {
        detail: '--batch_size must be at most 21: with this partition a client has only that many training images',
        batch_size: ['--batch_size must be at most 21: with this partition a client has only that many training images'],
      },
    };
    const calls = fakeServer(() => answer);
    renderPage('/training/federated?dataset=5');
    await waitFor(() => expect(screen.getByLabelText('Dataset')).toHaveValue('5'));

    change('Clients', '1');
    change('Clients per round', '4');
    choose('Head policy', 'shared');
    change('Image size', '300');
    fireEvent.click(screen.getByRole('button', { name: 'Start federated run' }));
    expect(await screen.findByText('Must be a whole number from 2 to 1000.')).toBeInTheDocument();
    expect(input('Clients')).toHaveAttribute('aria-invalid', 'true');
    expect(input('Clients per round')).not.toHaveAttribute('aria-invalid'); // judged once the clients are valid
    expect(screen.getByLabelText('Head policy')).toHaveAccessibleDescription(/needs the IID partition/);
    expect(input('Image size')).toHaveAccessibleDescription(/Must be a whole number from 16 to 224\./);
    expect(screen.getByText('Advanced').closest('details')).toHaveAttribute('open');
    expect(calls.some((c) => c.url === '/api/federated/')).toBe(false);

    change('Clients', '3');
    expect(input('Clients per round')).toHaveAccessibleDescription(/from 1 to 3 \(the clients\)/);
    change('Clients per round', '');
    choose('Head policy', 'private');
    change('Image size', '56');
    change('Rounds', '2');
    change('Embedding size', '64');
    change('Batch size', '64');
    choose('Head', 'softmax');
    choose('Optimizer', 'adam');
    change('Learning rate', '0.001');
    change('Name', 'fed run');
    choose('DP level', 'client');
    fireEvent.click(screen.getByLabelText(/^Secure aggregation/));
    fireEvent.click(screen.getByRole('button', { name: 'Start federated run' }));
    await waitFor(() => expect(input('Batch size')).toHaveAccessibleDescription(/--batch_size must be at most 21/));
    expect(calls.find((c) => c.url === '/api/federated/')).toMatchObject({
      method: 'POST',
      body: {
        dataset: 5,
        name: 'fed run',
        mode: 'simulation',
        config: {
          num_clients: 3,
          num_rounds: 2,
          image_size: 56,
          embedding_size: 64,
          batch_size: 64,
          head_type: 'softmax',
          optimizer: 'adam',
          lr: 0.001,
          dp_level: 'client',
          noise_multiplier: 1,
          l2_norm_clip: 1,
          clipping: 'client',
          secagg: true,
          head: 'private',
          partition: 'by_identity',
        },
      },
    });
    expect(calls.find((c) => c.url === '/api/federated/')!.body).not.toHaveProperty('config.clients_per_round');

    // Editing the field clears the server's message; the next try starts the job.
    change('Batch size', '8');
    expect(input('Batch size')).not.toHaveAttribute('aria-invalid');
    answer = { status: 202, body: makeJob({ id: 88, kind: 'federated' }) };
    fireEvent.click(screen.getByRole('button', { name: 'Start federated run' }));
    expect(await screen.findByRole('heading', { name: 'Job page 88' })).toBeInTheDocument();
  });

  it('shows an error the server does not tie to a field above the button, a 409 at the dataset', async () => {
    let answer = { status: 400, body: { detail: 'flip: set by the server, not by a request' } };
    fakeServer(() => answer);
    renderPage();
    await waitFor(() => expect(screen.getByLabelText('Dataset')).toHaveValue('5'));
    // A batch every client can hold: once the estimate's client sizes arrive (smallest 21), the
    // default 32 would be refused in the browser and no request would leave.
    fireEvent.change(screen.getByLabelText('Batch size'), { target: { value: '8' } });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Start federated run' }));
    });
    expect(await screen.findByText('flip: set by the server, not by a request')).toBeInTheDocument();
    answer = { status: 409, body: { detail: "dataset 'webface_tiny' is extracting, not ready" } };
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Start federated run' }));
    });
    await waitFor(() =>
      expect(screen.getByLabelText('Dataset')).toHaveAccessibleDescription("dataset 'webface_tiny' is extracting, not ready"),
    );
  });
});
