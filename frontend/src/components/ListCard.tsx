import type { ReactNode } from 'react';

/**
 * The card around a list page's table: "Loading…" until the items arrive (unless there is an
 * error), `empty` when there are none, otherwise `children(items)`; and a note when the server
 * has more than it sent.
 */
export function ListCard<T>({
  items,
  count,
  error,
  noun,
  empty,
  children,
}: {
  items: T[] | null;
  count: number;
  error: string | null;
  /** Plural, for "Showing the newest 50 of 80 <noun>." */
  noun: string;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
}) {
  return (
    <section className="card">
      {items === null ? (!error && <p className="muted">Loading…</p>) : items.length === 0 ? empty : children(items)}
      {items && count > items.length && (
        <p className="muted">
          Showing the newest {items.length} of {count} {noun}.
        </p>
      )}
    </section>
  );
}
