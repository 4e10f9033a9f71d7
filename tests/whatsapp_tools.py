"""Loads addons/collections_whatsapp/tools (and the engine's reply keywords)
without Odoo, the way a worker does: as stand-alone packages."""

import importlib
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_package(name, folder):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return sys.modules[name]


def tool(name):
    load_package("collections_whatsapp_tools", os.path.join(ROOT, "addons", "collections_whatsapp", "tools"))
    return importlib.import_module(f"collections_whatsapp_tools.{name}")


def omni_tool(name):
    load_package("collections_omni_tools", os.path.join(ROOT, "addons", "collections_omni", "tools"))
    return importlib.import_module(f"collections_omni_tools.{name}")
