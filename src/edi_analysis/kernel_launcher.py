"""Start an IPython kernel that dies with the process that launched it.

The runner's kernelspec runs ``python -m edi_analysis.kernel_launcher -f
{connection_file} …`` instead of ``python -m ipykernel_launcher …``: the same
start-up as ipykernel's own launcher (the working folder is taken off
``sys.path`` before anything is imported; ipykernel puts it back), after
:func:`edi_analysis.procs.die_with_parent`. jupyter_client passes the
launching process's pid in ``JPY_PARENT_PID``.
"""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # as ipykernel_launcher: nothing may be imported from the notebook's folder
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]

    from edi_analysis.procs import die_with_parent

    _parent = os.environ.get("JPY_PARENT_PID", "")
    die_with_parent(int(_parent) if _parent.isdigit() else None)

    from ipykernel import kernelapp as app

    app.launch_new_instance()
