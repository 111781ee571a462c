"""Write the OpenAPI document the service serves at /openapi.json to the file named."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from todo_api.app import create_app
from todo_api.settings import load_settings


def main() -> None:
    # Development settings: the document does not depend on them, and no .env is read.
    app = create_app(load_settings(_env_file=None, environment="development"))
    Path(sys.argv[1]).write_text(json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
