"""Warm kernels give the notebooks a fresh kernel's results (src/edi_analysis/warm.py).

The same notebooks are executed with papermill's default engine (a new kernel
each) and with the warm engine (one kernel, notebook after notebook, in two
different orders, after a notebook that deliberately disturbs the kernel's
state). Every cell's source, outputs (text, HTML with base64 PNG charts,
metric JSON) and execution count must be identical; only papermill's and
nbclient's timing metadata may differ. A control run with the reset switched
off shows the comparison can fail.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from edi_analysis import pipeline, runner, warm

from test_runner import sample_dir

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2024-03-31"
REAL = ("06_hia6_bullying_disciplinary", "03_hia3_pay", "01_hia1_board")

HELPER = '''import warnings


def warn():
    warnings.warn("probe warning", UserWarning)  # shown once per location under "default"
'''

PARAMS = ("trust = None\nperiod = None\ndata = None\npeers = None\nmin_count = 8\n"
          "min_survey_responses = 11\nseed = 0")

#: Changes everything a notebook could leave behind in a kernel.
POLLUTER = [
    "import matplotlib\nmatplotlib.rcParams['lines.linewidth'] = 9\n"
    "import seaborn as sns\nsns.set_theme(style='dark', palette='husl')",
    "import matplotlib.pyplot as plt\nleft_open = plt.figure()\nleftover = 42",
    "import sys\nsys.path.insert(0, HELPERS)\nimport probe_helpers\nprobe_helpers.warn()",
    "import warnings\nwarnings.simplefilter('ignore')\nimport os\nos.chdir('/')",
    "'a result in Out'",
]

#: Shows the state a notebook starts with.
PROBE = [
    "import os\nprint(os.path.basename(os.getcwd()))",
    "print(sorted(k for k in globals() if not k.startswith('_')))",
    "import matplotlib\nprint(matplotlib.rcParams['lines.linewidth'], "
    "matplotlib.rcParams['axes.facecolor'], matplotlib.rcParams['axes.prop_cycle'])",
    "import sys\nsys.path.insert(0, HELPERS)\nimport probe_helpers\nprobe_helpers.warn()",
    "import matplotlib.pyplot as plt\nprint(plt.get_fignums(), plt.figure().number)",
    "print(len(In), len(Out))",
    "6 * 7",
]


def _toy(path: Path, cells: list[str], helpers: Path) -> None:
    cells = [c.replace("HELPERS", repr(str(helpers))) for c in cells]
    params = new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params] + [new_code_cell(c) for c in cells],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """One trust's prepared slice and peers file, as the runner writes them, and the templates."""
    from edi_analysis.contract import validate_dataset

    base = tmp_path_factory.mktemp("warm")
    dataset = validate_dataset(sample_dir(tmp_path_factory)).dataset
    trust = sorted(dataset.tables["workforce"]["trust_code"].unique())[-1]  # the smallest trust
    work = base / runner.WORK_DIR
    slice_dir = runner.write_slice(work / "slices" / trust, dataset.tables, trust, {"inputs": {}})
    rows = pipeline.compute_metrics(dataset, [PERIOD], [trust])
    peers = work / "peers.parquet"
    runner._peers_rows(rows).to_parquet(peers, index=False)
    templates = {name: ROOT / "notebooks" / f"{name}.ipynb" for name in REAL}
    toys = base / "toys"
    toys.mkdir()
    (toys / "probe_helpers.py").write_text(HELPER, encoding="utf-8")
    for name, cells in (("polluter", POLLUTER), ("probe", PROBE)):
        _toy(toys / f"{name}.ipynb", cells, helpers=toys)
        templates[name] = toys / f"{name}.ipynb"
    return base, trust, slice_dir, peers, templates


def _task(setup, name: str, tag: str, fresh: bool) -> tuple:
    base, trust, slice_dir, peers, templates = setup
    folder = base / tag / name  # its own folder per run: the kernel's cwd
    folder.mkdir(parents=True, exist_ok=True)
    import os

    params = {"trust": trust, "period": PERIOD, "data": os.path.relpath(slice_dir, folder),
              "peers": os.path.relpath(peers, folder)}
    out = folder / f"{name}.ipynb"
    return (str(templates[name]), str(out), params, str(folder), f"reports/{name}.ipynb", fresh)


def _run_sequence(setup, names, tag, fresh, initializer=runner._local_worker_init):
    """Run the notebooks one after another in ONE worker process (so one warm kernel)."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"),
                             initializer=initializer) as pool:
        results = [pool.submit(runner.execute_one, *_task(setup, n, tag, fresh)).result()
                   for n in names]
        stats = pool.submit(warm.kernel_stats).result()
    return results, stats


def _without_reset():
    """Initialiser of the control run: a warm kernel that is NOT reset between notebooks."""
    runner._local_worker_init()
    warm.RESET_CODE = "import os; os.chdir({cwd!r})"


def _normalised(path: Path) -> dict:
    """The notebook without timing metadata (papermill's and nbclient's) — nothing else removed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for key in ("start_time", "end_time", "duration"):
        nb["metadata"]["papermill"].pop(key)
    for cell in nb["cells"]:
        for key in ("start_time", "end_time", "duration"):
            cell["metadata"].get("papermill", {}).pop(key, None)
        cell["metadata"].pop("execution", None)
    return nb


@pytest.fixture(scope="module")
def runs(setup):
    names = ["probe", *REAL]
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"),
                             initializer=runner._local_worker_init) as pool:
        fresh = [pool.submit(runner.execute_one, *_task(setup, n, "fresh", True)) for n in names]
        fresh = [f.result() for f in fresh]
    order_a = ["polluter", "probe", *REAL]
    order_b = [REAL[2], "polluter", REAL[1], "probe", REAL[0]]
    with ThreadPoolExecutor(2) as pool:  # two sequences at once, each in its own worker process
        a = pool.submit(_run_sequence, setup, order_a, "warm-a", False)
        b = pool.submit(_run_sequence, setup, order_b, "warm-b", False)
        control = _run_sequence(setup, ["polluter", "probe"], "no-reset", False,
                                initializer=_without_reset)
        a, b = a.result(), b.result()
    return {"fresh": fresh, "warm-a": a, "warm-b": b, "no-reset": control}


def test_every_run_succeeded(runs):
    assert all(r["status"] == "ok" for r in runs["fresh"]), runs["fresh"]
    for tag in ("warm-a", "warm-b", "no-reset"):
        results, _ = runs[tag]
        assert all(r["status"] == "ok" for r in results), (tag, results)


def test_one_warm_kernel_ran_each_sequence(runs):
    # every notebook of a sequence ran in the same kernel: none failed, so none replaced it
    assert runs["warm-a"][1]["notebooks"] == 5
    assert runs["warm-b"][1]["notebooks"] == 5
    # and the warm notebooks did not pay for a kernel start each: the imports cell of a real
    # notebook is a dictionary lookup in a warm kernel, seconds in a fresh one
    fresh_imports = [r["imports"] for r in runs["fresh"][1:]]
    warm_imports = [r["imports"] for r in runs["warm-a"][0][2:]]
    assert max(warm_imports) < min(fresh_imports)


@pytest.mark.parametrize("name", ["probe", *REAL])
@pytest.mark.parametrize("tag", ["warm-a", "warm-b"])
def test_warm_output_identical_to_fresh(runs, setup, name, tag):
    base = setup[0]
    fresh = _normalised(base / "fresh" / name / f"{name}.ipynb")
    warm_nb = _normalised(base / tag / name / f"{name}.ipynb")
    code = [c for c in fresh["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    if name != "probe":
        assert any("image/png;base64" in json.dumps(c["outputs"]) for c in code)
    assert warm_nb == fresh


def test_probe_sees_a_fresh_kernel(runs, setup):
    """What the probe shows in a fresh kernel (so the comparison above compares something)."""
    nb = _normalised(setup[0] / "fresh" / "probe" / "probe.ipynb")
    texts = ["".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])]
    assert texts[0] == "probe\n"  # cwd is the notebook's folder
    assert "leftover" not in texts[1] and "left_open" not in texts[1]
    assert texts[2].startswith("1.5 white")  # matplotlib's defaults, not the polluter's
    assert "probe warning" in texts[3]  # the warning is shown
    assert texts[4] == "[] 1\n"  # no figure left open
    result = [o for c in nb["cells"] for o in c.get("outputs", [])
              if o["output_type"] == "execute_result"]
    # 9 code cells: parameters, injected parameters, 7 probe cells
    assert "".join(result[0]["data"]["text/plain"]) == "42" and result[0]["execution_count"] == 9


def test_without_the_reset_the_probe_differs(runs, setup):
    """Control: a warm kernel that is not reset leaks the polluter's state into the probe."""
    base = setup[0]
    fresh = _normalised(base / "fresh" / "probe" / "probe.ipynb")
    leaked = _normalised(base / "no-reset" / "probe" / "probe.ipynb")
    assert leaked != fresh
    texts = ["".join(o.get("text", "")) for c in leaked["cells"] for o in c.get("outputs", [])]
    assert "leftover" in texts[1] and "#EAEAF2" in texts[2]  # seaborn's dark style leaked
    assert "probe warning" not in "".join(texts)  # the warnings filter "ignore" leaked
    assert leaked["cells"][1]["execution_count"] > 1  # the counter was not reset
