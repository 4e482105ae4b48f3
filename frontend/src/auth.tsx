// Session auth state shared by the whole app.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { api, ApiError } from './api';
import type { User } from './types';

type AuthStatus = 'loading' | 'authenticated' | 'anonymous';

interface AuthContextValue {
  status: AuthStatus;
  user: User | null;
  /** Error while checking the session (not a plain "logged out"). */
  error: string | null;
  login: (username: string, password: string) => Promise<User>;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [status, setStatus] = useState<AuthStatus>('loading');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let active = true;
    api
      .get<User>('/api/auth/me/')
      .then((me) => {
        if (!active) return;
        setUser(me);
        setStatus('authenticated');
      })
      .catch((err: unknown) => {
        if (!active) return;
        const loggedOut = err instanceof ApiError && (err.status === 401 || err.status === 403);
        if (!loggedOut) setError(err instanceof Error ? err.message : String(err));
        setStatus('anonymous');
      });
    return () => {
      active = false;
    };
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const me = await api.post<User>('/api/auth/login/', { username, password });
    setUser(me);
    setError(null);
    setStatus('authenticated');
    return me;
  }, []);

  const logout = useCallback(async () => {
    await api.post<void>('/api/auth/logout/');
    setUser(null);
    setStatus('anonymous');
  }, []);

  const value = useMemo(
    () => ({ status, user, error, login, logout }),
    [status, user, error, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth must be used inside <AuthProvider>');
  return ctx;
}

/** The logged-in user, or null (also outside <AuthProvider>, e.g. a page rendered alone). */
export function useCurrentUser(): User | null {
  return useContext(AuthContext)?.user ?? null;
}
