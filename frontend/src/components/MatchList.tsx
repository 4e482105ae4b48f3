// The ranked identities of a search, best first: the server-side and the private search show
// their matches the same way.

export interface ShownMatch {
  identity: string;
  score: number;
  thumbnail: string;
}

export function MatchList({ matches }: { matches: ShownMatch[] }) {
  return (
    <ol className="match-list">
      {matches.map((m, i) => (
        <li key={m.identity} className={`match-card${i === 0 ? ' match-best' : ''}`} data-testid={`match-${i}`}>
          <img src={m.thumbnail} alt={`identity ${m.identity}`} width={112} height={112} loading="lazy" />
          <span className="match-identity" data-testid="match-identity">
            {m.identity}
          </span>
          <span className="match-score" data-testid="match-score">
            {m.score.toFixed(4)}
          </span>
          {i === 0 && <span className="match-tag">best match</span>}
        </li>
      ))}
    </ol>
  );
}

/** "N faces found — the largest was used", when there were several. */
export function FacesFound({ count }: { count: number }) {
  if (count <= 1) return null;
  return (
    <p className="notice small" data-testid="faces-found">
      {count} faces found — the largest was used
    </p>
  );
}

/** The heading over a search's matches. */
export function MatchesHeading(props: { galleryName: string; matched: boolean; topK: number; threshold: number | string }) {
  return (
    <h2>
      {props.matched ? `Matches in ${props.galleryName}` : `Search in ${props.galleryName}`}{' '}
      <span className="muted small">
        top {props.topK}, threshold {props.threshold}
      </span>
    </h2>
  );
}
