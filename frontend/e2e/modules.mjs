// Browser tests of frontend/src/private/*.ts without the app: on one prefix of the server's
// origin (request routing), a blank page, each module transpiled to a browser ES module on
// request, and the files it needs (wasm, models, photos) from folders on this machine.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SRC = path.join(HERE, '..', 'src', 'private');
export const NODE_MODULES = path.join(HERE, '..', 'node_modules');

/** src/private/<name>.ts as a browser module, its text passed through `rewrite`. */
export function transpiled(name, rewrite = (text) => text) {
  const source = readFileSync(path.join(SRC, `${name}.ts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true },
  });
  return rewrite(outputText);
}

const typeOf = (name) => (name.endsWith('.wasm') ? 'application/wasm' : /\.m?js$/.test(name) ? 'text/javascript' : 'application/octet-stream');

/**
 * The route handler for `${BASE}${prefix}**`: `index.html` is a blank page titled `title`;
 * a path under a key of `folders` ({"ort/": dir} or {"photos/": [dir, type]}) is that
 * folder's file of the same base name; anything else is a transpiled module.
 */
export function moduleRoutes(prefix, { title, folders = {}, rewrite }) {
  return async (route) => {
    const file = new URL(route.request().url()).pathname.replace(prefix, '');
    if (file === 'index.html') return route.fulfill({ contentType: 'text/html', body: `<!doctype html><title>${title}</title>` });
    for (const [under, where] of Object.entries(folders)) {
      if (!file.startsWith(under)) continue;
      const [dir, type] = Array.isArray(where) ? where : [where, undefined];
      const name = path.basename(file);
      return route.fulfill({ contentType: type ?? typeOf(name), body: readFileSync(path.join(dir, name)) });
    }
    return route.fulfill({ contentType: 'text/javascript', body: transpiled(path.basename(file, '.js'), rewrite) });
  };
}
