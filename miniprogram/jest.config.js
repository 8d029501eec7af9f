// Tests run in node; the render tests opt into jsdom with a docblock.
// test/live*.test.js need a running wallpaperd: they run only when
// WALLPAPERD_URL names one (npm run test:live).
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.js'],
  testPathIgnorePatterns: process.env.WALLPAPERD_URL ? ['/node_modules/'] : ['/node_modules/', '/test/live(\\.\\w+)?\\.test\\.js$'],
  restoreMocks: true,
  // The first render of a file compiles every template with wcc, which
  // takes seconds on a busy 2-core machine: time limits are for hangs,
  // not speed.
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/helpers/summary.js'],
  setupFilesAfterEnv: ['<rootDir>/test/helpers/setup.js'],
}
