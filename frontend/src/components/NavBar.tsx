import { useState } from 'react';
import { NavLink, useNavigate } from 'react-router-dom';
import { messageOf } from '../api';
import { useAuth } from '../auth';
import { routes } from '../routes';

export function NavBar() {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);

  async function onLogout() {
    setError(null);
    try {
      await logout();
      navigate('/login', { replace: true });
    } catch (err) {
      setError(messageOf(err));
    }
  }

  return (
    <header className="navbar">
      <span className="brand">PrivFace</span>
      <nav>
        {routes
          .filter((r) => r.nav)
          .map((r) => (
            <NavLink key={r.path} to={r.path} end={r.path === '/'}>
              {r.nav}
            </NavLink>
          ))}
      </nav>
      {user && (
        <div className="navbar-user">
          {error && (
            <span className="navbar-error" role="alert">
              {error}
            </span>
          )}
          <span className="muted">{user.username}</span>
          <button type="button" className="btn btn-ghost" onClick={onLogout}>
            Log out
          </button>
        </div>
      )}
    </header>
  );
}
