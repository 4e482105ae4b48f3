import { fireEvent, render, screen, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useParams } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { stubFetch } from '../test/fakeFetch';
import { makeDataset } from '../test/fixtures';
import { DatasetsPage } from './DatasetsPage';

function Opened() {
  return <h1>Opened dataset {useParams().id}</h1>;
}

function renderPage() {
  return render(
    <MemoryRouter initialEntries={['/datasets']}>
      <Routes>
        <Route path="/datasets" element={<DatasetsPage />} />
        <Route path="/datasets/:id" element={<Opened />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('DatasetsPage', () => {
  it('lists the datasets with status, images and identities', async () => {
    stubFetch(() => ({
      body: {
        count: 2,
        next: null,
        previous: null,
        results: [
          makeDataset({ id: 2, name: 'tiny', status: 'uploading' }),
          makeDataset({ id: 1, name: 'casia', status: 'ready', images: 494414, identities: 10572 }),
        ],
      },
    }));
    renderPage();
    const ready = await screen.findByTestId('dataset-row-1');
    expect(within(ready).getByRole('link', { name: 'casia' })).toHaveAttribute('href', '/datasets/1');
    expect(within(ready).getByTestId('dataset-status')).toHaveTextContent('ready');
    expect(within(ready).getByText('494,414')).toBeInTheDocument();
    expect(within(ready).getByText('10,572')).toBeInTheDocument();
    expect(within(screen.getByTestId('dataset-row-2')).getByTestId('dataset-status')).toHaveTextContent('uploading');
  });

  it('creates a dataset and opens its page; shows field errors', async () => {
    document.cookie = 'csrftoken=abc; path=/';
    const calls = stubFetch((c) => {
      if (c.method === 'GET') return { body: { count: 0, next: null, previous: null, results: [] } };
      const { name } = c.body as { name: string };
      if (name.length > 5) return { status: 400, body: { name: ['Ensure this field has no more than 5 characters.'] } };
      return { status: 201, body: makeDataset({ id: 12, name }) };
    });
    renderPage();
    await screen.findByText(/No datasets yet/);
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'toolong' } });
    fireEvent.click(screen.getByRole('button', { name: 'New dataset' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('name: Ensure this field has no more than 5 characters.');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'tiny' } });
    fireEvent.click(screen.getByRole('button', { name: 'New dataset' }));
    expect(await screen.findByRole('heading', { name: 'Opened dataset 12' })).toBeInTheDocument();
    expect(calls.at(-1)).toMatchObject({ method: 'POST', url: '/api/datasets/', body: { name: 'tiny' }, headers: { 'X-CSRFToken': 'abc' } });
  });
});
