// tests/k8s-validate.js - validates Kubernetes manifests offline against the
// API schemas (the npm kubernetes-models package, pinned in tests/package.json):
//   node tests/k8s-validate.js FILE.yaml...
// Prints one line per object ("file: Kind/name ok"), or the errors, naming
// the file, the object and the field; exits 1 when any object is invalid.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

function modelFor(apiVersion, kind) {
  // "apps/v1" -> kubernetes-models/apps/v1, "v1" -> kubernetes-models/v1
  let mod;
  try {
    mod = require(`kubernetes-models/${apiVersion}`);
  } catch (e) {
    return null;
  }
  return mod[kind] || null;
}

let bad = 0;
for (const file of process.argv.slice(2)) {
  const name = path.basename(file);
  let docs;
  try {
    docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.log(`${name}: ${e.message}`);
    bad++;
    continue;
  }
  docs.forEach((doc, i) => {
    if (doc.errors.length) {
      doc.errors.forEach((e) => console.log(`${name}: document ${i + 1}: ${e.message}`));
      bad++;
      return;
    }
    const o = doc.toJS();
    if (o === null) return; // an empty document
    const id = `${o.kind || '?'}/${(o.metadata && o.metadata.name) || '?'}`;
    const Model = o.apiVersion && o.kind ? modelFor(o.apiVersion, o.kind) : null;
    if (!Model) {
      console.log(`${name}: ${id}: unknown apiVersion/kind '${o.apiVersion}' '${o.kind}'`);
      bad++;
      return;
    }
    try {
      new Model(o).validate();
      console.log(`${name}: ${id} ok`);
    } catch (e) {
      const errs = e.errors || [{ instancePath: '', message: e.message }];
      errs.forEach((x) => console.log(`${name}: ${id}: ${x.instancePath || x.dataPath || '/'} ${x.message}`));
      bad++;
    }
  });
}
process.exit(bad ? 1 : 0);
