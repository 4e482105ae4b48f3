import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ModelCardView } from './ModelCardView';

const term = (section: HTMLElement, label: string) => within(section).getByText(label, { selector: 'dt' }).nextElementSibling;

describe('ModelCardView', () => {
  it('shows the federation section of a federated model: settings, head policy explained, one row per client', () => {
    render(
      <ModelCardView
        card={{
          dp: {
            enabled: true,
            level: 'client',
            unit: "one client's whole dataset (user-level DP)",
            epsilon: 3.2,
            delta: 1e-5,
            noise_multiplier: 0.5,
            client_epsilon: 3.2,
          },
          data: { name: 'webface_tiny', images: 80, identities: 10 },
          federation: {
            mode: 'simulation',
            clients: 3,
            clients_per_round: 3,
            min_clients: 1,
            partition: 'by_identity',
            alpha: null,
            rounds_completed: 2,
            rounds_planned: 2,
            local_epochs: 1,
            head_policy: 'private',
            head_policy_explained: 'each client kept its classification head',
            aggregation: 'FedAvg, uniform weights (client-level DP)',
            secure_aggregation: true,
            per_client: [
              { partition: 0, examples: 21, identities: 3, rounds: 2, images: 24 },
              { partition: 1, examples: 24, identities: 3, rounds: 2, images: 27 },
            ],
          },
          training: { rounds_completed: 2, stopped: 'completed' },
        }}
      />,
    );
    const headings = screen.getAllByRole('heading', { level: 2 }).map((h) => h.textContent);
    expect(headings.slice(0, 4)).toEqual(['Differential privacy', 'Training data', 'Federation', 'Training']);
    const dp = screen.getByRole('region', { name: 'Differential privacy' });
    expect(term(dp, 'DP level')).toHaveTextContent('client');
    expect(term(dp, 'Unit')).toHaveTextContent("one client's whole dataset (user-level DP)");
    expect(term(dp, 'Client-level ε')).toHaveTextContent('3.20');

    const fed = screen.getByRole('region', { name: 'Federation' });
    expect(within(fed).getAllByRole('term').slice(0, 3).map((t) => t.textContent)).toEqual(['Mode', 'Clients', 'Clients per round']);
    expect(term(fed, 'Head policy')).toHaveTextContent('private (each client kept its classification head)');
    expect(term(fed, 'Secure aggregation')).toHaveTextContent('yes');
    expect(term(fed, 'Aggregation')).toHaveTextContent('FedAvg, uniform weights');
    expect(within(fed).queryByText('Dirichlet α')).toBeNull(); // null: not a Dirichlet partition
    const clients = within(fed).getByRole('table', { name: 'Clients' });
    expect(within(clients).getAllByRole('columnheader').map((h) => h.textContent)).toEqual([
      'Client', 'Images', 'Training images', 'Identities', 'Rounds',
    ]);
    expect(within(screen.getByTestId('card-client-1')).getAllByRole('cell').map((c) => c.textContent)).toEqual([
      'client 1', '27', '24', '3', '2',
    ]);
  });

  it('has no federation section for a centralized model', () => {
    render(<ModelCardView card={{ dp: { enabled: false }, training: { epochs_completed: 1 } }} />);
    expect(screen.queryByRole('region', { name: 'Federation' })).toBeNull();
  });
});
