import { useState } from 'react';
import type { FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { messageOf } from '../api';
import { createJob } from '../jobs';
import type { Job } from '../types';
import { ErrorMessage } from './ErrorMessage';

/** Small form that starts a `selftest` job: N steps of S seconds each. */
export function StartSelfTestForm({ onCreated }: { onCreated: (job: Job) => void }) {
  const [steps, setSteps] = useState('20');
  const [stepSeconds, setStepSeconds] = useState('0.5');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [started, setStarted] = useState<Job | null>(null);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    const n = Number(steps);
    const s = Number(stepSeconds);
    if (!Number.isInteger(n) || n < 1 || !Number.isFinite(s) || s < 0) {
      setError('Steps must be a whole number ≥ 1 and seconds per step a number ≥ 0.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const job = await createJob('selftest', { steps: n, step_seconds: s });
      setStarted(job);
      onCreated(job);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card form-inline" onSubmit={onSubmit}>
      <label>
        Steps
        <input type="number" min={1} step={1} value={steps} onChange={(e) => setSteps(e.target.value)} />
      </label>
      <label>
        Seconds per step
        <input
          type="number"
          min={0}
          step="any"
          value={stepSeconds}
          onChange={(e) => setStepSeconds(e.target.value)}
        />
      </label>
      <button type="submit" className="btn btn-primary" disabled={busy}>
        Start self-test job
      </button>
      {started && !error && (
        <span className="muted">
          Started <Link to={`/jobs/${started.id}`}>job #{started.id}</Link>
        </span>
      )}
      <ErrorMessage error={error} />
    </form>
  );
}
