"""A command imports only what it uses: the heavy libraries load when they are needed.

scipy.stats, scikit-learn and statsmodels take seconds to import (about 1.3 s, 2.5 s and
3.3 s on the CI machine, more than a validated read of the sample): importing the package,
the metrics engine or the command line, or running ``edi-analysis metrics``, must not pay
for the ones it does not use. Each check runs in a fresh interpreter, since this test
process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "sklearn", "statsmodels")


def _loaded_after(code: str) -> dict[str, bool]:
    probe = (f"import sys, json\n{code}\n"
             "mods = ('scipy', 'scipy.stats', 'scipy.special', 'scipy.linalg', 'sklearn', "
             "'statsmodels', 'matplotlib')\n"
             "print(json.dumps({m: m in sys.modules for m in mods}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", [
    "edi_analysis", "edi_analysis.cli", "edi_analysis.pipeline", "edi_analysis.metrics",
    "edi_analysis.metrics.pay_gaps", "edi_analysis.metrics.pay_medical",
    "edi_analysis.metrics.disciplinary_model", "edi_analysis.disclosure",
])
def test_importing_does_not_import_scipy_sklearn_or_statsmodels(module):
    loaded = _loaded_after(f"import {module}")
    assert not any(loaded[m] for m in HEAVY), (module, loaded)


def test_metrics_command_imports_neither_scipy_stats_nor_sklearn_nor_statsmodels(tmp_path):
    # The command does compute quantiles (scipy.special) and the disparity model's Cholesky
    # factors (scipy.linalg.lapack), so those load; scipy.stats, sklearn and statsmodels not.
    out = tmp_path / "metrics.csv"
    loaded = _loaded_after(
        "from edi_analysis.cli import main\n"
        f"rc = main(['metrics', {str(ROOT / 'data' / 'sample')!r}, '--period', '2024-03-31', "
        f"'-o', {str(out)!r}])\n"
        "assert rc == 0, rc")
    assert out.stat().st_size > 0
    assert loaded["scipy.special"]  # the run did compute intervals
    assert not (loaded["scipy.stats"] or loaded["sklearn"] or loaded["statsmodels"]
                or loaded["matplotlib"]), loaded


def test_disparity_model_is_still_a_scikit_learn_estimator_when_asked_for():
    from sklearn.base import BaseEstimator, clone

    from edi_analysis.metrics import disciplinary_model as dm

    m = dm.DisciplinaryDisparityModel(characteristic="ethnicity")
    assert isinstance(m, BaseEstimator)
    assert clone(m).get_params() == m.get_params()
