// A canvas 2D stand-in: the simulator cannot draw, so the context records
// every call and property set, in order, for tests to read as the list of
// drawing calls. measureText answers width = characters × font size, which
// is enough for layout rules (wrapping) to be checked.
function fontSize(font) {
  const m = /(\d+(?:\.\d+)?)px/.exec(font || '')
  return m ? Number(m[1]) : 10
}

function createContext() {
  const calls = []
  const state = { font: '10px sans-serif' }
  const methods = ['fillRect', 'strokeRect', 'clearRect', 'drawImage', 'fillText', 'strokeText', 'save', 'restore', 'beginPath', 'closePath', 'moveTo', 'lineTo', 'arc', 'fill', 'stroke', 'scale', 'translate', 'rect', 'clip']
  const ctx = new Proxy(
    {},
    {
      get(_, name) {
        if (name === 'calls') return calls
        if (name === 'measureText') return (text) => ({ width: Array.from(String(text)).length * fontSize(state.font) })
        if (methods.includes(name)) {
          return (...args) => {
            calls.push({ op: name, args, state: Object.assign({}, state) })
          }
        }
        return state[name]
      },
      set(_, name, value) {
        state[name] = value
        calls.push({ op: 'set', name, value })
        return true
      },
    },
  )
  return ctx
}

// createCanvas is a canvas node: getContext('2d') gives the recording
// context; createImage gives images that "load" with the size tests set
// (sizes, by src) on the next tick.
function createCanvas() {
  const canvas = {
    width: 300,
    height: 150,
    images: [],
    sizes: {},
    ctx: createContext(),
    getContext: jest.fn(() => canvas.ctx),
    createImage: jest.fn(() => {
      const image = { width: 0, height: 0, onload: null, onerror: null }
      let src = ''
      Object.defineProperty(image, 'src', {
        get: () => src,
        set: (value) => {
          src = value
          const size = canvas.sizes[value] || { width: 1024, height: 1792 }
          Promise.resolve().then(() => {
            if (size.fail) return image.onerror && image.onerror(new Error('load failed'))
            image.width = size.width
            image.height = size.height
            return image.onload && image.onload()
          })
        },
      })
      canvas.images.push(image)
      return image
    }),
  }
  return canvas
}

module.exports = { createCanvas, createContext }
