'use strict'
// Scenario 5b: as scenario 5, with the naive loop (one Uint8Array element per iteration). Same C baseline.
const { scenario, sumBytes } = require('./05-read-sealed-256m')

module.exports = scenario('256m-bytes', 'read every byte of a 256 MiB sealed mapping (Uint8Array loop)', sumBytes, Uint8Array)
