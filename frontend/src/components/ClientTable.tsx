// The clients of a federated round: what each one trained on and reported (or why it failed).
import type { FederatedClientRow } from '../federated';
import { formatEpsilon, formatPercent } from '../training';
import '../federated.css';

const count = (n: number | undefined) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : '—');
const fixed = (n: number | undefined, digits: number) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '—');

/** "client 3" for a partition number (sent as a number or a numeric string), else the label as sent ("node 7"). */
export function clientLabel(partition: number | string): string {
  return /^\d+$/.test(String(partition)) ? `client ${partition}` : String(partition);
}

export function ClientTable({
  clients,
  round,
  showEpsilon,
}: {
  clients: readonly FederatedClientRow[];
  round: number | null;
  showEpsilon: boolean;
}) {
  if (round === null || clients.length === 0) {
    return (
      <p className="muted" data-testid="client-table-empty">
        The clients’ rows appear after the first round.
      </p>
    );
  }
  return (
    <div className="client-table-wrap">
      <table className="table client-table" aria-label="Clients" data-testid="client-table" data-round={round}>
        <caption className="visually-hidden">Clients of round {round}</caption>
        <thead>
          <tr>
            <th>Client</th>
            <th className="num">Examples</th>
            <th className="num">Identities</th>
            <th className="num">Loss</th>
            <th className="num">Accuracy</th>
            {showEpsilon && <th className="num greek">ε</th>}
            <th className="num">Steps</th>
            <th className="num">Seconds</th>
            <th className="num">Rounds</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {clients.map((c) => {
            const failed = c.status !== 'ok';
            return (
              <tr
                key={String(c.partition)}
                data-testid={`client-row-${c.partition}`}
                className={failed ? 'client-failed' : undefined}
              >
                <td>{clientLabel(c.partition)}</td>
                <td className="num">{count(c.examples)}</td>
                <td className="num">{count(c.identities)}</td>
                <td className="num" data-testid="client-loss">
                  {fixed(c.loss, 3)}
                </td>
                <td className="num">{formatPercent(c.accuracy)}</td>
                {showEpsilon && <td className="num">{typeof c.epsilon === 'number' ? formatEpsilon(c.epsilon) : '—'}</td>}
                <td className="num">{count(c.steps)}</td>
                <td className="num">{fixed(c.seconds, 1)}</td>
                <td className="num">{count(c.rounds)}</td>
                <td className={failed ? 'reason' : undefined}>
                  <span className={`badge badge-client-${failed ? 'failed' : 'ok'}`} data-testid="client-status">
                    {failed ? 'failed' : 'ok'}
                  </span>
                  {failed && c.reason && <> {c.reason}</>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
