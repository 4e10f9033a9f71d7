"""Each addon's README.md, assembled from its manifest and its readme/
fragments (DESCRIPTION, CONFIGURATION, USAGE, ROADMAP, CONTRIBUTORS), as OCA's readme
generator does: the fragments are the one place to edit.

    python scripts/addon_readmes.py          # rewrite the READMEs
    python scripts/addon_readmes.py --check  # exit 1 if one is out of date
"""

import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADDONS = os.path.join(ROOT, "addons")
SECTIONS = (
    ("DESCRIPTION.md", "What it does"),
    ("CONFIGURATION.md", "Configuration"),
    ("USAGE.md", "Usage"),
    ("ROADMAP.md", "Roadmap"),
    ("CONTRIBUTORS.md", "Contributors"),
)


def addon_readme(addon):
    """The README.md text of ``addon`` (a folder name under addons/)."""
    path = os.path.join(ADDONS, addon)
    with open(os.path.join(path, "__manifest__.py")) as handle:
        manifest = ast.literal_eval(handle.read())
    parts = [
        f"# {manifest['name']}\n",
        f"{manifest['summary']}\n",
        f"License: {manifest['license']}. Part of the collections suite; see the repository's README.md "
        "for setup, running and tests.\n",
    ]
    for fragment, title in SECTIONS:
        fragment_path = os.path.join(path, "readme", fragment)
        if os.path.exists(fragment_path):
            with open(fragment_path) as handle:
                parts.append(f"## {title}\n\n{handle.read().strip()}\n")
    return "\n".join(parts)


def addons():
    return sorted(name for name in os.listdir(ADDONS) if os.path.exists(os.path.join(ADDONS, name, "__manifest__.py")))


def main(argv):
    stale = []
    for addon in addons():
        readme = os.path.join(ADDONS, addon, "README.md")
        expected = addon_readme(addon)
        current = open(readme).read() if os.path.exists(readme) else None
        if current == expected:
            continue
        stale.append(addon)
        if "--check" not in argv:
            with open(readme, "w") as handle:
                handle.write(expected)
    if "--check" in argv and stale:
        print(f"out of date (run scripts/addon_readmes.py): {', '.join(stale)}")
        return 1
    for addon in stale:
        print(f"wrote addons/{addon}/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
