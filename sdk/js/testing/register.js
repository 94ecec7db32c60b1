// `node --import <this file>`: resolves `autbot-sdk` (and `autbot-sdk/testing`) to
// this SDK and each `autbot:plugin/<interface>@<version>` import to a fake host
// (fakes/), so a plugin's module runs in Node.js for its tests.
import { register } from "node:module";
register("./hooks.js", import.meta.url);
