import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { clearLimits } from '../limits';
import { stubFetch } from '../test/fakeFetch';
import type { FakeCall } from '../test/fakeFetch';
import { makeJob } from '../test/fixtures';
import { limitsAnswer } from '../test/limits';
import { change, DATASETS, type Handler, input, renderRunPage } from '../test/runFormPage';
import { ESTIMATE_DEBOUNCE_MS, TrainingPage } from './TrainingPage';

const renderPage = (url = '/training') => renderRunPage(url, { '/training': <TrainingPage /> });


/** The dataset list, ε = 10 / noise (or the noise for a target), and `training` for the training POST. */
function fakeServer(
  training: Handler = () => ({ status: 202, body: makeJob({ id: 77, kind: 'train' }) }),
  serveLimits = true,
) {
  return stubFetch((c) => {
    if (c.url === '/api/auth/csrf/') return { body: { csrfToken: 'tok' } };
    const limits = limitsAnswer(c.url);
    if (limits) return serveLimits ? limits : { status: 503, body: { detail: 'Try later.' } };
    if (c.url === '/api/datasets/') return { body: DATASETS };
    if (c.url === '/api/privacy/') {
      const q = c.body as Record<string, number | string>;
      if (q.accountant === 'pld') return { status: 400, body: { accountant: ['PLD is switched off here.'] } };
      const steps = Math.ceil((70 / Number(q.batch_size)) * Number(q.epochs));
      const noise = q.noise_multiplier !== undefined ? Number(q.noise_multiplier) : 1.2346;
      const epsilon = q.target_epsilon !== undefined ? Number(q.target_epsilon) * 0.99 : noise === 0 ? null : 10 / noise;
      return { body: { epsilon, noise_multiplier: noise, delta: q.delta, accountant: q.accountant, steps, sample_rate: 0.2222 } };
    }
    if (c.url === '/api/training/') return training(c);
    return undefined;
  });
}

const privacyCalls = (calls: FakeCall[]) => calls.filter((c) => c.url === '/api/privacy/');
/** Let the estimate's debounce run out (fake timers) and its request settle. */
const debounce = () =>
  act(async () => {
    vi.advanceTimersByTime(ESTIMATE_DEBOUNCE_MS);
  });

async function readyForm() {
  await waitFor(() => expect(screen.getByLabelText('Dataset')).toHaveValue('5'));
  change('Batch size', '16');
  change('Epochs', '2');
}

describe('TrainingPage', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
    clearLimits();
  });

  it('estimates ε (debounced) as the DP parameters are edited', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    // Testing Library's waitFor drives fake timers through the `jest` global.
    vi.stubGlobal('jest', { advanceTimersByTime: (ms: number) => vi.advanceTimersByTime(ms) });
    const calls = fakeServer();
    renderPage();
    await readyForm();
    expect(screen.queryByLabelText('Privacy estimate')).toBeNull();
    expect(privacyCalls(calls)).toHaveLength(0);

    fireEvent.click(screen.getByLabelText('Train with differential privacy (DP-SGD)'));
    expect(screen.getByText('Estimating ε…')).toBeInTheDocument();
    expect(privacyCalls(calls)).toHaveLength(0);
    await debounce();
    const estimate = await screen.findByTestId('epsilon-estimate');
    expect(estimate).toHaveTextContent('ε = 10.00 at δ = 1e-5 (RDP), 9 steps');
    expect(privacyCalls(calls)).toHaveLength(1);
    expect(privacyCalls(calls)[0]).toMatchObject({
      method: 'POST',
      body: { dataset: 5, holdout_fraction: 0.1, batch_size: 16, epochs: 2, delta: 1e-5, accountant: 'rdp', noise_multiplier: 1 },
    });

    // Two quick edits: one request, for the last value.
    change('Noise multiplier', '2');
    await act(async () => {
      vi.advanceTimersByTime(ESTIMATE_DEBOUNCE_MS - 50);
    });
    change('Noise multiplier', '2.5');
    expect(privacyCalls(calls)).toHaveLength(1);
    await debounce();
    await waitFor(() => expect(screen.getByTestId('epsilon-estimate')).toHaveTextContent('ε = 4.00 at δ = 1e-5 (RDP)'));
    expect(privacyCalls(calls)).toHaveLength(2);
    expect(privacyCalls(calls)[1].body).toMatchObject({ noise_multiplier: 2.5 });

    // δ and the batch size are inputs of the estimate too.
    change('δ', '1e-6');
    await debounce();
    await waitFor(() => expect(privacyCalls(calls)).toHaveLength(3));
    expect(privacyCalls(calls)[2].body).toMatchObject({ delta: 1e-6, noise_multiplier: 2.5 });
    await waitFor(() => expect(screen.getByTestId('epsilon-estimate')).toHaveTextContent('at δ = 1e-6'));

    // Target ε: the server calibrates the noise.
    fireEvent.click(screen.getByLabelText('target ε'));
    change('Target ε', '3');
    await debounce();
    await waitFor(() => expect(screen.getByTestId('epsilon-estimate')).toHaveTextContent('Noise multiplier 1.235 → ε = 2.97'));
    const last = privacyCalls(calls).at(-1)!;
    expect(last.body).toMatchObject({ target_epsilon: 3 });
    expect(last.body).not.toHaveProperty('noise_multiplier');

    // An invalid input: no request, a hint instead; a server error shows inline.
    const before = privacyCalls(calls).length;
    change('Target ε', '');
    expect(await screen.findByText('Fix Target ε to see the privacy estimate.')).toBeInTheDocument();
    change('Target ε', '3');
    fireEvent.change(screen.getByLabelText('Accountant'), { target: { value: 'pld' } });
    await debounce();
    expect(await screen.findByTestId('estimate-error')).toHaveTextContent('Accountant: PLD is switched off here.');
    expect(privacyCalls(calls).length).toBe(before + 1);
  });

  it('without the server limits, sends the number and shows the server 400 at its field', async () => {
    const message = '--epochs must be a whole number from 1 to 1000, got 5000';
    const calls = fakeServer(() => ({ status: 400, body: { epochs: [message] } }), false);
    renderPage('/training?dataset=5');
    await readyForm();
    change('Epochs', '5000');
    fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    await waitFor(() => expect(input('Epochs')).toHaveAccessibleDescription(message));
    expect(calls.find((c) => c.url === '/api/training/')!.body).toMatchObject({ config: { epochs: 5000 } });
    expect(calls.filter((c) => c.url === '/api/training/limits/')).toHaveLength(1);
  });

  it('validates fields client-side, shows a server --field error next to it, then starts the run', async () => {
    let answer: { status: number; body: unknown } = {
      status: 400,
      body: { detail: '--epochs must be at most 100 on this server, got 300' },
    };
    const calls = fakeServer(() => answer);
    renderPage('/training?dataset=5');
    await readyForm();
    fireEvent.click(screen.getByLabelText('Train with differential privacy (DP-SGD)'));

    // Client-side checks: nothing is sent.
    change('Batch size', '0');
    change('Learning rate', '-1');
    change('Image size', '8');
    fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    expect(await screen.findByText('Must be a whole number from 1 to 65536.')).toBeInTheDocument();
    expect(input('Batch size')).toHaveAttribute('aria-invalid', 'true');
    expect(input('Learning rate')).toHaveAccessibleDescription('Must be a number above 0.');
    expect(input('Image size')).toHaveAccessibleDescription(/Must be a whole number from 16 to 1024\./);
    expect(screen.getByText('Advanced').closest('details')).toHaveAttribute('open');
    change('Batch size', '100');
    expect(await screen.findByText('Must not exceed the 72 training images of the dataset.')).toBeInTheDocument();
    expect(calls.some((c) => c.url === '/api/training/')).toBe(false);

    change('Batch size', '16');
    change('Learning rate', '0.05');
    change('Image size', '56');
    change('Epochs', '300');
    change('Name', 'tiny run');
    fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    await waitFor(() => expect(input('Epochs')).toHaveAccessibleDescription('--epochs must be at most 100 on this server, got 300'));
    const post = calls.find((c) => c.url === '/api/training/')!;
    expect(post).toMatchObject({
      method: 'POST',
      body: {
        dataset: 5,
        name: 'tiny run',
        config: {
          epochs: 300,
          batch_size: 16,
          lr: 0.05,
          image_size: 56,
          use_dp: true,
          noise_multiplier: 1,
          l2_norm_clip: 1,
          delta: 1e-5,
          accountant: 'rdp',
          model: 'mobilefacenet',
        },
      },
    });
    expect(screen.getByRole('button', { name: 'Start training' })).toBeEnabled();

    // Editing the field clears the server's message; the next try starts the job.
    change('Epochs', '2');
    expect(input('Epochs')).not.toHaveAttribute('aria-invalid');
    answer = { status: 202, body: makeJob({ id: 77, kind: 'train' }) };
    fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    expect(await screen.findByRole('heading', { name: 'Job page 77' })).toBeInTheDocument();
  });

  it('shows DRF field errors and a 409 next to the dataset', async () => {
    const calls = fakeServer(() => ({ status: 409, body: { detail: "dataset 'webface_tiny' is extracting, not ready" } }));
    renderPage();
    await readyForm();
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    });
    await waitFor(() =>
      expect(screen.getByLabelText('Dataset')).toHaveAccessibleDescription("dataset 'webface_tiny' is extracting, not ready"),
    );
    expect(calls.filter((c) => c.url === '/api/training/')).toHaveLength(1);
  });
});
