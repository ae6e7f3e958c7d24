/**
 * Run the AudioWorklet sources taken from the PRODUCTION bundle (minified by webpack)
 * in a scope that has only the worklet globals. Catches a DSP class that references a
 * module-level name, which jest (unminified) cannot see. Run after `jlpm build:prod`.
 */
const fs = require('fs');
const path = require('path');

const staticDir = path.join(
  __dirname,
  '..',
  '..',
  'jupyter_gemini_live',
  'labextension',
  'static'
);

function universalStub() {
  const target = function () {};
  const handler = {
    get: (_, key) => (key === Symbol.toPrimitive ? () => '' : stub),
    apply: () => stub,
    construct: () => stub
  };
  const stub = new Proxy(target, handler);
  return stub;
}

function loadModuleFactories() {
  const modules = {};
  const self = {
    webpackChunkjupyter_gemini_live: {
      push: ([, mods]) => Object.assign(modules, mods)
    }
  };
  for (const file of fs.readdirSync(staticDir)) {
    if (/^\d+\..*\.js$/.test(file)) {
      new Function('self', fs.readFileSync(path.join(staticDir, file), 'utf8'))(
        self
      );
    }
  }
  return modules;
}

function webpackRequireStub(modules, cache = {}) {
  const req = id => {
    if (!(id in modules)) {
      return universalStub();
    }
    if (!cache[id]) {
      const module = { exports: {} };
      cache[id] = module;
      modules[id](module, module.exports, req);
    }
    return cache[id].exports;
  };
  req.d = (exports, getters) => {
    for (const key of Object.keys(getters)) {
      Object.defineProperty(exports, key, {
        enumerable: true,
        get: getters[key]
      });
    }
  };
  req.r = () => undefined;
  req.n = m => () => m;
  req.o = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  return req;
}

function loadProcessor(source, rate) {
  const registered = {};
  class AudioWorkletProcessor {
    constructor() {
      this.port = {
        posted: [],
        onmessage: null,
        postMessage: m => this.port.posted.push(m)
      };
    }
  }
  new Function(
    'AudioWorkletProcessor',
    'registerProcessor',
    'sampleRate',
    '"use strict";' + source
  )(AudioWorkletProcessor, (name, ctor) => (registered[name] = ctor), rate);
  return registered;
}

function main() {
  const modules = loadModuleFactories();
  const req = webpackRequireStub(modules);
  const entry = Object.keys(modules).find(id =>
    String(modules[id]).includes('GeminiLiveCapture')
  );
  if (!entry) {
    throw new Error(
      'no worklet source in the bundle: run `jlpm build:prod` first'
    );
  }
  const lib = req(entry);
  const capture = loadProcessor(lib.captureModuleSource(), 44100)[
    'gemini-live-capture'
  ];
  const mic = new capture({
    processorOptions: { targetRate: 16000, frameSamples: 320 }
  });
  const quantum = new Float32Array(128).fill(0.25);
  for (let i = 0; i < 345; i++) {
    mic.process([[quantum]], []);
  }
  const frames = mic.port.posted;
  if (frames.length < 49 || frames.some(f => f.byteLength !== 640)) {
    throw new Error(`capture produced ${frames.length} frames`);
  }
  const playback = loadProcessor(lib.playbackModuleSource(), 48000)[
    'gemini-live-playback'
  ];
  const speaker = new playback({ processorOptions: { sourceRate: 24000 } });
  speaker.port.onmessage({
    data: { type: 'audio', pcm: new Int16Array(2400).fill(8000).buffer }
  });
  speaker.port.onmessage({ data: { type: 'end' } });
  const out = new Float32Array(128);
  let loud = 0;
  for (let i = 0; i < 60; i++) {
    speaker.process([], [[out]]);
    loud += out.filter(v => v > 0.2).length;
  }
  if (loud < 4700) {
    throw new Error(`playback played ${loud} loud samples`);
  }
  console.log(
    `worklets from the production bundle: ${frames.length} capture frames, ${loud} samples played: OK`
  );
}

main();
