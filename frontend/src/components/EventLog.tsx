import { useEffect, useRef } from 'react';
import type { JobEvent } from '../types';

function summary(ev: JobEvent): string {
  const p = ev.payload ?? {};
  switch (ev.kind) {
    case 'status':
      return [p.status, p.message, p.error].filter(Boolean).join(' — ');
    case 'progress': {
      const pct = typeof p.progress === 'number' ? `${Math.round(p.progress * 100)}%` : '';
      const step = p.step != null && p.total != null ? `step ${p.step}/${p.total}` : '';
      return [pct, p.message || step].filter(Boolean).join(' · ');
    }
    case 'log':
      return String(p.message ?? '');
    default:
      return JSON.stringify(p);
  }
}

export function EventLog({ events }: { events: JobEvent[] }) {
  const box = useRef<HTMLOListElement>(null);

  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [events]);

  if (events.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <ol className="event-log" ref={box} aria-label="Event log">
      {events.map((ev) => (
        <li key={ev.id} className={`event event-kind-${ev.kind}`}>
          <time dateTime={ev.time}>{new Date(ev.time).toLocaleTimeString()}</time>
          <span className="event-kind">{ev.kind}</span>
          <span className="event-text">{summary(ev)}</span>
        </li>
      ))}
    </ol>
  );
}
