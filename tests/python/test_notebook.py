"""Runs examples/quickstart.ipynb headless against the real broker; any error cell fails."""
import json
import os
import sys
from pathlib import Path

import pytest

import kafkette

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_runs_clean(tmp_path):
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
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, km=km, timeout=120, allow_errors=False)
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "partition  offset  key" in text
    assert "apple #0" in text and "fig #11" in text
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert html and "<table>" in html[0]["data"]["text/html"]
