"""Packaging: type stubs match the runtime, every public object has a docstring, and the
sdist carries the core and builds on its own."""
import ast
import inspect
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import kafkette
from kafkette import _kafkette

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "python" / "kafkette"


def stub_names(path):
    tree = ast.parse(path.read_text())
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            names[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = None
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    names[t.id] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = None
    return names




def test_extension_stub_lists_exactly_the_runtime_names():
    stubs = {n for n in stub_names(PKG / "_kafkette.pyi") if not n.startswith("_") or n == "__version__"}
    runtime = {n for n in dir(_kafkette) if not n.startswith("_") or n == "__version__"}
    assert stubs == runtime


@pytest.mark.parametrize("cls", ["MessageToSend", "FetchedMessage", "Producer", "PartitionConsumer", "SendFailure"])
def test_stub_members_match_the_runtime_class(cls):
    stubbed = {m for m in stub_names(PKG / "_kafkette.pyi")[cls]
               if not m.startswith("_") or m in ("__enter__", "__exit__")}
    stubbed -= {"__new__", "__init__"}
    klass = getattr(_kafkette, cls)
    runtime = {m for m in dir(klass) if not m.startswith("_") or m in ("__enter__", "__exit__")}
    runtime -= {"count"} if cls == "SendFailure" else set()  # tuple's own method
    assert stubbed == runtime


def test_package_stub_all_matches_the_runtime():
    tree = ast.parse((PKG / "__init__.pyi").read_text())
    (all_node,) = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"]
    assert ast.literal_eval(all_node.value) == kafkette.__all__
    assert (PKG / "py.typed").exists()


def test_every_public_object_has_a_docstring():
    missing = []
    for name in kafkette.__all__:
        obj = getattr(kafkette, name)
        if isinstance(obj, str):
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            for attr, value in vars(obj).items():
                if attr.startswith("_") and attr not in ("__enter__", "__exit__", "__iter__"):
                    continue
                if not (getattr(value, "__doc__", None) or "").strip():
                    missing.append(name + "." + attr)
    assert missing == []
    assert kafkette.__doc__ and "Producer" in kafkette.__doc__
    assert inspect.signature(kafkette.Producer.send_messages)  # text signatures parse


def test_sdist_carries_the_core_and_builds_on_its_own(tmp_path):
    pytest.importorskip("build")
    src = tmp_path / "src"
    for item in ["core", "ext/python", "tools/cli", "python/kafkette", "setup.py", "pyproject.toml", "MANIFEST.in",
                 "README.md", "VERSION"]:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, src / item, ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.o"))
        else:
            (src / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, src / item)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--skip-dependency-check", "--outdir", str(dist),
         str(src)],
        check=True,
        capture_output=True,
    )
    (sdist,) = dist.glob("kafkette-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        tar.extractall(tmp_path / "unpacked")
    for c in (ROOT / "core" / "src").glob("*.[ch]"):
        assert "core/src/" + c.name in names
    for f in ["core/include/kafkette.h", "VERSION", "setup.py", "pyproject.toml", "python/kafkette/__init__.py",
              "python/kafkette/_kafkette.pyi", "python/kafkette/__init__.pyi", "python/kafkette/py.typed"]:
        assert f in names, f
    assert {"ext/python/" + p.name for p in (ROOT / "ext" / "python").glob("*.[ch]")} <= names
    assert {"tools/cli/" + p.name for p in (ROOT / "tools" / "cli").glob("*.[ch]")} <= names  # the command
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace", "-j2"],
        cwd=unpacked,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, "-c", "import kafkette; print(kafkette.__file__, kafkette.MessageToSend('t', 'v').value)"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(unpacked / "python")),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert str(unpacked) in out and "b'v'" in out
