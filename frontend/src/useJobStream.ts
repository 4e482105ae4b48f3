// React hook: live job state from the websocket (see jobStream.ts).
import { useEffect, useRef, useState } from 'react';
import { applyEvent } from './jobs';
import { JobStream } from './jobStream';
import type { StreamState } from './jobStream';
import type { Job, JobEvent } from './types';

const MAX_EVENTS = 1000;

export interface Connection {
  state: StreamState;
  detail?: string;
}

export interface JobStreamHookOptions {
  /** Called once per new event (deduplicated), before the hook's own state updates; need not be stable. */
  onEvent?: (event: JobEvent) => void;
}

export function useJobStream(jobId: number, options: JobStreamHookOptions = {}) {
  const [job, setJob] = useState<Job | null>(null);
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [connection, setConnection] = useState<Connection>({ state: 'connecting' });
  const onEventRef = useRef(options.onEvent);
  useEffect(() => {
    onEventRef.current = options.onEvent;
  });

  useEffect(() => {
    setJob(null);
    setEvents([]);
    const stream = new JobStream({
      jobId,
      onJob: setJob,
      onEvent: (ev) => {
        onEventRef.current?.(ev);
        setJob((current) => (current ? applyEvent(current, ev) : current));
        setEvents((list) => [...list, ev].slice(-MAX_EVENTS));
      },
      onStateChange: (state, detail) => setConnection({ state, detail }),
    });
    stream.start();
    return () => stream.stop();
  }, [jobId]);

  return { job, setJob, events, connection };
}
