"""constraints.txt, the versions the suite passed with, against pyproject.toml's ranges."""

from __future__ import annotations

import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

# torch-tensorrt installs only beside NVIDIA's CUDA stack (docs/gpu.md): no tested version to pin
UNPINNED_EXTRAS = {"trt"}


def pins() -> dict[str, Version]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip()).groups()
            found[canonicalize_name(name)] = Version(version)
    return found


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra, listed in project["optional-dependencies"].items():
        if extra not in UNPINNED_EXTRAS:
            reqs += [Requirement(r) for r in listed]
    return [r for r in reqs if canonicalize_name(r.name) != "rtstyle"]


def test_every_dependency_is_pinned_within_its_range():
    pinned = pins()
    assert len(pinned) > 50  # the whole environment, dependencies of dependencies included
    missing = sorted(r.name for r in requirements() if canonicalize_name(r.name) not in pinned)
    assert not missing, f"pyproject.toml's {missing} are not in constraints.txt (tools/make_constraints.py)"
    outside = [f"{r.name}=={pinned[canonicalize_name(r.name)]} not in {r.specifier}" for r in requirements()
               if not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)]
    assert not outside, outside


def test_pins_carry_no_local_build_label():
    """`torch==2.13.0`, not `==2.13.0+cpu`: a CUDA build of the tested release satisfies it too."""
    text = (ROOT / "constraints.txt").read_text()
    assert "+" not in text.split("\n", 2)[-1]
