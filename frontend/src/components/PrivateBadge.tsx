/** "private" (trained with DP-SGD) or "not private". */
export function PrivateBadge({ isPrivate }: { isPrivate: boolean }) {
  return isPrivate ? (
    <span className="badge badge-private" data-testid="private-badge" title="Trained with differential privacy (DP-SGD)">
      private
    </span>
  ) : (
    <span className="badge badge-not-private" data-testid="private-badge" title="Trained without differential privacy">
      not private
    </span>
  );
}
