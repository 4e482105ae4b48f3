import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation, useParams } from 'react-router-dom';
import { beforeEach, describe, expect, it } from 'vitest';
import { labelFromFileName } from '../galleries';
import { stubFetch } from '../test/fakeFetch';
import type { FakeCall } from '../test/fakeFetch';
import { makeDataset, makeGallery, makeJob } from '../test/fixtures';
import { GalleriesPage } from './GalleriesPage';

function Opened() {
  const state = useLocation().state as { uploadError?: string } | null;
  return (
    <>
      <h1>Opened gallery {useParams().id}</h1>
      {state?.uploadError && <p>{state.uploadError}</p>}
    </>
  );
}

function renderPage() {
  return render(
    <MemoryRouter initialEntries={['/galleries']}>
      <Routes>
        <Route path="/galleries" element={<GalleriesPage />} />
        <Route path="/galleries/:id" element={<Opened />} />
      </Routes>
    </MemoryRouter>,
  );
}

const page = (results: unknown[]) => ({ body: { count: results.length, next: null, previous: null, results } });

function server(post: (call: FakeCall) => { status?: number; body?: unknown } | undefined) {
  return stubFetch((c) => {
    if (c.method === 'GET' && c.url === '/api/galleries/') {
      return page([makeGallery({ id: 3, name: 'friends', identities: 7, templates: 21, mode: 'all' })]);
    }
    if (c.method === 'GET' && c.url === '/api/datasets/') {
      return page([
        makeDataset({ id: 2, name: 'uploading one', status: 'uploading' }),
        makeDataset({ id: 4, name: 'webface', status: 'ready', images: 80, identities: 10 }),
      ]);
    }
    return c.method === 'POST' ? post(c) : undefined;
  });
}

const photo = (name: string) => new File(['jpeg'], name, { type: 'image/jpeg' });

describe('GalleriesPage', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
  });

  it('lists the galleries with status, counts and the embedder note', async () => {
    server(() => undefined);
    renderPage();
    const row = await screen.findByTestId('gallery-row-3');
    expect(within(row).getByRole('link', { name: 'friends' })).toHaveAttribute('href', '/galleries/3');
    expect(within(row).getByTestId('gallery-status')).toHaveTextContent('ready');
    expect(within(row).getByText('labelled photos')).toBeInTheDocument();
    expect(within(row).getByText('7')).toBeInTheDocument();
    expect(within(row).getByText('21')).toBeInTheDocument();
    expect(within(row).getByText('dlib-resnet-v1')).toBeInTheDocument();
    expect(within(row).getByTestId('embedder-note')).toHaveTextContent('non-private reference model');
  });

  it('creates a gallery from a ready dataset (JSON) and opens it', async () => {
    const calls = server((c) =>
      c.url === '/api/galleries/'
        ? { status: 202, body: { gallery: makeGallery({ id: 9, source: 'dataset', status: 'enrolling' }), job: makeJob({ id: 40 }) } }
        : undefined,
    );
    renderPage();
    const select = (await screen.findByLabelText('Dataset')) as HTMLSelectElement;
    // Only ready datasets are offered.
    expect(within(select).getAllByRole('option').map((o) => o.textContent)).toEqual([
      'webface — 10 identities, 80 images',
    ]);
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: ' webface gallery ' } });
    fireEvent.change(screen.getByLabelText('Templates'), { target: { value: 'all' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create gallery' }));
    expect(await screen.findByRole('heading', { name: 'Opened gallery 9' })).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'POST')).toEqual([
      expect.objectContaining({
        url: '/api/galleries/',
        body: { name: 'webface gallery', source: 'dataset', dataset: 4, mode: 'all' },
        headers: expect.objectContaining({ 'Content-Type': 'application/json', 'X-CSRFToken': 'tok' }),
      }),
    ]);
  });

  it('offers the reference embedder or a ready model of the registry, with its privacy, and sends its id', async () => {
    const calls = stubFetch((c) => {
      if (c.method === 'GET' && c.url === '/api/galleries/') return page([]);
      if (c.method === 'GET' && c.url === '/api/datasets/') {
        return page([makeDataset({ id: 4, name: 'webface', status: 'ready', images: 80, identities: 10 })]);
      }
      if (c.method === 'GET' && c.url === '/api/models/') {
        return page([
          { id: 7, name: 'casia dp', private: true, epsilon: 7.9223, delta: 0.001, ready: true,
            dp_unit: 'one image (example-level DP, not identity-level)', galleries: [] },
          { id: 8, name: 'plain', private: false, epsilon: null, delta: null, ready: true, galleries: [] },
          { id: 9, name: 'no export', private: false, epsilon: null, delta: null, ready: false, galleries: [] },
        ]);
      }
      if (c.method === 'POST' && c.url === '/api/galleries/') {
        return { status: 202, body: { gallery: makeGallery({ id: 11, status: 'enrolling' }), job: makeJob({ id: 42 }) } };
      }
      return undefined;
    });
    renderPage();
    const select = (await screen.findByLabelText('Embedder')) as HTMLSelectElement;
    await waitFor(() => expect(within(select).getAllByRole('option')).toHaveLength(3));
    expect(within(select).getAllByRole('option').map((o) => o.textContent)).toEqual([
      'reference dlib ResNet — not private (public weights)',
      'casia dp — ε 7.92, δ 1e-3 (one image)',
      'plain — not private (trained without DP)',
    ]);
    fireEvent.change(select, { target: { value: '7' } });
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'dp gallery' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create gallery' }));
    expect(await screen.findByRole('heading', { name: 'Opened gallery 11' })).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'POST')[0].body).toEqual({
      name: 'dp gallery', source: 'dataset', dataset: 4, mode: 'mean', model: 7,
    });
  });

  it('creates an images gallery, then sends the photos and their labels as multipart', async () => {
    const calls = server((c) => {
      if (c.url === '/api/galleries/') return { status: 201, body: { gallery: makeGallery({ id: 10, status: 'empty' }), job: null } };
      if (c.url === '/api/galleries/10/images/') {
        return { status: 202, body: { gallery: makeGallery({ id: 10, status: 'enrolling' }), job: makeJob({ id: 41 }) } };
      }
      return undefined;
    });
    renderPage();
    await screen.findByTestId('gallery-row-3');
    fireEvent.click(screen.getByLabelText('from labelled photos'));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'friends 2' } });
    fireEvent.change(screen.getByLabelText('Photos'), {
      target: { files: [photo('alice_01.jpg'), photo('bob-smith-2.png'), photo('carol.jpg')] },
    });
    expect(screen.getByTestId('photos-chosen')).toHaveTextContent('3 photos chosen');
    expect(screen.getByLabelText('Label for alice_01.jpg')).toHaveValue('alice');
    expect(screen.getByLabelText('Label for bob-smith-2.png')).toHaveValue('bob');
    expect(screen.getByLabelText('Label for carol.jpg')).toHaveValue('carol');
    fireEvent.change(screen.getByLabelText('Label for carol.jpg'), { target: { value: 'Carol King' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create gallery' }));
    expect(await screen.findByRole('heading', { name: 'Opened gallery 10' })).toBeInTheDocument();

    const posts = calls.filter((c) => c.method === 'POST');
    expect(posts.map((c) => c.url)).toEqual(['/api/galleries/', '/api/galleries/10/images/']);
    expect(posts[0].body).toEqual({ name: 'friends 2', source: 'images', mode: 'mean' });
    const upload = posts[1];
    expect(upload.headers['Content-Type']).toBeUndefined(); // the browser adds multipart + boundary
    expect(upload.headers['X-CSRFToken']).toBe('tok');
    const form = upload.rawBody as FormData;
    expect(form).toBeInstanceOf(FormData);
    expect((form.getAll('files') as File[]).map((f) => f.name)).toEqual(['alice_01.jpg', 'bob-smith-2.png', 'carol.jpg']);
    expect(form.getAll('labels')).toEqual(['alice', 'bob', 'Carol King']);
    expect(form.get('labels_csv')).toBeNull();
  });

  it('sends a labels CSV instead of labels; a refused upload opens the gallery with the error', async () => {
    const calls = server((c) => {
      if (c.url === '/api/galleries/') return { status: 201, body: { gallery: makeGallery({ id: 11, status: 'empty' }), job: null } };
      return { status: 400, body: { labels_csv: ['no row for x.jpg'] } };
    });
    renderPage();
    await screen.findByTestId('gallery-row-3');
    fireEvent.click(screen.getByLabelText('from labelled photos'));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'csv' } });
    fireEvent.change(screen.getByLabelText('Photos'), { target: { files: [photo('img1.jpg'), photo('x.jpg')] } });
    fireEvent.change(screen.getByLabelText('Labels CSV (optional)'), {
      target: { files: [new File(['file,identity\nimg1.jpg,person_00\n'], 'labels.csv', { type: 'text/csv' })] },
    });
    expect(screen.getByLabelText('Label for img1.jpg')).toBeDisabled();
    fireEvent.click(screen.getByRole('button', { name: 'Create gallery' }));
    expect(await screen.findByRole('heading', { name: 'Opened gallery 11' })).toBeInTheDocument();
    expect(screen.getByText('The photos were not accepted: labels_csv: no row for x.jpg')).toBeInTheDocument();
    const form = calls.filter((c) => c.method === 'POST')[1].rawBody as FormData;
    expect((form.get('labels_csv') as File).name).toBe('labels.csv');
    expect(form.getAll('labels')).toEqual([]);
    expect(form.getAll('files')).toHaveLength(2);
  });

  it('checks the form before sending anything', async () => {
    const calls = server(() => ({ status: 400, body: { name: ['you already have a gallery named \'friends\''] } }));
    renderPage();
    await screen.findByTestId('gallery-row-3');
    fireEvent.click(screen.getByLabelText('from labelled photos'));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'friends' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create gallery' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Choose at least one photo.');
    fireEvent.change(screen.getByLabelText('Photos'), { target: { files: [photo('a.jpg')] } });
    fireEvent.change(screen.getByLabelText('Label for a.jpg'), { target: { value: ' ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create gallery' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Give a label to a.jpg.');
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0);
    fireEvent.change(screen.getByLabelText('Label for a.jpg'), { target: { value: 'a' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create gallery' }));
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent("name: you already have a gallery named 'friends'"));
  });
});

describe('labelFromFileName', () => {
  it('takes the name up to the first _ or -, without the extension', () => {
    expect(labelFromFileName('alice_01.jpg')).toBe('alice');
    expect(labelFromFileName('bob-smith-2.png')).toBe('bob');
    expect(labelFromFileName('img1.jpg')).toBe('img1');
    expect(labelFromFileName('dir/carol.JPEG')).toBe('carol');
    expect(labelFromFileName('_x.jpg')).toBe('_x');
  });
});
