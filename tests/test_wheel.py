"""The way most users install it: the wheel, `pip install`ed into a new environment with no
Node.js on the PATH, gives both halves enabled and working; the sdist carries the lab
extension's sources and its build, and rebuilds into the same wheel.

The sdist and the wheels are built once per session from a copy of this tree. The copy takes
the lab extension already built (by `pip install .` or `jlpm build:prod` in this tree, else
the one installed in this environment), so the build needs no Node.js either; with none
built, the build hook runs jlpm (Node.js needed). Installing the wheel and JupyterLab into
the venv is the slow part (a minute or more, from pip's configured indexes)."""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from jupyter_core.paths import jupyter_path
from jupyter_process import Lab, free_port, wait_until_up

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parent.parent
NAME = "jupyter_gemini_live"
LAB_NAME = "jupyter-gemini-live"
#: what must not be on the PATH when the wheel is installed and used
NODE_TOOLS = ("node", "nodejs", "npm", "npx", "yarn", "jlpm")
#: left out of the copy of the tree (big, or outputs of earlier builds)
NOT_COPIED = {
    ".git",
    ".venv",
    "build",
    "dist",
    "test-results",
    "labextension/node_modules",
    "labextension/lib",
    "labextension/.yarn",
    "labextension/coverage",
}

#: JupyterLab's page config in the page it serves
CONFIG_DATA = re.compile(
    r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', re.S
)


@dataclass
class Dists:
    sdist: Path
    wheel: Path  # built from the sdist, as `python -m build` does
    tree_wheel: Path  # built from the tree
    version: str


@dataclass
class Venv:
    folder: Path
    python: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 300) -> str:
        """A command run in the venv, from a folder without the source tree in it."""
        return run([str(self.python), *args], env=self.env, cwd=self.folder, timeout=timeout)

    def jupyter(self, *args: str) -> str:
        return strip_colour(self.run("-m", "jupyter", *args))


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output[-6000:]}"
    return output


def strip_colour(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def copy_tree(destination: Path) -> Path:
    def ignored(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(ROOT)
        return {
            name
            for name in names
            if (relative / name).as_posix() in NOT_COPIED
            or name == "__pycache__"
            or name.endswith((".egg-info", "_cache"))
        }

    shutil.copytree(ROOT, destination, ignore=ignored)
    return destination


def prebuilt_labextension() -> Path | None:
    """The lab extension built in this tree, else the one installed in this environment."""
    candidates = [ROOT / NAME / "labextension"]
    candidates += [Path(folder) / LAB_NAME for folder in jupyter_path("labextensions")]
    for candidate in candidates:
        if (candidate / "static" / "style.js").is_file() and (candidate / "package.json").is_file():
            return candidate
    return None


def isolation(source: Path) -> list[str]:
    """No build isolation when this environment has the build requirements (the `test` extra
    brings them): installing them into two isolated environments would double the time."""
    from build import ProjectBuilder, check_dependency

    requires = ProjectBuilder(source).build_system_requires
    unmet = [chain for requirement in requires for chain in check_dependency(requirement)]
    return [] if unmet else ["--no-isolation"]


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    work = tmp_path_factory.mktemp("dists")
    source = copy_tree(work / "source")
    built = source / NAME / "labextension"
    if not (built / "static" / "style.js").is_file():
        prebuilt = prebuilt_labextension()
        if prebuilt is not None:
            shutil.rmtree(built, ignore_errors=True)
            # install.json is added to the wheel from labextension/ (pyproject's shared-data)
            shutil.copytree(prebuilt, built, ignore=shutil.ignore_patterns("install.json"))
        elif not (shutil.which("node") and shutil.which("jlpm")):
            pytest.skip("no lab extension built, and no Node.js to build one")
    build = [sys.executable, "-m", "build", *isolation(source)]
    # The sdist, then a wheel built from it: what `python -m build` does for a release.
    run([*build, "--outdir", str(work / "release"), str(source)], cwd=work, timeout=900)
    run([*build, "--wheel", "--outdir", str(work / "tree"), str(source)], cwd=work, timeout=900)
    (sdist,) = (work / "release").glob("*.tar.gz")
    (wheel,) = (work / "release").glob("*.whl")
    (tree_wheel,) = (work / "tree").glob("*.whl")
    version = wheel.name.split("-")[1]
    return Dists(sdist, wheel, tree_wheel, version)


def path_without_node() -> str:
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(
        folder
        for folder in folders
        if folder and not any(shutil.which(tool, path=folder) for tool in NODE_TOOLS)
    )


@pytest.fixture(scope="session")
def venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv (without the system's site-packages) with the wheel and JupyterLab installed
    by pip as configured on this machine, with no Node.js on the PATH, and Jupyter's user
    folders of its own."""
    folder = tmp_path_factory.mktemp("venv")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV", "CONDA"))
        and key not in ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    }
    for name in ("CONFIG", "DATA", "RUNTIME"):
        env[f"JUPYTER_{name}_DIR"] = str(folder / "user" / name.lower())
    run([sys.executable, "-m", "venv", str(folder / "env")], cwd=folder, env=env, timeout=300)
    bin_dir = folder / "env" / ("Scripts" if os.name == "nt" else "bin")
    env["VIRTUAL_ENV"] = str(folder / "env")
    env["PATH"] = os.pathsep.join([str(bin_dir), path_without_node()])
    for tool in ("node", "nodejs", "npm"):
        assert shutil.which(tool, path=env["PATH"]) is None, tool
    environment = Venv(folder, bin_dir / "python", env)
    install = ["-m", "pip", "install", "--no-compile", "--progress-bar=off"]
    environment.run(*install, str(dists.wheel), "jupyterlab>=4,<5", timeout=1200)
    return environment


def test_the_wheel_carries_the_prebuilt_lab_extension_and_the_server_config(dists: Dists) -> None:
    data = f"{NAME}-{dists.version}.data/data/"
    lab = f"{data}share/jupyter/labextensions/{LAB_NAME}/"
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
        for name in ("package.json", "install.json", "static/style.js"):
            assert lab + name in names, sorted(names)
        assert f"{lab}schemas/{LAB_NAME}/plugin.json" in names
        assert any(re.fullmatch(re.escape(lab) + r"static/remoteEntry\.\w+\.js", n) for n in names)
        assert json.loads(wheel.read(lab + "package.json"))["name"] == LAB_NAME
        assert json.loads(wheel.read(lab + "install.json"))["packageName"] == NAME
        config = json.loads(wheel.read(f"{data}etc/jupyter/jupyter_server_config.d/{NAME}.json"))
        assert config["ServerApp"]["jpserver_extensions"] == {NAME: True}
        info = f"{NAME}-{dists.version}.dist-info/"
        assert "BSD" in wheel.read(f"{info}licenses/LICENSE").decode()
        metadata = email.parser.Parser().parsestr(wheel.read(f"{info}METADATA").decode())
    # Only the package and the data above: the built extension is not a second time in the
    # package, and neither tests nor the extension's sources are in the wheel.
    for name in names:
        assert name.startswith((f"{NAME}/", data, info)), name
        assert not name.startswith(f"{NAME}/labextension/"), name
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata["License-File"] == "LICENSE"
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().startswith(f"# {NAME}")
    assert "jupyterlab-extension" in metadata["Keywords"].split(",")
    classifiers = metadata.get_all("Classifier")
    for classifier in (
        "Development Status :: 3 - Alpha",
        "Framework :: Jupyter :: JupyterLab :: Extensions :: Prebuilt",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3.10",
    ):
        assert classifier in classifiers


def test_the_sdist_carries_the_lab_extension_sources_and_its_build(dists: Dists) -> None:
    top = f"{NAME}-{dists.version}/"
    with tarfile.open(dists.sdist) as sdist:
        names = {name.removeprefix(top) for name in sdist.getnames()}
    for name in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "PKG-INFO",
        f"jupyter-config/server-config/{NAME}.json",
        "labextension/package.json",
        "labextension/yarn.lock",
        "labextension/install.json",
        "labextension/tsconfig.json",
        "labextension/src/index.ts",
        "labextension/schema/plugin.json",
        "labextension/style/index.css",
        f"{NAME}/labextension/package.json",
        f"{NAME}/labextension/static/style.js",
    ):
        assert name in names, name
    assert not any("node_modules" in name for name in names)
    assert not any(name.startswith("labextension/lib/") for name in names)


def wheel_contents(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as wheel:
        return {item: hashlib.sha256(wheel.read(item)).hexdigest() for item in wheel.namelist()}


def test_the_sdist_rebuilds_into_the_wheel_built_from_the_tree(dists: Dists) -> None:
    from_sdist, from_tree = wheel_contents(dists.wheel), wheel_contents(dists.tree_wheel)
    assert from_sdist.keys() == from_tree.keys()
    assert [name for name in from_sdist if from_sdist[name] != from_tree[name]] == []


def sections(listing: str) -> Iterator[tuple[str, str]]:
    """(folder, line) for each entry of `jupyter server|labextension list`."""
    folder = ""
    for line in listing.splitlines():
        if line.startswith("Config dir: "):
            folder = line.removeprefix("Config dir: ").strip()
        elif line and not line[0].isspace():
            folder = line.strip()
        elif line.strip():
            yield folder, line.strip()


def test_the_installed_package_is_the_wheel(venv: Venv) -> None:
    found = venv.run("-c", f"import {NAME}; print({NAME}.__file__)").strip()
    assert Path(found).is_relative_to(venv.folder / "env"), found


def test_the_installed_server_extension_is_enabled_and_loads(venv: Venv) -> None:
    listing = venv.jupyter("server", "extension", "list")
    entries = [(folder, line) for folder, line in sections(listing) if NAME in line]
    assert (str(venv.folder / "env" / "etc" / "jupyter"), f"{NAME} enabled") in entries, listing
    assert any(re.fullmatch(rf"{NAME} \S+ OK", line) for _, line in entries), listing


def test_the_installed_lab_extension_is_enabled_without_node(venv: Venv) -> None:
    listing = venv.jupyter("labextension", "list")
    entries = [(folder, line) for folder, line in sections(listing) if line.startswith(LAB_NAME)]
    assert len(entries) == 1, listing
    folder, line = entries[0]
    assert folder == str(venv.folder / "env" / "share" / "jupyter" / "labextensions"), listing
    assert re.match(rf"{LAB_NAME} v\S+ enabled OK \(python, {NAME}\)", line), listing


@pytest.fixture
def venv_lab(venv: Venv) -> Iterator[Lab]:
    port, token = free_port(), secrets.token_hex(16)
    root = venv.folder / "root"
    root.mkdir(exist_ok=True)
    log_path = venv.folder / f"lab-{port}.log"
    command = [
        str(venv.python), "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=venv.env, cwd=venv.folder
        )
    runtime = venv.folder / "user" / "runtime"
    lab = Lab(f"http://127.0.0.1:{port}/", token, process, root, runtime, log_path)
    try:
        wait_until_up(lab, log_path, timeout=240)
        yield lab
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def fetch(lab: Lab, path: str) -> bytes:
    request = urllib.request.Request(
        f"{lab.url}{path}", headers={"Authorization": f"token {lab.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read()
        return body


def test_the_installed_lab_serves_the_extension_and_its_api(venv_lab: Lab, dists: Dists) -> None:
    status = venv_lab.api("GET", "status")
    assert status["version"] == dists.version
    assert status["backends"]["echo"] == {"available": True, "reason": None}
    # The page tells the browser to load the prebuilt extension, and the server serves it.
    page = fetch(venv_lab, "lab").decode()
    found = CONFIG_DATA.search(page)
    assert found, page[:2000]
    extensions = json.loads(found.group(1))["federated_extensions"]
    (ours,) = [extension for extension in extensions if extension["name"] == LAB_NAME]
    assert fetch(venv_lab, f"lab/extensions/{LAB_NAME}/{ours['load']}")
