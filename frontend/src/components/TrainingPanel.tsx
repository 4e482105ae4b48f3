// The live view of a `train` job: current ε, latest metrics, charts, and the model once done.
import { Link } from 'react-router-dom';
import { formatAccountant, formatDelta, formatPercent } from '../training';
import { epochLossByStep, epochPoints, latestEpsilon } from '../trainingSeries';
import type { TrainingSeries } from '../trainingSeries';
import type { Job, TrainingConfig, TrainingResult } from '../types';
import { LineChart } from './LineChart';
import { EpsilonChart, EpsilonStat, jobConfig, jobResult, num, pct, RunDone, Stat } from './RunPanelParts';

export function TrainingPanel({ job, series }: { job: Job; series: TrainingSeries }) {
  const config = jobConfig<TrainingConfig>(job);
  const result = jobResult<TrainingResult>(job);
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
        <EpsilonStat
          dp={dp}
          epsilon={epsilon}
          known={epsilon !== null || result !== null}
          waiting="after the first epoch"
          note={`at δ = ${formatDelta(delta)} (${formatAccountant(config.accountant ?? 'rdp')})`}
          target={target}
        />
        <Stat
          label="Epoch"
          testId="current-epoch"
          value={`${last ? last.epoch : 0} / ${plannedEpochs}`}
          note={`${lastStep ? `step ${lastStep.x.toLocaleString('en-US')}` : ''}${series.totalSteps ? ` of ${series.totalSteps.toLocaleString('en-US')}` : ''}`}
        />
        <Stat
          label="Loss"
          testId="current-loss"
          value={lastStep ? lastStep.y.toFixed(3) : last?.loss != null ? last.loss.toFixed(3) : '—'}
        />
        <Stat label="Train accuracy" value={formatPercent(last?.accuracy)} />
        {hasVerification && <Stat label="Verification" value={formatPercent(last?.verification_accuracy)} />}
      </div>

      {job.status === 'succeeded' && result && (
        <RunDone
          modelId={result.model_id}
          text={
            result.stopped === 'privacy_budget'
              ? `Stopped when the privacy budget was reached, after ${result.epochs_completed} epochs. `
              : `Completed ${result.epochs_completed} ${result.epochs_completed === 1 ? 'epoch' : 'epochs'}. `
          }
        />
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
          <EpsilonChart
            xLabel="Epoch"
            xDomain={[0, Math.max(plannedEpochs, 1)]}
            points={epochPoints(series, 'epsilon')}
            target={target}
            empty="Reported after each epoch"
          />
        )}
      </div>
    </section>
  );
}
