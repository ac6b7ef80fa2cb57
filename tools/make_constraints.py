"""Write `constraints.txt`: the exact version of every package in this environment, the set the
test suite passed with. `setup.sh` installs from it, so a fresh clone gets what CI tested.

Regenerate after a dependency change (docs/testing.md, "Tested versions"):

    RTSTYLE_UNPINNED=1 ./setup.sh dev && .venv/bin/python tools/make_constraints.py && .venv/bin/python -m pytest

Local version labels are dropped (`torch==2.13.0+cpu` -> `torch==2.13.0`): pip then accepts a CUDA
build of the same release, which GPU users install first.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# The exact versions the test suite passed with (pip constraints; `setup.sh` installs from it).
# Made by tools/make_constraints.py; do not edit by hand. RTSTYLE_UNPINNED=1 ./setup.sh ignores it.
"""


def frozen() -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    pins = []
    for line in out.splitlines():
        if line.startswith("#") or "==" not in line:
            continue  # editable or direct-URL installs are not constraints
        pins.append(re.sub(r"\+[\w.]+$", "", line.strip()))
    return sorted(pins, key=str.lower)


def main() -> int:
    pins = frozen()
    if not any(p.lower().startswith("torch==") for p in pins):
        print("make_constraints: torch is not installed in this environment; run ./setup.sh dev first",
              file=sys.stderr)
        return 1
    path = ROOT / "constraints.txt"
    path.write_text(HEADER + "\n".join(pins) + "\n")
    print(f"make_constraints: {len(pins)} packages pinned in {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
