"""Fixtures shared by several test files."""

from __future__ import annotations

import os
import subprocess

import pytest


@pytest.fixture()
def read_only_dir(tmp_path):
    """A folder nothing can be written into: permissions 0555, or, as root (whom permissions do
    not stop), a read-only tmpfs mounted on it for the test (skipped where mounting is not
    allowed)."""
    d = tmp_path / "read-only"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        try:
            yield d
        finally:
            d.chmod(0o755)
        return
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "edi-analysis-test",
                          str(d)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip("running as root, and a read-only file system cannot be mounted here: "
                    + (res.stderr.strip() or "mount failed"))
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)
