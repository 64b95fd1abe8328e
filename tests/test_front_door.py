"""The package's front door: a curated, sorted `__all__` whose names all resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest

import workshop


def test_all_is_sorted_and_every_name_resolves():
    """Every name in `workshop.__all__` is importable, and the list is sorted."""
    assert workshop.__all__ == sorted(workshop.__all__)
    for name in workshop.__all__:
        assert getattr(workshop, name) is not None
    from workshop import aws, notebook

    assert workshop.client is aws.client and workshop.start is notebook.start


def test_an_unknown_name_is_an_attribute_error():
    """A name the front door does not export raises AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no attribute 'teardown_everything'"):
        workshop.teardown_everything  # noqa: B018


def test_importing_the_package_stays_cheap():
    """`import workshop` loads neither boto3 nor moto (the local AWS's helper processes import it)."""
    code = "import sys, workshop; print(sorted(m for m in ('boto3', 'moto', 'botocore') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
