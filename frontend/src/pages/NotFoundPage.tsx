import { Link } from 'react-router-dom';

export function NotFoundPage() {
  return (
    <section className="card">
      <h1>Page not found</h1>
      <p>
        <Link to="/jobs">Go to the jobs list</Link>
      </p>
    </section>
  );
}
