"""The front end's API types (frontend/src/generated/apiSchema.d.ts) are generated from the
OpenAPI schema Django serves; a serializer change without `make api-types` fails here."""

from __future__ import annotations

import subprocess
from pathlib import Path

from django.core.management import call_command

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
GENERATED = FRONTEND / "src" / "generated" / "apiSchema.d.ts"
CLI = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"


def test_committed_api_types_match_the_schema(tmp_path: Path) -> None:
    assert CLI.exists(), "openapi-typescript missing: run `make frontend/node_modules/.installed`"
    schema = tmp_path / "schema.yml"
    call_command("spectacular", file=str(schema))
    fresh = tmp_path / "apiSchema.d.ts"
    subprocess.run([str(CLI), str(schema), "-o", str(fresh)], cwd=FRONTEND, check=True,
                   capture_output=True, timeout=120)
    assert fresh.read_text() == GENERATED.read_text(), (
        f"{GENERATED.relative_to(FRONTEND.parent)} is stale: run `make api-types` and commit it"
    )
