// Injected by scripts/build.mjs into the CommonJS bundles, where import.meta does not exist:
// import.meta.url is the bundle's own file URL, as it was in the ES module bundles. A getter:
// the first URL made costs a command's start a few ms, and only some code paths ask for it.
export const importMeta = {
  get url() {
    return require('node:url').pathToFileURL(__filename).href;
  },
};
