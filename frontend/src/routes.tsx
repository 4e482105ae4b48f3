// The single list of pages. The router (App.tsx) and the nav bar both read it.
import type { ReactNode } from 'react';
import { DatasetPage } from './pages/DatasetPage';
import { DatasetsPage } from './pages/DatasetsPage';
import { FederatedPage } from './pages/FederatedPage';
import { GalleriesPage } from './pages/GalleriesPage';
import { GalleryPage } from './pages/GalleryPage';
import { JobPage } from './pages/JobPage';
import { JobsPage } from './pages/JobsPage';
import { LoginPage } from './pages/LoginPage';
import { ModelPage } from './pages/ModelPage';
import { ModelsPage } from './pages/ModelsPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { OverviewPage } from './pages/OverviewPage';
import { SearchPage } from './pages/SearchPage';
import { TrainingPage } from './pages/TrainingPage';

export interface AppRoute {
  path: string;
  element: ReactNode;
  /** Label in the nav bar; omit to keep the page out of the nav. */
  nav?: string;
  /** Reachable without logging in (everything else redirects to /login). */
  public?: boolean;
}

export const routes: AppRoute[] = [
  { path: '/login', element: <LoginPage />, public: true },
  { path: '/', element: <OverviewPage />, nav: 'Overview' },
  { path: '/jobs', element: <JobsPage />, nav: 'Jobs' },
  { path: '/jobs/:id', element: <JobPage /> },
  { path: '/datasets', element: <DatasetsPage />, nav: 'Datasets' },
  { path: '/datasets/:id', element: <DatasetPage /> },
  { path: '/galleries', element: <GalleriesPage />, nav: 'Galleries' },
  { path: '/galleries/:id', element: <GalleryPage /> },
  { path: '/search', element: <SearchPage />, nav: 'Search' },
  { path: '/training', element: <TrainingPage />, nav: 'Training' },
  { path: '/training/federated', element: <FederatedPage /> },
  { path: '/models', element: <ModelsPage />, nav: 'Models' },
  { path: '/models/:id', element: <ModelPage /> },
  { path: '*', element: <NotFoundPage /> },
];
