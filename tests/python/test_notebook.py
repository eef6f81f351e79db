"""Runs the example notebooks (quickstart, monitoring) headless against the real broker; any error
cell fails."""
import json
import os
import sys
from pathlib import Path

import pytest

import kafkette

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_notebook(name, tmp_path):
    """Executes examples/<name> on this interpreter with the kafkette under test; returns the
    executed notebook's code-cell outputs."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    # A kernel on this interpreter that imports the kafkette under test.
    spec_dir = tmp_path / "kernels" / "kafkette-test"
    spec_dir.mkdir(parents=True)
    package_root = str(Path(kafkette.__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(p for p in [package_root, os.environ.get("PYTHONPATH", "")] if p)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "kafkette test",
                "language": "python",
                "env": {"PYTHONPATH": pythonpath},
            }
        )
    )
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    km = KernelManager(kernel_name="kafkette-test", kernel_spec_manager=ksm)
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    client = nbclient.NotebookClient(nb, km=km, timeout=120, allow_errors=False)
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    return outputs


def test_quickstart_notebook_runs_clean(tmp_path):
    outputs = run_notebook("quickstart.ipynb", tmp_path)
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "partition  offset  key" in text
    assert "apple #0" in text and "fig #11" in text
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert html and "<table>" in html[0]["data"]["text/html"]


def test_monitoring_notebook_plots_lag_and_throughput(tmp_path):
    pytest.importorskip("matplotlib")
    outputs = run_notebook("monitoring.ipynb", tmp_path)
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    # the slow start builds a lag that the group then works off; nothing is left behind
    largest = int(text.split("largest total lag: ")[1].split()[0])
    final = int(text.split("at the end: ")[1].split()[0])
    assert largest > 0 and final == 0, text
    produced, consumed = (int(x) for x in text.split("- produced ")[1].split()[0:3:2])
    assert produced == consumed > 0
    assert "round trip p50" in text
    assert [o for o in outputs if "image/png" in o.get("data", {})], "no plot"
