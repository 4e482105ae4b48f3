import { Outlet } from 'react-router-dom';
import { useAuth } from '../auth';
import { NavBar } from './NavBar';

export function Layout() {
  const { status } = useAuth();
  return (
    <>
      {status === 'authenticated' && <NavBar />}
      <main className="container">
        <Outlet />
      </main>
    </>
  );
}
