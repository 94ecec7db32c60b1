"""Access to the generated bindings (`wit_world`, written by componentize-py at build time).

Every capability module is imported here, once, when the plugin is loaded: componentize-py
pre-initialises the component (Wizer) with the modules imported then, and the component has
no files at run time, so nothing may be imported later. A capability the plugin did not
declare is not in its world and stays `None`; calling it raises `CapabilityNotDeclared`.
Tests replace the entries with fakes (`autbot_sdk.testing`).
"""

import importlib

CAPABILITIES = ("log", "config", "search", "embed", "llm", "conversation")


def _load(name):
    try:
        return importlib.import_module(f"wit_world.imports.{name}")
    except ImportError:
        return None


RAW = {name: _load(name) for name in CAPABILITIES}


class CapabilityNotDeclared(RuntimeError):
    """The plugin called a capability that its pyproject.toml does not declare."""


def raw(name):
    module = RAW.get(name)
    if module is None:
        raise CapabilityNotDeclared(
            f"capability `{name}` is not in this plugin's world: add \"{name}\" to "
            "[tool.autbot] capabilities in pyproject.toml (and grant it in autbot.toml)"
        )
    return module
