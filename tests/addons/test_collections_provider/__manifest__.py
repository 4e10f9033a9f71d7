# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Collections: a provider from another addon (tests)",
    "summary": "Proves that a channel provider joins collections_omni as one file, "
    "with no edit to collections_omni or collections_worker",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "author": "Collections Omni contributors",
    "website": "https://github.com/collections-omni/collections-omni",
    "license": "LGPL-3",
    "depends": ["collections_omni"],
    "installable": True,
}
