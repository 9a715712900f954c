// Second, independent reader for the process files: bpmn-io's moddle, the model
// layer Camunda Modeler and bpmn.io use to open diagrams.  A file that moddle reads
// with warnings (unknown elements or attributes, unresolved references, a camunda:*
// attribute on the wrong element) would open incompletely or lose data on save in the
// modeler, so any warning fails the check just like a parse error.
//
// Usage: node check.mjs <file.bpmn|file.dmn>...   (exit 0 = all clean)
import { readFile } from 'node:fs/promises';
import { BpmnModdle } from 'bpmn-moddle';
import { DmnModdle } from 'dmn-moddle';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json' with { type: 'json' };

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check.mjs <file.bpmn|file.dmn>...');
  process.exit(2);
}

let failed = 0;
for (const file of files) {
  const isDmn = file.endsWith('.dmn');
  const moddle = isDmn ? new DmnModdle() : new BpmnModdle({ camunda: camundaModdle });
  const rootType = isDmn ? 'dmn:Definitions' : 'bpmn:Definitions';
  const problems = [];
  try {
    const xml = await readFile(file, 'utf8');
    const { rootElement, warnings } = await moddle.fromXML(xml, rootType);
    for (const w of warnings) {
      problems.push(`warning: ${w.message}`);
    }
    if (!rootElement) {
      problems.push('error: no root element');
    }
  } catch (err) {
    problems.push(`error: ${err.message}`);
    for (const w of err.warnings || []) {
      problems.push(`warning: ${w.message}`);
    }
  }
  if (problems.length) {
    failed += 1;
    console.log(`FAIL ${file}`);
    for (const p of problems) console.log(`  ${p}`);
  } else {
    console.log(`ok   ${file}`);
  }
}
process.exit(failed ? 1 : 0);
