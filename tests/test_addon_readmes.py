"""Each addon's README.md is what its manifest and readme/ fragments make
(scripts/addon_readmes.py): the fragments are the one place to edit."""

import addon_readmes


def test_addon_readmes_follow_their_fragments():
    for addon in addon_readmes.addons():
        with open(f"{addon_readmes.ADDONS}/{addon}/README.md") as handle:
            assert handle.read() == addon_readmes.addon_readme(addon), f"run scripts/addon_readmes.py ({addon})"


def test_every_addon_has_a_description():
    assert addon_readmes.addons() == ["collections_omni", "collections_portal", "collections_whatsapp"]
    for addon in addon_readmes.addons():
        assert "## What it does" in addon_readmes.addon_readme(addon)


def test_every_test_the_readme_names_exists():
    """The README backs its claims with test names: each must be a test of the tree."""
    import pathlib  # noqa: PLC0415
    import re  # noqa: PLC0415

    root = pathlib.Path(addon_readmes.ADDONS).parent
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", (root / "README.md").read_text(encoding="utf-8")))
    assert named, "the README names no test"
    sources = "\n".join(
        path.read_text(encoding="utf-8") for path in [*root.glob("addons/*/tests/*.py"), *root.glob("tests/*.py")]
    )
    defined = set(re.findall(r"def (test_[a-z0-9_]+)", sources)) | set(re.findall(r"(test_[a-z0-9_]+)\.py", sources))
    defined |= {path.stem for path in [*root.glob("addons/*/tests/test_*.py"), *root.glob("tests/test_*.py")]}
    assert sorted(named - defined) == [], "tests the README names but the tree does not have"
