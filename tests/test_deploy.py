"""The deployment files in ``deploy/``, validated offline, and the config reference.

Each file goes through a real validator shipped in a package (the Compose
specification's schema, Kubernetes' OpenAPI schemas, hadolint, systemd), then
through checks of what ties the files together. No image is built: there is no
Docker engine here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scimserver import shared_metrics

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
MANIFESTS = sorted(
    p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml"
)
VENV_BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.30.0"
TIMEOUT = 120


def run(*command: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def manifest(name: str) -> Any:
    return load_yaml(KUBERNETES / f"{name}.yaml")


def pod_spec(name: str) -> Any:
    return manifest(name)["spec"]["template"]["spec"]


def gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """Execute ``gunicorn.conf.py`` under ``env``; variables it sets are undone."""
    for name in ("WORKERS", "THREADS", "BIND", "DB_POOL_SIZE"):
        monkeypatch.delenv(f"SCIMSERVER_{name}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return run_settings(monkeypatch)


def run_settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # Unset again afterwards; the metrics folder the settings make is removed.
    monkeypatch.setenv(shared_metrics.FOLDER_VARIABLE, "")
    try:
        return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    finally:
        shared_metrics.remove_made_folders()


def config_reference() -> ModuleType:
    path = ROOT / "scripts" / "config_reference.py"
    spec = importlib.util.spec_from_file_location("config_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Compose -------------------------------------------------------------------


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    checker = str(VENV_BIN / "check-jsonschema")
    return run(checker, "--builtin-schema", "vendor.compose-spec", str(path))


def test_compose_file_follows_the_compose_specification() -> None:
    result = check_compose(DEPLOY / "compose.yaml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_validation_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    text = (DEPLOY / "compose.yaml").read_text()
    broken.write_text(text.replace("service_healthy", "when_it_feels_like_it"))

    assert check_compose(broken).returncode != 0


def test_compose_server_starts_after_the_migration_on_loopback_only() -> None:
    services = load_yaml(DEPLOY / "compose.yaml")["services"]

    assert services["migrate"]["command"] == ["scimserver", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"] == {
        "condition": "service_healthy"
    }
    assert services["server"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert all(p.startswith("127.0.0.1:") for p in services["server"]["ports"])
    assert "postgresql+psycopg://" in str(services["server"]["environment"])


def heartbeat_of(command: list[str]) -> str:
    """The file a worker command touches after every pass."""
    return command[command.index("--heartbeat") + 1]


def test_compose_worker_and_server_read_the_same_connectors_file() -> None:
    services = load_yaml(DEPLOY / "compose.yaml")["services"]
    worker, server = services["worker"], services["server"]
    path = worker["environment"]["SCIMSERVER_CONNECTORS_FILE"]

    assert worker["command"][:2] == ["scimserver", "worker"]
    assert worker["image"] == server["image"]
    assert worker["depends_on"] == server["depends_on"]
    assert heartbeat_of(worker["command"]) in worker["healthcheck"]["test"][1]
    assert server["environment"]["SCIMSERVER_CONNECTORS_FILE"] == path
    for service in (worker, server):
        assert f"./connectors.toml:{path}:ro" in service["volumes"]
        assert service["env_file"] == [{"path": "./connectors.env", "required": False}]
    assert (DEPLOY / "connectors.toml").is_file()


def test_compose_keeps_the_receipt_key_where_the_image_makes_it() -> None:
    server = load_yaml(DEPLOY / "compose.yaml")["services"]["server"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    key_file = re.search(r"SCIMSERVER_RECEIPT_KEY_FILE=(\S+)", dockerfile)

    assert key_file is not None
    volumes = [volume.split(":") for volume in server["volumes"]]
    assert ["scimserver-state", str(Path(key_file[1]).parent)] in volumes


# Kubernetes ----------------------------------------------------------------


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_follows_the_kubernetes_schema(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_rejects_an_unknown_field() -> None:
    deployment = manifest("deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = manifest("kustomization")["resources"]

    assert sorted(listed) == [path.name for path in MANIFESTS]


def test_deployment_probes_the_health_endpoints_on_its_port() -> None:
    container = pod_spec("deployment")["containers"][0]
    port_names = {port["name"] for port in container["ports"]}

    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }

    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["startupProbe"]["path"] == "/healthz"
    assert {probe["port"] for probe in probes.values()} <= port_names
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert container["resources"]["limits"]["memory"]


def test_deployment_shuts_down_within_its_grace_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = pod_spec("deployment")
    pause = int(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])

    graceful = gunicorn_settings(monkeypatch)["graceful_timeout"]

    assert pause + graceful < spec["terminationGracePeriodSeconds"]


def test_service_and_budget_select_the_deployment_pods() -> None:
    labels = manifest("deployment")["spec"]["template"]["metadata"]["labels"]
    service = manifest("service")["spec"]
    budget = manifest("pdb")["spec"]["selector"]["matchLabels"]
    port_names = {p["name"] for p in pod_spec("deployment")["containers"][0]["ports"]}

    assert service["selector"].items() <= labels.items()
    assert budget.items() <= labels.items()
    assert {port["targetPort"] for port in service["ports"]} <= port_names


def test_autoscaler_targets_the_deployment() -> None:
    target = manifest("hpa")["spec"]["scaleTargetRef"]
    deployment = manifest("deployment")

    assert (target["kind"], target["name"]) == ("Deployment", "scimserver")
    assert deployment["metadata"]["name"] == target["name"]


def test_migration_job_upgrades_with_the_server_image() -> None:
    job = pod_spec("migration-job")["containers"][0]
    server = pod_spec("deployment")["containers"][0]

    assert job["command"] == ["scimserver", "db", "upgrade"]
    assert job["image"] == server["image"]
    assert pod_spec("migration-job")["restartPolicy"] == "Never"


def mounted_paths(name: str) -> dict[str, str]:
    """Each volume of a manifest's first container, by where it is mounted."""
    container = pod_spec(name)["containers"][0]
    return {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}


def volume(name: str, volume_name: str) -> dict[str, Any]:
    [found] = [v for v in pod_spec(name)["volumes"] if v["name"] == volume_name]
    return dict(found)


def test_worker_runs_the_server_image_with_its_settings() -> None:
    worker = pod_spec("worker")["containers"][0]
    server = pod_spec("deployment")["containers"][0]
    labels = manifest("worker")["spec"]["template"]["metadata"]["labels"]
    service = manifest("service")["spec"]["selector"]

    heartbeat = heartbeat_of(worker["command"])

    assert worker["command"][:2] == ["scimserver", "worker"]
    assert heartbeat in " ".join(worker["livenessProbe"]["exec"]["command"])
    assert Path(heartbeat).parent == Path("/tmp")
    assert "/tmp" in mounted_paths("worker")
    assert worker["image"] == server["image"]
    assert worker["envFrom"] == server["envFrom"]
    connector_secrets = {"name": "scimserver-connectors", "optional": True}
    assert {"secretRef": connector_secrets} in worker["envFrom"]
    assert worker["env"] == server["env"]
    assert not service.items() <= labels.items()


@pytest.mark.parametrize("name", ["deployment", "worker"])
def test_pods_mount_the_connectors_file_the_settings_name(name: str) -> None:
    settings = manifest("configmap")["data"]
    path = Path(settings["SCIMSERVER_CONNECTORS_FILE"])
    connectors = manifest("connectors")

    mounted = volume(name, mounted_paths(name)[str(path.parent)])

    assert mounted["configMap"]["name"] == connectors["metadata"]["name"]
    assert path.name in connectors["data"]


def test_the_connectors_config_map_ships_the_connectors_file() -> None:
    shipped = manifest("connectors")["data"]["connectors.toml"]

    assert shipped == (DEPLOY / "connectors.toml").read_text()


def test_every_server_replica_reads_one_receipt_key_from_the_secret() -> None:
    path = Path(manifest("configmap")["data"]["SCIMSERVER_RECEIPT_KEY_FILE"])
    secret_name = pod_spec("deployment")["containers"][0]["env"][0]["valueFrom"]

    mounted = volume("deployment", mounted_paths("deployment")[str(path.parent)])

    assert mounted["secret"]["secretName"] == secret_name["secretKeyRef"]["name"]
    assert [item["path"] for item in mounted["secret"]["items"]] == [path.name]
    assert pod_spec("deployment")["securityContext"]["fsGroup"] == 10001


@pytest.mark.parametrize("name", ["deployment", "migration-job", "worker"])
def test_pods_run_as_non_root_read_only(name: str) -> None:
    spec = pod_spec(name)
    container = spec["containers"][0]["securityContext"]

    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False


# Dockerfile ----------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = run(str(VENV_BIN / "hadolint"), str(DEPLOY / "Dockerfile"))

    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_poor_dockerfile(tmp_path: Path) -> None:
    poor = tmp_path / "Dockerfile"
    poor.write_text("FROM python\nRUN cd /tmp && apt-get install curl\n")

    assert run(str(VENV_BIN / "hadolint"), str(poor)).returncode != 0


def test_image_is_slim_non_root_and_checks_its_health() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    instructions = [line.split(maxsplit=1) for line in lines if line[:1].isupper()]

    bases = [rest for word, rest in instructions if word == "FROM"]
    users = [rest for word, rest in instructions if word == "USER"]
    assert all("-slim" in base for base in bases)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(word == "HEALTHCHECK" for word, _rest in instructions)
    assert "/healthz" in "\n".join(lines)
    assert "EXPOSE 8000" in lines


# systemd -------------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd is not installed"
)
@pytest.mark.parametrize("unit", ["scimserver.service", "scimserver-worker.service"])
def test_systemd_unit_verifies(unit: str) -> None:
    result = run("systemd-analyze", "verify", str(DEPLOY / "systemd" / unit))

    # Only complaint allowed: the programs are not installed under /opt here.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "Command /opt/scimserver/" not in line
    ]
    assert problems == []


# gunicorn ------------------------------------------------------------------


def test_gunicorn_accepts_its_configuration(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SCIMSERVER_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        shared_metrics.FOLDER_VARIABLE: str(tmp_path / "metrics"),
    }

    result = run(
        sys.executable,
        "-m",
        "gunicorn",
        "--check-config",
        "--config",
        str(DEPLOY / "gunicorn.conf.py"),
        "scimserver.wsgi:app",
        env=env,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("cpu_max", "cores", "expected"),
    [
        (None, 8, 8),
        ("max 100000", 8, 8),
        ("200000 100000", 8, 2),
        ("150000 100000", 8, 2),
        ("50000 100000", 8, 1),
        ("800000 100000", 2, 2),
        ("garbage", 4, 4),
    ],
)
def test_workers_follow_the_usable_cores(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cpu_max: str | None,
    cores: int,
    expected: int,
) -> None:
    settings = gunicorn_settings(monkeypatch)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)))
    quota = tmp_path / "cpu.max"
    if cpu_max is not None:
        quota.write_text(cpu_max + "\n")

    assert settings["usable_cores"](quota) == expected


def test_pool_size_follows_the_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = gunicorn_settings(
        monkeypatch, SCIMSERVER_WORKERS="3", SCIMSERVER_THREADS="6"
    )

    assert (settings["workers"], settings["threads"]) == (3, 6)
    assert os.environ["SCIMSERVER_DB_POOL_SIZE"] == "6"
    assert settings["control_socket_disable"] is True
    assert settings["worker_class"] == "gthread"


@pytest.mark.parametrize(
    ("database_url", "threads"),
    [
        (None, 1),
        ("sqlite:///var/scimserver.db", 1),
        ("postgresql+psycopg://scim@db/scimserver", 4),
    ],
)
def test_threads_follow_the_database(
    monkeypatch: pytest.MonkeyPatch, database_url: str | None, threads: int
) -> None:
    """SQLite gets one thread per worker; PostgreSQL a few."""
    monkeypatch.delenv("SCIMSERVER_DATABASE_URL", raising=False)
    env = {} if database_url is None else {"SCIMSERVER_DATABASE_URL": database_url}

    settings = gunicorn_settings(monkeypatch, **env)

    assert settings["threads"] == threads
    assert os.environ["SCIMSERVER_DB_POOL_SIZE"] == str(threads)


def test_an_explicit_pool_size_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    gunicorn_settings(monkeypatch, SCIMSERVER_THREADS="6")
    monkeypatch.setenv("SCIMSERVER_DB_POOL_SIZE", "2")

    run_settings(monkeypatch)

    assert os.environ["SCIMSERVER_DB_POOL_SIZE"] == "2"


def test_gunicorn_logs_through_the_json_formatter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logging_config = gunicorn_settings(monkeypatch)["logconfig_dict"]

    formatter = logging_config["formatters"]["json"]["()"]
    assert formatter == "scimserver.logs.JsonFormatter"
    for name in ("gunicorn.access", "gunicorn.error"):
        assert logging_config["loggers"][name]["handlers"] == ["stdout"]


# Configuration reference ---------------------------------------------------


def test_readme_configuration_table_is_up_to_date() -> None:
    reference = config_reference()
    readme = (ROOT / "README.md").read_text()

    assert reference.replace_section(readme, reference.reference_table()) == readme, (
        "run: .venv/bin/python scripts/config_reference.py --write README.md"
    )


def test_every_setting_is_documented() -> None:
    table = config_reference().reference_table()

    for row in table.splitlines()[2:]:
        variable, _default, meaning = (
            cell.strip() for cell in row.strip("|").split("|")
        )
        assert variable.startswith("`SCIMSERVER_")
        assert meaning, f"{variable} has no #: comment in scimserver/config.py"
    assert "`SCIMSERVER_DB_POOL_SIZE` | `4` |" in table
