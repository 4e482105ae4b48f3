import { Route, Routes } from 'react-router-dom';
import { AuthProvider } from './auth';
import { Layout } from './components/Layout';
import { RequireAuth } from './components/RequireAuth';
import { routes } from './routes';

/** App without the router, so tests can wrap it in a MemoryRouter. */
export function App() {
  return (
    <AuthProvider>
      <Routes>
        <Route element={<Layout />}>
          {routes.map((r) => (
            <Route
              key={r.path}
              path={r.path}
              element={r.public ? r.element : <RequireAuth>{r.element}</RequireAuth>}
            />
          ))}
        </Route>
      </Routes>
    </AuthProvider>
  );
}
