const path = require('path')
const { ROOT } = require('./helpers/page')

let app
let networkListener
let updateReady

beforeEach(() => {
  global.App = (definition) => {
    app = definition
  }
  global.wx = {
    onNetworkStatusChange: jest.fn((fn) => {
      networkListener = fn
    }),
    getUpdateManager: jest.fn(() => ({
      onUpdateReady: (fn) => {
        updateReady = fn
      },
      applyUpdate: jest.fn(),
    })),
    showToast: jest.fn(),
    showModal: jest.fn((opts) => opts.success({ confirm: true })),
  }
  jest.isolateModules(() => require(path.join(ROOT, 'app')))
  app.onLaunch()
})

afterEach(() => {
  delete global.App
  delete global.wx
})

test('a dropped network is announced', () => {
  networkListener({ isConnected: false, networkType: 'none' })

  expect(wx.showToast).toHaveBeenCalledWith({ title: '网络已断开', icon: 'none' })
})

test('a network coming back is quiet', () => {
  networkListener({ isConnected: true, networkType: 'wifi' })

  expect(wx.showToast).not.toHaveBeenCalled()
})

test('a downloaded update is offered as a restart', () => {
  updateReady()

  expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '发现新版本' }))
  expect(wx.getUpdateManager.mock.results[0].value.applyUpdate).toHaveBeenCalled()
})
