// The live view of a `train` job: current ε, latest metrics, charts, and the model once done.
import { Link } from 'react-router-dom';
import { formatAccountant, formatDelta, formatEpsilon, formatPercent } from '../training';
import { epochLossByStep, epochPoints, latestEpsilon } from '../trainingSeries';
import type { TrainingSeries } from '../trainingSeries';
import type { Job, TrainingConfig, TrainingResult } from '../types';
import { LineChart } from './LineChart';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function configOf(job: Job): TrainingConfig {
  const c = job.params?.config;
  return c && typeof c === 'object' ? (c as TrainingConfig) : {};
}

function resultOf(job: Job): TrainingResult | null {
  const r = job.result;
  return r && typeof r === 'object' && typeof r.model_id === 'number' ? (r as unknown as TrainingResult) : null;
}

const pct = (y: number) => `${Math.round(y * 100)}%`;

export function TrainingPanel({ job, series }: { job: Job; series: TrainingSeries }) {
  const config = configOf(job);
  const result = resultOf(job);
  const dp = config.use_dp === true;
  const plannedEpochs = num(config.epochs) ?? 20;
  const last = series.epochs[series.epochs.length - 1];
  const lastStep = series.stepLoss[series.stepLoss.length - 1];
  const epsilon = result && job.status === 'succeeded' ? result.epsilon : latestEpsilon(series);
  const delta = num(config.delta) ?? 1e-5;
  const target = num(config.target_epsilon);
  const datasetId = num(job.params?.dataset_id);
  const hasVerification = series.epochs.some((m) => m.verification_accuracy !== null);

  return (
    <section className="card" aria-label="Training">
      <div className="page-header">
        <h2>Training</h2>
        {datasetId !== null && (
          <span className="muted push-right">
            {typeof job.params?.name === 'string' && <>{job.params.name} · </>}
            dataset <Link to={`/datasets/${datasetId}`}>#{datasetId}</Link>
          </span>
        )}
      </div>
      <div className="stats">
        <div className="stat stat-epsilon">
          <span className="stat-label">Current ε</span>
          {dp ? (
            <>
              <span className="stat-value" data-testid="current-epsilon">
                {epsilon === null && !result ? '—' : formatEpsilon(epsilon)}
              </span>
              <span className="stat-note">
                {epsilon === null && !result
                  ? 'after the first epoch'
                  : `at δ = ${formatDelta(delta)} (${formatAccountant(config.accountant ?? 'rdp')})`}
                {target !== null && ` · target ${formatEpsilon(target)}`}
              </span>
            </>
          ) : (
            <>
              <span className="stat-value" data-testid="current-epsilon">
                none
              </span>
              <span className="stat-note">trained without DP: no privacy guarantee</span>
            </>
          )}
        </div>
        <div className="stat">
          <span className="stat-label">Epoch</span>
          <span className="stat-value" data-testid="current-epoch">
            {last ? last.epoch : 0} / {plannedEpochs}
          </span>
          <span className="stat-note">
            {lastStep ? `step ${lastStep.x.toLocaleString('en-US')}` : ''}
            {series.totalSteps ? ` of ${series.totalSteps.toLocaleString('en-US')}` : ''}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">Loss</span>
          <span className="stat-value" data-testid="current-loss">
            {lastStep ? lastStep.y.toFixed(3) : last?.loss != null ? last.loss.toFixed(3) : '—'}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">Train accuracy</span>
          <span className="stat-value">{formatPercent(last?.accuracy)}</span>
        </div>
        {hasVerification && (
          <div className="stat">
            <span className="stat-label">Verification</span>
            <span className="stat-value">{formatPercent(last?.verification_accuracy)}</span>
          </div>
        )}
      </div>

      {job.status === 'succeeded' && result && (
        <p className="training-done" data-testid="training-result">
          {result.stopped === 'privacy_budget'
            ? `Stopped when the privacy budget was reached, after ${result.epochs_completed} epochs. `
            : `Completed ${result.epochs_completed} ${result.epochs_completed === 1 ? 'epoch' : 'epochs'}. `}
          <Link to={`/models/${result.model_id}`} data-testid="model-link">
            Open model #{result.model_id}
          </Link>
        </p>
      )}

      <div className="chart-grid-2">
        <LineChart
          title="Loss"
          testId="chart-loss"
          xLabel="Step"
          xDomain={series.totalSteps ? [0, series.totalSteps] : undefined}
          series={[
            { key: 'step', name: 'per step', points: series.stepLoss, className: 'chart-c1' },
            { key: 'epoch', name: 'per epoch', points: epochLossByStep(series), className: 'chart-c2', dots: true, line: false },
          ]}
          empty="Waiting for the first steps…"
        />
        <LineChart
          title="Accuracy"
          testId="chart-accuracy"
          xLabel="Epoch"
          xDomain={[0, Math.max(plannedEpochs, 1)]}
          yDomain={[0, 1]}
          formatY={pct}
          series={[
            { key: 'train', name: 'train', points: epochPoints(series, 'accuracy'), className: 'chart-c1', dots: true },
            {
              key: 'verification',
              name: 'verification',
              points: epochPoints(series, 'verification_accuracy'),
              className: 'chart-c3',
              dots: true,
            },
          ]}
          empty="Reported after each epoch"
        />
        {dp && (
          <LineChart
            title="Privacy spent (ε)"
            testId="chart-epsilon"
            xLabel="Epoch"
            xDomain={[0, Math.max(plannedEpochs, 1)]}
            yDomain={[0, 0]}
            formatY={(y) => formatEpsilon(y)}
            refLine={target !== null ? { y: target, label: `target ε = ${formatEpsilon(target)}` } : null}
            series={[{ key: 'epsilon', name: 'ε', points: epochPoints(series, 'epsilon'), className: 'chart-c4', dots: true }]}
            empty="Reported after each epoch"
          />
        )}
      </div>
    </section>
  );
}
