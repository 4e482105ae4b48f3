import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { stubFetch } from '../test/fakeFetch';
import type { FakeCall } from '../test/fakeFetch';
import { makeGallery, makeSearchResult } from '../test/fixtures';
import { SearchPage } from './SearchPage';

const page = (results: unknown[]) => ({ body: { count: results.length, next: null, previous: null, results } });

function renderSearch(url = '/search?gallery=3') {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        <Route path="/search" element={<SearchPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

/** The galleries list, plus `search` answering POST …/search/. */
function server(search: (call: FakeCall) => { status?: number; body?: unknown }) {
  return stubFetch((c) => {
    if (c.method === 'GET' && c.url === '/api/galleries/') {
      return page([
        makeGallery({ id: 5, name: 'empty one', status: 'empty', templates: 0, identities: 0 }),
        makeGallery({ id: 3, name: 'friends' }),
        makeGallery({ id: 4, name: 'colleagues', embedder: { ...makeGallery().embedder, default_threshold: 0.8 } }),
      ]);
    }
    if (c.method === 'POST' && /^\/api\/galleries\/\d+\/search\/$/.test(c.url)) return search(c);
    return undefined;
  });
}

async function searchPhoto(name = 'me.jpg') {
  const input = screen.getByLabelText('Photo');
  fireEvent.change(input, { target: { files: [new File(['jpeg bytes'], name, { type: 'image/jpeg' })] } });
  expect(await screen.findByTestId('photo-name')).toHaveTextContent(name);
  fireEvent.click(screen.getByRole('button', { name: 'Search' }));
}

describe('SearchPage', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
  });

  it('searches the chosen gallery and shows the matches, the crop and what the server saw', async () => {
    URL.createObjectURL = vi.fn(() => 'blob:preview');
    URL.revokeObjectURL = vi.fn();
    const calls = server(() => ({ body: makeSearchResult({ faces_found: 3 }) }));
    renderSearch();

    const select = (await screen.findByLabelText('Gallery')) as HTMLSelectElement;
    await waitFor(() => expect(select.value).toBe('3'));
    // Only searchable galleries are offered; the threshold comes from the gallery's embedder.
    expect(within(select).queryByText(/empty one/)).toBeNull();
    expect(screen.getByLabelText('Threshold')).toHaveValue(0.92);
    expect(screen.getByLabelText('Top k')).toHaveValue(5);
    expect(screen.getByRole('button', { name: 'Search' })).toBeDisabled();
    fireEvent.change(screen.getByLabelText('Top k'), { target: { value: '3' } });

    await searchPhoto();
    expect(screen.getByAltText('Photo to search')).toHaveAttribute('src', 'blob:preview');
    const result = await screen.findByTestId('search-result');

    // Opening the gallery asked the workers to encode it (no body); then the search.
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/galleries/3/warm/', '/api/galleries/3/search/']);
    expect(calls.find((c) => c.url === '/api/galleries/3/warm/')!.rawBody).toBeUndefined();
    const post = calls.find((c) => c.method === 'POST' && c.url.endsWith('/search/'))!;
    expect(post.url).toBe('/api/galleries/3/search/');
    expect(post.headers['Content-Type']).toBeUndefined();
    expect(post.headers['X-CSRFToken']).toBe('tok');
    const form = post.rawBody as FormData;
    expect((form.get('image') as File).name).toBe('me.jpg');
    expect(form.get('top_k')).toBe('3');
    expect(form.get('threshold')).toBe('0.92');

    expect(within(result).getByAltText('Aligned face crop')).toHaveAttribute('src', 'data:image/jpeg;base64,/9j/AA==');
    expect(within(result).getByTestId('faces-found')).toHaveTextContent('3 faces found — the largest was used');
    const best = within(result).getByTestId('match-0');
    expect(best).toHaveClass('match-best');
    expect(within(best).getByTestId('match-identity')).toHaveTextContent('person_01');
    expect(within(best).getByTestId('match-score')).toHaveTextContent('0.9644');
    expect(within(best).getByAltText('identity person_01')).toHaveAttribute(
      'src',
      'http://localhost/api/galleries/3/identities/person_01/thumbnail/?v=3',
    );
    expect(within(result).getByTestId('match-1')).not.toHaveClass('match-best');
    expect(within(result).queryByTestId('no-match')).toBeNull();

    const saw = within(result).getByRole('region', { name: 'What the server saw' });
    expect(within(saw).getByTestId('upload-bytes')).toHaveTextContent('65.8 KB');
    expect(within(saw).getByTestId('context-bytes')).toHaveTextContent('263 KB');
    expect(within(saw).getByTestId('response-bytes')).toHaveTextContent('131 KB');
    expect(within(saw).getByTestId('shards')).toHaveTextContent('1');
    expect(within(saw).getByTestId('total-seconds')).toHaveTextContent('339 ms');
    expect(within(saw).getByText(/178 ms/)).toHaveTextContent('(incl. 119 ms encoding the gallery)');

    // Another gallery brings its own default threshold and clears the result.
    fireEvent.change(select, { target: { value: '4' } });
    await waitFor(() => expect(screen.getByLabelText('Threshold')).toHaveValue(0.8));
    expect(screen.queryByTestId('search-result')).toBeNull();
  });

  it('shows the open-set "no match" state', async () => {
    server(() => ({ body: makeSearchResult({ matches: [], matched: false }) }));
    renderSearch();
    await waitFor(() => expect(screen.getByLabelText('Gallery')).toHaveValue('3'));
    await searchPhoto('stranger.png');
    const none = await screen.findByTestId('no-match');
    expect(none).toHaveTextContent('No match in friends');
    expect(none).toHaveTextContent('threshold 0.92');
    expect(screen.queryByTestId('match-0')).toBeNull();
    expect(screen.getByRole('region', { name: 'What the server saw' })).toBeInTheDocument();
  });

  it('shows the model and its privacy with each result, and uses the gallery\'s calibrated threshold', async () => {
    const trained = {
      name: 'keras:10aa79f6da3ca1db', dim: 512, private: true, source: 'trained', default_threshold: 0.57,
      model: { id: 7, name: 'casia dp' }, model_name: 'casia dp',
      privacy: { private: true, epsilon: 7.9223, delta: 0.001, unit: 'one image (example-level DP, not identity-level)', accountant: 'rdp' },
    };
    const calls = stubFetch((c) => {
      if (c.method === 'GET' && c.url === '/api/galleries/') {
        return page([makeGallery({ id: 6, name: 'dp', model: 7, threshold: 0.9283, embedder: trained })]);
      }
      if (c.method === 'POST' && c.url.endsWith('/search/')) return { body: makeSearchResult({ threshold: 0.9283, embedder: trained }) };
      return undefined;
    });
    renderSearch('/search?gallery=6');
    await waitFor(() => expect(screen.getByLabelText('Threshold')).toHaveValue(0.9283));
    // A calibrated threshold has 4 decimals: the browser must not refuse the form over its step.
    expect((screen.getByLabelText('Threshold') as HTMLInputElement).checkValidity()).toBe(true);
    await searchPhoto();
    expect(await screen.findByTestId('result-model')).toHaveTextContent('Model: casia dp (model #7)');
    expect(screen.getByTestId('result-privacy')).toHaveTextContent('ε 7.92, δ 1e-3, DP unit: one image');
    expect(screen.getByTestId('embedding-worker')).toHaveTextContent('embedded by a worker');
    const form = calls.find((c) => c.method === 'POST' && c.url.endsWith('/search/'))!.rawBody as FormData;
    expect(form.get('threshold')).toBe('0.9283');
  });

  it('says a reference result is not private', async () => {
    server(() => ({ body: makeSearchResult({ embedder: { ...makeGallery().embedder, privacy: {
      private: false, epsilon: null, delta: null, unit: null, accountant: null } } }) }));
    renderSearch();
    await waitFor(() => expect(screen.getByLabelText('Gallery')).toHaveValue('3'));
    await searchPhoto();
    expect(await screen.findByTestId('result-privacy')).toHaveTextContent('not private (public reference weights)');
    expect(screen.getByTestId('result-model')).toHaveTextContent('reference (dlib ResNet)');
    expect(screen.queryByTestId('embedding-worker')).toBeNull();
  });

  it('shows the server detail of a 422 next to the photo input', async () => {
    server(() => ({ status: 422, body: { detail: 'no face found in the photo' } }));
    renderSearch();
    await waitFor(() => expect(screen.getByLabelText('Gallery')).toHaveValue('3'));
    await searchPhoto('gray.png');
    const box = screen.getByTestId('search-error');
    expect(await within(box).findByRole('alert')).toHaveTextContent('no face found in the photo');
    expect(screen.queryByTestId('search-result')).toBeNull();
    expect(screen.getByRole('button', { name: 'Search' })).toBeEnabled();
    // A new photo clears the error.
    fireEvent.change(screen.getByLabelText('Photo'), { target: { files: [new File(['x'], 'b.jpg')] } });
    await waitFor(() => expect(within(box).queryByRole('alert')).toBeNull());
  });

  it('says when no gallery can be searched', async () => {
    stubFetch(() => page([makeGallery({ status: 'enrolling', templates: 0 })]));
    renderSearch('/search');
    expect(await screen.findByTestId('no-galleries')).toHaveTextContent('No gallery is ready to search.');
  });
});
