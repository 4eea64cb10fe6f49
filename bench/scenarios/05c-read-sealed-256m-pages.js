'use strict'
// Scenario 5c: as scenario 5, reading one byte per page: the mapping and its page faults without the
// arithmetic, i.e. what zero copy costs on each side. Same C baseline, run with "pages".
const { scenario, sumPages } = require('./05-read-sealed-256m')

module.exports = scenario('256m-pages', 'touch every page of a 256 MiB sealed mapping (one byte per page)', sumPages, Uint8Array, { cArgs: ['pages'] })
