import type { DatasetStatus } from '../types';

export function DatasetStatusBadge({ status }: { status: DatasetStatus }) {
  return (
    <span className={`badge badge-ds-${status}`} data-testid="dataset-status">
      {status}
    </span>
  );
}
