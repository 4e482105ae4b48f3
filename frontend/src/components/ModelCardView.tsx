// The model card JSON rendered as readable sections (known sections first, in a fixed order;
// anything else the engine adds later is shown generically).
import type { ReactNode } from 'react';
import { formatAuc, formatDelta, formatEpsilon, formatPercent } from '../training';
import type { ModelCard } from '../types';

const SECTIONS: [key: string, title: string][] = [
  ['dp', 'Differential privacy'],
  ['model', 'Model'],
  ['data', 'Training data'],
  ['federation', 'Federation'],
  ['training', 'Training'],
  ['verification', 'Verification'],
  ['membership_inference', 'Membership-inference audit'],
];
const LISTS = new Set(['caveats', 'warnings']);

/** Keys shown first, in this order (the JSON's own order is lost in Postgres); the rest follow. */
const ORDER: Record<string, string[]> = {
  dp: ['epsilon', 'delta', 'accountant', 'level', 'unit', 'noise_multiplier', 'l2_norm_clip', 'target_epsilon',
    'expected_batch_size', 'sample_rate', 'steps', 'sampling', 'client_epsilon', 'max_client_epsilon', 'per_client_epsilon',
    'update_clip', 'clipping', 'released_rounds', 'neighbouring'],
  model: ['backbone', 'embedding_size', 'input', 'parameters', 'training_head', 'file'],
  data: ['name', 'images', 'identities', 'train_images', 'holdout_images', 'format'],
  federation: ['mode', 'clients', 'clients_per_round', 'min_clients', 'partition', 'alpha', 'rounds_completed',
    'rounds_planned', 'local_epochs', 'head_policy', 'aggregation', 'secure_aggregation'],
  training: ['epochs_completed', 'steps', 'stopped', 'final_loss', 'train_accuracy', 'holdout_accuracy', 'devices',
    'mixed_precision'],
  verification: ['accuracy', 'accuracy_std', 'threshold', 'tar', 'tar_std', 'far', 'far_target', 'pairs', 'folds', 'bin'],
  membership_inference: ['auc', 'advantage', 'attack', 'members', 'non_members', 'nonmembers'],
};

export function ordered(section: string, data: Record<string, unknown>): [string, unknown][] {
  const first = ORDER[section] ?? [];
  const rank = (k: string) => (first.includes(k) ? first.indexOf(k) : first.length);
  return Object.entries(data).sort(([a], [b]) => rank(a) - rank(b));
}

const LABELS: Record<string, string> = {
  epsilon: 'ε',
  delta: 'δ',
  target_epsilon: 'Target ε',
  l2_norm_clip: 'Clipping norm (L2)',
  noise_multiplier: 'Noise multiplier',
  sample_rate: 'Sample rate',
  expected_batch_size: 'Expected batch size',
  auc: 'AUC',
  lr: 'Learning rate',
  lr_schedule: 'LR schedule',
  lr_steps: 'LR drops after epochs',
  mia_auc: 'MIA AUC',
  use_dp: 'DP-SGD',
  holdout_images: 'Held-out images',
  train_images: 'Training images',
  embedding_size: 'Embedding size',
  bin: 'Pairs file',
  tar: 'TAR',
  far: 'FAR',
  tar_std: 'TAR std',
  far_target: 'FAR target',
  nonmembers: 'Non-members',
  non_members: 'Non-members',
  final_loss: 'Final loss',
  level: 'DP level',
  client_epsilon: 'Client-level ε',
  max_client_epsilon: 'Largest client ε',
  per_client_epsilon: 'Per-client ε',
  update_clip: 'Update clip (L2)',
  clients_per_round: 'Clients per round',
  min_clients: 'Fewest replies per round',
  alpha: 'Dirichlet α',
  rounds_planned: 'Rounds planned',
  secure_aggregation: 'Secure aggregation',
  head_policy: 'Head policy',
};

export function labelOf(key: string): string {
  if (LABELS[key]) return LABELS[key];
  const words = key.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function formatNumber(key: string, n: number): string {
  const k = key.toLowerCase();
  if (k.includes('epsilon')) return formatEpsilon(n);
  if (k === 'delta' || k.endsWith('_delta')) return formatDelta(n);
  if (k.includes('accuracy') || k === 'tpr' || k === 'fpr') return n >= 0 && n <= 1 ? formatPercent(n) : String(n);
  if (k.includes('auc') || k.includes('advantage')) return formatAuc(n);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  if (Math.abs(n) < 1e-3 && n !== 0) return Number(n.toPrecision(3)).toExponential();
  return String(Number(n.toPrecision(4)));
}

const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

export function formatValue(key: string, value: unknown, depth = 0): ReactNode {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') return Number.isFinite(value) ? formatNumber(key, value) : String(value);
  if (typeof value === 'string') return key === 'accountant' ? value.toUpperCase() : value;
  if (Array.isArray(value)) {
    if (value.length === 0) return '—';
    if (value.every(isScalar)) return value.map((v) => (typeof v === 'number' ? formatNumber(key, v) : String(v))).join(', ');
    return <code className="card-json">{JSON.stringify(value)}</code>;
  }
  if (typeof value === 'object' && depth < 2) return <Details data={value as Record<string, unknown>} depth={depth + 1} />;
  return <code className="card-json">{JSON.stringify(value)}</code>;
}

function Details({ data, depth = 0, section = '' }: { data: Record<string, unknown>; depth?: number; section?: string }) {
  const entries = ordered(section, data);
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <dl className={`details details-wide${depth ? ' details-nested' : ''}`}>
      {entries.map(([k, v]) => (
        <Entry key={k} label={labelOf(k)}>
          {formatValue(k, v, depth)}
        </Entry>
      ))}
    </dl>
  );
}

function Entry({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

function sectionBody(key: string, value: unknown): ReactNode {
  if (key === 'dp') {
    const dp = (value ?? {}) as Record<string, unknown>;
    if (!dp.enabled) {
      return <p className="notice">Trained without differential privacy: the model carries no privacy guarantee for its training images.</p>;
    }
    const { enabled: _enabled, ...rest } = dp;
    return <Details data={rest} section="dp" />;
  }
  if (key === 'federation' && value && typeof value === 'object' && !Array.isArray(value)) {
    return <FederationSection data={value as Record<string, unknown>} />;
  }
  if (value === null || value === undefined) {
    if (key === 'verification') return <p className="muted">Not evaluated: the dataset has no verification pairs (.bin).</p>;
    if (key === 'membership_inference') return <p className="muted">No membership-inference audit was run.</p>;
    return <p className="muted">—</p>;
  }
  if (typeof value === 'object' && !Array.isArray(value)) return <Details data={value as Record<string, unknown>} section={key} />;
  return <p>{formatValue(key, value)}</p>;
}

const CLIENT_COLUMNS: [key: string, title: string][] = [
  ['partition', 'Client'],
  ['images', 'Images'],
  ['examples', 'Training images'],
  ['identities', 'Identities'],
  ['rounds', 'Rounds'],
  ['epsilon', 'ε'],
];

/** The federation section: the settings, the head policy with its explanation, one row per client. */
function FederationSection({ data }: { data: Record<string, unknown> }) {
  const { per_client: perClient, head_policy_explained: explained, ...rest } = data;
  const clients = Array.isArray(perClient)
    ? perClient.filter((c): c is Record<string, unknown> => Boolean(c) && typeof c === 'object' && !Array.isArray(c))
    : [];
  const columns = CLIENT_COLUMNS.filter(([k]) => clients.some((c) => c[k] !== undefined && c[k] !== null));
  const entries = ordered('federation', rest).filter(([, v]) => v !== null && v !== undefined);
  return (
    <>
      <dl className="details details-wide">
        {entries.map(([k, v]) => (
          <Entry key={k} label={labelOf(k)}>
            {formatValue(k, v)}
            {k === 'head_policy' && typeof explained === 'string' && (
              <span className="muted" data-testid="head-policy-explained">
                {' '}
                ({explained})
              </span>
            )}
          </Entry>
        ))}
      </dl>
      {clients.length > 0 && (
        <table className="table" aria-label="Clients" data-testid="card-clients">
          <thead>
            <tr>
              {columns.map(([k, title]) => (
                <th key={k} className={k === 'partition' ? undefined : `num${k === 'epsilon' ? ' greek' : ''}`}>
                  {title}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {clients.map((c, i) => (
              <tr key={String(c.partition ?? i)} data-testid={`card-client-${String(c.partition ?? i)}`}>
                {columns.map(([k]) => (
                  <td key={k} className={k === 'partition' ? undefined : 'num'}>
                    {k === 'partition' ? `client ${String(c.partition)}` : formatValue(k, c[k])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function slug(key: string) {
  return `card-${key.replace(/_/g, '-')}`;
}

export function ModelCardView({ card }: { card: ModelCard }) {
  const known = new Set([...SECTIONS.map(([k]) => k), ...LISTS, 'parameters']);
  const extra = Object.keys(card).filter((k) => !known.has(k));
  const warnings = Array.isArray(card.warnings) ? card.warnings : [];
  const caveats = Array.isArray(card.caveats) ? card.caveats : [];

  return (
    <div className="model-card" data-testid="model-card">
      {warnings.length > 0 && (
        <section className="card card-warning" aria-label="Warnings" data-testid="card-warnings">
          <h2>Warnings</h2>
          <ul>
            {warnings.map((w, i) => (
              <li key={i}>{String(w)}</li>
            ))}
          </ul>
        </section>
      )}
      {SECTIONS.filter(([k]) => k in card).map(([k, title]) => (
        <section className="card" key={k} aria-label={title} data-testid={slug(k)}>
          <h2>{title}</h2>
          {sectionBody(k, card[k])}
        </section>
      ))}
      {extra.map((k) => (
        <section className="card" key={k} aria-label={labelOf(k)} data-testid={slug(k)}>
          <h2>{labelOf(k)}</h2>
          {sectionBody(k, card[k])}
        </section>
      ))}
      {card.parameters && typeof card.parameters === 'object' && (
        <section className="card" aria-label="All parameters" data-testid="card-parameters">
          <details>
            <summary>
              <h2 className="inline-heading">All parameters</h2>
            </summary>
            <Details data={card.parameters} />
          </details>
        </section>
      )}
      {caveats.length > 0 && (
        <section className="card" aria-label="Caveats" data-testid="card-caveats">
          <h2>Caveats</h2>
          <ul className="caveats">
            {caveats.map((c, i) => (
              <li key={i}>{String(c)}</li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
