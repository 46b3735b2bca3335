#!/usr/bin/env python3
"""Checks that docker-compose.yml, ops/docker/, .env.example and ops/systemd/
say only true things about the project, without a Docker engine or systemd.

    test_compose.py <source_dir> [<build_dir>]

What is checked (each failure is printed; any failure exits 1):
- compose: the services gateway, auth, diary, sentiment and redis exist; only
  the gateway publishes a port; each data-owning daemon mounts a named volume
  that is declared; every service has a healthcheck (the gateway's GET /health,
  the RPC daemons' `tdctl ping <name>` against the address they listen on);
  every depends_on waits for service_healthy of a service with a healthcheck,
  and the gateway waits for all the others; every tcp://<service>:<port> an
  environment names is a port that service listens on (directly, or a
  listen+ socket its replicas dial in to).
- variables: every ${VAR} and environment key of docker-compose.yml, every
  ENV of the Dockerfile and every Environment= of the units is documented in
  .env.example, and .env.example lists exactly the variables the binaries
  read (the `{"NAME", TD_CFG_...` rows of the configuration tables, and the
  names passed to getenv()), plus the compose file's own (COMPOSE_ONLY).
- Dockerfile: compose's dockerfile and targets exist; every file COPY takes
  from the context exists and is not excluded by .dockerignore; every
  --from= names an earlier stage; binaries copied from the build and run by
  CMD are executables CMakeLists.txt builds; each daemon's stage runs its own
  daemon; with a build dir, each daemon stage installs the Debian package of
  every shared library its binary needs (readelf + dpkg); packages named in
  apt-get install exist in Debian (when apt's lists are present).
- the scale override (ops/docker/compose.scale.yml) names existing services
  and targets, and ops/podman/compose_tags.py applies its `!reset` for
  podman-compose as Compose v2 would.
- systemd: one unit per daemon running its real binary (and a replica
  template for td-auth and td-diary), --migrate-only before start for the
  storage daemons, the hardening options, and a target that wants all four.
"""
import fnmatch
import glob
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import sys

try:
    import yaml
except ImportError:  # python3-yaml is in ops/install-deps.sh
    print("test_compose: PyYAML is missing (apt-get install python3-yaml)", file=sys.stderr)
    sys.exit(1)

SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None

DAEMONS = {"gateway": "td-gateway", "auth": "td-auth", "diary": "td-diary",
           "sentiment": "td-sentiment"}
STORAGE = ("auth", "diary", "sentiment")  # daemons that keep a SQLite file
DAEMON_PORTS_ENV = {"auth": "AUTH_RPC_URL", "diary": "DIARY_RPC_URL",
                    "sentiment": "SENTIMENT_RPC_URL"}
# Variables of docker-compose.yml itself (no binary reads them); .env.example
# documents them too, since Compose reads .env.
COMPOSE_ONLY = {"GATEWAY_HOST_PORT"}
# Variables of the PostgreSQL override only (and of ops/postgres/init.sh).
PG_OVERRIDE_ONLY = {"TD_PG_AUTH_PASSWORD", "TD_PG_DIARY_PASSWORD"}

failures = []


def fail(msg):
    failures.append(msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


def exists(rel):
    return os.path.exists(os.path.join(SRC, rel))


# ---- what the binaries really read and build --------------------------------

def binary_variables():
    files = ["common/td_config.h", "gateway/config.c"] + sorted(
        os.path.relpath(p, SRC) for p in glob.glob(os.path.join(SRC, "services/*/config.c")))
    names = set()
    for rel in files:
        names |= set(re.findall(r'\{\s*"([A-Z][A-Z0-9_]*)"\s*,\s*TD_CFG_', read(rel)))
    # Variables read outside the tables (APP_ENV, TD_ENV_FILE, ...).
    for pattern in ("common/*.c", "gateway/*.c", "services/*/*.c", "ops/tdctl/*.c"):
        for path in glob.glob(os.path.join(SRC, pattern)):
            with open(path, encoding="utf-8") as f:
                names |= set(re.findall(r'getenv\(\s*"([A-Z][A-Z0-9_]*)"\s*\)', f.read()))
    # A sanity floor, so a regex that stops matching cannot pass everything.
    check(len(names) >= 30 and {"APP_ENV", "TD_ENV_FILE", "LOG_LEVEL"} <= names,
          f"could not read the configuration tables (found {sorted(names)})")
    return names


def cmake_executables():
    return set(re.findall(r"add_executable\(\s*([A-Za-z0-9_-]+)", read("CMakeLists.txt")))


def source_has(pattern_files, needle):
    for pattern in pattern_files:
        for path in glob.glob(os.path.join(SRC, pattern)):
            with open(path, encoding="utf-8") as f:
                if needle in f.read():
                    return True
    return False


BIN_SOURCES = ("common/*.c", "gateway/*.c", "services/*/*.c", "ops/tdctl/*.c")


def flag_exists(flag):
    return source_has(BIN_SOURCES, f'"{flag}"')


# ---- .env.example --------------------------------------------------------------

def env_example():
    documented = {}
    for n, line in enumerate(read(".env.example").splitlines(), 1):
        s = line.strip()
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", s)
        if m:
            documented[m.group(1)] = n
            if not s.startswith("#"):
                # The daemons' .env reader and systemd take the value verbatim.
                check(" #" not in m.group(2),
                      f".env.example:{n}: no inline comments (the daemons would read them)")
        elif s and not s.startswith("#"):
            fail(f".env.example:{n}: not NAME=value or a comment: {line!r}")
    return documented


# ---- docker-compose.yml ----------------------------------------------------------

INTERP = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolated(text):
    text = text.replace("$$", "")
    return {a or b for a, b in INTERP.findall(text)}


def env_dict(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def listening_ports(env):
    """Ports a service listens on, from URLs bound to 0.0.0.0 in its env."""
    ports = set()
    for v in env.values():
        for url in v.split(","):
            m = re.match(r"^(?:listen\+)?(?:tls\+)?tcp://0\.0\.0\.0:(\d+)$", url.strip())
            if m:
                ports.add(int(m.group(1)))
    m = re.match(r"^0\.0\.0\.0:(\d+)$", env.get("GATEWAY_LISTEN", ""))
    if m:
        ports.add(int(m.group(1)))
    return ports


def check_compose(compose, compose_text, documented, real):
    services = compose.get("services") or {}
    for name in list(DAEMONS) + ["redis"]:
        check(name in services, f"docker-compose.yml: service {name!r} is missing")

    # Only the gateway publishes a port.
    for name, svc in services.items():
        if name == "gateway":
            check(svc.get("ports"), "docker-compose.yml: the gateway publishes no port")
        else:
            check(not svc.get("ports"), f"docker-compose.yml: {name} publishes a port; "
                  "only the gateway may")

    # Named volumes for the daemons that own data.
    declared = set((compose.get("volumes") or {}).keys())
    for name in STORAGE:
        vols = (services.get(name) or {}).get("volumes") or []
        named = []
        for v in vols:
            src = v.get("source") if isinstance(v, dict) else str(v).split(":")[0]
            if src and not src.startswith(("/", ".", "~", "$")):
                named.append(src)
                check(src in declared, f"docker-compose.yml: {name} mounts volume {src!r}, "
                      "which the top-level volumes: does not declare")
        check(named, f"docker-compose.yml: {name} owns data but mounts no named volume")
    for v in declared:
        used = any(v in str((s or {}).get("volumes", "")) for s in services.values())
        check(used, f"docker-compose.yml: volume {v!r} is declared but never mounted")

    # Healthchecks.
    for name, svc in services.items():
        hc = svc.get("healthcheck") or {}
        test = hc.get("test")
        if not check(test and not hc.get("disable"),
                     f"docker-compose.yml: {name} has no healthcheck"):
            continue
        cmd = test if isinstance(test, list) else ["CMD-SHELL", test]
        words = [str(w) for w in cmd[1:]]
        if cmd[0] == "CMD-SHELL":  # one string for /bin/sh -c
            words = shlex.split(" ".join(words))
        if name == "gateway":
            check(any(w.endswith("/health") for w in words) and "curl" in words,
                  "docker-compose.yml: the gateway's healthcheck is not curl .../health")
        elif name in DAEMON_PORTS_ENV:
            check("tdctl" in words and "ping" in words and name in words,
                  f"docker-compose.yml: {name}'s healthcheck is not `tdctl ping {name}`")
            # tdctl dials <NAME>_RPC_OPERATOR_URL when set, else <NAME>_RPC_URL
            # (ops/tdctl/main.c): it must be an ipc socket of the container's
            # own that the daemon listens on (no certificate needed inside).
            var = DAEMON_PORTS_ENV[name]
            op_var = var.replace("_RPC_URL", "_RPC_OPERATOR_URL")
            env = env_dict(svc)
            override = [w.split("=", 1)[1] for w in words
                        if w.startswith(var + "=") or w.startswith(op_var + "=")]
            url = override[0] if override else (env.get(op_var) or env.get(var, ""))
            check(url.startswith("ipc://") and url in (env.get(op_var), env.get(var)),
                  f"docker-compose.yml: {name}'s healthcheck dials {url!r}, not an ipc "
                  f"socket it listens on ({op_var} or {var})")

    # depends_on waits for health.
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            fail(f"docker-compose.yml: {name}'s depends_on has no conditions")
            continue
        for dep, spec in deps.items():
            check(dep in services, f"docker-compose.yml: {name} depends on unknown {dep!r}")
            check((spec or {}).get("condition") == "service_healthy",
                  f"docker-compose.yml: {name} -> {dep} is not condition: service_healthy")
            check(((services.get(dep) or {}).get("healthcheck") or {}).get("test"),
                  f"docker-compose.yml: {name} waits for {dep}, which has no healthcheck")
    gw_deps = set(((services.get("gateway") or {}).get("depends_on")) or {})
    for dep in ("auth", "diary", "sentiment", "redis"):
        check(dep in gw_deps, f"docker-compose.yml: the gateway does not wait for {dep}")

    # Variables: interpolations and environment keys are documented; the
    # environment keys of our daemons are variables the binaries read.
    for var in sorted(interpolated(compose_text)):
        check(var in documented, f"docker-compose.yml: ${{{var}}} is not in .env.example")
    for name in DAEMONS:
        for key in env_dict(services.get(name) or {}):
            check(key in documented, f"docker-compose.yml: {name}: {key} is not in .env.example")
            check(key in real, f"docker-compose.yml: {name}: no binary reads {key}")
    check(env_dict(services.get("gateway") or {}).get("RATELIMIT_STORAGE", "")
          .startswith("redis://redis:"),
          "docker-compose.yml: the gateway's RATELIMIT_STORAGE is not the redis service")

    # Every tcp://<service>:<port> reaches a port that service listens on.
    for name, svc in services.items():
        for key, value in env_dict(svc).items():
            for url in value.split(","):
                m = re.match(r"^tcp://([A-Za-z0-9_-]+):(\d+)$", url.strip())
                if not m or m.group(1) in ("0", "localhost") or "." in m.group(1):
                    continue
                host, port = m.group(1), int(m.group(2))
                if check(host in services, f"docker-compose.yml: {name}: {key} names "
                         f"unknown service {host!r}"):
                    ports = listening_ports(env_dict(services[host]))
                    check(port in ports, f"docker-compose.yml: {name}: {key}={url} but {host} "
                          f"listens on {sorted(ports)}")
            m = re.match(r"^redis://([A-Za-z0-9_-]+):\d+", value)
            if m:
                check(m.group(1) in services,
                      f"docker-compose.yml: {name}: {key} names unknown service {m.group(1)!r}")

    # Builds: Dockerfile and target.
    targets = {}
    for name in DAEMONS:
        build = (services.get(name) or {}).get("build")
        if not check(isinstance(build, dict), f"docker-compose.yml: {name} has no build: map"):
            continue
        ctx = os.path.normpath(os.path.join(SRC, build.get("context", ".")))
        check(ctx == SRC, f"docker-compose.yml: {name}'s build context is not the repository")
        df = os.path.relpath(os.path.join(ctx, build.get("dockerfile", "Dockerfile")), SRC)
        check(exists(df), f"docker-compose.yml: {name}'s Dockerfile {df} does not exist")
        targets.setdefault(df, []).append((name, build.get("target")))
    return targets


# ---- Dockerfile --------------------------------------------------------------------

def dockerfile_instructions(text):
    out, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if cur and s.startswith("#"):
            continue  # a comment inside a continued instruction
        cur += (" " if cur else "") + s
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
            continue
        word, _, rest = cur.partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def dockerignore_patterns():
    if not exists(".dockerignore"):
        return []
    return [l.strip().rstrip("/") for l in read(".dockerignore").splitlines()
            if l.strip() and not l.strip().startswith("#") and not l.strip().startswith("!")]


def ignored(path, patterns):
    parts = path.strip("/").split("/")
    for p in patterns:
        if p.startswith("**/"):
            if any(fnmatch.fnmatch(part, p[3:]) for part in parts):
                return True
        for i in range(1, len(parts) + 1):
            if fnmatch.fnmatch("/".join(parts[:i]), p):
                return True
    return False


def apt_packages(run):
    pkgs = []
    for m in re.finditer(r"apt-get install ([^&;|]*)", run):
        pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def parse_stages(df, real, executables):
    text = read(df)
    stages, order = {}, []
    cur = None
    for word, rest in dockerfile_instructions(text):
        if word == "FROM":
            m = re.match(r"^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
            if not check(m, f"{df}: cannot parse FROM {rest}"):
                continue
            base, name = m.group(1), (m.group(2) or f"#{len(order)}")
            cur = {"base": base, "name": name, "packages": [], "copies": [], "cmd": None,
                   "env": [], "user": None}
            if base in stages:
                cur["parent"] = base
            stages[name] = cur
            order.append(name)
        elif cur is None:
            continue
        elif word == "RUN":
            cur["packages"] += apt_packages(rest)
        elif word in ("COPY", "ADD"):
            args = rest.split()
            opts = [a for a in args if a.startswith("--")]
            paths = [a for a in args if not a.startswith("--")]
            frm = next((o.split("=", 1)[1] for o in opts if o.startswith("--from=")), None)
            cur["copies"].append((frm, paths[:-1], paths[-1] if paths else ""))
        elif word == "CMD" or word == "ENTRYPOINT":
            cur["cmd"] = rest
        elif word == "ENV":
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", rest) or rest.split()[:1]
            cur["env"] += names
        elif word == "USER":
            cur["user"] = rest

    patterns = dockerignore_patterns()
    for st in stages.values():
        for frm, srcs, _dest in st["copies"]:
            if frm is None:
                for s in srcs:
                    check(exists(s), f"{df}: COPY {s}: no such file in the repository")
                    check(not ignored(s, patterns), f"{df}: COPY {s} is excluded by .dockerignore")
            else:
                check(frm in stages and order.index(frm) < order.index(st["name"]),
                      f"{df}: COPY --from={frm} in stage {st['name']}: no earlier stage {frm}")
                for s in srcs:
                    m = re.match(r"^/build/bin/(.+)$", s)
                    if m:
                        check(m.group(1) in executables,
                              f"{df}: COPY {s}: CMakeLists.txt builds no {m.group(1)}")
        for var in st["env"]:
            check(var in real, f"{df}: ENV {var} in stage {st['name']}: no binary reads it")
    return stages, order


def chain(stages, name):
    out = []
    while name in stages:
        out.append(stages[name])
        name = stages[name].get("parent")
    return out


def check_stage(df, stages, service, target, executables):
    if not check(target in stages, f"{df}: no stage {target!r} (target of {service})"):
        return
    st = stages[target]
    binary = DAEMONS[service]
    cmd = st["cmd"] or ""
    m = re.match(r'^\[\s*"([^"]+)"', cmd)
    run = os.path.basename(m.group(1)) if m else (cmd.split()[0] if cmd else "")
    check(run == binary, f"{df}: stage {target} runs {run!r}, not {binary}")
    check(run in executables, f"{df}: stage {target} runs {run!r}, which CMakeLists.txt "
          "does not build")
    copied = [os.path.basename(s) for s_ in chain(stages, target) for frm, srcs, _ in s_["copies"]
              if frm for s in srcs]
    check(binary in copied, f"{df}: stage {target} does not copy {binary}")
    check("tdctl" in copied, f"{df}: stage {target} lacks tdctl (the healthcheck)")
    users = [s["user"] for s in chain(stages, target) if s["user"]]
    check(users and users[0].split(":")[0] not in ("root", "0"),
          f"{df}: stage {target} does not run as a non-root user")
    check(any(s["base"].startswith("debian:12-slim") for s in chain(stages, target)),
          f"{df}: stage {target} is not based on debian:12-slim")

    # Runtime libraries: the package of every library the binary needs.
    if not BUILD or not shutil.which("readelf") or not shutil.which("dpkg"):
        return
    pkgs = {p for s in chain(stages, target) for p in s["packages"]}
    for exe in (binary, "tdctl"):
        path = os.path.join(BUILD, "bin", exe)
        if not os.path.exists(path):
            continue
        out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
        libs = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
        owners = lib_owners(libs)
        for lib in libs:
            found = owners.get(lib, set())
            if not found or "libc6" in found:
                continue
            check(found & pkgs, f"{df}: stage {target}: {exe} needs {lib} "
                  f"({'/'.join(sorted(found))}), which the stage does not install")


_owners = {}


def lib_owners(libs):
    """Debian packages owning each library file (one dpkg call for the lot)."""
    todo = [l for l in libs if l not in _owners]
    if todo:
        r = subprocess.run(["dpkg", "-S"] + [f"*/{l}" for l in todo],
                           capture_output=True, text=True)
        for l in todo:
            _owners[l] = set()
        for line in r.stdout.splitlines():
            pkgs, _, path = line.partition(": ")
            base = os.path.basename(path.strip())
            if base in _owners:
                _owners[base] |= {p.strip().split(":")[0] for p in pkgs.split(",")}
    return _owners


def check_packages_exist(df, stages):
    if not shutil.which("apt-cache"):
        return
    probe = subprocess.run(["apt-cache", "policy", "libc6"], capture_output=True, text=True)
    if "Candidate: (none)" in probe.stdout or "Candidate" not in probe.stdout:
        print("test_compose: apt lists absent; package names not checked")
        return
    wanted = sorted({p for st in stages.values() for p in st["packages"]})
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + wanted,
                       capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    for st in stages.values():
        for p in st["packages"]:
            check(p in known,
                  f"{df}: stage {st['name']} installs {p!r}, which Debian does not have")


# ---- scale override ------------------------------------------------------------------

class ComposeLoader(yaml.SafeLoader):
    pass


ComposeLoader.add_constructor("!reset", lambda loader, node: None)
ComposeLoader.add_constructor("!override", lambda loader, node:
                              loader.construct_sequence(node)
                              if isinstance(node, yaml.SequenceNode)
                              else loader.construct_mapping(node))


def check_scale_override(compose, stages_by_df):
    rel = "ops/docker/compose.scale.yml"
    if not exists(rel):
        return
    over = yaml.load(read(rel), Loader=ComposeLoader) or {}
    services = compose.get("services") or {}
    osvc = over.get("services") or {}
    check("gateway" in osvc and osvc["gateway"].get("ports", "x") is None,
          f"{rel}: does not take the published port away from the gateway")
    for name, svc in osvc.items():
        if name not in services:
            build = svc.get("build") or {}
            df = os.path.normpath(build.get("dockerfile", ""))
            check(df in stages_by_df and build.get("target") in stages_by_df[df],
                  f"{rel}: {name} builds {df} target {build.get('target')!r}, which does not exist")
            check(os.path.normpath(os.path.join(SRC, build.get("context", "."))) == SRC,
                  f"{rel}: {name}'s context must be . (paths are relative to the first file)")
        for dep in (svc.get("depends_on") or {}):
            check(dep in services or dep in osvc, f"{rel}: {name} depends on unknown {dep!r}")


def check_podman_tags():
    """ops/podman/compose_tags.py applies compose.scale.yml's `!reset` the way
    Compose v2 does, for podman-compose 1.0.3: run on copies of the real files
    (it writes its results next to them), the gateway has no published port
    left, the edge has one, nothing else changed, no tag is left, and a file
    without tags is passed through as it is."""
    tool = os.path.join(SRC, "ops/podman/compose_tags.py")
    rels = ["docker-compose.yml", "ops/docker/compose.postgres.yml", "ops/docker/compose.scale.yml"]
    if not all(exists(r) for r in rels + ["ops/podman/compose_tags.py"]):
        return
    with tempfile.TemporaryDirectory() as tmp:
        copies = []
        for rel in rels:
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            shutil.copy(os.path.join(SRC, rel), os.path.join(tmp, rel))
            copies.append(os.path.join(tmp, rel))
        r = subprocess.run([sys.executable, tool] + copies, capture_output=True, text=True)
        out = r.stdout.split()
        if not check(r.returncode == 0 and len(out) == 3,
                     f"compose_tags.py failed: {r.returncode} {r.stderr.strip()}"):
            return
        check(out[1] == copies[1], "compose_tags.py rewrote compose.postgres.yml, which has no tag")
        for made, copy in ((out[0], copies[0]), (out[2], copies[2])):
            check(made != copy and os.path.dirname(made) == os.path.dirname(copy),
                  f"compose_tags.py: {copy} should be rewritten next to itself, got {made}")
        base = yaml.safe_load(open(out[0], encoding="utf-8"))
        orig = yaml.safe_load(read("docker-compose.yml"))
        check("ports" in orig["services"]["gateway"] and "ports" not in base["services"]["gateway"],
              "compose_tags.py: the gateway still publishes a port after !reset")
        del orig["services"]["gateway"]["ports"]
        check(base == orig, "compose_tags.py changed more of docker-compose.yml than the reset port")
        scale_text = open(out[2], encoding="utf-8").read()
        check("!reset" not in scale_text, "compose_tags.py left a !reset tag")
        scale = yaml.safe_load(scale_text)
        check(scale["services"]["edge"].get("ports"), "compose_tags.py lost the edge's port")
        check("ports" not in scale["services"]["gateway"],
              "compose_tags.py kept the reset key in compose.scale.yml")


# ---- systemd --------------------------------------------------------------------------

def unit_entries(text):
    section, out = None, []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith(("#", ";")):
            continue
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1]
            continue
        k, _, v = s.partition("=")
        out.append((section, k.strip(), v.strip()))
    return out


HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
             "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
             "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
             "MemoryDenyWriteExecute": "yes", "SystemCallFilter": "@system-service"}


def check_systemd(real, executables):
    d = "ops/systemd"
    # Each daemon's unit, and the replica templates of the daemons that scale
    # on PostgreSQL (td-auth@.service, td-diary@.service): the same checks.
    units = [(service, binary, f"{d}/{binary}.service") for service, binary in DAEMONS.items()]
    units += [(service, binary, f"{d}/{binary}@.service") for service, binary in DAEMONS.items()
              if service in ("auth", "diary")]
    for service, binary, rel in units:
        if not check(exists(rel), f"{rel} is missing"):
            continue
        e = unit_entries(read(rel))
        get = lambda k, sec="Service": [v for s, kk, v in e if s == sec and kk == k]
        starts = get("ExecStart")
        if check(len(starts) == 1, f"{rel}: needs exactly one ExecStart="):
            argv = starts[0].lstrip("-@:+!").split()
            check(os.path.basename(argv[0]) == binary and binary in executables,
                  f"{rel}: ExecStart runs {argv[0]}, not {binary}")
        for cmd in get("ExecStartPre") + starts:
            argv = cmd.lstrip("-@:+!").split()
            check(os.path.basename(argv[0]) in executables,
                  f"{rel}: {argv[0]} is not a binary CMakeLists.txt builds")
            for flag in argv[1:]:
                if flag.startswith("--"):
                    check(flag_exists(flag), f"{rel}: {flag} is not a flag the binaries take")
        if service in STORAGE:
            check(any(c.split()[0].endswith("/" + binary) and "--migrate-only" in c.split()
                      for c in get("ExecStartPre")),
                  f"{rel}: no ExecStartPre={binary} --migrate-only")
            check(get("StateDirectory"), f"{rel}: no StateDirectory=")
        user = get("User")
        check((user and user[0] not in ("root", "0")) or get("DynamicUser") == ["yes"],
              f"{rel}: no dedicated User=")
        check(get("Restart") == ["on-failure"], f"{rel}: Restart= is not on-failure")
        check("/etc/thought-diary/env" in [v.lstrip("-") for v in get("EnvironmentFile")],
              f"{rel}: no EnvironmentFile=/etc/thought-diary/env")
        for k, want in HARDENING.items():
            check(want in get(k), f"{rel}: missing {k}={want}")
        for env in get("Environment"):
            for name in re.findall(r"(?:^|\s)\"?([A-Za-z_][A-Za-z0-9_]*)=", env):
                check(name in real, f"{rel}: Environment={name}: no binary reads it")
        check("thought-diary.target" in " ".join(get("WantedBy", "Install")),
              f"{rel}: not WantedBy=thought-diary.target")
        check("thought-diary.target" in " ".join(get("PartOf", "Unit")),
              f"{rel}: not PartOf=thought-diary.target")
    rel = f"{d}/thought-diary.target"
    if check(exists(rel), f"{rel} is missing"):
        wants = " ".join(v for s, k, v in unit_entries(read(rel)) if s == "Unit" and k == "Wants")
        for binary in DAEMONS.values():
            check(f"{binary}.service" in wants.split(), f"{rel}: does not want {binary}.service")


# ---- main --------------------------------------------------------------------------

def main():
    real = binary_variables()
    executables = cmake_executables()
    for exe in list(DAEMONS.values()) + ["tdctl"]:
        check(exe in executables, f"CMakeLists.txt builds no {exe}")
    check(flag_exists("--migrate-only"), "no binary takes --migrate-only")
    check(source_has(["ops/tdctl/main.c"], '"ping"'), "tdctl has no ping command")

    documented = env_example()
    for var in sorted(set(documented) - real - COMPOSE_ONLY - PG_OVERRIDE_ONLY):
        fail(f".env.example:{documented[var]}: {var} is read by no binary")
    for var in sorted(real - set(documented)):
        fail(f".env.example: {var} (read by the binaries) is not documented")

    compose_text = read("docker-compose.yml")
    compose = yaml.safe_load(compose_text) or {}
    for var in sorted(COMPOSE_ONLY - interpolated(compose_text)):
        fail(f"test_compose: {var} is not a variable of docker-compose.yml any more")
    pg_text = read("ops/docker/compose.postgres.yml")
    for var in sorted(PG_OVERRIDE_ONLY - interpolated(pg_text)):
        fail(f"test_compose: {var} is not a variable of compose.postgres.yml any more")
    targets = check_compose(compose, compose_text, documented, real)

    stages_by_df = {}
    for df, uses in targets.items():
        if not exists(df):
            continue
        stages, _ = parse_stages(df, real, executables)
        stages_by_df[os.path.normpath(df)] = stages
        for service, target in uses:
            check_stage(df, stages, service, target, executables)
        check_packages_exist(df, stages)
    check_scale_override(compose, stages_by_df)
    check_podman_tags()
    check_systemd(real, executables)

    if failures:
        for f in failures:
            print("FAIL:", f)
        print(f"test_compose: {len(failures)} failure(s)")
        return 1
    print("test_compose: docker-compose.yml, ops/docker, .env.example and ops/systemd "
          "are consistent with the sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
