import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { stubFetch } from '../test/fakeFetch';
import { FakeSocket } from '../test/fakeSocket';
import { makeEvent, makeGallery, makeJob } from '../test/fixtures';
import type { Gallery } from '../types';
import { GalleryPage } from './GalleryPage';

function renderGallery(id: number) {
  return render(
    <MemoryRouter initialEntries={[`/galleries/${id}`]}>
      <Routes>
        <Route path="/galleries/:id" element={<GalleryPage />} />
        <Route path="/galleries" element={<h1>Gallery list</h1>} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('GalleryPage', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
    FakeSocket.all = [];
    vi.stubGlobal('WebSocket', FakeSocket);
  });

  it('follows the enrollment live, refetches once at the end, then takes more photos', async () => {
    let gallery: Gallery = makeGallery({ id: 3, status: 'enrolling', job: 12, identities: 0, templates: 0, photos: 0 });
    const calls = stubFetch((c) => {
      if (c.method === 'GET' && c.url === '/api/galleries/3/') return { body: gallery };
      if (c.method === 'GET' && c.url === '/api/jobs/12/') {
        return { body: makeJob({ id: 12, status: 'succeeded', result: { skipped_photos: [{ photo: 'blank.png', reason: 'no face found' }] } }) };
      }
      if (c.method === 'POST' && c.url === '/api/galleries/3/images/') {
        return { status: 202, body: { gallery: { ...gallery, status: 'enrolling', job: 13 }, job: makeJob({ id: 13 }) } };
      }
      return undefined;
    });
    renderGallery(3);

    expect(await screen.findByTestId('gallery-status')).toHaveTextContent('enrolling');
    expect(screen.queryByRole('link', { name: 'Search this gallery' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Add photos' })).toBeDisabled();
    await waitFor(() => expect(FakeSocket.all).toHaveLength(1));
    const ws = FakeSocket.last();
    expect(ws.url).toMatch(/\/ws\/jobs\/12\/\?after=0$/);
    act(() => {
      ws.open();
      ws.send({ type: 'job', job: makeJob({ id: 12, kind: 'gallery_enroll', status: 'running' }) });
      ws.send({
        type: 'event',
        event: makeEvent(1, 'progress', { progress: 0.475, message: 'Enrolling photo 11 of 22', photos_done: 11, photos_total: 22 }, 12),
      });
      ws.send({ type: 'event', event: makeEvent(2, 'log', { message: 'skipped blank.png: no face found', level: 'warning' }, 12) });
    });
    expect(screen.getByRole('progressbar', { name: 'Enrollment progress' })).toHaveAttribute('aria-valuenow', '48');
    expect(screen.getByTestId('enrollment-message')).toHaveTextContent('Enrolling photo 11 of 22');
    expect(screen.getByTestId('enrollment-skipped')).toHaveTextContent('1 photo skipped so far');

    gallery = { ...gallery, status: 'ready', identities: 7, templates: 7, photos: 21, skipped: 1, version: 4 };
    const gets = () => calls.filter((c) => c.url === '/api/galleries/3/').length;
    const before = gets();
    act(() => ws.send({ type: 'event', event: makeEvent(3, 'status', { status: 'succeeded' }, 12) }));
    await waitFor(() => expect(screen.getByTestId('gallery-status')).toHaveTextContent('ready'));
    expect(gets()).toBe(before + 1); // one refetch, no polling
    expect(screen.getByTestId('gallery-identities')).toHaveTextContent('7');
    expect(screen.getByTestId('gallery-photos')).toHaveTextContent('21');
    expect(screen.getByTestId('gallery-skipped')).toHaveTextContent('1');
    expect(await screen.findByTestId('skipped-photos')).toHaveTextContent('blank.png: no face found');
    expect(screen.getByRole('link', { name: 'Search this gallery' })).toHaveAttribute('href', '/search?gallery=3');
    expect(screen.getByTestId('embedder-note')).toHaveTextContent('non-private reference model');

    const add = screen.getByRole('form', { name: 'Add photos' });
    fireEvent.change(within(add).getByLabelText('Photos'), { target: { files: [new File(['j'], 'dave_1.jpg')] } });
    expect(within(add).getByLabelText('Label for dave_1.jpg')).toHaveValue('dave');
    fireEvent.click(within(add).getByRole('button', { name: 'Add photos' }));
    await waitFor(() => expect(screen.getByTestId('gallery-status')).toHaveTextContent('enrolling'));
    await waitFor(() => expect(FakeSocket.last().url).toMatch(/\/ws\/jobs\/13\//));
    const form = calls.find((c) => c.method === 'POST')!.rawBody as FormData;
    expect(form.getAll('labels')).toEqual(['dave']);
  });

  it('shows a failed enrollment and deletes the gallery after confirming', async () => {
    const calls = stubFetch((c) => {
      if (c.method === 'GET') {
        return { body: makeGallery({ id: 3, status: 'failed', source: 'dataset', dataset: 4, error: 'no face found in any photo', templates: 0 }) };
      }
      if (c.method === 'DELETE') return { status: 204 };
      return undefined;
    });
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(false).mockReturnValueOnce(true);
    renderGallery(3);
    expect(await screen.findByTestId('gallery-error')).toHaveTextContent('no face found in any photo');
    expect(screen.queryByRole('form', { name: 'Add photos' })).toBeNull(); // dataset galleries take no photos
    fireEvent.click(screen.getByRole('button', { name: 'Delete gallery' }));
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Delete gallery' }));
    expect(await screen.findByRole('heading', { name: 'Gallery list' })).toBeInTheDocument();
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(calls.at(-1)).toMatchObject({ method: 'DELETE', url: '/api/galleries/3/', headers: { 'X-CSRFToken': 'tok' } });
  });

  it('shows the model, its privacy and the calibrated threshold, and saves the owner\'s threshold', async () => {
    const calibration = {
      threshold: 0.9357, method: 'tail fit', fpir_target: 0.01, far_target: 0.0014, fpir: 0, fpir_upper: 0.1896,
      fnir: 0, stranger_fpir: null, impostor_pairs: 126, genuine_pairs: 21, strangers: 0, gallery_size: 7,
    };
    const gallery = makeGallery({
      id: 5, model: 7, threshold: 0.9357, calibration,
      embedder: {
        name: 'keras:10aa79f6da3ca1db', dim: 512, private: true, source: 'trained', default_threshold: 0.57,
        model: { id: 7, name: 'casia dp' }, model_name: 'casia dp',
        privacy: { private: true, epsilon: 7.9223, delta: 0.001, unit: 'one image (example-level DP, not identity-level)', accountant: 'rdp' },
      },
    });
    const calls = stubFetch((c) => {
      if (c.method === 'GET' && c.url === '/api/galleries/5/') return { body: gallery };
      if (c.method === 'POST' && c.url === '/api/galleries/5/threshold/') {
        return { body: { ...gallery, threshold: 0.95, threshold_override: 0.95,
          calibration: { ...calibration, override: { threshold: 0.95, fpir: 0, fpir_upper: 0.18, fnir: 0.0476, stranger_fpir: null } } } };
      }
      return undefined;
    });
    renderGallery(5);
    expect(await screen.findByTestId('gallery-model')).toHaveTextContent('casia dp (model #7)');
    expect(screen.getByTestId('gallery-privacy')).toHaveTextContent('ε 7.92, δ 1e-3, DP unit: one image');
    expect(screen.getByTestId('gallery-threshold')).toHaveTextContent('0.9357');
    expect(screen.getByTestId('calibration-fpir')).toHaveTextContent('0.00 % (95 % bound 18.96 %) from 126 impostor pairs');
    expect(screen.getByTestId('calibration-fnir')).toHaveTextContent('0.00 % from 21 genuine pairs');
    fireEvent.change(screen.getByLabelText('Threshold override'), { target: { value: '0.95' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('override-rates')).toHaveTextContent('0.95: FPIR 0.00 % (bound 18.00 %), FNIR 4.76 %');
    expect(calls.filter((c) => c.method === 'POST')[0].body).toEqual({ threshold: 0.95, fpir_target: 0.01 });
    expect(screen.getByTestId('gallery-threshold')).toHaveTextContent('0.95');
  });

  it('sends background photos (people not enrolled) without labels, and aligned crops when ticked', async () => {
    const gallery = makeGallery({ id: 8 });
    const calls = stubFetch((c) => {
      if (c.method === 'GET' && c.url === '/api/galleries/8/') return { body: gallery };
      if (c.method === 'POST' && c.url === '/api/galleries/8/images/') {
        return { status: 202, body: { gallery: { ...gallery, status: 'enrolling', job: 20 }, job: makeJob({ id: 20 }) } };
      }
      return undefined;
    });
    renderGallery(8);
    const add = await screen.findByRole('form', { name: 'Add photos' });
    fireEvent.change(within(add).getByLabelText('Photos'), { target: { files: [new File(['j'], 'stranger.jpg')] } });
    fireEvent.click(within(add).getByLabelText(/people who are NOT enrolled/));
    fireEvent.click(within(add).getByLabelText(/aligned face crops/));
    fireEvent.click(within(add).getByRole('button', { name: 'Add photos' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    const form = calls.find((c) => c.method === 'POST')!.rawBody as FormData;
    expect(form.get('background')).toBe('true');
    expect(form.get('aligned')).toBe('true');
    expect(form.getAll('labels')).toEqual([]);
  });
});
