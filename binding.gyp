{
  'targets': [
    {
      'target_name': 'memseal',
      'sources': [
        'native/addon.cc',
        'native/memfd.cc',
        'native/mapping.cc',
        'native/region.cc',
        'native/raw.cc',
        'native/probe.cc',
        'native/fdpass.cc',
        'native/canary.cc',
        'native/mseal_scenarios.cc',
        'native/steps.cc',
        'native/floor.cc',
        'native/window.cc'
      ],
      # node-addon-api without C++ exceptions: errors travel as -errno values and pending JS exceptions.
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: an exception node-addon-api cannot throw because the
      # environment is going away (a worker being terminated) is dropped instead of aborting the process.
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      'defines': ['NAPI_VERSION=8', 'NODE_ADDON_API_DISABLE_DEPRECATED', 'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS', '_GNU_SOURCE'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-std=gnu++17'],
      'cflags_cc': ['-std=c++17', '-Wall', '-Wextra', '-Wno-missing-field-initializers', '-fstack-protector-strong', '-fno-exceptions'],
      'ldflags': ['-Wl,-z,relro', '-Wl,-z,now', '-Wl,-z,noexecstack'],
      'conditions': [
        ['OS!="linux"', { 'type': 'none' }]
      ]
    }
  ]
}
