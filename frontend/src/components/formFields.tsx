// Shared form-field pieces of the run forms (centralized and federated training): a labelled
// control with its hint and error under it, number inputs and selects wired to a form's state.
// One kit per form: `fieldKit({...})` returns render helpers bound to that form.
import type { ReactNode } from 'react';

export interface FieldKitOptions<F extends string> {
  /** The control's element id (its error is `<id>-error`, its hint `<id>-hint`). */
  idOf: (f: F) => string;
  labelOf: (f: F) => string;
  valueOf: (f: F) => string;
  set: (f: F, value: string) => void;
  touch: (f: F) => void;
  /** The error shown now (server error, or a client-side one once touched/submitted). */
  errorOf: (f: F) => string | undefined;
}

export interface NumberInputExtra {
  min?: number;
  max?: number;
  step?: string;
}

export interface FieldKit<F extends string> {
  describedBy: (f: F, hint?: boolean) => string | undefined;
  field: (f: F, control: ReactNode, hint?: ReactNode, className?: string) => ReactNode;
  numberInput: (f: F, hint?: ReactNode, extra?: NumberInputExtra) => ReactNode;
  select: (f: F, options: readonly string[], labels: Record<string, string>, hint?: ReactNode) => ReactNode;
  textInput: (f: F, extra?: { placeholder?: string; maxLength?: number; className?: string }) => ReactNode;
  /** The error line alone (for controls laid out by hand, e.g. a checkbox). */
  errorLine: (f: F) => ReactNode;
}

export function fieldKit<F extends string>({ idOf, labelOf, valueOf, set, touch, errorOf }: FieldKitOptions<F>): FieldKit<F> {
  const describedBy = (f: F, hint?: boolean) =>
    [errorOf(f) ? `${idOf(f)}-error` : '', hint ? `${idOf(f)}-hint` : ''].filter(Boolean).join(' ') || undefined;
  const errorLine = (f: F) =>
    errorOf(f) ? (
      <span className="field-error" id={`${idOf(f)}-error`} role="alert">
        {errorOf(f)}
      </span>
    ) : null;
  const field = (f: F, control: ReactNode, hint?: ReactNode, className = '') => (
    <div className={`field ${className}`}>
      <label htmlFor={idOf(f)}>{labelOf(f)}</label>
      {control}
      {hint && (
        <span className="field-hint" id={`${idOf(f)}-hint`}>
          {hint}
        </span>
      )}
      {errorLine(f)}
    </div>
  );
  const numberInput = (f: F, hint?: ReactNode, extra: NumberInputExtra = {}) =>
    field(
      f,
      <input
        id={idOf(f)}
        type="number"
        inputMode="decimal"
        step={extra.step ?? 'any'}
        min={extra.min}
        max={extra.max}
        value={valueOf(f)}
        onChange={(e) => set(f, e.target.value)}
        onBlur={() => touch(f)}
        aria-invalid={errorOf(f) ? true : undefined}
        aria-describedby={describedBy(f, Boolean(hint))}
        className="input-narrow"
      />,
      hint,
    );
  const select = (f: F, options: readonly string[], labels: Record<string, string>, hint?: ReactNode) =>
    field(
      f,
      <select
        id={idOf(f)}
        value={valueOf(f)}
        onChange={(e) => set(f, e.target.value)}
        aria-invalid={errorOf(f) ? true : undefined}
        aria-describedby={describedBy(f, Boolean(hint))}
      >
        {options.map((o) => (
          <option key={o} value={o}>
            {labels[o] ?? o}
          </option>
        ))}
      </select>,
      hint,
    );
  const textInput = (f: F, extra: { placeholder?: string; maxLength?: number; className?: string } = {}) =>
    field(
      f,
      <input
        id={idOf(f)}
        value={valueOf(f)}
        maxLength={extra.maxLength}
        placeholder={extra.placeholder}
        onChange={(e) => set(f, e.target.value)}
        onBlur={() => touch(f)}
        aria-invalid={errorOf(f) ? true : undefined}
        aria-describedby={describedBy(f)}
        className={extra.className}
      />,
    );
  return { describedBy, field, numberInput, select, textInput, errorLine };
}

/** The labels of the model fields, shared by both run forms. */
export const MODEL_LABELS: Record<string, string> = {
  mobilefacenet: 'MobileFaceNet (small, fast)',
  iresnet18: 'iResNet-18',
  iresnet50: 'iResNet-50 (large)',
};
export const HEAD_LABELS: Record<string, string> = { arcface: 'ArcFace', cosface: 'CosFace', softmax: 'Softmax' };
export const OPTIMIZER_LABELS: Record<string, string> = { sgd: 'SGD (momentum)', adam: 'Adam' };
export const ACCOUNTANT_LABELS: Record<string, string> = { rdp: 'RDP', pld: 'PLD (tighter, slower)' };
