"""Print the pinned requirements of one of pyproject.toml's extras, nested extras resolved.

The Dockerfiles install an image's dependencies from this before copying the code, so that a
code change rebuilds in seconds, while pyproject.toml stays the one place versions are written.
"""

import re
import sys
import tomllib
from pathlib import Path

PROJECT = "housing-mlops"


def requirements(extra: str, project: dict, seen: set[str] | None = None) -> list[str]:
    seen = seen if seen is not None else set()
    if extra in seen:
        return []
    seen.add(extra)
    out = []
    for req in project["optional-dependencies"][extra]:
        nested = re.fullmatch(rf"{PROJECT}\[([\w,-]+)\]", req)
        if nested:
            for name in nested.group(1).split(","):
                out += requirements(name, project, seen)
        else:
            out.append(req)
    return out


def main() -> None:
    pyproject = Path(sys.argv[2] if len(sys.argv) > 2 else "pyproject.toml")
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = sys.argv[1].split(",")
    base = [] if extras == ["tracking-server"] else list(project["dependencies"])
    lines = base + [r for e in extras for r in requirements(e, project)]
    print("\n".join(dict.fromkeys(lines)))


if __name__ == "__main__":
    main()
