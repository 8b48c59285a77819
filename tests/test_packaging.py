"""The wheel: one import package, `duetto`, with the default model inside, working from any folder.

Built for real from the tree with pip, installed for real into a fresh virtual environment (its
dependencies borrowed from this one's site-packages, read as a plain path so this checkout's editable
install stays out of it), and run from an unrelated folder.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from duetto.midi.files import read_midi

pytestmark = pytest.mark.slow  # builds and installs a wheel

REPO = Path(__file__).resolve().parent.parent
FOLDERS = {"live": "duetto", "offline": "duetto/offline", "tools": "duetto/tools", "train": "duetto/train",
           "export": "duetto/export", "models": "duetto/models"}


def packages_in_tree() -> set[str]:
    """Every package folder of the tree, as the path it must have in the wheel."""
    found = set()
    for folder, installed in FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            found.add("/".join([installed, *relative.parts]))
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    (built,) = out.glob("duetto-*.whl")
    return built


def test_the_wheel_holds_only_duetto_and_the_default_model(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    distribution, version = wheel.name.split("-")[:2]
    assert {name.split("/")[0] for name in names} == {"duetto", f"{distribution}-{version}.dist-info"}
    packages = {name.rpartition("/")[0] for name in names if name.endswith("/__init__.py")}
    assert packages == packages_in_tree()
    models = sorted(name for name in names if name.startswith("duetto/models/") and not name.endswith(".py"))
    assert models == ["duetto/models/default.onnx"]
    assert "duetto/tools/assets/call.mid" in names
    assert not [name for name in names if name.endswith((".pt", ".pyc")) or "/tests/" in name or "/support/" in name]


def test_the_installed_command_generates_from_any_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies (numpy, mido, onnxruntime, ...) from this environment, as a plain path: its .pth
    # files, among them this checkout's editable install, are not read
    (site / "duetto-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import duetto, importlib.util as u; print(duetto.__file__); "
                            "print([m for m in ('live', 'offline', 'tools', 'train', 'export', 'support') if u.find_spec(m)])"],
                           capture_output=True, text=True, cwd=elsewhere, check=True).stdout.split("\n")
    assert where[0].startswith(str(site)) and where[1] == "[]"
    prompt = REPO / "tools" / "assets" / "call.mid"
    result = subprocess.run([str(venv / "bin" / "duetto"), "generate", "--prompt", str(prompt), "--seconds", "3",
                             "--seed", "1", "--out", "continued.mid"],
                            capture_output=True, text=True, cwd=elsewhere, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "default.onnx" in result.stderr and len(read_midi(elsewhere / "continued.mid")) > len(read_midi(prompt))
    module = subprocess.run([str(python), "-m", "duetto", "--help"], capture_output=True, text=True, cwd=elsewhere)
    assert module.returncode == 0 and "generate" in module.stdout
