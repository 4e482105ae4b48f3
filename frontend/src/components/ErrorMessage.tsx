/** Error text from the server, shown to the user. Renders nothing when empty. */
export function ErrorMessage({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      {error}
    </div>
  );
}
