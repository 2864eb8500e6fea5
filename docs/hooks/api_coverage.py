"""MkDocs hook: every module of ``lconv_cli`` has its ``::: lconv_cli.<module>`` entry in ``docs/api/``.

The API pages list their modules one by one (a package's re-exports would otherwise be documented
twice), so a new module would silently have no page. This hook warns for each module that has none;
``mkdocs build --strict`` (``make docs``, ``make test``) turns the warning into a failed build.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.api_coverage")


def on_pre_build(config) -> None:
    docs = Path(config["docs_dir"])
    package = docs.parent / "lconv_cli"
    documented = set()
    for page in (docs / "api").glob("*.md"):
        documented |= set(re.findall(r"^::: (lconv_cli(?:\.\w+)*)\s*$", page.read_text(), re.M))
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts) or "__pycache__" in parts:
            continue
        name = ".".join(parts)
        if name not in documented:
            page = f"docs/api/{parts[1]}.md" if len(parts) > 2 else "docs/api/index.md"
            log.warning("%s has no API entry: add `::: %s` to %s", name, name, page)
