import type { ChangeEvent } from 'react';
import { formatBytes } from '../datasets';
import { labelFromFileName, MAX_PHOTOS_PER_UPLOAD, PHOTO_ACCEPT } from '../galleries';
import type { PhotoLabels } from '../galleries';

/** Photos picked for enrollment, a label per photo, or a labels CSV that names them. */
export interface LabelledPhotos {
  files: File[];
  labels: string[];
  csv: File | null;
}

export const NO_PHOTOS: LabelledPhotos = { files: [], labels: [], csv: null };

/** Why these photos cannot be sent yet, or null. */
export function labelledPhotosProblem(v: LabelledPhotos): string | null {
  if (v.files.length === 0) return 'Choose at least one photo.';
  if (v.files.length > MAX_PHOTOS_PER_UPLOAD) {
    return `${v.files.length} photos chosen: one upload may carry at most ${MAX_PHOTOS_PER_UPLOAD}. Add the rest afterwards.`;
  }
  if (!v.csv) {
    const missing = v.files.filter((_, i) => !v.labels[i]?.trim()).map((f) => f.name);
    if (missing.length) return `Give a label to ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}.`;
  }
  return null;
}

export function toPhotoLabels(v: LabelledPhotos): PhotoLabels {
  return v.csv ? { labelsCsv: v.csv } : { labels: v.files.map((_, i) => v.labels[i].trim()) };
}

interface Props {
  value: LabelledPhotos;
  onChange: (value: LabelledPhotos) => void;
  disabled?: boolean;
}

/** A multiple file input, one label box per photo (prefilled from its file name), and an optional labels CSV. */
export function LabelledPhotosFields({ value, onChange, disabled = false }: Props) {
  function onPickPhotos(e: ChangeEvent<HTMLInputElement>) {
    const files = Array.from(e.target.files ?? []);
    onChange({ ...value, files, labels: files.map((f) => labelFromFileName(f.name)) });
  }

  function onPickCsv(e: ChangeEvent<HTMLInputElement>) {
    onChange({ ...value, csv: e.target.files?.[0] ?? null });
  }

  function setLabel(i: number, label: string) {
    const labels = [...value.labels];
    labels[i] = label;
    onChange({ ...value, labels });
  }

  const total = value.files.reduce((n, f) => n + f.size, 0);

  return (
    <div className="labelled-photos">
      <div className="form-row">
        <label>
          Photos
          <input type="file" multiple accept={PHOTO_ACCEPT} onChange={onPickPhotos} disabled={disabled} />
        </label>
        <label>
          Labels CSV (optional)
          <input type="file" accept=".csv,text/csv" onChange={onPickCsv} disabled={disabled} />
        </label>
      </div>
      <p className="muted small">
        JPEG, PNG, WebP or BMP, up to {MAX_PHOTOS_PER_UPLOAD} per upload. Each photo needs the name of its person: edit the
        labels below (suggested from the file name up to the first <code>_</code> or <code>-</code>), or choose a CSV with
        the header <code>file,identity</code> naming the photos.
      </p>
      {value.files.length > 0 && (
        <>
          <p className="small" data-testid="photos-chosen">
            {value.files.length} photo{value.files.length === 1 ? '' : 's'} chosen ({formatBytes(total)})
            {value.csv && (
              <>
                {' '}
                — labels from <code>{value.csv.name}</code>
              </>
            )}
          </p>
          <ol className="photo-labels">
            {value.files.map((f, i) => (
              <li key={`${i}-${f.name}`}>
                <span className="photo-name" title={f.name}>
                  {f.name}
                </span>
                <input
                  aria-label={`Label for ${f.name}`}
                  value={value.labels[i] ?? ''}
                  onChange={(e) => setLabel(i, e.target.value)}
                  disabled={disabled || value.csv !== null}
                  maxLength={100}
                />
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
