"""Faults during a run: a notebook that raises, a kernel that dies, Ctrl-C, a corrupt slice;
and re-runs that reproduce their outputs.

Small runs (one trust of the sample, one period, toy notebooks or the two
cheapest report notebooks) keep this file quick.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from edi_analysis import runner
from edi_analysis.params import load_params

from test_runner import _nb, sample_dir
from test_warm_kernels import _normalised

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2024-03-31"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from edi_analysis.contract import validate_dataset

    path = sample_dir(tmp_path_factory)
    trusts = sorted(validate_dataset(path).dataset.tables["workforce"]["trust_code"].unique())
    return path, trusts


def _params_file(folder: Path, data_dir: Path, notebooks: dict[str, str], **extra) -> Path:
    nbs = folder / "nbs"
    nbs.mkdir(parents=True, exist_ok=True)
    for name, body in notebooks.items():
        _nb(nbs / name, body)
    lines = [f"data: {data_dir}", f"periods: [{PERIOD}]", "notebooks_dir: nbs",
             "reports_dir: reports", "site_dir: site"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    f = folder / "p.yaml"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f


def _run(params, **kw):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        result = runner.run(params, progress=False, **kw)
    return result, err.getvalue()


def _outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)


# --- a notebook that raises, a kernel that dies ---------------------------------------------

@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory, data):
    """One worker, one warm kernel, in this order: ok, raises, kills its kernel, ok, ok."""
    data_dir, trusts = data
    pid = "import os\nprint('kernel', os.getpid())"
    f = _params_file(tmp_path_factory.mktemp("faults"), data_dir, {
        "01_ok.ipynb": pid,
        "02_raises.ipynb": "raise ValueError('deliberate failure for ' + trust)",
        "03_dies.ipynb": "import os\nos._exit(1)",
        "04_ok.ipynb": pid,
        "05_ok.ipynb": pid,
    })
    params = load_params(f, {"trusts": [trusts[-1]]})
    result, err = _run(params, jobs=1)
    return params, trusts[-1], result, err


def _kernel_pid(params, trust, name) -> int:
    text = _outputs_text(params.reports_dir / PERIOD / trust / name)
    return int(text.split()[1])


def test_a_raising_and_a_dying_notebook_fail_and_the_others_complete(faulty_run):
    params, trust, result, err = faulty_run
    status = {r.notebook: r.status for r in result.records}
    assert status == {"01_ok.ipynb": "ok", "02_raises.ipynb": "failed", "03_dies.ipynb": "failed",
                      "04_ok.ipynb": "ok", "05_ok.ipynb": "ok"}
    assert result.exit_code == 1
    errors = {r.notebook: r.error for r in result.failures}
    assert errors["02_raises.ipynb"] == f"ValueError: deliberate failure for {trust}"
    assert errors["03_dies.ipynb"].startswith("DeadKernelError")
    assert "ran 5 notebooks (1 trust × 1 period)" in err and "3 ok, 2 failed" in err


def test_summary_names_both_failures_and_what_was_kept(faulty_run):
    params, trust, _, err = faulty_run
    folder = params.reports_dir / PERIOD / trust
    assert f"FAILED 02_raises.ipynb for {trust} {PERIOD}: ValueError" in err
    assert f"kept at {folder / '02_raises.ipynb'}" in err
    assert f"FAILED 03_dies.ipynb for {trust} {PERIOD}: DeadKernelError" in err
    assert "no notebook was saved" in err
    # the raising notebook is kept with its traceback; the dead kernel saved nothing
    kept = nbformat.read(folder / "02_raises.ipynb", as_version=4)
    assert [o["ename"] for c in kept.cells for o in c.get("outputs", [])
            if o["output_type"] == "error"] == ["ValueError"]
    assert not (folder / "03_dies.ipynb").exists()
    m = json.loads((folder / "manifest.json").read_text())
    assert m["status"] == "failed"
    assert {n["notebook"]: n["status"] for n in m["notebooks"]}["03_dies.ipynb"] == "failed"


def test_kernels_are_replaced_after_a_failure_and_reused_otherwise(faulty_run):
    params, trust, _, _ = faulty_run
    first, after, next_ = (_kernel_pid(params, trust, n)
                           for n in ("01_ok.ipynb", "04_ok.ipynb", "05_ok.ipynb"))
    assert after != first  # the kernel that ran the failed notebooks was not reused
    assert next_ == after  # a kernel whose notebook succeeded is kept warm


# --- Ctrl-C ----------------------------------------------------------------------------------

def _session_processes(sid: int) -> list[str]:
    """Processes of a session still alive (not zombies): 'pid command' each."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            # fields after the command (which may hold spaces) in parentheses
            fields = stat[stat.rindex(")") + 2:].split()
            state, session = fields[0], int(fields[3])
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if session == sid and state != "Z":
            out.append(f"{d.name} {cmd[:160]}")
    return out


def _stacks(pid: int) -> str:
    """py-spy's dump of a hung process, when py-spy is installed (diagnosis only)."""
    spy = shutil.which("py-spy")
    if not spy:
        return "(py-spy not installed)"
    res = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True,
                         timeout=60)
    return res.stdout + res.stderr


@pytest.mark.slow
def test_interrupt_leaves_no_half_built_report_or_site_and_a_rerun_completes(tmp_path, data):
    data_dir, trusts = data
    trust = trusts[-1]
    go = tmp_path / "go"  # present: the second notebook finishes at once; absent: it waits
    waiting = tmp_path / "waiting"  # the second notebook is in its loop
    f = _params_file(tmp_path, data_dir, {
        "01_first.ipynb": "print('first', trust)",
        "02_waits.ipynb": f"import os, time\nopen({str(waiting)!r}, 'w').close()\n"
                          f"while not os.path.exists({str(go)!r}):\n"
                          "    time.sleep(0.2)\nprint('second', trust)",
    })
    cmd = [sys.executable, "-m", "edi_analysis", "build", str(f), "--trust", trust,
           "--jobs", "1", "--no-progress"]
    reports, site = tmp_path / "reports", tmp_path / "site"
    folder = reports / PERIOD / trust

    go.touch()
    done = subprocess.run([*cmd[:3], "run", *cmd[4:]], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    go.unlink()
    waiting.unlink()  # written by the first run

    # Its own session, so Ctrl-C can be sent as a terminal sends it: to the whole foreground
    # process group (the run, its workers and their kernels). Output goes to files, not pipes:
    # what is under test is that the run exits, not when the last holder of a pipe closes it.
    out, err_file = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("w") as o, err_file.open("w") as e:
        proc = subprocess.Popen(cmd, stdout=o, stderr=e, start_new_session=True)
    try:
        deadline = time.time() + 300
        while not waiting.exists():  # the second notebook's kernel is in its loop
            assert proc.poll() is None and time.time() < deadline, err_file.read_text()
            time.sleep(0.2)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("the run did not exit within 120 s of Ctrl-C; its stacks:\n"
                        + _stacks(proc.pid) + "\nstderr:\n" + err_file.read_text())
        # Nothing it started outlives it for long: workers are stopped before it exits and a
        # kernel whose worker has gone exits within a second or two (ipykernel's parent poller).
        left = _session_processes(proc.pid)
        deadline = time.time() + 30
        while left and time.time() < deadline:
            time.sleep(0.5)
            left = _session_processes(proc.pid)
        assert left == [], left
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(ProcessLookupError):  # no worker or kernel outlives the test
            os.killpg(proc.pid, signal.SIGKILL)
    err = err_file.read_text()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    # the previous complete report is untouched, nothing half-built is left, no site
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []
    assert not site.exists()

    go.touch()
    again = subprocess.run([*cmd[:3], "run", *cmd[4:]], capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    assert "second " + trust in _outputs_text(folder / "02_waits.ipynb")
    assert json.loads((folder / "manifest.json").read_text())["status"] == "ok"


# --- kill -9: nothing keeps running, nothing person-level is left ------------------------------

def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, their children …)."""
    parents: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _proc_stat(int(d.name))) is not None and st[0] != "Z":
            parents.setdefault(st[1], []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _alive(pids) -> list[str]:
    out = []
    for pid in pids:
        st = _proc_stat(pid)
        if st is not None and st[0] != "Z":
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
            out.append(f"{pid} {cmd[:120]}")
    return out


def _wait_gone(pids, seconds: float = 30) -> list[str]:
    deadline = time.time() + seconds
    left = _alive(pids)
    while left and time.time() < deadline:
        time.sleep(0.3)
        left = _alive(pids)
    return left


@pytest.mark.slow
@pytest.mark.parametrize("command", ["build", "run"])
def test_kill_9_leaves_no_process_running_and_the_next_run_removes_the_slices(tmp_path, data,
                                                                              command):
    data_dir, trusts = data
    trust = trusts[-1]
    go, waiting = tmp_path / "go", tmp_path / "waiting"
    f = _params_file(tmp_path, data_dir, {
        "01_first.ipynb": "print('first', trust)",
        "02_waits.ipynb": f"import os, time\nopen({str(waiting)!r}, 'w').close()\n"
                          f"while not os.path.exists({str(go)!r}):\n"
                          "    time.sleep(0.2)\nprint('second', trust)",
    })
    cmd = [sys.executable, "-m", "edi_analysis", command, str(f), "--trust", trust,
           "--jobs", "2", "--no-progress"]
    reports = tmp_path / "reports"
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as e:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=e, start_new_session=True)
    tree: set[int] = set()
    try:
        deadline = time.time() + 300
        while not waiting.exists():
            assert proc.poll() is None and time.time() < deadline, err_file.read_text()
            time.sleep(0.2)
        time.sleep(1.0)
        tree = _descendants(proc.pid)  # workers, their kernels, the resource tracker
        assert len(tree) >= 3, _alive(tree)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # every worker and kernel dies with the run (they would go on executing notebooks)
        assert _wait_gone(tree) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _alive(tree):  # never leave a process behind, whatever the test found
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid.split()[0]), signal.SIGKILL)
    staging = [p for p in reports.iterdir() if p.name.startswith(".staging-")]
    assert len(staging) == 1
    assert staging[0].stat().st_mode & 0o777 == 0o700  # private: the slices are person-level
    assert (staging[0] / "_work" / "slices" / trust / "workforce.parquet").is_file()
    assert not (reports / PERIOD / trust).exists() and not (tmp_path / "site").exists()

    go.touch()
    again = subprocess.run([*cmd[:3], "run", *cmd[4:]], capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"removed {staging[0]}: the staging folder of an interrupted run" in again.stderr
    assert [p.name for p in reports.iterdir()] == [PERIOD]
    assert json.loads((reports / PERIOD / trust / "manifest.json").read_text())["status"] == "ok"


_SLOW_PACK = """
import os, time
from pathlib import Path
from edi_analysis.publish import fallback
_real = fallback.compile_board_pack
def _slow(report, out_pdf, workdir):
    Path(os.environ["EDI_TEST_BUILDING"]).touch()
    time.sleep(600)
fallback.compile_board_pack = _slow
"""


@pytest.mark.slow
def test_kill_9_of_publish_leaves_nothing_running_and_the_next_publish_cleans_up(tmp_path):
    from test_publish import make_reports

    reports = make_reports(tmp_path / "reports")
    f = tmp_path / "p.yaml"
    f.write_text(f"data: {ROOT / 'data' / 'sample'}\nperiods: [2023-03-31, 2024-03-31]\n"
                 "reports_dir: reports\nsite_dir: site\n", encoding="utf-8")
    # every process of this publish (its report workers too) waits in the board pack step
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_SLOW_PACK)
    building = tmp_path / "building"
    env = {**os.environ, "EDI_TEST_BUILDING": str(building),
           "PYTHONPATH": os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH"))
                                         if p)}
    cmd = [sys.executable, "-m", "edi_analysis", "publish", str(f), "--engine", "fallback"]
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as e:
        proc = subprocess.Popen([*cmd, "--jobs", "2"], stdout=subprocess.DEVNULL, stderr=e,
                                env=env, start_new_session=True)
    tree: set[int] = set()
    try:
        deadline = time.time() + 300
        while not building.exists():
            assert proc.poll() is None and time.time() < deadline, err_file.read_text()
            time.sleep(0.2)
        time.sleep(0.5)
        tree = _descendants(proc.pid)
        assert tree, "the publish started no worker"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert _wait_gone(tree) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _alive(tree):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid.split()[0]), signal.SIGKILL)
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".site.build-")]
    assert len(left) == 1 and left[0].stat().st_mode & 0o777 == 0o700
    assert not (tmp_path / "site").exists()
    # an unrelated folder with a similar name is not the tool's: never removed
    lookalike = tmp_path / ".site.build-not-ours"
    lookalike.mkdir()
    again = subprocess.run([*cmd, "--jobs", "1"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"removed {left[0]}: the build folder of an interrupted publish" in again.stderr
    assert not left[0].exists() and lookalike.is_dir()
    assert (tmp_path / "site" / "site-manifest.json").is_file()


# --- a corrupt prepared slice ----------------------------------------------------------------

def test_corrupt_slice_fails_its_notebooks_with_the_file_named(tmp_path, data, monkeypatch):
    data_dir, trusts = data
    bad, good = trusts[-1], trusts[-2]
    f = _params_file(tmp_path, data_dir, {
        "01_load.ipynb": "from edi_analysis import report\n"
                         "r = report.load('01_hia1_board', trust, period, data, peers=peers,\n"
                         "                prepared=prepared)\n"
                         "print(len(r.tables['workforce']))",
    })
    write_slice = runner.write_slice

    def truncating(folder, tables, trust, provenance, **kw):
        out = write_slice(folder, tables, trust, provenance, **kw)
        if trust == bad:  # as if the disk filled up while the slice was written
            target = out / "workforce.parquet"
            target.write_bytes(target.read_bytes()[:100])
        return out

    monkeypatch.setattr(runner, "write_slice", truncating)
    result, err = _run(load_params(f, {"trusts": [bad, good]}), jobs=2)
    by_trust = {r.trust: r for r in result.records}
    assert by_trust[good].status == "ok"
    assert by_trust[bad].status == "failed" and result.exit_code == 1
    assert by_trust[bad].error.startswith("SliceError: cannot read the prepared slice ")
    assert f"slices/{bad}/workforce.parquet" in by_trust[bad].error
    assert f"FAILED 01_load.ipynb for {bad} {PERIOD}: SliceError" in err


# --- re-runs reproduce their outputs --------------------------------------------------------

def _manifest_without_times(path: Path) -> dict:
    """A manifest without what differs between two runs of the same inputs: times, the run's
    id, and the hashes of the notebooks (which hold their run times)."""
    m = json.loads(path.read_text())
    for key in ("started", "finished", "run"):
        m.pop(key)
    m["runs"] = [{k: v for k, v in r.items() if k not in ("started", "finished")}
                 for r in m["runs"].values()]
    m["files"] = {k: ("(a notebook: holds its run times)" if k.endswith(".ipynb") else v)
                  for k, v in m["files"].items()}
    for n in m["notebooks"]:
        for key in ("duration", "kernel_start", "imports", "work", "host", "run"):
            n.pop(key)
    return m


@pytest.mark.slow
def test_rerun_gives_identical_metrics_and_notebooks(tmp_path, data):
    data_dir, trusts = data
    f = tmp_path / "p.yaml"
    f.write_text(f"data: {data_dir}\nperiods: [{PERIOD}]\nnotebooks: [overview, hia1]\n"
                 f"notebooks_dir: {ROOT / 'notebooks'}\nreports_dir: reports\n", encoding="utf-8")
    params = load_params(f, {"trusts": [trusts[-1]]})
    folder = params.reports_dir / PERIOD / trusts[-1]
    first, _ = _run(params, jobs=2)
    assert first.exit_code == 0
    kept = tmp_path / "first"
    shutil.copytree(folder, kept)
    second, _ = _run(params, jobs=2)
    assert second.exit_code == 0
    assert (folder / "metrics.csv").read_bytes() == (kept / "metrics.csv").read_bytes()
    names = sorted(p.name for p in kept.glob("*.ipynb"))
    assert names == ["00_overview.ipynb", "01_hia1_board.ipynb"]
    for name in names:
        a, b = _normalised(kept / name), _normalised(folder / name)
        assert a == b, name
        # no temporary or staging folder name anywhere in the notebook
        text = (folder / name).read_text()
        assert ".staging-" not in text and "edi-analysis-run-" not in text
        # where the notebook is, relative to reports_dir: no absolute local path
        assert a["metadata"]["papermill"]["output_path"] == f"{PERIOD}/{trusts[-1]}/{name}"
    assert _manifest_without_times(folder / "manifest.json") == \
        _manifest_without_times(kept / "manifest.json")
