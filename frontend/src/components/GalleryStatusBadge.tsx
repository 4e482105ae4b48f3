import type { GalleryStatus } from '../types';

export function GalleryStatusBadge({ status }: { status: GalleryStatus }) {
  return (
    <span className={`badge badge-gal-${status}`} data-testid="gallery-status">
      {status}
    </span>
  );
}
