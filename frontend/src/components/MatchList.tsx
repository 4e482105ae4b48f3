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
