import type { Embedder } from '../types';

/** The embedder's name, with a warning when it was not trained with a privacy guarantee. */
export function EmbedderName({ embedder }: { embedder: Embedder | null | undefined }) {
  if (!embedder) return <>—</>;
  return (
    <span className="embedder" title={embedder.source ? `${embedder.name} (${embedder.source})` : embedder.name}>
      <code>{embedder.name}</code>
      {embedder.private === false && (
        <span className="note-warning" data-testid="embedder-note">
          {embedder.model || embedder.source === 'trained' ? 'not private (trained without DP)' : 'non-private reference model'}
        </span>
      )}
    </span>
  );
}
