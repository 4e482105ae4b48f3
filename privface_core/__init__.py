"""Django-free code shared by the engines, the CLI and the site (errors a person reads)."""
