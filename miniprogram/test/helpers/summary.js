// A closing line in the plain "N passed, N failed" form that CI logs and
// people scan for. Jest prints its own summary after every reporter's
// onRunComplete, so the line is written when the process exits, last.
class Summary {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests
    const tail = skipped ? `, ${skipped} skipped` : ''
    const line = `miniprogram: ${results.numPassedTests} passed, ${results.numFailedTests} failed${tail}\n`
    process.once('exit', () => process.stdout.write(line))
  }
}

module.exports = Summary
