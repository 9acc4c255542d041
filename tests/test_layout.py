"""The package's layout is its architecture: stages import only the stages before them (the
order in pixio_ads/__init__.py), no module imports itself back through others, modules and
functions stay short, and the old flat module paths still work, with a warning naming the new."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest
from helpers import REPO

import pixio_ads

PACKAGE = REPO / "pixio_ads"
# The order of pixio_ads/__init__.py's docstring: a stage may import the ones before it (or itself).
STAGES = list(pixio_ads.STAGES)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The pixio_ads modules a module imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pixio_ads"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("pixio_ads")}
    return found & known


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, set(found)) - {name} for name, path in found.items()}


def test_every_module_belongs_to_a_stage():
    loose = [m for m in modules() if m.count(".") and stage(m) is None and not m.split(".")[1].startswith("_")]
    assert not loose, f"modules outside the stages of pixio_ads/__init__.py: {loose}"


def test_stages_import_only_the_stages_before_them():
    upward = []
    for module, targets in graph().items():
        here = stage(module)
        for target in targets:
            there = stage(target)
            if here and there and STAGES.index(there) > STAGES.index(here):
                upward.append(f"{module} -> {target}")
    assert not upward, upward


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_stage_packages_say_what_they_own():
    for name in STAGES:
        init = PACKAGE / name / "__init__.py"
        if init.exists():
            assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"


def test_modules_and_functions_stay_short():
    long_modules, long_functions = [], []
    for module, path in modules().items():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(f"{module} ({len(source.splitlines())} lines)")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{module}.{node.name} ({length} lines)")
    assert not long_modules and not long_functions, (long_modules, long_functions)


@pytest.mark.parametrize(
    "old, name, new",
    [
        ("pixio_ads.runner", "render_shard", "pixio_ads.run.runner"),
        ("pixio_ads.manifest", "MANIFEST_SCHEMA", "pixio_ads.outputs.manifest"),
        ("pixio_ads.policy", "load_policy", "pixio_ads.trust.policy"),
        ("pixio_ads.campaign", "load_campaign", "pixio_ads.campaign.spreadsheet"),
        ("pixio_ads.render", "load_model", "pixio_ads.render.loading"),
        ("pixio_ads.creative", "finish", "pixio_ads.run.compose"),
    ],
)
def test_old_module_paths_still_work_and_name_the_new_one(old, name, new):
    import importlib

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), name)
    if old.count(".") == 1 and old.split(".")[1] not in STAGES:  # a flat module: warned on import
        assert any(new in str(w.message) for w in caught), [str(w.message) for w in caught]


def test_the_old_flow_module_path_is_unchanged():
    from pixio_ads.flows.generate_campaign import generate_campaign

    assert generate_campaign.name == "generate-campaign"


@pytest.mark.parametrize(
    "entrypoint, flow_name",
    [
        ("generate_campaign", "generate-campaign"),
        ("campaign_inbox", "campaign-inbox"),
        ("render_shard", "render-shard"),
        ("review_page", "review-page"),
    ],
)
def test_the_top_level_flow_entrypoints_name_the_package_flows(entrypoint, flow_name):
    """`prefect deploy` loads flows/<file>.py:<flow> by path: the flow it finds is the package's."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"entrypoint_{entrypoint}", REPO / "flows" / f"{entrypoint}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert getattr(module, entrypoint).name == flow_name


def test_the_prompt_templates_have_one_copy_the_package_reads():
    """templates/ at the top is what a team edits; the package's templates folder is a link to it
    (the wheel gets the files themselves: make wheel-check renders from the installed wheel)."""
    from pixio_ads.campaign.prompts import builtin_templates_dir

    assert (PACKAGE / "templates").is_symlink()
    assert builtin_templates_dir().resolve() == (REPO / "templates").resolve()
    assert sorted(p.name for p in (REPO / "templates").glob("*.j2")) == ["lifestyle.j2", "studio.j2"]
