import { fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { App } from '../App';
import { stubFetch } from '../test/fakeFetch';

describe('LoginPage', () => {
  it('redirects to login and shows the server error on a bad password', async () => {
    stubFetch((c) => {
      if (c.url === '/api/auth/me/') return { status: 403, body: { detail: 'Authentication credentials were not provided.' } };
      if (c.url === '/api/auth/csrf/') {
        document.cookie = 'csrftoken=t0k; path=/';
        return { body: { csrfToken: 't0k' } };
      }
      if (c.url === '/api/auth/login/') return { status: 400, body: { detail: 'Invalid username or password.' } };
    });
    render(
      <MemoryRouter initialEntries={['/jobs']}>
        <App />
      </MemoryRouter>,
    );
    fireEvent.change(await screen.findByLabelText('Username'), { target: { value: 'alice' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Invalid username or password.');
  });

  it('logs in and lands on the page the user asked for', async () => {
    let loggedIn = false;
    stubFetch((c) => {
      if (c.url === '/api/auth/me/') return { status: 403, body: { detail: 'Not logged in.' } };
      if (c.url === '/api/auth/csrf/') return { body: { csrfToken: 'x' } };
      if (c.url === '/api/auth/login/') {
        loggedIn = true;
        return { body: { id: 1, username: 'alice', is_staff: false } };
      }
      if (c.url === '/api/jobs/' && loggedIn) return { body: { count: 0, next: null, previous: null, results: [] } };
    });
    render(
      <MemoryRouter initialEntries={['/jobs']}>
        <App />
      </MemoryRouter>,
    );
    fireEvent.change(await screen.findByLabelText('Username'), { target: { value: 'alice' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'right' } });
    fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByRole('heading', { name: 'Jobs' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Log out' })).toBeInTheDocument();
    expect(await screen.findByText('No jobs yet.')).toBeInTheDocument();
  });
});
