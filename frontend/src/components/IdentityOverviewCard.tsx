import { useEffect, useState } from 'react';
import { messageOf } from '../api';
import { fetchIdentityOverview } from '../datasets';
import type { IdentityOverview } from '../datasets';
import { ErrorMessage } from './ErrorMessage';
import { IdentityHistogram } from './IdentityHistogram';

/** Identities shown as thumbnails (one per identity, from the first page). */
export const SAMPLE_IDENTITIES = 24;

/** A ready dataset's identities: histogram of images per identity and sample thumbnails. */
export function IdentityOverviewCard({ datasetId }: { datasetId: number }) {
  const [overview, setOverview] = useState<IdentityOverview | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    fetchIdentityOverview(datasetId)
      .then((o) => live && setOverview(o))
      .catch((err) => live && setError(messageOf(err)));
    return () => {
      live = false;
    };
  }, [datasetId]);

  if (error) return <ErrorMessage error={error} />;
  if (!overview) return <p className="muted">Loading identities…</p>;
  const samples = overview.first.filter((i) => i.samples.length > 0).slice(0, SAMPLE_IDENTITIES);
  return (
    <>
      <section className="card">
        <h2>Images per identity</h2>
        <IdentityHistogram labels={overview.labels} counts={overview.counts} total={overview.total} />
      </section>
      <section className="card">
        <h2>Samples</h2>
        {samples.length === 0 ? (
          <p className="muted">No sample images (the dataset was indexed without extracting images).</p>
        ) : (
          <ul className="sample-grid" aria-label="Sample images">
            {samples.map((identity) => (
              <li key={identity.label}>
                <img src={identity.samples[0]} alt={`identity ${identity.label}`} width={112} height={112} />
                <span className="muted small">
                  #{identity.label} · {identity.count}
                </span>
              </li>
            ))}
          </ul>
        )}
        {overview.total > samples.length && samples.length > 0 && (
          <p className="muted small">
            First {samples.length} of {overview.total} identities.
          </p>
        )}
      </section>
    </>
  );
}
