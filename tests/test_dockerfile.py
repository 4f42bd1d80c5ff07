"""Invariants of the Dockerfile, checked without a Docker engine.

Why a parser test: there is no Docker engine where the suite runs, so the image is never built in
CI. What must never regress is still checkable from the text: the service runs as a non-root
user, auth cannot be switched off, the health check hits /health without curl, gunicorn is
started through `cdshooks serve`, and the build context holds what `pip install .` needs.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case, e.g. "FROM"
    args: str  # the rest of the logical line, continuations joined
    stage: int  # index of the FROM stage it belongs to


def parse_dockerfile(text: str) -> list[Instruction]:
    """Logical instructions: comments dropped, backslash continuations joined, stages numbered."""
    instructions: list[Instruction] = []
    stage = -1
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue  # a comment inside a continued instruction is ignored by Docker
        if line.endswith("\\"):
            buffer += line[:-1].strip() + " "
            continue
        logical = (buffer + line).strip()
        buffer = ""
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    assert not buffer, "Dockerfile ends inside a line continuation"
    return instructions


def exec_form(args: str) -> list[str]:
    """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, or a failure if shell form."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def env_pairs(args: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for token in shlex.split(args):
        key, sep, value = token.partition("=")
        assert sep, f"ENV in legacy 'ENV key value' form: {args!r}"
        pairs[key] = value
    return pairs


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def _one(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected exactly one {keyword} in the final stage, found {len(found)}"
    return found[0]


def test_parser_joins_continuations_and_counts_stages() -> None:
    parsed = parse_dockerfile("FROM a AS b\n# c\nRUN x \\\n  # inner\n  && y\nFROM c\nUSER 1\n")
    assert [(i.keyword, i.args, i.stage) for i in parsed] == [
        ("FROM", "a AS b", 0),
        ("RUN", "x && y", 0),
        ("FROM", "c", 1),
        ("USER", "1", 1),
    ]


def test_every_stage_uses_one_python_311_slim_pinned_to_a_patch_release(instructions: list[Instruction]) -> None:
    bases = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    assert bases, "no FROM"
    assert len(set(bases)) == 1 and re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", bases[0]), bases


def test_runs_as_non_root_before_entrypoint(final_stage: list[Instruction]) -> None:
    users = [n for n, i in enumerate(final_stage) if i.keyword == "USER"]
    assert users, "final stage has no USER: the service would run as root"
    last_user = final_stage[users[-1]].args.split(":")[0]
    assert last_user not in ("root", "0", ""), last_user
    entry = next(n for n, i in enumerate(final_stage) if i.keyword == "ENTRYPOINT")
    assert users[-1] < entry, "USER must be set before the ENTRYPOINT"


def final_env(final_stage: list[Instruction]) -> dict[str, str]:
    envs: dict[str, str] = {}
    for i in final_stage:
        if i.keyword == "ENV":
            envs.update(env_pairs(i.args))
    return envs


def test_entrypoint_is_cdshooks_serve_on_all_interfaces_on_the_configured_port(final_stage: list[Instruction]) -> None:
    argv = exec_form(_one(final_stage, "ENTRYPOINT").args)
    assert argv[:2] == ["cdshooks", "serve"], argv
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert "--port" not in argv, "the port is CDSHOOKS_PORT, which serve --port reads"
    assert "--dev" not in argv
    assert not [i for i in final_stage if i.keyword == "CMD" and "--dev" in i.args]
    assert final_env(final_stage)["CDSHOOKS_PORT"] in _one(final_stage, "EXPOSE").args.split()
    serve_src = (ROOT / "cdshooks" / "serve.py").read_text(encoding="utf-8")
    assert 'envvar="CDSHOOKS_PORT"' in serve_src


def test_cdshooks_serve_is_the_gunicorn_console_script() -> None:
    """The entry point only means "gunicorn" if the console script really leads there."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["cdshooks"] == "cdshooks.cli:main"
    assert any(d.startswith("gunicorn") for d in project["dependencies"])
    serve_src = (ROOT / "cdshooks" / "serve.py").read_text(encoding="utf-8")
    assert "from gunicorn.app.base import BaseApplication" in serve_src
    assert "from .serve import serve" in (ROOT / "cdshooks" / "cli.py").read_text(encoding="utf-8")


def test_healthcheck_asks_health_with_python_not_curl(final_stage: list[Instruction]) -> None:
    args = _one(final_stage, "HEALTHCHECK").args
    assert "CMD" in args.split(), args
    argv = exec_form(args[args.index("CMD") + len("CMD"):].strip())
    assert argv[0] == "python", argv
    assert "CDSHOOKS_PORT" in " ".join(argv) and "/health" in " ".join(argv)
    assert not any(tool in args for tool in ("curl", "wget"))


def test_healthcheck_command_really_checks_the_configured_port(final_stage: list[Instruction], live_service) -> None:
    """Run the HEALTHCHECK's own command: 0 against the service's port, 1 against a dead one."""
    import os
    import subprocess
    import sys
    from urllib.parse import urlsplit

    from support.servers import free_port

    args = _one(final_stage, "HEALTHCHECK").args
    argv = exec_form(args[args.index("CMD") + len("CMD"):].strip())
    with live_service() as base:
        port = str(urlsplit(base).port)
        ok = subprocess.run([sys.executable, *argv[1:]], env={**os.environ, "CDSHOOKS_PORT": port}, capture_output=True, timeout=30)
    dead = subprocess.run([sys.executable, *argv[1:]], env={**os.environ, "CDSHOOKS_PORT": str(free_port())}, capture_output=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert dead.returncode != 0


def test_auth_stays_required(instructions: list[Instruction]) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "CDSHOOKS_AUTH=disabled" not in text.replace(" ", "")
    envs: dict[str, str] = {}
    for i in instructions:
        if i.keyword == "ENV":
            envs.update(env_pairs(i.args))
        assert not (i.keyword == "ARG" and "CDSHOOKS_AUTH" in i.args), "auth must not be a build arg"
    assert envs.get("CDSHOOKS_AUTH", "required") == "required"
    assert envs.get("CDSHOOKS_TRUSTED_ISSUERS", "").startswith("/"), "issuers file path must be set for mounting"


def test_data_dir_is_a_volume(final_stage: list[Instruction]) -> None:
    envs: dict[str, str] = {}
    for i in final_stage:
        if i.keyword == "ENV":
            envs.update(env_pairs(i.args))
    assert envs["CDSHOOKS_DATA_DIR"] == "/var/lib/cdshooks"
    volumes = json.loads(_one(final_stage, "VOLUME").args)
    assert "/var/lib/cdshooks" in volumes


def test_pip_install_without_cache(instructions: list[Instruction]) -> None:
    installs = [i for i in instructions if i.keyword == "RUN" and "pip install" in i.args]
    assert installs, "no pip install"
    assert all("--no-cache-dir" in i.args and "-c constraints.txt" in i.args for i in installs), "pinned installs only"


def test_dependencies_have_their_own_layer(instructions: list[Instruction]) -> None:
    """Code changes must not reinstall dependencies: deps are installed before the code is copied."""
    build = [i for i in instructions if i.stage == 0]
    deps = next(n for n, i in enumerate(build) if i.keyword == "RUN" and "-r requirements.txt" in i.args)
    code = next(n for n, i in enumerate(build) if i.keyword == "COPY" and "cdshooks" in i.args)
    package = next(n for n, i in enumerate(build) if i.keyword == "RUN" and "--no-deps" in i.args and i.args.rstrip().endswith(" ."))
    copies_before = " ".join(i.args for i in build[:deps] if i.keyword == "COPY")
    assert deps < code < package and "pyproject.toml" in copies_before and "constraints.txt" in copies_before


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics that matter here: last matching pattern wins, `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if any(fnmatch.fnmatch(p, pat) for p in prefixes) or (
            pat.startswith("**/") and any(fnmatch.fnmatch(x, pat[3:]) for x in parts)
        ):
            ignored = not negate
    return ignored


def test_build_context_has_what_the_copies_need(instructions: list[Instruction]) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for copy in (i for i in instructions if i.keyword == "COPY" and "--from=" not in i.args):
        *sources, _dest = copy.args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} is missing from the repository"
            assert not _ignored(source, patterns), f"COPY source {source} is excluded by .dockerignore"
    for private in (".git", "var", "var/cdshooks.sqlite3", "tests", "bench", "fhir_fixtures", ".venv"):
        assert _ignored(private, patterns), f"{private} would be sent to the Docker build context"
    assert _ignored("cdshooks/__pycache__/app.cpython-311.pyc", patterns)
