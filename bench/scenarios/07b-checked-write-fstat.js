'use strict'
// Scenario 7b: scenario 7 against a C baseline that makes the same identity check (fstat(2), st_dev and
// st_ino compared) before its pwrite(2): what is left is memseal's own cost.
const scenario = require('./07-checked-write')

module.exports = {
  ...scenario,
  id: 'checked-write+fstat',
  title: 'scenario 7, C baseline with the same fstat before each write',
  cArgs: ['fstat'],
}
