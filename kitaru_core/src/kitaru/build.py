"""``kitaru build``: the image a flow's executions run in, from :class:`ImageSettings`.

Settings come from ``@flow(image=ImageSettings(...))`` (or a dict), else ``[tool.kitaru.image]``
in the project's ``pyproject.toml``. The build context is the project (the folder of that
``pyproject.toml``, else the flow file's folder) plus a Kitaru wheel and a generated Dockerfile;
the image is tagged with the hash of that context, so an unchanged project is not rebuilt (the
stack's container builder is asked whether the tag exists). Stacks whose orchestrator needs no
image (``local``) make this a no-op. Inside the image the project sits in ``/app`` and
``KITARU_CODE_MAP`` maps the paths executions recorded on the deploying machine to it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kitaru.errors import ConfigError

if TYPE_CHECKING:
    from kitaru.flow import Flow

APP = "/app"
SKIP = {
    ".git",
    ".venv",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
}


class ImageSettings(BaseModel):
    """What goes into a flow's image."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_image: str = Field(default="python:3.11-slim", description="FROM this (needs python3)")
    requirements: list[str] = Field(default_factory=list, description="pip requirement lines")
    requirements_file: str | None = Field(default=None, description="a requirements.txt here")
    apt_packages: list[str] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    #: env var -> ``{{secret:name.key}}``: resolved by the orchestrator at run time, never baked in
    secret_environment: dict[str, str] = Field(default_factory=dict)
    extra_files: dict[str, str] = Field(default_factory=dict, description="image path -> local")

    @field_validator("secret_environment")
    @classmethod
    def _references_only(cls, value: dict[str, str]) -> dict[str, str]:
        from kitaru.stack.references import is_secret_reference

        plain = [k for k, v in value.items() if not is_secret_reference(v)]
        if plain:
            raise ValueError(f"{', '.join(plain)}: write {{{{secret:name.key}}}}, never a value")
        return value

    dockerfile: str | None = Field(default=None, description="a Dockerfile to use instead")


def image_settings(flow: Flow[Any]) -> ImageSettings:
    """The flow's settings: ``@flow(image=)``, else ``[tool.kitaru.image]``, else defaults."""
    raw: Any = flow.image
    where = f"@flow(image=...) of {flow.name!r}"
    if raw is None:
        from kitaru.stack.active import find_pyproject

        pyproject = find_pyproject(Path(flow.location.source_file or ".").parent)
        if pyproject is not None:
            import tomllib

            raw = (
                tomllib.loads(pyproject.read_text()).get("tool", {}).get("kitaru", {}).get("image")
            )
            where = f"[tool.kitaru.image] in {pyproject}"
    if raw is None or isinstance(raw, ImageSettings):
        return raw or ImageSettings()
    try:
        return ImageSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "image"
        raise ConfigError(f"{where}: {field}: {first['msg']}",
                          hint="fields: " + ", ".join(ImageSettings.model_fields)) from None  # fmt: skip


def secret_environment(flow: Flow[Any]) -> dict[str, str]:
    """Env var -> secret reference, for the orchestrator to resolve when it starts a unit."""
    return dict(image_settings(flow).secret_environment)


def project_root(flow: Flow[Any]) -> Path:
    from kitaru.stack.active import find_pyproject

    source = Path(flow.location.source_file or ".").resolve()
    pyproject = find_pyproject(source.parent)
    return pyproject.parent if pyproject is not None else source.parent


def dockerfile(settings: ImageSettings, root: Path, plugins: list[str] | None = None) -> str:
    """``plugins``: requirement lines (``kitaru-example==1.0``) of plugins that come from an
    index; installed in the same pip call as the wheels, so their ``kitaru`` requirement is
    the wheel's."""
    lines = [f"FROM {settings.base_image}"]
    if settings.apt_packages:
        lines.append("RUN apt-get update && apt-get install -y --no-install-recommends "
                     + " ".join(settings.apt_packages) + " && rm -rf /var/lib/apt/lists/*")  # fmt: skip
    from_index = "".join(f" '{r}'" for r in plugins or [])
    lines += ["COPY .kitaru-wheels /tmp/kitaru-wheels",
              f"RUN python3 -m pip install --no-cache-dir /tmp/kitaru-wheels/*.whl{from_index}"]  # fmt: skip
    if settings.requirements_file:
        lines.append(
            f"RUN python3 -m pip install --no-cache-dir -r {APP}/{settings.requirements_file}"
        )
    if settings.requirements:
        quoted = " ".join(f"'{r}'" for r in settings.requirements)
        lines.append(f"RUN python3 -m pip install --no-cache-dir {quoted}")
    env = {**settings.environment, "KITARU_CODE_MAP": f"{root}={APP}", "PYTHONPATH": APP}
    lines += [f"ENV {k}={v!r}".replace("'", '"') for k, v in env.items()]
    for target in settings.extra_files:
        lines.append(f"COPY .kitaru-extra/{Path(target).name} {target}")
    lines += [
        f"COPY . {APP}",
        f"WORKDIR {APP}",
        'ENTRYPOINT ["python3", "-m", "kitaru.entrypoint"]',
    ]
    if settings.requirements_file:  # the file must be there before pip reads it
        lines.insert(1, f"COPY {settings.requirements_file} {APP}/{settings.requirements_file}")
    return "\n".join(lines) + "\n"


def kitaru_wheel(into: Path) -> Path:
    """A wheel of the Kitaru running here, cached in ~/.cache/kitaru/wheels/ (a changed
    checkout gets a new one): a prebuilt ``kitaru-<version>-*.whl`` there (e.g. from ``pip
    download kitaru``) is used as is; otherwise it is built from these sources with uv (or
    pip)."""
    from kitaru import version

    cache = wheel_cache()
    prebuilt = sorted(cache.glob(f"kitaru-{version.__version__}-*.whl"))
    source = Path(version.__file__).resolve().parents[2]  # .../kitaru_core when run from sources
    if prebuilt or not (source / "pyproject.toml").exists():
        if not prebuilt:
            raise ConfigError("cannot find Kitaru's sources to build a wheel for the image",
                              hint=f"put a kitaru-{version.__version__} wheel in {cache}")  # fmt: skip
        return _copy(prebuilt[-1], into)
    return _copy(source_wheel("kitaru", source), into)


def plugin_wheels(providers: set[str], into: Path) -> list[str]:
    """Put wheels of the plugins ``providers`` (distributions) that are installed from a source
    folder (a checkout, an editable install) into ``into``; return requirement lines
    (``name==version``) for those that came from an index."""
    from importlib.metadata import PackageNotFoundError, distribution

    from_index: list[str] = []
    for name in sorted(providers - {"kitaru"}):
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a flavor registered by code that is no distribution (tests, scripts)
        source = _source_folder(dist)
        if source is None:
            from_index.append(f"{dist.metadata['Name']}=={dist.version}")
        else:
            _copy(source_wheel(str(dist.metadata["Name"]), source), into)
    return from_index


def _source_folder(dist: Any) -> Path | None:
    """The folder a distribution was installed from (PEP 610 ``direct_url.json``), if any."""
    import json
    from urllib.parse import unquote, urlparse

    raw = dist.read_text("direct_url.json")
    if not raw:
        return None
    info = json.loads(raw)
    url = urlparse(info.get("url", ""))
    if "dir_info" not in info or url.scheme != "file":
        return None
    folder = Path(unquote(url.path))
    return folder if (folder / "pyproject.toml").exists() else None


def wheel_cache() -> Path:
    return Path(os.environ.get("KITARU_CACHE", Path.home() / ".cache" / "kitaru")) / "wheels"


def source_wheel(name: str, source: Path) -> Path:
    """A wheel built from ``source`` (a project folder), cached by the hash of its sources and
    its pyproject.toml."""
    sources = source / "src" if (source / "src").is_dir() else source
    key = hashlib.sha256((context_hash(sources) + (source / "pyproject.toml").read_text()).encode())
    prefix = "" if name == "kitaru" else f"{name}-"
    folder = wheel_cache() / f"{prefix}src-{key.hexdigest()[:16]}"
    pattern = f"{name.replace('-', '_')}-*.whl"
    if not list(folder.glob(pattern)):
        _build_wheel(source, folder, wheel_cache())
    return sorted(folder.glob(pattern))[-1]


def _copy(wheel: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(wheel, into / wheel.name))


def _build_wheel(source: Path, folder: Path, cache: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv") or str(Path.home() / ".cache/kitaru/bootstrap/bin/uv")
    if os.path.exists(uv):  # a uv-made venv has no pip
        cmd = [uv, "build", "--wheel", "--quiet", "--out-dir", str(folder), str(source)]
    else:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder),
               str(source)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(f"building a wheel of {source.name} for the image failed: "
                          f"{(done.stderr.strip().splitlines() or ['?'])[-1]}",
                          hint=f"build one into {cache} yourself")  # fmt: skip


def context_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def stack_providers(stack: Any) -> set[str]:
    """The distributions that provide the flavors of ``stack``'s components."""
    from kitaru.plugins.manager import plugin_manager

    manager = plugin_manager()
    return {
        manager.flavor(kind, spec.flavor).provider for kind, spec in stack.spec.components.items()
    }


def build(
    flow: Flow[Any], *, stack: str | None = None, progress: Callable[[str], None] = print,
    steps: Callable[[str], None] | None = None,
) -> str | None:  # fmt: skip
    """Build and push the flow's image on ``stack``'s container builder; its reference, or
    None when the stack needs no image. ``progress`` gets what happens (building, pushing),
    ``steps`` the builder's own lines (each build step, each pushed layer)."""
    from kitaru.runtime.stacks import stack_name_for, stack_of

    name = stack_name_for(stack or flow.stack)
    target = stack_of(name)
    if not target.orchestrator.capabilities.needs_image:
        progress(f"stack {name!r} runs flows as local processes: no image to build")
        return None
    builder = target.container_builder
    if builder is None:
        raise ConfigError(f"stack {name!r} needs an image but has no container_builder",
                          hint=f"kitaru stack update {name} --container-builder NAME")  # fmt: skip
    settings = image_settings(flow)
    root = project_root(flow)
    with tempfile.TemporaryDirectory(prefix="kitaru-build-") as tmp:
        context = Path(tmp)
        shutil.copytree(root, context, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*SKIP))  # fmt: skip
        kitaru_wheel(context / ".kitaru-wheels")
        # the stack's plugins run inside the image too (its artifact store, a job's shim)
        plugins = plugin_wheels(stack_providers(target), context / ".kitaru-wheels")
        for target_path, local in settings.extra_files.items():
            extra = context / ".kitaru-extra"
            extra.mkdir(exist_ok=True)
            shutil.copy2(root / local, extra / Path(target_path).name)
        if settings.dockerfile:
            text = (root / settings.dockerfile).read_text()
        else:
            text = dockerfile(settings, root, plugins)
        (context / ".kitaru.Dockerfile").write_text(text)
        tag = f"{(builder.config.registry or 'localhost/kitaru').rstrip('/')}/{flow.name.lower()}"
        image = f"{tag}:{context_hash(context)[:16]}"
        if builder.exists(image):
            progress(f"{image} is up to date: nothing to build")
            return image
        from kitaru.components.container_builder import BuildContext

        progress(f"building {image} (from {settings.base_image})")
        with builder.reporting(steps):
            built = builder.build(BuildContext(path=str(context), dockerfile=".kitaru.Dockerfile",
                                               tag=image))  # fmt: skip
            progress(f"pushing {built}")
            return builder.push(built)
