// Tests run in node; the render test opts into jsdom with a docblock.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.js'],
  restoreMocks: true,
  reporters: ['default', '<rootDir>/test/helpers/summary.js'],
  setupFilesAfterEnv: ['<rootDir>/test/helpers/setup.js'],
}
