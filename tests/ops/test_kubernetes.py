"""deploy/kubernetes, checked offline: every manifest against the Kubernetes API's own
schemas (kubernetes-validate, strict: an unknown or misspelt field is an error), and
the promises the manifests make against the code they run, so neither can drift from
the other: the probes' URLs resolve and answer, the commands and modules exist, every
environment variable is one the code reads, exactly one beat, an autoscaled web tier,
a disruption budget per scalable role, the secret only referenced."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.test import Client, override_settings
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
# The oldest release still under a cloud provider's extended support, and a current one.
KUBERNETES_VERSIONS = ("1.33", "1.35")
# PostgreSQL's default max_connections (100) less its superuser_reserved_connections (3).
DATABASE_CONNECTIONS = 97
SECRET_NAME = "clinic-secrets"
CONFIG_NAME = "clinic-config"
# The project's own code, whose environment variables a manifest may set.
SOURCE_PACKAGES = ("clinic", "patients", "treatments", "booking", "portal", "workspace", "demo")
# Variables a dependency reads by itself rather than through settings.py: the test
# checks that the package's source really does.
LIBRARY_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR": "prometheus_client"}


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


MANIFEST_FILES = sorted(path for path in DEPLOY.glob("*.yaml") if path.name != "kustomization.yaml")
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
# What `kubectl apply -k` applies (the examples are not part of it).
APPLIED = [doc for name in KUSTOMIZATION["resources"] for doc in _load(DEPLOY / name)]
EXAMPLES = [doc for path in MANIFEST_FILES if path.name.endswith(".example.yaml") for doc in _load(path)]


def _objects(kind: str, docs: list[dict[str, Any]] = APPLIED) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


DEPLOYMENTS = _objects("Deployment")
CONFIG = _objects("ConfigMap")[CONFIG_NAME]["data"]
EXAMPLE_SECRET = _objects("Secret", EXAMPLES)[SECRET_NAME]["stringData"]


def _pod_specs(docs: list[dict[str, Any]] = APPLIED) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield doc["metadata"]["name"], doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in _pod_specs():
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield f"{name}/{container['name']}", container


def _commands() -> Iterator[tuple[str, list[str]]]:
    """Every command a pod runs: its containers' and its exec probes'."""
    for where, container in _containers():
        yield where, container["command"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if "exec" in container.get(probe, {}):
                yield f"{where} {probe}", container[probe]["exec"]["command"]


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


# --- the files ---------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_kubernetes_with_no_unknown_field(version: str) -> None:
    checked = 0
    for path in MANIFEST_FILES:
        for doc in _load(path):
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(part) for part in error.absolute_path)
                pytest.fail(f"{path.name}: {doc['kind']}/{doc['metadata']['name']} at {where}: {error.message}")
            checked += 1
    assert checked >= 10


def test_the_validator_refuses_a_misspelt_field() -> None:
    """Strict mode is what catches a typo: without it an unknown field passes."""
    deployment = yaml.safe_load(yaml.safe_dump(DEPLOYMENTS["clinic-web"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"periodSeconds": 10}
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_kustomization_lists_every_manifest_but_the_examples() -> None:
    listed = KUSTOMIZATION["resources"]
    expected = sorted(path.name for path in MANIFEST_FILES if not path.name.endswith(".example.yaml"))
    assert sorted(listed) == expected
    assert len(set(listed)) == len(listed)
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in APPLIED]
    assert len(set(names)) == len(names), "two objects of one kind share a name"


def test_the_kustomization_sets_every_containers_image_in_one_place() -> None:
    """kustomize's `images` rewrites a container whose image has the listed name; one
    spelled otherwise would silently keep running an old or unknown image."""
    (image,) = KUSTOMIZATION["images"]
    assert image["newName"] and image["newTag"]
    names = {
        container["image"]
        for doc in APPLIED
        if doc["kind"] in {"Deployment", "Job"}
        for container in doc["spec"]["template"]["spec"].get("initContainers", [])
        + doc["spec"]["template"]["spec"]["containers"]
    }
    assert names == {image["name"]}


# --- the roles ---------------------------------------------------------------------


def test_exactly_one_beat_never_two_during_a_rollout() -> None:
    beats = [
        name
        for name, command in _commands()
        if command[:2] == ["celery", "-A"] and ("beat" in command or "-B" in command or "--beat" in command)
    ]
    assert beats == ["clinic-beat/beat"]
    beat = DEPLOYMENTS["clinic-beat"]["spec"]
    assert beat["replicas"] == 1
    assert beat["strategy"] == {"type": "Recreate"}
    scaled = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in _objects("HorizontalPodAutoscaler").values()}
    assert "clinic-beat" not in scaled


def test_the_web_tier_is_autoscaled_by_cpu_from_two_pods() -> None:
    (hpa,) = _objects("HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "clinic-web")
    assert target["name"] in DEPLOYMENTS
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert [metric["resource"]["name"] for metric in hpa["spec"]["metrics"]] == ["cpu"]
    # A replicas field would reset the autoscaler's count on every apply.
    assert "replicas" not in DEPLOYMENTS["clinic-web"]["spec"]
    # Utilisation is a share of the request: without one the autoscaler cannot work.
    assert DEPLOYMENTS["clinic-web"]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]


def test_every_scalable_role_has_a_disruption_budget_that_still_lets_nodes_drain() -> None:
    budgets = _objects("PodDisruptionBudget").values()
    hpa_min = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"]["minReplicas"]
        for hpa in _objects("HorizontalPodAutoscaler").values()
    }
    for name, deployment in DEPLOYMENTS.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if _labels_match(b["spec"]["selector"]["matchLabels"], labels)]
        if name == "clinic-beat":
            # One replica: minAvailable 1 would block every drain (beat.yaml says why).
            assert covering == []
            continue
        assert len(covering) == 1, f"{name} has {len(covering)} disruption budgets"
        replicas = deployment["spec"].get("replicas") or hpa_min[name]
        assert 1 <= covering[0]["spec"]["minAvailable"] < replicas


def test_selectors_pick_their_own_pods_and_the_service_only_web_pods() -> None:
    for name, deployment in DEPLOYMENTS.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert _labels_match(selector, deployment["spec"]["template"]["metadata"]["labels"])
        others = [n for n in DEPLOYMENTS if n != name]
        assert not any(
            _labels_match(selector, DEPLOYMENTS[n]["spec"]["template"]["metadata"]["labels"]) for n in others
        )
    (service,) = _objects("Service").values()
    served = [
        n
        for n, d in DEPLOYMENTS.items()
        if _labels_match(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
    ]
    assert served == ["clinic-web"]
    ports = {p["name"] for p in DEPLOYMENTS["clinic-web"]["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_the_migration_job_runs_migrate_then_the_cache_tables_and_is_cleaned_up() -> None:
    (job,) = _objects("Job").values()
    spec = job["spec"]["template"]["spec"]
    steps = [c["command"] for c in spec["initContainers"] + spec["containers"]]
    assert steps == [
        ["python", "manage.py", "migrate", "--noinput"],
        ["python", "manage.py", "createcachetable"],
    ]
    assert spec["restartPolicy"] == "Never"
    assert 0 < job["spec"]["backoffLimit"] <= 5
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_pods_that_run_code_wait_for_the_migrations_of_their_image() -> None:
    for name, deployment in DEPLOYMENTS.items():
        init = deployment["spec"]["template"]["spec"]["initContainers"]
        assert [c["command"] for c in init] == [["python", "manage.py", "migrate", "--check", "--noinput"]], name


# --- what the pods run exists ------------------------------------------------------


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_every_container_runs_the_one_image_from_the_dockerfile_as_its_user() -> None:
    assert [image["name"] for image in KUSTOMIZATION["images"]] == ["clinic"]
    user = re.search(r"^USER (\d+):(\d+)$", _dockerfile(), re.MULTILINE)
    assert user, "the Dockerfile's USER must be numeric for runAsNonRoot to check it"
    for where, container in _containers():
        assert container["image"] == "clinic", where
    for name, spec in _pod_specs(APPLIED + EXAMPLES):
        context = spec["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"]) == (int(user[1]), int(user[2])), name
    # Relative commands (bin/serve, manage.py) run from the image's working directory.
    assert re.search(r"^WORKDIR /app$", _dockerfile(), re.MULTILINE)
    assert re.search(r'^CMD \["bin/serve"\]$', _dockerfile(), re.MULTILINE)


def test_every_command_and_probe_names_something_that_exists() -> None:
    from celery.bin.celery import celery

    commands = get_commands()
    seen = set()
    for where, command in _commands():
        program, *args = command
        if program == "python" and args[0] == "manage.py":
            name, *options = args[1:]
            assert name in commands, f"{where}: no management command {name!r}"
            # The command's own parser refuses an option it does not have.
            load_command_class(commands[name], name).create_parser("manage.py", name).parse_args(options)
            seen.add("manage.py")
        elif program == "python" and args[0] == "-m":
            assert importlib.util.find_spec(args[1]) is not None, f"{where}: no module {args[1]}"
            seen.add("-m")
        elif program == "celery":
            assert args[:2] == ["-A", "clinic"] and importlib.util.find_spec("clinic.celery"), where
            assert args[2] in celery.commands, f"{where}: celery has no {args[2]!r} command"
            seen.add("celery")
        else:
            path = ROOT / program
            assert path.is_file() and os.access(path, os.X_OK), f"{where}: {program} is not an executable in the repo"
            seen.add(program)
    assert seen == {"manage.py", "-m", "celery", "bin/serve"}


def test_the_worker_probe_understands_its_arguments_and_reads_the_heartbeat_the_pod_sets(tmp_path: Path) -> None:
    from clinic import probe

    worker = DEPLOYMENTS["clinic-worker"]["spec"]["template"]["spec"]["containers"][0]
    (argv,) = {tuple(worker[p]["exec"]["command"]) for p in ("startupProbe", "livenessProbe")}
    env = {item["name"]: item["value"] for item in worker["env"]}
    heartbeat = Path(env["CLINIC_WORKER_HEARTBEAT_FILE"])
    mounts = {m["mountPath"] for m in worker["volumeMounts"]}
    assert str(heartbeat.parent) in mounts, "the heartbeat must be written to a writable volume"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLINIC_WORKER_HEARTBEAT_FILE", str(tmp_path / heartbeat.name))
        assert probe.main(list(argv[2:])) == 1  # no heartbeat yet: not alive (2 would be a usage error)
        (tmp_path / heartbeat.name).touch()
        assert probe.main(list(argv[2:])) == 0


def _http_probes() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for where, container in _containers():
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            if "httpGet" in container.get(kind, {}):
                yield f"{where} {kind}", container, container[kind]["httpGet"]


def test_http_probes_point_at_urls_the_site_routes_on_a_named_port() -> None:
    paths = {}
    for where, container, probe in _http_probes():
        match = resolve(probe["path"].split("?", 1)[0])
        paths[probe["path"]] = match.url_name
        assert probe["port"] in {p["name"] for p in container["ports"]}, where
    assert paths == {"/healthz/": "healthz", "/readyz/?check=database,storage": "readyz"}


def test_the_liveness_probe_gets_200_as_the_kubelet_asks_with_the_pods_settings() -> None:
    """The kubelet asks over plain HTTP with the Host header the probe names; with
    the ConfigMap's ALLOWED_HOSTS and HTTPS redirect, a 400 or a 301 would get every
    web pod restarted in a loop."""
    hosts = [h.strip() for h in CONFIG["ALLOWED_HOSTS"].split(",")]
    probes = [probe for _where, _c, probe in _http_probes()]
    for probe in probes:
        (host,) = [h["value"] for h in probe["httpHeaders"] if h["name"] == "Host"]
        assert host in hosts
    with override_settings(ALLOWED_HOSTS=hosts, SECURE_SSL_REDIRECT=CONFIG["SECURE_SSL_REDIRECT"] == "1"):
        for probe in probes:
            if probe["path"] == "/healthz/":
                response = Client().get(probe["path"], headers={"host": "localhost"})
                assert response.status_code == 200
        refused = Client().get("/healthz/", headers={"host": "10.42.0.7:8000"})
        assert refused.status_code == 400  # what the kubelet's default Host would get


# --- settings: from the environment, secrets only by reference ----------------------


def _names_the_code_reads() -> set[str]:
    patterns = [
        re.compile(r'\benv_\w+\(\s*"([A-Z][A-Z0-9_]*)"'),
        re.compile(r'\bos\.environ(?:\.get)?[\[(]\s*"([A-Z][A-Z0-9_]*)"'),
        re.compile(r'\bos\.getenv\(\s*"([A-Z][A-Z0-9_]*)"'),
    ]
    names: set[str] = set()
    for package in SOURCE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            for pattern in patterns:
                names.update(pattern.findall(text))
    for script in (ROOT / "bin").iterdir():
        names.update(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", script.read_text()))
    for name, package in LIBRARY_VARIABLES.items():
        spec = importlib.util.find_spec(package)
        assert spec and spec.origin, f"{package} is not installed"
        if any(name in path.read_text() for path in Path(spec.origin).parent.rglob("*.py")):
            names.add(name)
    return names


def _names_the_manifests_set() -> dict[str, str]:
    names = dict.fromkeys(CONFIG, "config.yaml")
    names |= dict.fromkeys(EXAMPLE_SECRET, "secret.example.yaml")
    for where, container in _containers():
        names |= {item["name"]: where for item in container.get("env", [])}
    return names


def test_every_variable_the_manifests_set_is_one_the_code_reads() -> None:
    read = _names_the_code_reads()
    assert {"SECRET_KEY", "DATABASE_URL", "WEB_WORKERS", "CLINIC_WORKER_HEARTBEAT_FILE"} <= read  # the scan works
    unread = {name: where for name, where in _names_the_manifests_set().items() if name not in read}
    assert unread == {}, "set in the manifests but read by no code (a typo, or a setting that is gone)"


def test_the_secret_is_only_referenced_never_shipped() -> None:
    assert "Secret" not in {doc["kind"] for doc in APPLIED}
    assert "secret.example.yaml" not in KUSTOMIZATION["resources"]
    for where, container in _containers():
        refs = [source for source in container["envFrom"] if "secretRef" in source]
        assert [ref["secretRef"]["name"] for ref in refs] == [SECRET_NAME], where
        assert {source.get("configMapRef", {}).get("name") for source in container["envFrom"]} >= {CONFIG_NAME}
        # Nothing secret written inline either.
        assert not {item["name"] for item in container.get("env", [])} & set(EXAMPLE_SECRET), where
    assert not set(CONFIG) & set(EXAMPLE_SECRET)
    # The example holds placeholders only.
    assert all("replace-me" in value for value in EXAMPLE_SECRET.values())
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_URL"} <= set(EXAMPLE_SECRET)


# --- resources and security ---------------------------------------------------------


def test_every_container_is_locked_down_and_has_a_writable_tmp() -> None:
    """The Pod Security Standards' "restricted" profile, and a read-only image; the
    examples' pods too (the backup CronJob)."""
    for name, spec in _pod_specs(APPLIED + EXAMPLES):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert "emptyDir" in volumes[tmp["name"]], where


def test_every_container_has_requests_and_limits() -> None:
    for where, container in _containers():
        resources = container["resources"]
        for kind in ("cpu", "memory"):
            assert resources["requests"][kind] and resources["limits"][kind], where


def _quantity_mebibytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", text).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_memory_limits_leave_room_above_the_requests() -> None:
    for where, container in _containers():
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert _quantity_mebibytes(limits["memory"]) > _quantity_mebibytes(requests["memory"]), where


def test_at_full_scale_the_pods_fit_in_a_default_postgresql() -> None:
    """Django keeps one connection per thread (bin/serve), Celery one per pool
    process plus the main process; beat's probe and the migration Job one each."""
    web = DEPLOYMENTS["clinic-web"]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: int(item["value"]) for item in web["env"] if item["name"] in {"WEB_WORKERS", "WEB_THREADS"}}
    (hpa,) = _objects("HorizontalPodAutoscaler").values()
    web_connections = hpa["spec"]["maxReplicas"] * env["WEB_WORKERS"] * env["WEB_THREADS"]
    worker = DEPLOYMENTS["clinic-worker"]
    (concurrency,) = [
        int(arg.split("=")[1])
        for arg in worker["spec"]["template"]["spec"]["containers"][0]["command"]
        if arg.startswith("--concurrency=")
    ]
    worker_connections = worker["spec"]["replicas"] * (concurrency + 1)
    total = web_connections + worker_connections + 2 + 1  # beat and its probe, the Job
    assert total <= DATABASE_CONNECTIONS, f"{total} connections at full scale"
