// "Centralized | Federated": the two run forms of the Training page.
import { NavLink } from 'react-router-dom';
import '../federated.css';

/** The active one follows the URL; `current` only documents where it is used. */
export function TrainingModeSwitch(_props: { current: 'centralized' | 'federated' }) {
  return (
    <nav className="mode-switch" aria-label="Training mode">
      <NavLink to="/training" end>
        Centralized
      </NavLink>
      <NavLink to="/training/federated" end>
        Federated
      </NavLink>
    </nav>
  );
}
