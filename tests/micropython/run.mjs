// Runs a Python script on the real MicroPython interpreter (WebAssembly port) under node.
// usage: node run.mjs MANIFEST.json
// The manifest: {"files": [[host_path, device_path], ...], "main": device_path}. Files are copied
// into the interpreter's in-memory filesystem (directories created), then `main` is executed.
// Exit status 1 with the traceback on stderr when the script raises.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const projectRoot = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const require = createRequire(join(projectRoot, "package.json"));
const entry = require.resolve("@micropython/micropython-webassembly-pyscript/micropython.mjs");
const { loadMicroPython } = await import(entry);

const manifest = JSON.parse(readFileSync(process.argv[2], "utf8"));
const mp = await loadMicroPython({
  heapsize: 32 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
const made = new Set(["/"]);
function mkdirs(path) {
  const parts = path.split("/").filter(Boolean);
  let current = "";
  for (const part of parts) {
    current += "/" + part;
    if (!made.has(current)) {
      try { mp.FS.mkdir(current); } catch (error) { /* exists */ }
      made.add(current);
    }
  }
}
for (const [hostPath, devicePath] of manifest.files) {
  mkdirs(dirname(devicePath));
  mp.FS.writeFile(devicePath, readFileSync(hostPath));
}
try {
  mp.runPython("import sys\nsys.path.insert(0, '/lib')\n" + readFileSync(manifest.main, "utf8"));
} catch (error) {
  process.stderr.write(String(error.message ?? error) + "\n");
  process.exit(1);
}
