import { describe, expect, it } from 'vitest';
import { changeNeeds, checkEngineConfig } from '../../installer/engine-config/schema.js';

describe("the Docker Engine page's daemon.json", () => {
  it('accepts known options with their types', () => {
    expect(checkEngineConfig('{"debug": true, "registry-mirrors": ["https://mirror.example.com"], "log-opts": {"max-size": "10m"}}')).toEqual({
      config: { debug: true, 'registry-mirrors': ['https://mirror.example.com'], 'log-opts': { 'max-size': '10m' } },
    });
    expect(checkEngineConfig('')).toEqual({ config: {} });
  });

  it('reports every problem at once: bad JSON, wrong types, unknown keys, keys Berth sets itself', () => {
    expect(checkEngineConfig('{"debug": tru}')).toEqual({ issues: [{ path: '(file)', message: expect.stringMatching(/^not valid JSON/) }] });
    expect(checkEngineConfig('[1]')).toEqual({ issues: [{ path: '(file)', message: 'daemon.json must be one JSON object, { … }' }] });
    const r = checkEngineConfig('{"debug": "yes", "mtu": 10, "hosts": ["tcp://0.0.0.0:2375"], "api-cors-header": "*", "no-such-option": 1, "registry-mirrors": ["mirror"]}');
    expect('issues' in r && r.issues.map((i) => i.path).sort()).toEqual(['api-cors-header', 'debug', 'hosts', 'mtu', 'no-such-option', 'registry-mirrors.0']);
    expect('issues' in r && r.issues.find((i) => i.path === 'hosts')?.message).toMatch(/^set by Berth .*remove it$/);
  });

  it('asks for no restart when nothing changed, a reload for reloadable options, a restart otherwise', () => {
    expect(changeNeeds({ debug: true }, { debug: true })).toBe('nothing');
    expect(changeNeeds({}, { debug: true, 'registry-mirrors': ['https://m.example'] })).toBe('reload');
    expect(changeNeeds({ debug: true }, { debug: true, mtu: 1400 })).toBe('restart');
  });
});
