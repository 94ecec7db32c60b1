#!/usr/bin/env python3
"""AutBot plugin tool for Python plugins.

    python3 sdk/python/tools/autbot_plugin.py build <plugin-dir> [--out <dir>]
    python3 sdk/python/tools/autbot_plugin.py test  <plugin-dir>   (unittest, with a fake host)
    python3 sdk/python/tools/autbot_plugin.py wit   <plugin-dir>   (the world it would build)
    python3 sdk/python/tools/autbot_plugin.py install              (the pinned build tool only)

A plugin folder has a pyproject.toml with `[project] name` and

    [tool.autbot]
    hook = "ranker"                       # preprocessor | ranker | prompt-builder
    capabilities = ["config", "log"]      # the host interfaces the plugin calls
    module = "app"                        # the module defining class WitWorld (default "app")

`build`: (1) installs the pinned componentize-py (requirements.txt) into sdk/python/.venv
when it is missing or the requirements changed; (2) writes a WIT world that imports exactly
the declared capabilities (a Python component imports every interface of its world, so the
world is cut to the declaration: the host refuses a component importing a capability that
its [[plugins.chain]] entry does not grant); (3) runs componentize-py (CPython, pre-
initialised with Wizer) with the plugin folder and this SDK on the module path; (4) copies
`<name>.wasm` to --out (default: <plugin-dir>/dist). Unchanged inputs reuse the last
component (build/<name>.wasm). The last stdout line is JSON:
{"built": [path], "capabilities": [...], "cached": bool}.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

SDK_DIR = Path(__file__).resolve().parent.parent
REPO_WIT = SDK_DIR.parent.parent / "wit" / "autbot.wit"
VENV = SDK_DIR / ".venv"
REQUIREMENTS = SDK_DIR / "requirements.txt"
HOOKS = ("preprocessor", "ranker", "prompt-builder")


def say(msg):
    print(f"autbot-plugin-py: {msg}", file=sys.stderr, flush=True)


def die(msg):
    say(f"error: {msg}")
    sys.exit(1)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---- the pinned tool ---------------------------------------------------------------------
def ensure_tools():
    """componentize-py from requirements.txt in sdk/python/.venv; redone when the file or
    the python3 it was made with changed (the same stamp scripts/setup-test-deps.sh uses)."""
    python = shutil.which("python3") or sys.executable
    want = f"{sha256(REQUIREMENTS.read_bytes())} {python} {'.'.join(map(str, sys.version_info[:3]))}"
    stamp = VENV / ".autbot-requirements.sha256"
    tool = VENV / "bin" / "componentize-py"
    if tool.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return tool
    started = time.monotonic()
    say(f"installing the pinned build tool into {VENV} ({REQUIREMENTS.name})")
    for cmd in (
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-input", "-r", str(REQUIREMENTS)],
    ):
        run = subprocess.run(cmd, stdout=sys.stderr)
        if run.returncode != 0:
            die(f"failed (exit {run.returncode}): {' '.join(cmd)}")
    stamp.write_text(want + "\n")
    say(f"installed in {time.monotonic() - started:.0f} s")
    return tool


def tool_version(tool):
    out = subprocess.run([str(tool), "--version"], capture_output=True, text=True)
    return out.stdout.strip()


# ---- the manifest ------------------------------------------------------------------------
def read_manifest(plugin):
    file = plugin / "pyproject.toml"
    if not file.exists():
        die(f"{plugin} has no pyproject.toml")
    try:
        data = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as e:
        die(f"{file}: {e}")
    name = str(data.get("project", {}).get("name") or plugin.name)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        die(f"{file}: name `{name}` must be letters, digits, - and _")
    autbot = data.get("tool", {}).get("autbot", {})
    hook = autbot.get("hook")
    if hook not in HOOKS:
        die(f"{file}: [tool.autbot] hook must be one of {', '.join(HOOKS)}")
    caps = autbot.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        die(f"{file}: [tool.autbot] capabilities must be a list of capability names")
    module = autbot.get("module", "app")
    if not (plugin / f"{module}.py").exists() and not (plugin / module / "__init__.py").exists():
        die(f"{file}: module `{module}` ({module}.py) does not exist")
    return name, hook, sorted(set(caps)), module


# ---- the WIT world -----------------------------------------------------------------------
def hook_world(hook, capabilities):
    """The hook's world from wit/autbot.wit with only the given capability imports."""
    wit = REPO_WIT.read_text()
    pkg = re.search(r"^\s*package\s+([a-z0-9-]+):([a-z0-9-]+)@([0-9A-Za-z.+-]+)\s*;", wit, re.M)
    if not pkg:
        die(f"{REPO_WIT}: no versioned package declaration")
    ns, name, version = pkg.groups()
    start = re.search(rf"^world\s+{re.escape(hook)}\s*\{{", wit, re.M)
    if not start:
        die(f"{REPO_WIT}: no world {hook}")
    end = wit.index("\n}", start.end())
    body = re.sub(r"//.*$", "", wit[start.end():end], flags=re.M)
    available, lines, export = [], [], None
    for stmt in (" ".join(s.split()) for s in body.split(";")):
        if not stmt:
            continue
        if m := re.fullmatch(r"import ([a-z0-9-]+)", stmt):
            available.append(m[1])
            if m[1] in capabilities:
                lines.append(f"  import {ns}:{name}/{m[1]}@{version};")
        elif m := re.fullmatch(r"use ([a-z0-9-]+)\.(\{.*\})", stmt):
            lines.append(f"  use {ns}:{name}/{m[1]}@{version}.{m[2]};")
        elif m := re.match(r"export ([a-z0-9-]+):", stmt):
            export = m[1]
            lines.append(f"  {stmt};")
        else:
            die(f"{REPO_WIT}: world {hook}: unexpected statement `{stmt}`")
    unknown = [c for c in capabilities if c not in available]
    if unknown:
        die(f"unknown capabilities {', '.join(unknown)}: the {hook} hook offers {', '.join(available)}")
    world = (
        "// Generated by sdk/python/tools/autbot_plugin.py from wit/autbot.wit: the "
        f"{hook} hook\n// with only the capabilities this plugin declares.\n"
        "package autbot-build:plugin;\n\nworld plugin {\n" + "\n".join(lines) + "\n}\n"
    )
    return world, wit, export


# ---- build -------------------------------------------------------------------------------
def source_digest(plugin, extra):
    """Digest of the plugin's and the SDK's Python sources (what goes into the component)."""
    h = hashlib.sha256()
    for root in (plugin, SDK_DIR / "autbot_sdk"):
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if rel.parts[0] in ("build", "dist", "tests", ".venv") or "__pycache__" in rel.parts:
                continue
            h.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps(extra).encode())
    return h.hexdigest()


def build(plugin, out):
    tool = ensure_tools()
    name, hook, caps, module = read_manifest(plugin)
    world, wit, export = hook_world(hook, caps)
    work = plugin / "build"
    (work / "wit" / "deps" / "autbot-plugin").mkdir(parents=True, exist_ok=True)
    (work / "wit" / "world.wit").write_text(world)
    (work / "wit" / "deps" / "autbot-plugin" / "autbot.wit").write_text(wit)
    version = tool_version(tool)
    inputs = source_digest(plugin, [world, wit, version, module])
    cached = work / f"{name}.wasm"
    stamp = work / f"{name}.inputs.sha256"
    reused = cached.exists() and stamp.exists() and stamp.read_text().strip() == inputs
    if not reused:
        stamp.unlink(missing_ok=True)
        started = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        cmd = [str(tool), "--quiet", "-d", str(work / "wit"), "-w", "plugin", "componentize",
               "-p", str(plugin), "-p", str(SDK_DIR), module, "-o", str(cached)]
        run = subprocess.run(cmd, env=env, cwd=work, stdout=sys.stderr)
        if run.returncode != 0:
            die(f"componentize-py failed for {plugin} (exit {run.returncode})")
        stamp.write_text(inputs + "\n")
        say(f"{name}: built with {version} in {time.monotonic() - started:.1f} s")
    else:
        say(f"{name}: up to date")
    out.mkdir(parents=True, exist_ok=True)
    dest = out / f"{name}.wasm"
    if not dest.exists() or dest.read_bytes() != cached.read_bytes():
        shutil.copyfile(cached, dest)
    size = dest.stat().st_size
    say(f"{name}: {dest} ({size / 1048576:.1f} MiB, hook {hook}, export {export}, capabilities [{', '.join(caps)}])")
    print(json.dumps({"built": [str(dest)], "hook": hook, "capabilities": caps, "cached": reused}), flush=True)


# ---- test --------------------------------------------------------------------------------
def test(plugin, rest):
    read_manifest(plugin)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin), str(SDK_DIR), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    start = "tests" if (plugin / "tests").is_dir() else "."
    cmd = [sys.executable, "-m", "unittest", "discover", "-s", start, *rest]
    sys.exit(subprocess.run(cmd, cwd=plugin, env=env).returncode)


def main(argv):
    usage = "usage: autbot_plugin.py build <plugin-dir> [--out <dir>] | test <plugin-dir> | wit <plugin-dir> | install"
    if argv[:1] == ["install"]:
        ensure_tools()
        return
    if len(argv) < 2 or argv[0] not in ("build", "test", "wit"):
        die(usage)
    cmd, plugin = argv[0], Path(argv[1]).resolve()
    if cmd == "test":
        test(plugin, argv[2:])
    elif cmd == "wit":
        _, hook, caps, _ = read_manifest(plugin)
        sys.stdout.write(hook_world(hook, caps)[0])
    else:
        out = plugin / "dist"
        if "--out" in argv:
            i = argv.index("--out")
            if i + 1 >= len(argv):
                die("--out needs a folder")
            out = Path(argv[i + 1]).resolve()
        build(plugin, out)


if __name__ == "__main__":
    main(sys.argv[1:])
