// Module resolution hooks for plugin tests (registered by register.js).
const SDK = new URL("../src/index.js", import.meta.url).href;
const TESTING = new URL("./index.js", import.meta.url).href;
const CAPABILITY = /^autbot:plugin\/([a-z-]+)(@[0-9.]+)?$/;

export async function resolve(specifier, context, next) {
  if (specifier === "autbot-sdk") return { url: SDK, shortCircuit: true };
  if (specifier === "autbot-sdk/testing") return { url: TESTING, shortCircuit: true };
  const m = CAPABILITY.exec(specifier);
  if (m) {
    return { url: new URL(`./fakes/${m[1]}.js`, import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
