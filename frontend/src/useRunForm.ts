// The state and the submit of a form that starts a run on a dataset (the centralized and the
// federated training forms): the datasets to choose from, the form's values, which errors
// show (the server's, else the form's own once a field was touched or the form submitted),
// focus on the first field in error (opening "Advanced" when it is there), and the start.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError, messageOf } from './api';
import { fieldKit } from './components/formFields';
import { listDatasets } from './datasets';
import type { Dataset, Job } from './types';

type Errors<F extends string> = Partial<Record<F, string>>;

export interface RunFormSpec<F extends string, Form extends { dataset: string }, Request> {
  defaults: Form;
  /** Fields in the order they stand on the page (the first in error gets the focus). */
  fieldOrder: readonly F[];
  /** Fields inside the "Advanced" section. */
  advanced: readonly F[];
  idOf: (f: F) => string;
  labelOf: (f: F) => string;
  validate: (form: Form, dataset: Dataset | null) => { errors: Errors<F>; request?: Request | null };
  start: (request: Request) => Promise<Job>;
  /** The server's error: on its fields, or general. */
  placeError: (err: unknown) => { fields: Errors<F>; general: string | null };
}

/** An estimate's error: the server's field errors with the form's labels, else its message. */
export function fieldErrorsText(err: unknown, labelOf: (name: string) => string | undefined): string {
  if (err instanceof ApiError && Object.keys(err.fieldErrors).length) {
    return Object.entries(err.fieldErrors)
      .map(([f, msgs]) => `${labelOf(f) ?? f}: ${msgs.join(' ')}`)
      .join('; ');
  }
  return messageOf(err);
}

export function useRunForm<F extends string, Form extends { dataset: string } & Record<F, unknown>, Request>(
  spec: RunFormSpec<F, Form, Request>,
) {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [datasetsError, setDatasetsError] = useState<string | null>(null);
  const [form, setForm] = useState<Form>(() => ({ ...spec.defaults, dataset: params.get('dataset') ?? '' }));
  const [touched, setTouched] = useState<ReadonlySet<F>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<Errors<F>>({});
  const [generalError, setGeneralError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [advancedOpen, setAdvancedOpen] = useState(false);

  const loadDatasets = useCallback(async () => {
    setDatasetsError(null);
    try {
      setDatasets((await listDatasets()).results);
    } catch (err) {
      setDatasetsError(`Could not list your datasets: ${messageOf(err)}`);
    }
  }, []);
  useEffect(() => {
    void loadDatasets();
  }, [loadDatasets]);

  const ready = useMemo(() => (datasets ?? []).filter((d) => d.status === 'ready'), [datasets]);
  // Default to the first ready dataset once the list arrives (unless the URL named one).
  useEffect(() => {
    if (ready.length && !form.dataset) setForm((f) => (f.dataset ? f : { ...f, dataset: String(ready[0].id) }));
  }, [ready, form.dataset]);
  const dataset = datasets?.find((d) => String(d.id) === form.dataset) ?? null;

  const validated = spec.validate(form, dataset);
  const shownError = (f: F): string | undefined =>
    serverErrors[f] ?? (submitted || touched.has(f) ? validated.errors[f] : undefined);

  function set<K extends F>(field: K, value: Form[K]) {
    setForm((f) => ({ ...f, [field]: value }));
    if (serverErrors[field]) setServerErrors(({ [field]: _, ...rest }) => rest as Errors<F>);
  }
  const touch = (field: F) => setTouched((t) => (t.has(field) ? t : new Set(t).add(field)));

  function focusFirst(errors: Errors<F>) {
    const first = spec.fieldOrder.find((f) => errors[f]);
    if (!first) return;
    if (spec.advanced.includes(first)) setAdvancedOpen(true);
    setTimeout(() => document.getElementById(spec.idOf(first))?.focus(), 0);
  }

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    setGeneralError(null);
    setServerErrors({});
    const { errors, request } = spec.validate(form, dataset);
    if (!request) {
      if (spec.advanced.some((f) => errors[f])) setAdvancedOpen(true);
      focusFirst(errors);
      return;
    }
    setBusy(true);
    try {
      const job = await spec.start(request);
      navigate(`/jobs/${job.id}`);
    } catch (err) {
      const placed = spec.placeError(err);
      setServerErrors(placed.fields);
      setGeneralError(placed.general);
      if (spec.advanced.some((f) => placed.fields[f])) setAdvancedOpen(true);
      focusFirst(placed.fields);
      setBusy(false);
    }
  }

  // Field helpers: a labelled control with its error (and hint) under it.
  const kit = fieldKit<F>({
    idOf: spec.idOf,
    labelOf: spec.labelOf,
    valueOf: (f) => String(form[f]),
    set: (f, value) => set(f, value as never),
    touch,
    errorOf: shownError,
  });

  return {
    datasets, datasetsError, loadDatasets, ready, dataset, form, set, validated, shownError, submitted,
    generalError, busy, advancedOpen, setAdvancedOpen, onSubmit, kit,
  };
}
