#!/usr/bin/env python3
"""Structural checks of moe4's deployment artefacts, for validate_deploy_test.sh.

Each subcommand prints one "PASS: ..." or "FAIL: ..." line per fact and exits
1 when any fact failed. Only the standard library and PyYAML (Debian's
python3-yaml).

  check_deploy.py compose RENDERED.yaml ROOT   # output of `docker-compose config`
  check_deploy.py dockerfiles ROOT
  check_deploy.py units ROOT
  check_deploy.py k8s ROOT [RENDERED_BASE.yaml RENDERED_OVERLAY.yaml]
  check_deploy.py scripts ROOT OUTDIR          # shell scripts embedded in YAML, for bash -n
  check_deploy.py flags ROOT NAME=HELP_FILE... # flags used vs the binaries' --help
"""
import fnmatch
import os
import re
import shlex
import sys

import yaml

failures = 0


def check(ok, what):
    global failures
    print(("PASS: " if ok else "FAIL: ") + what)
    if not ok:
        failures += 1
    return ok


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# ---------------------------------------------------------------- compose

def compose(rendered, root):
    doc = load(rendered)
    services = doc.get("services", {})
    secrets = doc.get("secrets", {})
    for name in ("postgres", "db-init", "coordinator", "worker", "worker-cpu"):
        check(name in services, f"compose: service {name} exists")
    pg = services.get("postgres", {})
    check(str(pg.get("image", "")).startswith("postgres:15"), "compose: postgres uses the official postgres:15 image")
    check(any(str(v).split(":")[1:2] == ["/var/lib/postgresql/data"] for v in pg.get("volumes", [])),
          "compose: postgres data on a volume")
    hc = " ".join(map(str, pg.get("healthcheck", {}).get("test", [])))
    check("pg_isready" in hc, "compose: postgres healthcheck runs pg_isready")

    coord = services.get("coordinator", {})
    deps = coord.get("depends_on", {})
    check(isinstance(deps, dict) and deps.get("postgres", {}).get("condition") == "service_healthy",
          "compose: coordinator waits for postgres to be healthy")
    check(isinstance(deps, dict) and deps.get("db-init", {}).get("condition") == "service_completed_successfully",
          "compose: coordinator waits for db-init to succeed")
    dbinit = services.get("db-init", {})
    check(any("deploy/db-init.sh" in str(v) for v in dbinit.get("volumes", [])),
          "compose: db-init runs deploy/db-init.sh itself")

    # Secrets: files only, every token/password a secret, none in the environment.
    check(bool(secrets) and all("file" in s for s in secrets.values()), "compose: secrets are files")
    for sname, svc in services.items():
        mounted = {s["source"] if isinstance(s, dict) else s for s in svc.get("secrets", [])}
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"TOKEN|PASSWORD", key) and not key.endswith("_FILE"):
                check(False, f"compose: {sname}: {key} puts a secret in the environment")
        words = command_words(svc.get("command")) + command_words(svc.get("entrypoint"))
        text = " ".join(words)
        for path in re.findall(r"/run/secrets/([A-Za-z0-9_.-]+)", text + " " + str(svc.get("environment"))):
            check(path in mounted and path in secrets, f"compose: {sname} reads /run/secrets/{path}, which it mounts")
        for flag, value in flag_values(words):
            if flag.endswith("token-file"):
                check(value.startswith("/run/secrets/"), f"compose: {sname} {flag} is a secret file")

    for w in ("worker", "worker-cpu"):
        svc = services.get(w, {})
        vols = [str(v) for v in svc.get("volumes", [])]
        check(any(":/var/lib/moe4/checkpoints" in v for v in vols), f"compose: {w} has a checkpoint volume")
        check(any(":/data" in v for v in vols), f"compose: {w} has a dataset volume")
        words = command_words(svc.get("command"))
        flags = dict(flag_values(words))
        check(flags.get("--checkpoint-dir") == "/var/lib/moe4/checkpoints" and flags.get("--data-root") == "/data",
              f"compose: {w} flags point at its volumes")
        check(seconds(svc.get("stop_grace_period", "10s")) >= 60,
              f"compose: {w} gets a minute or more, not Docker's 10 s, to drain on SIGTERM")
    devices = (services.get("worker", {}).get("deploy", {}).get("resources", {})
               .get("reservations", {}).get("devices", []))
    check(any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices),
          "compose: worker reserves an NVIDIA GPU (driver nvidia, capabilities [gpu])")
    wflags = dict(flag_values(command_words(services.get("worker", {}).get("command"))))
    check(wflags.get("--device") == "cuda:0", "compose: worker uses cuda:0 (the one GPU it is given)")
    check(dict(flag_values(command_words(services.get("worker-cpu", {}).get("command")))).get("--device") == "cpu",
          "compose: worker-cpu uses --device cpu")

    # Ports: what the coordinator listens on is what is published and dialled.
    cflags = dict(flag_values(command_words(coord.get("command"))))
    grpc = cflags.get("--listen", ":").rsplit(":", 1)[1]
    http = cflags.get("--http-listen", ":").rsplit(":", 1)[1]
    targets = {str(p.get("target")) if isinstance(p, dict) else str(p).split(":")[-1].split("/")[0]
               for p in coord.get("ports", [])}
    check(grpc in targets and http in targets, f"compose: coordinator publishes its ports {grpc} and {http}")
    check(wflags.get("--coordinator", "").endswith(":" + grpc), "compose: worker dials the coordinator's gRPC port")
    # Compose's healthcheck gates the services that wait for a healthy
    # coordinator: readiness (/readyz, the database answers), not liveness.
    check("/readyz" in " ".join(map(str, coord.get("healthcheck", {}).get("test", []))) and http in
          " ".join(map(str, coord.get("healthcheck", {}).get("test", []))),
          "compose: coordinator healthcheck asks /readyz on its HTTP port")

    for sname, svc in services.items():
        build = svc.get("build")
        if build:
            df = os.path.join(build.get("context", root), build.get("dockerfile", "Dockerfile"))
            check(os.path.isfile(df), f"compose: {sname} builds from existing {os.path.relpath(df, root)}")
        if str(svc.get("image", "")).startswith(("moe4/", "moe4-")):
            check(svc.get("user") in (None, "10001", "10001:10001"), f"compose: {sname} does not override the non-root user")


def seconds(duration):
    """Compose durations: 90s, 2m, 1m30s, 1h."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(ms|h|m|s)", str(duration)))


def command_words(cmd):
    if cmd is None:
        return []
    if isinstance(cmd, str):
        return shlex.split(cmd)
    return [str(c) for c in cmd]


def flag_values(words):
    """(flag, value) pairs from --flag=value and --flag value."""
    out = []
    i = 0
    while i < len(words):
        w = words[i]
        if w.startswith("--"):
            if "=" in w:
                f, v = w.split("=", 1)
                out.append((f, v))
            elif i + 1 < len(words) and not words[i + 1].startswith("--"):
                out.append((w, words[i + 1]))
                i += 1
            else:
                out.append((w, ""))
        i += 1
    return out


# ---------------------------------------------------------------- Dockerfiles

def dockerignore_patterns(root):
    path = os.path.join(root, ".dockerignore")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")]


def ignored(rel, patterns):
    parts = rel.split("/")
    for p in patterns:
        for n in range(1, len(parts) + 1):
            if fnmatch.fnmatch("/".join(parts[:n]), p):
                return True
    return False


def dockerfile_instructions(path):
    with open(path) as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfiles(root):
    patterns = dockerignore_patterns(root)
    check(bool(patterns), ".dockerignore exists")
    for p in (".git", "build", "secrets"):
        check(ignored(p, patterns), f".dockerignore keeps {p} out of the build context")
    ddir = os.path.join(root, "deploy", "docker")
    files = sorted(f for f in os.listdir(ddir) if f.endswith(".Dockerfile"))
    check(set(files) >= {"coordinator.Dockerfile", "worker-cpu.Dockerfile", "worker-cuda.Dockerfile"},
          "deploy/docker has the coordinator, worker-cpu and worker-cuda Dockerfiles")
    for name in files:
        ins = dockerfile_instructions(os.path.join(ddir, name))
        froms = [r for w, r in ins if w == "FROM"]
        check(len(froms) >= 2, f"{name}: multi-stage ({len(froms)} stages)")
        last = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
        final = ins[last:]
        users = [r for w, r in final if w == "USER"]
        check(bool(users) and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]) is not None,
              f"{name}: final stage runs as a numeric non-root user ({users[-1] if users else 'none'})")
        check(not any(w == "RUN" and re.search(r"\b(cmake|g\+\+|ninja)\b", r) for w, r in final),
              f"{name}: nothing is compiled in the runtime stage")
        check(any(w == "COPY" and "--from=" in r for w, r in final), f"{name}: runtime stage copies from the build stage")
        for w, r in ins:
            if w not in ("COPY", "ADD") or "--from=" in r:
                continue
            args = [a for a in shlex.split(r) if not a.startswith("--")]
            for src in args[:-1]:
                full = os.path.join(root, src)
                ok = (src == "." or os.path.exists(full)) and (src == "." or not ignored(src.rstrip("/"), patterns))
                check(ok, f"{name}: COPY source {src} is in the build context")
                if os.path.isfile(full) and src.endswith(".sh"):
                    check(os.access(full, os.X_OK), f"{name}: {src} is executable (COPY keeps the mode)")


# ---------------------------------------------------------------- systemd units

def unit_settings(path):
    """{(section, key): [values]} with continuation lines joined."""
    with open(path) as f:
        text = re.sub(r"\\\n", " ", f.read())
    section, out = None, {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        k, _, v = line.partition("=")
        out.setdefault((section, k.strip()), []).append(v.strip())
    return out


def units(root):
    sdir = os.path.join(root, "deploy", "systemd")
    hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes"}
    for unit, env_files in (("moe4-coordinator.service", ["/etc/moe4/coordinator.env"]),
                            ("moe4-worker@.service", ["/etc/moe4/worker.env", "-/etc/moe4/worker@%i.env"])):
        s = unit_settings(os.path.join(sdir, unit))
        svc = lambda k: s.get(("Service", k), [])
        for k, v in hardening.items():
            check(v in svc(k), f"{unit}: {k}={v}")
        check(any(v in ("on-failure", "always") for v in svc("Restart")), f"{unit}: has a Restart= policy")
        check(all(e in svc("EnvironmentFile") for e in env_files), f"{unit}: EnvironmentFile={' '.join(env_files)}")
        check(svc("User") == ["moe4"] or svc("DynamicUser") == ["yes"], f"{unit}: runs as moe4, not root")
        check("multi-user.target" in s.get(("Install", "WantedBy"), []), f"{unit}: WantedBy=multi-user.target")
        exec_start = " ".join(svc("ExecStart"))
        words = exec_start.split()
        tokens = [v for f, v in flag_values(words) if f.endswith("token-file")]
        check(bool(tokens) and all(t.startswith("%d/") for t in tokens),
              f"{unit}: tokens come from LoadCredential= (%d), not readable files")
        creds = {c.split(":", 1)[0] for c in svc("LoadCredential")}
        check(all(t[3:] in creds for t in tokens), f"{unit}: every token file is a loaded credential")
    w = unit_settings(os.path.join(sdir, "moe4-worker@.service"))
    exec_start = " ".join(w.get(("Service", "ExecStart"), []))
    env = " ".join(w.get(("Service", "Environment"), []))
    check("--device ${MOE4_DEVICE}" in exec_start and "MOE4_DEVICE=cuda:%i" in env.split(),
          "moe4-worker@.service: instance N runs --device cuda:N")
    rw = " ".join(w.get(("Service", "ReadWritePaths"), []) + w.get(("Service", "StateDirectory"), []))
    check("/var/lib/moe4" in rw or "moe4" in rw.split(), "moe4-worker@.service: the checkpoint directory is writable")
    check("MOE4_CHECKPOINT_DIR=/var/lib/moe4/checkpoints" in env.split(),
          "moe4-worker@.service: default checkpoint dir is inside its writable state directory")
    stop = w.get(("Service", "TimeoutStopSec"), ["90s"])[-1]
    check(stop.endswith("min") or (stop.rstrip("s").isdigit() and int(stop.rstrip("s")) >= 60),
          "moe4-worker@.service: TimeoutStopSec leaves time to checkpoint on SIGTERM")
    for ex in ("coordinator.env.example", "worker.env.example"):
        check(os.path.isfile(os.path.join(sdir, ex)), f"deploy/systemd/{ex} exists")


# ---------------------------------------------------------------- Kubernetes

SECRET_NAMES = {"moe4-admin-token", "moe4-worker-token", "moe4-db"}


def pod_spec(doc):
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def containers(spec):
    return spec.get("initContainers", []) + spec.get("containers", [])


def k8s_docs(kdir, kust_path):
    kust = load(kust_path)
    docs = []
    for res in kust.get("resources", []):
        path = os.path.normpath(os.path.join(kdir, res))
        if check(os.path.exists(path), f"k8s: resource {os.path.relpath(path, kdir)} exists") and os.path.isfile(path):
            docs += load_all(path)
    return kust, docs


def k8s_structure(docs, label, generated=()):
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    names = lambda k: {d["metadata"]["name"] for d in by_kind.get(k, [])}
    for kind in ("Namespace", "ConfigMap", "Service", "Deployment", "DaemonSet"):
        check(kind in by_kind, f"k8s {label}: has a {kind}")
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind.get("ConfigMap", [])}

    def base_name(n):  # kustomize appends -<hash> to generated names
        for g in list(generated) + list(configmaps):
            if n == g or re.fullmatch(re.escape(g) + r"-[a-z0-9]{10}", n):
                return g
        return n

    for d in docs:
        spec = pod_spec(d)
        if spec is None:
            continue
        name = f"{d['kind']}/{d['metadata']['name']}"
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        volumes.update({t["metadata"]["name"]: {"persistentVolumeClaim": {}}
                        for t in d["spec"].get("volumeClaimTemplates", [])})
        pod_sc = spec.get("securityContext", {})
        for c in containers(spec):
            cname = f"{name}[{c['name']}]"
            sc = c.get("securityContext", {})
            check(pod_sc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True, f"k8s {label}: {cname} runs as non-root")
            check(sc.get("allowPrivilegeEscalation") is False, f"k8s {label}: {cname} allowPrivilegeEscalation: false")
            envs = {e["name"]: e for e in c.get("env", [])}
            cm_keys = set()
            for ef in c.get("envFrom", []):
                ref = ef.get("configMapRef", {}).get("name")
                check(ref is not None and base_name(ref) in configmaps, f"k8s {label}: {cname} envFrom ConfigMap {ref} exists")
                cm_keys |= set(configmaps.get(base_name(ref), {}))
                check("secretRef" not in ef, f"k8s {label}: {cname} takes no Secret as environment")
            for e in envs.values():
                check("secretKeyRef" not in e.get("valueFrom", {}), f"k8s {label}: {cname} env {e['name']} is not a Secret (mount it)")
                if re.search(r"TOKEN|PASSWORD", e["name"]) and not e["name"].endswith("_FILE"):
                    check(False, f"k8s {label}: {cname} env {e['name']} holds a secret")
            words = [str(a) for a in c.get("command", []) + c.get("args", [])]
            for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", " ".join(words)):
                check(ref in envs or ref in cm_keys, f"k8s {label}: {cname} $({ref}) is defined")
            # Secret files: every /run/secrets path is a mounted Secret volume.
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
            for m in mounts.values():
                check(m["name"] in volumes, f"k8s {label}: {cname} mount {m['name']} has a volume")
                vol = volumes.get(m["name"], {})
                if "secret" in vol:
                    check(vol["secret"]["secretName"] in SECRET_NAMES and m.get("readOnly") is True,
                          f"k8s {label}: {cname} mounts Secret {vol['secret']['secretName']} read-only")
                if "configMap" in vol:
                    check(base_name(vol["configMap"]["name"]) in configmaps or base_name(vol["configMap"]["name"]) in generated,
                          f"k8s {label}: {cname} ConfigMap volume {vol['configMap']['name']} exists")
            secret_paths = re.findall(r"/run/secrets/[^\s\"')]+", " ".join(words) + " " +
                                      " ".join(str(e.get("value", "")) for e in envs.values()))
            for p in secret_paths:
                mp = next((m for m in mounts if p.startswith(m + "/")), None)
                check(mp is not None and "secret" in volumes.get(mounts[mp]["name"], {}),
                      f"k8s {label}: {cname} reads {p} from a mounted Secret")
            for f, v in flag_values(words):
                if f.endswith("token-file"):
                    check(v.startswith("/run/secrets/"), f"k8s {label}: {cname} {f} is a mounted Secret file")
            # Probes name ports the container has.
            port_names = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if port is not None:
                    check(port in port_names, f"k8s {label}: {cname} {probe} port {port} is declared")

    # Coordinator: listen ports = containerPorts = Service targets.
    deps = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    coord = deps.get("moe4-coordinator")
    if check(coord is not None, f"k8s {label}: Deployment moe4-coordinator"):
        c = coord["spec"]["template"]["spec"]["containers"][0]
        flags = dict(flag_values([str(a) for a in c.get("command", []) + c.get("args", [])]))
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        check(str(ports.get("grpc")) == flags.get("--listen", ":").rsplit(":", 1)[1],
              f"k8s {label}: coordinator --listen port is containerPort grpc")
        check(str(ports.get("http")) == flags.get("--http-listen", ":").rsplit(":", 1)[1],
              f"k8s {label}: coordinator --http-listen port is containerPort http")
        check(c.get("image", "").split(":")[0] == "moe4/coordinator", f"k8s {label}: coordinator image moe4/coordinator")
        labels = coord["spec"]["template"]["metadata"]["labels"]
        check(coord["spec"]["selector"]["matchLabels"].items() <= labels.items(),
              f"k8s {label}: coordinator selector matches its pods")
        svcs = [s for s in by_kind.get("Service", []) if s["spec"].get("selector", {}).items() <= labels.items()
                and s["spec"].get("selector")]
        if check(any(s["metadata"]["name"] == "moe4-coordinator" for s in svcs),
                 f"k8s {label}: Service moe4-coordinator selects the coordinator pods"):
            svc = next(s for s in svcs if s["metadata"]["name"] == "moe4-coordinator")
            for p in svc["spec"]["ports"]:
                tp = p.get("targetPort", p["port"])
                check(tp in ports or tp in ports.values(), f"k8s {label}: Service port {p['port']} targets container port {tp}")
            grpc_port = next((p["port"] for p in svc["spec"]["ports"] if p.get("targetPort") in ("grpc", ports.get("grpc"))), None)
            cm = configmaps.get("moe4-config", {})
            check(cm.get("MOE4_COORDINATOR") == f"moe4-coordinator:{grpc_port}",
                  f"k8s {label}: workers dial the Service's gRPC port (MOE4_COORDINATOR={cm.get('MOE4_COORDINATOR')})")

    ds = {d["metadata"]["name"]: d for d in by_kind.get("DaemonSet", [])}.get("moe4-worker")
    if check(ds is not None, f"k8s {label}: DaemonSet moe4-worker"):
        spec = ds["spec"]["template"]["spec"]
        c = spec["containers"][0]
        limits = c.get("resources", {}).get("limits", {})
        check(str(limits.get("nvidia.com/gpu")) == "1", f"k8s {label}: worker limits nvidia.com/gpu: 1")
        sel = " ".join(list(spec.get("nodeSelector", {})) + [str(spec.get("affinity", ""))])
        check("nvidia.com/gpu" in sel, f"k8s {label}: worker scheduled on GPU nodes (nodeSelector/affinity)")
        check(any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", [])),
              f"k8s {label}: worker tolerates the nvidia.com/gpu taint")
        flags = dict(flag_values([str(a) for a in c.get("command", []) + c.get("args", [])]))
        check(flags.get("--device") == "cuda:0", f"k8s {label}: worker uses cuda:0 (its one allocated GPU)")
        check(c.get("image", "").split(":")[0] == "moe4/worker-cuda", f"k8s {label}: worker image moe4/worker-cuda")
        check(int(spec.get("terminationGracePeriodSeconds", 30)) >= 60, f"k8s {label}: worker gets time to drain on SIGTERM")
    return by_kind


def k8s(root, rendered_base=None, rendered_overlay=None):
    kroot = os.path.join(root, "deploy", "k8s")
    for dirpath, _, files in os.walk(kroot):
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                path = os.path.join(dirpath, f)
                try:
                    docs = load_all(path)
                    ok = all(isinstance(d, dict) and "kind" in d and "apiVersion" in d for d in docs)
                    ok = ok and all(d["kind"] == "Kustomization" or d.get("metadata", {}).get("name") for d in docs)
                    check(ok, f"k8s: {os.path.relpath(path, root)} parses ({len(docs)} documents, each with apiVersion, kind, name)")
                except yaml.YAMLError as e:
                    check(False, f"k8s: {os.path.relpath(path, root)}: {e}")
    base = os.path.join(kroot, "base")
    kust, docs = k8s_docs(base, os.path.join(base, "kustomization.yaml"))
    listed = set(kust.get("resources", []))
    for f in sorted(os.listdir(base)):
        if f.endswith(".yaml") and f != "kustomization.yaml":
            check(f in listed, f"k8s: base/{f} is listed in the kustomization")
    generated = []
    for g in kust.get("configMapGenerator", []):
        generated.append(g["name"])
        for f in g.get("files", []):
            check(os.path.isfile(os.path.join(base, f)), f"k8s: generator file base/{f} exists")
    with open(os.path.join(base, "db-init.sh"), "rb") as a, open(os.path.join(root, "deploy", "db-init.sh"), "rb") as b:
        check(a.read() == b.read(), "k8s: base/db-init.sh is identical to deploy/db-init.sh")
    by_kind = k8s_structure(docs, "base", generated)
    sts = by_kind.get("StatefulSet", [])
    if check(len(sts) == 1 and sts[0]["metadata"]["name"] == "postgres", "k8s base: PostgreSQL StatefulSet"):
        s = sts[0]["spec"]
        check(bool(s.get("volumeClaimTemplates")), "k8s base: PostgreSQL keeps its data on a PVC")
        check(s["template"]["spec"]["containers"][0]["image"].startswith("postgres:15"), "k8s base: postgres:15")
        headless = [v for v in by_kind.get("Service", []) if v["metadata"]["name"] == s.get("serviceName")]
        check(bool(headless) and headless[0]["spec"].get("clusterIP") == "None", "k8s base: StatefulSet has its headless Service")
        cm = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind.get("ConfigMap", [])}.get("moe4-config", {})
        check(f"host={s.get('serviceName')} " in cm.get("MOE4_DB_URL", "") + " ", "k8s base: MOE4_DB_URL points at the PostgreSQL Service")
    check(any(j["metadata"]["name"] == "moe4-db-init" for j in by_kind.get("Job", [])), "k8s base: db-init Job")
    images = {i["name"] for i in kust.get("images", [])}
    used = {c["image"].split(":")[0] for d in docs if pod_spec(d) for c in containers(pod_spec(d))}
    check({i for i in used if i.startswith("moe4/")} <= images, "k8s: every moe4 image is settable in the kustomization's images:")

    # The overlay: its patches must hit something in the base.
    overlay = os.path.join(kroot, "overlays", "external-db")
    okust = load(os.path.join(overlay, "kustomization.yaml"))
    check("../../base" in okust.get("resources", []), "k8s external-db: builds on the base")
    present = {(d["kind"], d["metadata"]["name"]) for d in docs} | {("ConfigMap", g) for g in generated}
    for p in okust.get("patches", []):
        target = yaml.safe_load(p["patch"])
        key = (target["kind"], target["metadata"]["name"])
        check(key in present, f"k8s external-db: patch target {key[0]}/{key[1]} exists in the base")
    if rendered_base:
        r = load_all(rendered_base)
        k8s_structure(r, "rendered base")
        check(all(d["metadata"].get("namespace") == "moe4" for d in r if d["kind"] != "Namespace"),
              "k8s rendered base: everything in namespace moe4")
    if rendered_overlay:
        r = load_all(rendered_overlay)
        kinds = {d["kind"] for d in r}
        check("StatefulSet" not in kinds and "Job" not in kinds, "k8s rendered external-db: no in-cluster PostgreSQL, no db-init Job")
        k8s_structure(r, "rendered external-db")


# ---------------------------------------------------------------- embedded scripts

def scripts(root, outdir):
    """Writes the shell scripts inside the compose file and the manifests, for bash -n."""
    n = 0
    comp = load(os.path.join(root, "docker-compose.yml"))
    for name, svc in comp["services"].items():
        ep = command_words(svc.get("entrypoint"))
        if ep[:1] == ["bash"] and svc.get("command"):
            # Compose turns $$ into $ before the shell sees it.
            body = command_words(svc["command"])[0].replace("$$", "$")
            n += 1
            with open(os.path.join(outdir, f"compose-{name}.sh"), "w") as f:
                f.write(body)
    for dirpath, _, files in os.walk(os.path.join(root, "deploy", "k8s")):
        for fn in files:
            if not fn.endswith(".yaml"):
                continue
            for d in load_all(os.path.join(dirpath, fn)):
                spec = pod_spec(d) if isinstance(d, dict) else None
                for c in containers(spec) if spec else []:
                    if c.get("command", [])[:1] == ["bash"] and c.get("args"):
                        n += 1
                        with open(os.path.join(outdir, f"k8s-{d['metadata']['name']}-{c['name']}.sh"), "w") as f:
                            f.write(c["args"][-1])
    check(n >= 3, f"found {n} shell scripts embedded in compose and manifests")


# ---------------------------------------------------------------- flags vs binaries

def used_flags(root):
    """{binary: {flag: [where]}} for every invocation in the artefacts."""
    uses = {}

    def add(words, where):
        for i, w in enumerate(words):
            b = os.path.basename(w)
            if b in ("moe4-coordinator", "moe4-worker", "moe4ctl"):
                for f, _ in flag_values(words[i + 1:]):
                    uses.setdefault(b, {}).setdefault(f, []).append(where)
                return

    comp = load(os.path.join(root, "docker-compose.yml"))
    for name, svc in comp["services"].items():
        add(command_words(svc.get("command")), f"docker-compose.yml:{name}")
    for unit in ("moe4-coordinator.service", "moe4-worker@.service"):
        s = unit_settings(os.path.join(root, "deploy", "systemd", unit))
        add(" ".join(s.get(("Service", "ExecStart"), [])).split(), unit)
    for dirpath, _, files in os.walk(os.path.join(root, "deploy", "k8s")):
        for fn in files:
            if fn.endswith(".yaml"):
                for d in load_all(os.path.join(dirpath, fn)):
                    spec = pod_spec(d) if isinstance(d, dict) else None
                    for c in containers(spec) if spec else []:
                        add([str(a) for a in c.get("command", []) + c.get("args", [])], f"{fn}:{c['name']}")
    ddir = os.path.join(root, "deploy", "docker")
    for fn in os.listdir(ddir):
        if fn.endswith(".Dockerfile"):
            for w, r in dockerfile_instructions(os.path.join(ddir, fn)):
                if w == "CMD":
                    add(yaml.safe_load(r), fn)
    # The env-file examples' extra flags (MOE4_*_ARGS), commented or not.
    for fn, binary in (("coordinator.env.example", "moe4-coordinator"), ("worker.env.example", "moe4-worker")):
        with open(os.path.join(root, "deploy", "systemd", fn)) as f:
            for m in re.finditer(r'MOE4_\w+_ARGS="([^"]*)"', f.read()):
                add([binary] + m.group(1).split(), fn)
    return uses


def flags(root, helps):
    uses = used_flags(root)
    check(set(uses) >= {"moe4-coordinator", "moe4-worker"}, "flags: found the daemons' invocations in the artefacts")
    for spec in helps:
        binary, path = spec.split("=", 1)
        with open(path) as f:
            known = set(re.findall(r"(--[a-z][a-z0-9-]*)", f.read()))
        if not known:
            print(f"SKIP: flags of {binary}: its --help lists no options (not implemented yet?)")
            continue
        for flag, where in sorted(uses.get(binary, {}).items()):
            check(flag in known, f"flags: {binary} knows {flag} (used in {', '.join(sorted(set(where)))})")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "compose":
        compose(args[0], args[1])
    elif cmd == "dockerfiles":
        dockerfiles(args[0])
    elif cmd == "units":
        units(args[0])
    elif cmd == "k8s":
        k8s(args[0], *args[1:3])
    elif cmd == "scripts":
        scripts(args[0], args[1])
    elif cmd == "flags":
        flags(args[0], args[1:])
    else:
        sys.exit(f"unknown subcommand {cmd}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
