/*
 * Loading the function's handler from its handler string, the way AWS's Node.js runtime does.
 *
 * "src/app.handler" is the module "app" in the folder "src/" of the task root and the export
 * "handler" (a dotted path reaches nested exports: "app.api.get"). The module is tried as the
 * file itself, as .js (CommonJS, unless the nearest package.json says "type": "module"), as an
 * ES module (.js in such a package, then .mjs), as .cjs, and at last by Node's own resolution
 * from the task root. A syntax error is Runtime.UserCodeSyntaxError, a module that cannot be
 * found Runtime.ImportModuleError, a missing export Runtime.HandlerNotFound; any other error
 * the module throws while loading is reported as itself.
 */

'use strict';

const fs = require('fs');
const Module = require('module');
const path = require('path');
const { pathToFileURL } = require('url');
const errors = require('./errors.js');

/** The require of user modules, parented as AWS's runtime entry point is, so that "Require
 * stack" lines in error messages read as they do on AWS. */
function userRequire(runtimeDir) {
  return Module.createRequire(path.join(runtimeDir, 'index.mjs'));
}

function inModulePackage(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const manifest = path.join(folder, 'package.json');
  if (fs.existsSync(manifest)) {
    try {
      return JSON.parse(fs.readFileSync(manifest, 'utf8')).type === 'module';
    } catch (e) {
      console.warn(
        `${manifest} cannot be read, it will be ignored for ES module detection purposes.`,
        e,
      );
      return false;
    }
  }
  return folder === '/' ? false : inModulePackage(path.resolve(folder, '..'));
}

async function loadModule(load, appRoot, moduleRoot, name) {
  const file = path.resolve(appRoot, moduleRoot, name);
  const required = (suffix) => (fs.existsSync(file + suffix) ? load(file + suffix) : undefined);
  const imported = async (suffix) =>
    fs.existsSync(file + suffix) ? import(pathToFileURL(file + suffix).href) : undefined;
  const bare = required('');
  if (bare) return bare;
  const esm = inModulePackage(path.dirname(file));
  const commonJs = esm ? undefined : required('.js');
  if (commonJs) return commonJs;
  const loaded =
    (esm && (await imported('.js'))) || (await imported('.mjs')) || required('.cjs');
  if (loaded) return loaded;
  return load(load.resolve(name, { paths: [appRoot, moduleRoot] }));
}

function splitHandler(handler) {
  if (handler.includes('..')) {
    throw new errors.MalformedHandlerName(
      `'${handler}' is not a valid handler name. Use absolute paths when specifying root ` +
        'directories in handler names.',
    );
  }
  const base = path.basename(handler);
  const moduleRoot = handler.substring(0, handler.indexOf(base));
  const match = base.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new errors.MalformedHandlerName('Bad handler');
  return [moduleRoot, match[1], match[2]];
}

/** The handler function named by ``handler`` under ``appRoot``; throws AWS's errors. */
async function loadHandler(appRoot, handler, runtimeDir) {
  const [moduleRoot, name, exportPath] = splitHandler(handler);
  let app;
  try {
    app = await loadModule(userRequire(runtimeDir), appRoot, moduleRoot, name);
  } catch (e) {
    if (e instanceof SyntaxError) throw new errors.UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new errors.ImportModuleError(e);
    throw e;
  }
  const found = exportPath.split('.').reduce((object, key) => object && object[key], app);
  if (!found) throw new errors.HandlerNotFound(`${handler} is undefined or not exported`);
  if (typeof found !== 'function') {
    throw new errors.HandlerNotFound(`${handler} is not a function`);
  }
  return found;
}

module.exports = { loadHandler };
