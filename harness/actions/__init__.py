"""Step actions: one module per kind of change (its models and template), found through one registry.

``SECTIONS`` maps a scenario section (``routes``, ``delete_routes``, ``links`` ...) to its
``Action`` subclass. Every module in this package is imported here, so adding an action is
adding its module and its template ``templates/actions/MODULE.sh.j2``; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from harness.actions.base import PHASES, SECTIONS, Action, Declared

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "base":
        importlib.import_module(f"{__name__}.{_module}")

# Namespaces first, deletions last, the rest by name: the order of fields in schemas and help.
_ORDER = sorted(SECTIONS, key=lambda k: (k != "namespaces", k.startswith("delete_"), k))
SETUP_SECTIONS: dict[str, type[Action]] = {k: SECTIONS[k] for k in _ORDER if SECTIONS[k].in_setup}
STEP_SECTIONS: dict[str, type[Action]] = {k: SECTIONS[k] for k in _ORDER if SECTIONS[k].in_steps}

__all__ = ["PHASES", "SECTIONS", "SETUP_SECTIONS", "STEP_SECTIONS", "Action", "Declared"]
