// A server estimate (ε of a planned run) asked ESTIMATE_DEBOUNCE_MS after the last edit of
// one of its inputs: not a polling loop. `queryKey` is the JSON of the request body (null:
// nothing to ask); an answer that arrives after the inputs changed again is dropped.
import { useEffect, useRef, useState } from 'react';

/** Wait this long after the last edit before asking the server. */
export const ESTIMATE_DEBOUNCE_MS = 300;

export type Estimate<R, Q> =
  | { state: 'idle' }
  | { state: 'pending'; last: R | null }
  | { state: 'done'; result: R; query: Q }
  | { state: 'error'; error: string };

export function useDebouncedEstimate<Q, R>(
  queryKey: string | null,
  ask: (query: Q) => Promise<R>,
  errorOf: (err: unknown) => string,
): Estimate<R, Q> {
  const [estimate, setEstimate] = useState<Estimate<R, Q>>({ state: 'idle' });
  const latestQuery = useRef<string | null>(null);
  // The callbacks may be new on every render; the request uses the latest ones.
  const askRef = useRef(ask);
  const errorRef = useRef(errorOf);
  askRef.current = ask;
  errorRef.current = errorOf;

  useEffect(() => {
    latestQuery.current = queryKey;
    if (!queryKey) {
      setEstimate({ state: 'idle' });
      return;
    }
    setEstimate((e) => ({ state: 'pending', last: e.state === 'done' ? e.result : e.state === 'pending' ? e.last : null }));
    const timer = setTimeout(() => {
      const query = JSON.parse(queryKey) as Q;
      askRef
        .current(query)
        .then((result) => latestQuery.current === queryKey && setEstimate({ state: 'done', result, query }))
        .catch((err) => latestQuery.current === queryKey && setEstimate({ state: 'error', error: errorRef.current(err) }));
    }, ESTIMATE_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [queryKey]);
  useEffect(
    () => () => {
      latestQuery.current = null; // unmounted: drop answers still on the way
    },
    [],
  );
  return estimate;
}
