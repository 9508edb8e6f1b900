"""Sphinx configuration: MyST guides, furo, and an API reference built from the front door.

The reference pages are generated at build time from the ``__all__`` of the public modules
(:data:`PUBLIC`), grouped by the module that defines each name, so a public name is listed
nowhere by hand.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.pycode import ModuleAnalyzer

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import bessa_async  # noqa: E402
import bessa_async.doctor  # noqa: E402
import bessa_async.export  # noqa: E402
import bessa_async.hooks  # noqa: E402
import bessa_async.resources  # noqa: E402
import bessa_async.testing  # noqa: E402
import bessa_async.testing.magic  # noqa: E402

PUBLIC: tuple[Any, ...] = (
    bessa_async,
    bessa_async.hooks,
    bessa_async.resources,
    bessa_async.doctor,
    bessa_async.export,
    bessa_async.testing,
    bessa_async.testing.magic,
)
"""The public modules, each name documented where it is first found."""

project = "bessa_async"
author = "bessa_async contributors"
release = bessa_async.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = f"bessa_async {release}"
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "mixed"
autodoc_default_options = {"members": True, "exclude-members": "__init__, __new__"}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# Where each public name is documented: the defining module's prefix -> (page, title, intro).
PAGES: dict[str, tuple[str, str, str]] = {
    "bessa_async._client": ("client", "Client", "One client per token and base URL."),
    "bessa_async._blocking": ("client", "Client", ""),
    "bessa_async._base.config": ("client", "Client", ""),
    "bessa_async._transport.raw": ("client", "Client", ""),
    "bessa_async._resources.raw": ("client", "Client", ""),
    "bessa_async._listing.filters": ("listings", "Resources and listings", ""),
    "bessa_async._resources.resource": ("listings", "Resources and listings", ""),
    "bessa_async._listing.pagination": ("listings", "Resources and listings", ""),
    "bessa_async._base.days": ("listings", "Resources and listings", ""),
    "bessa_async._base.urls": ("listings", "Resources and listings", ""),
    "bessa_async._transport.gate": ("client", "Client", ""),
    "bessa_async._registry": ("listings", "Resources and listings", ""),
    "bessa_async._version": ("client", "Client", ""),
    "bessa_async._listing.changes": ("sync", "Incremental sync", ""),
    "bessa_async._models.records": (
        "models",
        "Models",
        "Frozen attrs values; unknown fields in extra.",
    ),
    "bessa_async._models.convert": ("models", "Models", ""),
    "bessa_async._jobs": ("jobs", "Orders, payments and jobs", ""),
    "bessa_async._base.errors": ("errors", "Errors", "Every error the library raises."),
    "bessa_async._instrument.events": ("observability", "Hooks and OpenTelemetry", ""),
    "bessa_async._instrument.hooks": ("observability", "Hooks and OpenTelemetry", ""),
    "bessa_async._instrument.otel": ("observability", "Hooks and OpenTelemetry", ""),
    "bessa_async._instrument.summary": ("observability", "Hooks and OpenTelemetry", ""),
    "bessa_async._doctor": ("doctor", "Doctor", "What `client.doctor()` reports."),
    "bessa_async._models.export": (
        "export",
        "Exports",
        "The rows `bessa export` writes, from Python.",
    ),
    "bessa_async.testing": ("testing", "The sandbox", "A stateful fake of the API on loopback."),
}


def _plain_attribute(self: GoogleDocstring) -> list[str]:
    # An attribute's docstring here is prose; its type comes from the annotation. Napoleon would
    # read "When the job ended, by the API: ..." as a type named "When the job ended".
    return list(self._format_field("", "", self._consume_to_end()))


GoogleDocstring._parse_attribute_docstring = _plain_attribute  # type: ignore[method-assign]


def _defining_module(package: Any, name: str) -> str:
    """The private module that defines ``name`` (constants carry no ``__module__``)."""
    value = getattr(package, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        return str(value.__module__)
    for module_name, module in sorted(sys.modules.items()):
        parts = module_name.split(".")
        private = any(part.startswith("_") for part in parts[1:])  # not a module re-exporting it
        if parts[0] == "bessa_async" and private and name in getattr(module, "__all__", ()):
            return module_name
    return str(package.__name__)


def _directive(package: str, module: str, name: str, value: Any) -> str:
    if inspect.isclass(value):
        kind = "exception" if issubclass(value, BaseException) else "class"
        # The error tree is documented by its bases; for other classes a base says nothing.
        tree = "   :show-inheritance:\n" if kind == "exception" else ""
        return f".. auto{kind}:: {package}.{name}\n{tree}"
    if inspect.isfunction(value):
        return f".. autofunction:: {package}.{name}\n"
    # A constant's docstring is the string after its assignment in the module defining it.
    docs = ModuleAnalyzer.for_module(module).find_attr_docs().get(("", name), [])
    if not docs:
        raise RuntimeError(f"{module}.{name} has no docstring: add one after its assignment")
    body = "".join(f"   {line}\n" if line else "\n" for line in docs)
    return f".. py:data:: {package}.{name}\n\n{body}"


def _page_of(module: str) -> tuple[str, str, str]:
    for prefix in sorted(PAGES, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return PAGES[prefix]
    raise RuntimeError(f"docs/conf.py: no reference page for {module}; add it to PAGES")


def write_reference(_app: object) -> None:
    """Write ``reference/*.rst`` from the packages' ``__all__``."""
    pages: dict[str, list[str]] = {}
    titles: dict[str, tuple[str, str]] = {}
    seen: set[tuple[str, int]] = set()  # in the front door and a public module: shown once
    for package in PUBLIC:
        for name in package.__all__:
            key = (name, id(getattr(package, name)))
            if name.startswith("__") or key in seen:
                continue
            seen.add(key)
            module = _defining_module(package, name)
            value = getattr(package, name)
            if inspect.isclass(value) and issubclass(value, BaseException):
                module = "bessa_async._base.errors"  # the error tree is one page
            page, title, intro = _page_of(module)
            titles.setdefault(page, (title, intro))
            if intro and not titles[page][1]:
                titles[page] = (title, intro)
            pages.setdefault(page, []).append(
                _directive(package.__name__, module, name, getattr(package, name))
            )
    out = HERE / "reference"
    out.mkdir(exist_ok=True)
    order = list(dict.fromkeys(page for page, _, _ in PAGES.values()))
    for page in order:
        title, intro = titles[page]
        body = "\n".join(pages[page])
        text = f"{title}\n{'=' * len(title)}\n\n{intro}\n\n{body}"
        path = out / f"{page}.rst"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    index = "API reference\n=============\n\n.. toctree::\n   :maxdepth: 1\n\n" + "".join(
        f"   {page}\n" for page in order
    )
    path = out / "index.rst"
    if not path.exists() or path.read_text() != index:
        path.write_text(index)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", write_reference)
    importlib.import_module("bessa_async._doctor")
    return {"parallel_read_safe": True}
