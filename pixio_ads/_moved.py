"""The flat module paths of the last release, kept working for one release.

pixio-ads now groups its modules by pipeline stage (see ``pixio_ads/__init__.py``). Code that
imports an old path (``from pixio_ads.runner import render_shard``, ``from pixio_ads import
manifest``) still gets the module, now under its new path, with a DeprecationWarning naming
that path. The three old modules whose names are now stage packages (``pixio_ads.campaign``,
``pixio_ads.render``, ``pixio_ads.creative``) answer their old names lazily the same way.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

# old module (under pixio_ads) -> its new path (under pixio_ads)
MOVED = {
    "errors": "core.errors",
    "fileio": "core.fileio",
    "formats": "core.formats",
    "images": "core.images",
    "lifeline": "core.lifeline",
    "stall": "core.stall",
    "tiny_model": "render.tiny_model",
    "upscale": "render.upscale",
    "clip": "render.clip",
    "backdrops": "training.backdrops",
    "backdrop_model": "training.backdrop_model",
    "composite": "creative.composite",
    "cutout": "creative.cutout",
    "emoji": "creative.emoji",
    "overlay": "creative.overlay",
    "scoring": "creative.scoring",
    "brand": "creative.brand",
    "policy": "trust.policy",
    "image_policy": "trust.image_policy",
    "quota": "trust.quota",
    "watermark": "trust.watermark",
    "provenance": "trust.provenance",
    "sheets": "campaign.sheets",
    "prompts": "campaign.prompts",
    "platforms": "campaign.platforms",
    "variants": "campaign.variants",
    "manifest": "outputs.manifest",
    "report": "outputs.report",
    "outlock": "outputs.outlock",
    "review": "delivery.review",
    "reviewapp": "delivery.reviewapp",
    "export": "delivery.export",
    "finishing": "run.finishing",
    "planning": "run.planning",
    "runner": "run.runner",
    "inbox": "run.inbox",
}


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new}: import it from there (the old path goes in the next release)",
        DeprecationWarning,
        stacklevel=3,
    )


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``pixio_ads.<old>`` and answers with the module at its new path (the same object)."""

    def find_spec(self, name, path=None, target=None):
        if name.startswith("pixio_ads.") and name.removeprefix("pixio_ads.") in MOVED:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        new = "pixio_ads." + MOVED[spec.name.removeprefix("pixio_ads.")]
        _warn(spec.name, new)
        return importlib.import_module(new)

    def exec_module(self, module) -> None:
        pass  # already executed under its new name


def install() -> None:
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedModules())  # before the path finders: a stale old file never wins


def lazy_names(package: str, *old_homes: str):
    """A module ``__getattr__`` for a stage package whose name an old module had: a name that is
    not one of the package's submodules is looked up in the old module's new homes, in order."""

    def __getattr__(name: str):
        if name.startswith("__") or importlib.util.find_spec(f"{package}.{name}") is not None:
            raise AttributeError(name)  # a submodule: the import system imports it
        for home in old_homes:
            module = importlib.import_module(home)
            if hasattr(module, name):
                _warn(f"{package}.{name}", f"{home}.{name}")
                value = getattr(module, name)
                setattr(sys.modules[package], name, value)  # warned once; later lookups find it
                return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
