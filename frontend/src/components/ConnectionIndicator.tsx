import type { Connection } from '../useJobStream';

const LABELS = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  closed: 'finished',
  error: 'disconnected',
} as const;

export function ConnectionIndicator({ connection }: { connection: Connection }) {
  const { state, detail } = connection;
  return (
    <span className={`conn conn-${state}`} data-testid="connection" title={detail}>
      <span className="conn-dot" aria-hidden="true" />
      {LABELS[state]}
      {state === 'error' && detail ? `: ${detail}` : ''}
    </span>
  );
}
