// A ready dataset's privacy ledger: the (ε, δ) each DP training run spent on it, and the total.
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { messageOf } from '../api';
import { formatTime } from '../jobs';
import { formatAccountant, formatDelta, formatEpsilon, getPrivacyLedger } from '../training';
import type { PrivacyLedger } from '../types';
import { ErrorMessage } from './ErrorMessage';

export function PrivacyLedgerCard({ datasetId }: { datasetId: number }) {
  const [ledger, setLedger] = useState<PrivacyLedger | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    getPrivacyLedger(datasetId)
      .then((l) => {
        if (!live) return;
        if (l && typeof l.total === 'object' && Array.isArray(l.entries)) setLedger(l);
        else setError('Could not load the privacy ledger: unexpected answer from the server.');
      })
      .catch((err) => live && setError(`Could not load the privacy ledger: ${messageOf(err)}`));
    return () => {
      live = false;
    };
  }, [datasetId]);

  return (
    <section className="card" aria-label="Privacy ledger" data-testid="privacy-ledger">
      <div className="page-header">
        <h2>Privacy ledger</h2>
        <Link to={`/training?dataset=${datasetId}`} className="btn btn-ghost push-right">
          Train a model
        </Link>
      </div>
      <ErrorMessage error={error} />
      {!ledger ? (
        !error && <p className="muted">Loading…</p>
      ) : (
        <>
          <p className="ledger-total">
            Total spent: ε = <strong data-testid="ledger-total-epsilon">{formatEpsilon(ledger.total.epsilon)}</strong>, δ ={' '}
            <strong data-testid="ledger-total-delta">{formatDelta(ledger.total.delta)}</strong>
            <span className="muted small">
              {' '}
              — runs on the same data add up (sequential composition), a safe upper bound on what all of them
              together reveal.
            </span>
          </p>
          {ledger.entries.length === 0 ? (
            <p className="muted" data-testid="ledger-empty">
              No differentially private training has used this dataset yet. (Runs without DP are not listed: they give
              no guarantee at all.)
            </p>
          ) : (
            <table className="table" aria-label="Privacy spends">
              <thead>
                <tr>
                  <th>When</th>
                  <th className="num greek">ε</th>
                  <th className="num greek">δ</th>
                  <th>Accountant</th>
                  <th>Model</th>
                  <th>Job</th>
                </tr>
              </thead>
              <tbody>
                {ledger.entries.map((e) => (
                  <tr key={e.id} data-testid={`ledger-entry-${e.id}`}>
                    <td>{formatTime(e.created_at)}</td>
                    <td className="num" data-testid="ledger-epsilon">
                      {formatEpsilon(e.epsilon)}
                    </td>
                    <td className="num">{formatDelta(e.delta)}</td>
                    <td>{formatAccountant(e.accountant)}</td>
                    <td>
                      {e.model === null ? (
                        <span className="muted">(deleted)</span>
                      ) : (
                        <Link to={`/models/${e.model}`}>model #{e.model}</Link>
                      )}
                    </td>
                    <td>{e.job === null ? '—' : <Link to={`/jobs/${e.job}`}>job #{e.job}</Link>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
