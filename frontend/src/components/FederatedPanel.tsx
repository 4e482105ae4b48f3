// The live view of a `federated` job: current ε (and what it protects), the latest round's
// metrics, per-round charts, the latest round's clients, and the model once done.
import { Link } from 'react-router-dom';
import { unitOf } from '../federated';
import type { DpLevel, FederatedConfig, FederatedResult } from '../federated';
import { latestClients, latestRound, latestRoundEpsilon, roundPoints } from '../federatedSeries';
import type { FederatedSeries } from '../federatedSeries';
import { formatAccountant, formatDelta, formatPercent } from '../training';
import type { Job } from '../types';
import { ClientTable } from './ClientTable';
import { LineChart } from './LineChart';
import { EpsilonChart, EpsilonStat, jobConfig, jobResult, num, pct, RunDone, Stat } from './RunPanelParts';
import '../federated.css';

export const resultOf = (job: Job) => jobResult<FederatedResult>(job);

export function dpLevelOf(config: FederatedConfig): DpLevel {
  if (config.dp_level === 'sample' || config.dp_level === 'client' || config.dp_level === 'none') return config.dp_level;
  return config.use_dp ? 'sample' : 'none';
}

function stoppedText(result: FederatedResult): string {
  const rounds = `${result.rounds_completed} ${result.rounds_completed === 1 ? 'round' : 'rounds'}`;
  if (result.stopped === 'privacy_budget') return `Stopped when the privacy budget was reached, after ${rounds}. `;
  if (result.stopped === 'cancelled') return `Cancelled after ${rounds}; the model of the rounds done is kept. `;
  return `Completed ${rounds}. `;
}

export function FederatedPanel({ job, series }: { job: Job; series: FederatedSeries }) {
  const config = jobConfig<FederatedConfig>(job);
  const result = resultOf(job);
  const level = dpLevelOf(config);
  const dp = level !== 'none';
  const planned = series.totalRounds ?? num(config.num_rounds) ?? 10;
  const last = latestRound(series);
  const epsilon = result && job.status === 'succeeded' ? result.epsilon : latestRoundEpsilon(series);
  const delta = num(config.delta) ?? 1e-5;
  const target = num(config.target_epsilon);
  const datasetId = num(job.params?.dataset_id);
  const clients = num(config.num_clients) ?? 5;
  const perRound = num(config.clients_per_round) ?? clients;
  const accountant = level === 'sample' ? formatAccountant(config.accountant ?? 'rdp') : 'RDP';
  const mode = typeof job.params?.mode === 'string' ? job.params.mode : 'simulation';
  // Rounds count from 1.
  const xDomain: [number, number] = [1, Math.max(planned, 2)];
  const rows = latestClients(series);

  return (
    <section className="card" aria-label="Federated training">
      <div className="page-header">
        <h2>Federated training</h2>
        <span className="muted push-right">
          {typeof job.params?.name === 'string' && <>{job.params.name} · </>}
          {clients} clients ({perRound} per round, {config.partition ?? 'by_identity'}, {config.head ?? 'private'} heads
          {config.secagg ? ', secure aggregation' : ''}, {mode})
          {datasetId !== null && (
            <>
              {' '}
              · dataset <Link to={`/datasets/${datasetId}`}>#{datasetId}</Link>
            </>
          )}
        </span>
      </div>
      <div className="stats">
        <EpsilonStat
          dp={dp}
          epsilon={epsilon}
          known={epsilon !== null || result !== null}
          waiting="after the first round"
          note={`at δ = ${formatDelta(delta)} (${accountant})`}
          target={target}
        >
          <span className="stat-note" data-testid="dp-unit">
            protects {unitOf(level)}
          </span>
        </EpsilonStat>
        <Stat
          label="Round"
          testId="current-round"
          value={`${last ? last.round : 0} / ${planned}`}
          note={
            last && last.replied !== null && last.sampled !== null
              ? `${last.replied} of ${last.sampled} clients replied${last.failed ? `, ${last.failed} failed` : ''}`
              : ''
          }
        />
        <Stat label="Loss" testId="current-loss" value={last?.loss != null ? last.loss.toFixed(3) : '—'} />
        <Stat label="Train accuracy" value={formatPercent(last?.accuracy)} />
        {series.rounds.some((r) => r.held_accuracy !== null) && (
          <Stat label="Held-out accuracy" value={formatPercent(last?.held_accuracy)} />
        )}
        {series.rounds.some((r) => r.verification_accuracy !== null) && (
          <Stat label="Verification" value={formatPercent(last?.verification_accuracy)} />
        )}
      </div>

      {result && (job.status === 'succeeded' || job.status === 'cancelled') && (
        <RunDone text={stoppedText(result)} modelId={result.model_id} />
      )}

      <div className="chart-grid-2">
        <LineChart
          title="Loss"
          testId="chart-loss"
          xLabel="Round"
          xDomain={xDomain}
          series={[{ key: 'loss', name: 'train loss', points: roundPoints(series, 'loss'), className: 'chart-c1', dots: true }]}
          empty="Reported after each round"
        />
        <LineChart
          title="Accuracy"
          testId="chart-accuracy"
          xLabel="Round"
          xDomain={xDomain}
          yDomain={[0, 1]}
          formatY={pct}
          series={[
            { key: 'train', name: 'train', points: roundPoints(series, 'accuracy'), className: 'chart-c1', dots: true },
            { key: 'held', name: 'held-out', points: roundPoints(series, 'held_accuracy'), className: 'chart-c2', dots: true },
          ]}
          empty="Reported after each round"
        />
        <LineChart
          title="Verification accuracy"
          testId="chart-verification"
          xLabel="Round"
          xDomain={xDomain}
          yDomain={[0, 1]}
          formatY={pct}
          series={[
            {
              key: 'verification',
              name: 'verification',
              points: roundPoints(series, 'verification_accuracy'),
              className: 'chart-c3',
              dots: true,
            },
          ]}
          empty="After each round, when the dataset has verification pairs (.bin)"
        />
        {dp && (
          <EpsilonChart
            xLabel="Round"
            xDomain={xDomain}
            points={roundPoints(series, 'epsilon')}
            target={target}
            empty="Reported after each round"
          />
        )}
      </div>

      <h3 className="clients-heading">
        Clients{last ? ` · round ${last.round}` : ''}
      </h3>
      <ClientTable
        clients={rows}
        round={last?.round ?? null}
        showEpsilon={level === 'sample' || rows.some((c) => typeof c.epsilon === 'number')}
      />
    </section>
  );
}
