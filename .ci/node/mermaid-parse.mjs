// Parse Mermaid diagrams with Mermaid's own parser (the one GitHub's renderer uses).
// stdin: a JSON array of diagram texts; stdout: a JSON array of
// {"ok": true, "type": "flowchart-v2"} or {"ok": false, "error": "Parse error on line 4: ..."}.
// Mermaid's sanitiser (DOMPurify) needs a DOM: jsdom provides the window.
import { JSDOM } from "jsdom";

const { window } = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String(error.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
