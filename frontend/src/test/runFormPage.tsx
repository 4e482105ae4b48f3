// What the training and federated form tests share: the page among its routes, the datasets
// the server lists, and the field helpers.
import { fireEvent, render, screen } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter, Route, Routes, useParams } from 'react-router-dom';
import type { FakeCall } from './fakeFetch';
import { makeDataset } from './fixtures';

function JobStub() {
  return <h1>Job page {useParams().id}</h1>;
}

/** The page at `url` among `routes`, with a stub job page where a started run goes. */
export function renderRunPage(url: string, routes: Record<string, ReactElement>) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        {Object.entries(routes).map(([path, element]) => (
          <Route key={path} path={path} element={element} />
        ))}
        <Route path="/jobs/:id" element={<JobStub />} />
      </Routes>
    </MemoryRouter>,
  );
}

export const DATASETS = {
  count: 2,
  next: null,
  previous: null,
  results: [
    makeDataset({ id: 6, name: 'uploading one', status: 'uploading' }),
    makeDataset({ id: 5, name: 'webface_tiny', status: 'ready', images: 80, identities: 10 }),
  ],
};

export type Handler = (call: FakeCall) => { status?: number; body?: unknown } | undefined;

export const input = (label: string) => screen.getByLabelText(label, { selector: 'input' }) as HTMLInputElement;
export const change = (label: string, value: string) => fireEvent.change(input(label), { target: { value } });
