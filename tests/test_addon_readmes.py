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
