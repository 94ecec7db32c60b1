#!/usr/bin/env node
// AutBot plugin tool for JavaScript/TypeScript plugins.
//
//   node sdk/js/tools/autbot-plugin.mjs build <plugin-dir> [--out <dir>]
//   node sdk/js/tools/autbot-plugin.mjs test  <plugin-dir> [node --test args...]
//   node sdk/js/tools/autbot-plugin.mjs wit   <plugin-dir>     (the world it would build)
//   node sdk/js/tools/autbot-plugin.mjs install                (the pinned build tools only)
//
// A plugin folder has a package.json with `"main"` (its module, .js or .ts) and
// `"autbot": { "hook": "preprocessor" | "ranker" | "prompt-builder" }`.
//
// `build`: (1) installs the pinned tools of this SDK (npm ci with its
// package-lock.json) when they are missing or the lock changed; (2) bundles the
// plugin with rolldown into one ES module (`autbot-sdk` resolves to this SDK, the
// `autbot:plugin/*` interfaces stay imports, unused SDK helpers are dropped);
// (3) writes a WIT world that imports exactly the capabilities the bundle uses
// (checked against `autbot.capabilities` when the manifest lists them); (4) runs
// componentize-js (SpiderMonkey, pre-initialised with Wizer; WASI features `http`
// and `fetch-event` disabled, so the component imports no wasi:http); (5) copies
// `<name>.wasm` to --out (default: <plugin-dir>/dist). Unchanged inputs reuse the
// last component (build/<name>.wasm). The last stdout line is JSON:
// {"built": [path], "capabilities": [...], "cached": bool}.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SDK_SRC = join(SDK_DIR, "src");
const REPO_WIT = resolve(SDK_DIR, "../../wit/autbot.wit");
// The WASI features componentize-js would otherwise link: outbound HTTP (`fetch`)
// and incoming-handler events, i.e. wasi:http, which the host does not provide.
const DISABLED_FEATURES = ["http", "fetch-event"];

const say = (msg) => process.stderr.write(`autbot-plugin-js: ${msg}\n`);
function die(msg) {
  say(`error: ${msg}`);
  process.exit(1);
}
const sha256 = (data) => createHash("sha256").update(data).digest("hex");

// ---- pinned tools ------------------------------------------------------------------
// Same stamp as scripts/setup-test-deps.sh: the lock's digest and node's major version.
export function ensureTools() {
  const lock = join(SDK_DIR, "package-lock.json");
  const stamp = join(SDK_DIR, "node_modules", ".autbot-package-lock.sha256");
  const want = `${sha256(readFileSync(lock))} node-${process.versions.node.split(".")[0]}`;
  if (existsSync(stamp) && readFileSync(stamp, "utf8").trim() === want) return;
  const started = Date.now();
  say(`installing the pinned build tools (npm ci in ${SDK_DIR})`);
  const npm = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: SDK_DIR,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (npm.error) die(`cannot run npm: ${npm.error.message} (install Node.js 20.6+ with npm)`);
  if (npm.status !== 0) die(`npm ci failed in ${SDK_DIR}`);
  writeFileSync(stamp, `${want}\n`);
  say(`installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function toolVersion(pkg) {
  return JSON.parse(readFileSync(join(SDK_DIR, "node_modules", pkg, "package.json"), "utf8")).version;
}

// ---- the manifest -------------------------------------------------------------------
const HOOKS = ["preprocessor", "ranker", "prompt-builder"];

export function readManifest(dir) {
  const file = join(dir, "package.json");
  if (!existsSync(file)) die(`${dir} has no package.json`);
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    die(`${file}: ${e.message}`);
  }
  const name = String(pkg.name ?? basename(dir)).replace(/^@[^/]+\//, "");
  if (!/^[A-Za-z0-9_-]+$/.test(name)) die(`${file}: name \`${name}\` must be letters, digits, - and _`);
  const hook = pkg.autbot?.hook;
  if (!HOOKS.includes(hook)) die(`${file}: "autbot": { "hook": ... } must be one of ${HOOKS.join(", ")}`);
  const main = pkg.main ?? "src/plugin.js";
  if (!existsSync(join(dir, main))) die(`${file}: main ${main} does not exist`);
  const declared = pkg.autbot?.capabilities;
  if (declared !== undefined && !(Array.isArray(declared) && declared.every((c) => typeof c === "string"))) {
    die(`${file}: "autbot.capabilities" must be an array of capability names`);
  }
  return { name, hook, main, declared };
}

// ---- the WIT world ------------------------------------------------------------------
// The hook's world from wit/autbot.wit, with only the given capability imports. A
// component imports every interface of its world, so the world is cut to what the
// plugin uses: the host refuses a component that imports a capability its
// [[plugins.chain]] entry does not grant.
export function hookWorld(hook, capabilities) {
  const wit = readFileSync(REPO_WIT, "utf8");
  const pkg = /^\s*package\s+([a-z0-9-]+):([a-z0-9-]+)@([0-9A-Za-z.+-]+)\s*;/m.exec(wit);
  if (!pkg) die(`${REPO_WIT}: no versioned package declaration`);
  const [, ns, name, version] = pkg;
  const start = new RegExp(`^world\\s+${hook}\\s*\\{`, "m").exec(wit);
  if (!start) die(`${REPO_WIT}: no world ${hook}`);
  const end = wit.indexOf("\n}", start.index);
  const body = wit
    .slice(start.index + start[0].length, end)
    .replace(/\/\/.*$/gm, "")
    .split(";")
    .map((s) => s.trim().replace(/\s+/g, " "))
    .filter(Boolean);
  const available = [];
  const lines = [];
  let exportName;
  for (const stmt of body) {
    let m;
    if ((m = /^import ([a-z0-9-]+)$/.exec(stmt))) {
      available.push(m[1]);
      if (capabilities.includes(m[1])) lines.push(`  import ${ns}:${name}/${m[1]}@${version};`);
    } else if ((m = /^use ([a-z0-9-]+)\.(\{.*\})$/.exec(stmt))) {
      lines.push(`  use ${ns}:${name}/${m[1]}@${version}.${m[2]};`);
    } else if ((m = /^export ([a-z0-9-]+):/.exec(stmt))) {
      exportName = m[1];
      lines.push(`  ${stmt};`);
    } else {
      die(`${REPO_WIT}: world ${hook}: unexpected statement \`${stmt}\``);
    }
  }
  const unknown = capabilities.filter((c) => !available.includes(c));
  if (unknown.length) die(`unknown capabilities ${unknown.join(", ")}: the ${hook} hook offers ${available.join(", ")}`);
  const world = `// Generated by sdk/js/tools/autbot-plugin.mjs from wit/autbot.wit: the ${hook} hook\n// with only the capabilities this plugin uses.\npackage autbot-build:plugin;\n\nworld plugin {\n${lines.join("\n")}\n}\n`;
  return { world, wit, exportName, available, version };
}

// `build-prompt` -> `buildPrompt`: the name of the ES module export.
const camel = (s) => s.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

// ---- bundling ------------------------------------------------------------------------
const CAPABILITY_IMPORT = /^autbot:plugin\/([a-z-]+)@[0-9.]+$/;

// The bundle's entry: the plugin's hook, wrapped so that an exception other than a
// Rejection is written to stderr (the host logs it) before it fails the call.
// componentize-js would otherwise report only that the error is not a `rejection`
// record (for a preprocessor), or nothing useful at all.
function entrySource(mainPath, jsExport) {
  return `import { ${jsExport} as hook } from ${JSON.stringify(mainPath)};
function report(e) {
  if (!(e && typeof e === "object" && "payload" in e)) {
    console.error(\`${jsExport} failed: \${e && e.stack ? \`\${e}\\n\${e.stack}\` : e}\`);
  }
}
export function ${jsExport}(...args) {
  let out;
  try {
    out = hook(...args);
  } catch (e) {
    report(e);
    throw e;
  }
  if (out && typeof out.then === "function") {
    return out.then(undefined, (e) => {
      report(e);
      throw e;
    });
  }
  return out;
}
`;
}

async function bundle(dir, input) {
  const { rolldown } = await import("rolldown");
  const sdkPrefix = SDK_SRC + "/";
  const build = await rolldown({
    input,
    cwd: dir,
    platform: "neutral",
    logLevel: "warn",
    external: [/^autbot:plugin\//],
    resolve: { alias: { "autbot-sdk": join(SDK_SRC, "index.js") } },
    // The SDK's modules and the host interfaces have no side effects: helpers the
    // plugin does not call are dropped, and so are their capability imports.
    treeshake: { moduleSideEffects: (id, external) => !(external || id.startsWith(sdkPrefix)) },
  });
  const { output } = await build.generate({ format: "es", codeSplitting: false });
  await build.close();
  const chunk = output.find((o) => o.type === "chunk" && o.isEntry);
  return { code: chunk.code, imports: chunk.imports, exports: chunk.exports };
}

// ---- build ---------------------------------------------------------------------------
async function build(dir, out) {
  ensureTools();
  const { name, hook, main, declared } = readManifest(dir);
  const started = Date.now();
  const jsExport = camel(hookWorld(hook, []).exportName);
  const work = join(dir, "build");
  mkdirSync(join(work, "wit", "deps", "autbot-plugin"), { recursive: true });
  const entry = join(work, "entry.js");
  writeFileSync(entry, entrySource(resolve(dir, main), jsExport));
  let bundled;
  try {
    bundled = await bundle(dir, entry);
  } catch (e) {
    die(`bundling ${main} failed (does it export function ${jsExport}, the ${hook} hook?):\n${e?.message ?? e}`);
  }
  const capabilities = [];
  for (const spec of bundled.imports) {
    const m = CAPABILITY_IMPORT.exec(spec);
    if (!m) die(`${main} imports \`${spec}\`: a plugin may import only autbot-sdk, relative modules and autbot:plugin/* (bundle npm packages by installing them in the plugin folder)`);
    if (m[1] !== "types" && !capabilities.includes(m[1])) capabilities.push(m[1]);
  }
  capabilities.sort();
  if (declared) {
    const extra = capabilities.filter((c) => !declared.includes(c));
    if (extra.length) die(`${main} uses capabilities ${extra.join(", ")} that package.json "autbot.capabilities" does not list`);
  }
  const { world, wit } = hookWorld(hook, capabilities);
  writeFileSync(join(work, "plugin.bundle.js"), bundled.code);
  writeFileSync(join(work, "wit", "world.wit"), world);
  writeFileSync(join(work, "wit", "deps", "autbot-plugin", "autbot.wit"), wit);

  const cjsVersion = toolVersion("@bytecodealliance/componentize-js");
  const inputs = sha256(JSON.stringify([bundled.code, world, wit, cjsVersion, DISABLED_FEATURES]));
  const cached = join(work, `${name}.wasm`);
  const stamp = join(work, `${name}.inputs.sha256`);
  let reused = existsSync(cached) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === inputs;
  if (!reused) {
    rmSync(stamp, { force: true });
    const { componentize } = await import("@bytecodealliance/componentize-js");
    const prev = process.cwd();
    process.chdir(work); // componentize-js maps the source's folder into the Wizer sandbox
    let component;
    try {
      ({ component } = await componentize({
        sourcePath: join(work, "plugin.bundle.js"),
        witPath: join(work, "wit"),
        worldName: "plugin",
        disableFeatures: DISABLED_FEATURES,
      }));
    } catch (e) {
      die(`componentize-js failed for ${dir}: ${e?.stack ?? e}`);
    } finally {
      process.chdir(prev);
    }
    writeFileSync(cached, component);
    writeFileSync(stamp, `${inputs}\n`);
    say(`${name}: built with componentize-js ${cjsVersion} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } else {
    say(`${name}: up to date`);
  }
  mkdirSync(out, { recursive: true });
  const dest = join(out, `${name}.wasm`);
  if (!existsSync(dest) || sha256(readFileSync(dest)) !== sha256(readFileSync(cached))) copyFileSync(cached, dest);
  const size = readFileSync(dest).length;
  say(`${name}: ${dest} (${(size / 1048576).toFixed(1)} MiB, hook ${hook}, capabilities [${capabilities.join(", ")}])`);
  process.stdout.write(`${JSON.stringify({ built: [dest], hook, capabilities, cached: reused })}\n`);
}

// ---- test ----------------------------------------------------------------------------
function test(dir, rest) {
  readManifest(dir);
  const args = ["--import", join(SDK_DIR, "testing", "register.js"), "--test", ...rest];
  const run = spawnSync(process.execPath, args, { cwd: dir, stdio: "inherit" });
  process.exit(run.status ?? 1);
}

// ---- main ----------------------------------------------------------------------------
async function main(argv) {
  const [cmd, ...args] = argv;
  if (cmd === "install") return ensureTools();
  if (!["build", "test", "wit"].includes(cmd) || !args[0]) {
    die("usage: autbot-plugin.mjs build <plugin-dir> [--out <dir>] | test <plugin-dir> | wit <plugin-dir> | install");
  }
  const dir = resolve(args[0]);
  if (cmd === "test") return test(dir, args.slice(1));
  if (cmd === "wit") {
    ensureTools();
    const { hook, main } = readManifest(dir);
    const { imports } = await bundle(dir, resolve(dir, main));
    const caps = imports.map((s) => CAPABILITY_IMPORT.exec(s)?.[1]).filter((c) => c && c !== "types");
    process.stdout.write(hookWorld(hook, [...new Set(caps)].sort()).world);
    return;
  }
  let out = join(dir, "dist");
  const i = args.indexOf("--out");
  if (i > 0) {
    if (!args[i + 1]) die("--out needs a folder");
    out = resolve(args[i + 1]);
  }
  await build(dir, out);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
