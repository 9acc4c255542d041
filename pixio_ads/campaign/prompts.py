"""Prompt templates: Jinja2 in a sandbox with strict undefined variables.

Templates are looked up in ``templates/`` beside the campaign first, then in the
package's built-in ``pixio_ads/templates/``. Errors name the template file and line.
"""

from __future__ import annotations

import hashlib
import os
import re
import traceback
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from pixio_ads.core.errors import Issue

TEMPLATE_SUFFIX = ".j2"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def builtin_templates_dir() -> Path:
    """The package's built-in templates (package data, ``pixio_ads/templates/``), or the
    folder PIXIO_ADS_TEMPLATES names. In the repository ``pixio_ads/templates`` is a link to the
    top-level ``templates/`` a team edits (one copy); the wheel holds the files themselves."""
    override = os.environ.get("PIXIO_ADS_TEMPLATES")
    # A real folder in a regular install: Jinja compiles templates under their path, so
    # errors name the file and line.
    return Path(override) if override else Path(str(resources.files("pixio_ads").joinpath("templates")))


def template_dirs(campaign_folder: Path) -> list[Path]:
    return [Path(campaign_folder) / "templates", builtin_templates_dir()]


def find_template(name: str, campaign_folder: Path) -> Path | None:
    """Path of template ``name`` (without suffix), or None. Names never contain path parts."""
    if not _NAME.match(name):
        return None
    for folder in template_dirs(campaign_folder):
        candidate = folder / f"{name}{TEMPLATE_SUFFIX}"
        if candidate.is_file():
            return candidate
    return None


def available_templates(campaign_folder: Path) -> list[str]:
    names = {
        path.stem
        for folder in template_dirs(campaign_folder)
        if folder.is_dir()
        for path in folder.glob(f"*{TEMPLATE_SUFFIX}")
    }
    return sorted(names)


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    name: str
    path: Path
    sha256: str
    template: jinja2.Template
    variables: tuple[str, ...] = ()  # the context names the template reads (jinja2.meta)


class TemplateError(Exception):
    def __init__(self, issue: Issue):
        self.issue = issue
        super().__init__(str(issue))


class PromptRenderer:
    """Compiles each template once and renders prompts from a context dict."""

    def __init__(self) -> None:
        # Whitespace is collapsed after rendering, so block tags need no trimming.
        self.env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        self._compiled: dict[Path, CompiledTemplate] = {}
        # Prompts by (template, the values it reads): a template that does not read the copy
        # renders once for every language and copy option of a combination.
        self._rendered: dict[tuple, str] = {}

    def compile(self, name: str, path: Path) -> CompiledTemplate:
        if path not in self._compiled:
            source = path.read_text(encoding="utf-8")
            try:
                # Compiled under its real path, so tracebacks name the template file.
                code = self.env.compile(source, name, str(path))
                template = self.env.template_class.from_code(self.env, code, self.env.make_globals(None))
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    Issue(
                        str(path),
                        f"template syntax error: {exc.message}",
                        "correct the Jinja syntax on that line",
                        line=exc.lineno,
                    )
                ) from None
            sha = hashlib.sha256(source.encode("utf-8")).hexdigest()
            variables = tuple(sorted(jinja2.meta.find_undeclared_variables(self.env.parse(source))))
            self._compiled[path] = CompiledTemplate(name, path, sha, template, variables)
        return self._compiled[path]

    def render(self, compiled: CompiledTemplate, context: dict) -> str:
        """Render and collapse whitespace, so template layout never changes the prompt."""
        key = (compiled.path, *(repr(context.get(name)) for name in compiled.variables))
        if key not in self._rendered:
            if len(self._rendered) > 100_000:
                self._rendered.clear()
            self._rendered[key] = self._render(compiled, context)
        return self._rendered[key]

    def _render(self, compiled: CompiledTemplate, context: dict) -> str:
        try:
            text = compiled.template.render(context)
        except SecurityError as exc:
            raise TemplateError(
                Issue(
                    str(compiled.path),
                    f"template tried to reach Python internals and the sandbox blocked it: {str(exc).rstrip('.')}",
                    "use only the campaign fields: " + ", ".join(sorted(context)),
                    line=_template_line(exc, compiled.template),
                )
            ) from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                Issue(
                    str(compiled.path),
                    f"template uses an undefined variable: {exc.message}",
                    "available variables: " + ", ".join(sorted(context)),
                    line=_template_line(exc, compiled.template),
                )
            ) from None
        except Exception as exc:  # any other runtime error inside the template
            raise TemplateError(
                Issue(
                    str(compiled.path),
                    f"template failed: {exc.__class__.__name__}: {exc}",
                    "correct the expression on that line",
                    line=_template_line(exc, compiled.template),
                )
            ) from None
        return " ".join(text.split())


def _template_line(exc: BaseException, template: jinja2.Template) -> int | None:
    """The template line an exception was raised from. Jinja rewrites the traceback so
    that frames of template code carry the template's file name and line numbers."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename in (template.filename, "<template>"):
            line = lineno
    return line
