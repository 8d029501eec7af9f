// The server's client configuration (GET /client-config), fetched once per
// launch and shared by the pages. Until it arrives, or when it cannot be
// had, the defaults hold: no subscribe message, no report entry.
const api = require('./api')

const DEFAULTS = {
  subscribe_template_id: '',
  sizes: [],
  presets_version: '',
  daily_limit: 0,
  reports_enabled: false,
  report_response_hours: 0,
}

let pending = null

// clientConfig resolves with the configuration (the defaults on failure;
// a later call tries again).
function clientConfig() {
  if (!pending) {
    pending = api.getClientConfig().then(
      (config) => ({
        subscribe_template_id: (config && config.subscribe_template_id) || '',
        sizes: (config && config.sizes) || [],
        presets_version: (config && config.presets_version) || '',
        daily_limit: (config && config.daily_limit) || 0,
        reports_enabled: Boolean(config && config.reports_enabled),
        report_response_hours: (config && config.report_response_hours) || 0,
      }),
      () => {
        pending = null
        return Object.assign({}, DEFAULTS)
      },
    )
  }
  return pending
}

module.exports = { DEFAULTS, clientConfig }
