// One page of a list endpoint, loaded when the component mounts and on `reload()` (the
// "Refresh" buttons) — never on a timer. `setItems`/`setCount` let a page add what it created.
import { useCallback, useEffect, useState } from 'react';
import { messageOf } from './api';
import type { Page } from './types';

export function usePageList<T>(fetchPage: () => Promise<Page<T>>) {
  const [items, setItems] = useState<T[] | null>(null);
  const [count, setCount] = useState(0);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(async () => {
    setError(null);
    try {
      const page = await fetchPage();
      setItems(page.results);
      setCount(page.count);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [fetchPage]);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { items, setItems, count, setCount, error, reload };
}
