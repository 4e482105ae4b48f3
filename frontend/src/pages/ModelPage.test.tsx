import { fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { stubFetch } from '../test/fakeFetch';
import { ModelPage } from './ModelPage';

const MODEL = {
  id: 7, name: 'casia dp', dataset: null, job: null, private: true, epsilon: 7.9, delta: 0.001, accountant: 'rdp',
  verification_accuracy: 0.75, mia_auc: 0.4, created_at: '2025-01-01T12:00:00Z', ready: true,
  dp_unit: 'one image', galleries: [{ id: 3, name: 'friends' }], card: {},
};
const USED = "model 'casia dp' is used by 1 gallery: 'friends'; delete them first, or delete with ?delete_galleries=1";

function renderModel() {
  return render(
    <MemoryRouter initialEntries={['/models/7']}>
      <Routes>
        <Route path="/models/:id" element={<ModelPage />} />
        <Route path="/models" element={<h1>Model list</h1>} />
      </Routes>
    </MemoryRouter>,
  );
}

function server() {
  return stubFetch((c) => {
    if (c.method === 'GET' && c.url === '/api/models/7/') return { body: MODEL };
    if (c.method === 'DELETE' && c.url === '/api/models/7/') return { status: 409, body: { detail: USED } };
    if (c.method === 'DELETE' && c.url === '/api/models/7/?delete_galleries=1') return { status: 204 };
    return undefined;
  });
}

describe('ModelPage delete', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
  });

  it('names the galleries that use the model and deletes them too only when confirmed', async () => {
    const calls = server();
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(true).mockReturnValueOnce(true);
    renderModel();
    fireEvent.click(await screen.findByRole('button', { name: 'Delete model' }));
    expect(await screen.findByRole('heading', { name: 'Model list' })).toBeInTheDocument();
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(confirm.mock.calls[1][0]).toContain("used by 1 gallery: 'friends'");
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.url)).toEqual([
      '/api/models/7/', '/api/models/7/?delete_galleries=1',
    ]);
    confirm.mockRestore();
  });

  it('keeps model and galleries when the second question is declined', async () => {
    const calls = server();
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(true).mockReturnValueOnce(false);
    renderModel();
    fireEvent.click(await screen.findByRole('button', { name: 'Delete model' }));
    await vi.waitFor(() => expect(confirm).toHaveBeenCalledTimes(2));
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.url)).toEqual(['/api/models/7/']);
    expect(screen.getByRole('button', { name: 'Delete model' })).toBeEnabled();
    confirm.mockRestore();
  });
});
