"""docker/ stays consistent with the project: what compose mounts and builds
exists, and the worker image starts the same Celery app as scripts/worker.
(No Docker engine runs on the CI machine; this checks the files.)"""

import os
import re

import yaml
from conftest import ROOT

DOCKER = os.path.join(ROOT, "docker")


def _compose():
    with open(os.path.join(DOCKER, "compose.yaml")) as compose_file:
        return yaml.safe_load(compose_file)


def test_services_and_mounts_exist():
    services = _compose()["services"]
    assert set(services) == {"db", "redis", "odoo", "worker"}
    for volume in services["odoo"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("."):
            assert os.path.exists(os.path.normpath(os.path.join(DOCKER, source))), source
    assert any("--addons-path=/mnt/extra-addons" in arg for arg in services["odoo"]["command"])


def test_worker_image_runs_the_project_celery_app():
    service = _compose()["services"]["worker"]
    context = os.path.normpath(os.path.join(DOCKER, service["build"]["context"]))
    dockerfile = os.path.join(context, service["build"]["dockerfile"])
    with open(dockerfile) as handle:
        text = handle.read()
    copied = re.search(r"^COPY (\S+) ", text, re.M).group(1)
    assert os.path.isdir(os.path.join(context, copied))
    with open(os.path.join(ROOT, "scripts", "worker")) as handle:
        assert "collections_worker.celery_app" in handle.read()
    assert '"collections_worker.celery_app"' in text
    assert service["environment"]["COLLECTIONS_REDIS_URL"].startswith("redis://redis:")


def test_database_settings_are_those_of_the_scripts_cluster():
    """The WAL settings large reconciliation batches need (scripts/lib.sh)
    are given to the compose database too."""
    with open(os.path.join(DOCKER, "..", "scripts", "lib.sh")) as handle:
        script = handle.read()
    expected = {name: value for name, value in re.findall(r"^(max_wal_size|checkpoint_timeout) = (\S+)$", script, re.M)}
    assert set(expected) == {"max_wal_size", "checkpoint_timeout"}
    assert "wal_compression = $wal_compression" in script
    expected["wal_compression"] = "lz4"  # PostgreSQL 16 in the compose file
    command = _compose()["services"]["db"]["command"]
    given = dict(arg.split("=", 1) for arg in command if "=" in arg)
    assert given == expected
