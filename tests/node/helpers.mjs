// What the Node tests share. Not a test file: `node --test tests/node/`
// runs the *.test.mjs files only.
import assert from "node:assert/strict";

// Awaits `p`, which must reject with an LnwasmError; returns its code.
export async function code(p) {
  try {
    await p;
  } catch (e) {
    assert.equal(e.name, "LnwasmError");
    return e.code;
  }
  assert.fail("expected a rejection");
}
