// The Map view's geometry: every country of world-atlas' Natural Earth data
// gets its ISO alpha-2 code and a path; the projection and the colour steps.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { countryShapes, numericIndex, project, shade, shadeFloor, MAP_WIDTH, MAP_HEIGHT } from '../../ui/src/lib/world-map.js';

const require = createRequire(import.meta.url);
const topology = JSON.parse(readFileSync(require.resolve('world-atlas/countries-110m.json'), 'utf8'));
const codes = JSON.parse(readFileSync(require.resolve('i18n-iso-countries/codes.json'), 'utf8')) as string[][];

t.test('countries carry alpha-2 codes and non-empty paths; Antarctica is left out', async (t) => {
  const shapes = countryShapes(topology, numericIndex(codes));
  t.equal(shapes.length, topology.objects.countries.geometries.length - 1);
  const byCode = new Map(shapes.map((s) => [s.code, s]));
  for (const code of ['US', 'DE', 'BR', 'JP', 'AU', 'ZA', 'IN', 'RU', 'FJ']) {
    t.ok(byCode.get(code)?.d.startsWith('M'), `${code} has a path`);
  }
  t.equal(byCode.get('DE')?.name, 'Germany');
  t.notOk(shapes.some((s) => s.name === 'Antarctica'));
  const coded = shapes.filter((s) => s.code !== '').length;
  t.ok(coded >= shapes.length - 3, `all but a few disputed areas have a code (${coded}/${shapes.length})`);
  // every coordinate lies on the map
  for (const s of shapes) {
    for (const m of s.d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)) {
      const [x, y] = [Number(m[1]), Number(m[2])];
      if (x < 0 || x > MAP_WIDTH || y < 0 || y > MAP_HEIGHT) t.fail(`${s.name} leaves the map at ${x},${y}`);
    }
  }
});

t.test('Russia and Fiji do not draw lines across the map at the antimeridian', async (t) => {
  const shapes = countryShapes(topology, numericIndex(codes));
  for (const code of ['RU', 'FJ']) {
    const d = shapes.find((s) => s.code === code)!.d;
    let prev: number | null = null;
    let widest = 0;
    for (const m of d.matchAll(/([ML])(-?[\d.]+),/g)) {
      const x = Number(m[2]);
      if (m[1] === 'L' && prev !== null) widest = Math.max(widest, Math.abs(x - prev));
      prev = x;
    }
    t.ok(widest < MAP_WIDTH / 2, `${code}: longest segment ${widest.toFixed(0)} units`);
  }
});

t.test('projection: the origin in the middle, the poles and antimeridian at the edges', async (t) => {
  t.same(project(0, 0), [MAP_WIDTH / 2, MAP_HEIGHT / 2]);
  const [west] = project(-180, 0);
  const [east] = project(180, 0);
  t.ok(west > 0 && west < 10 && east > MAP_WIDTH - 10 && east < MAP_WIDTH, `x spans ${west.toFixed(1)}..${east.toFixed(1)}`);
  t.ok(project(0, 60)[1] < project(0, 30)[1], 'north is up');
});

t.test('colour steps: one per half decade below the largest; no traffic is 0', async (t) => {
  t.equal(shade(0, 1e9), 0);
  t.equal(shade(1e9, 1e9), 6, 'the largest');
  t.equal(shade(5e8, 1e9), 5, 'half of it');
  t.equal(shade(1e8, 1e9), 4, 'a tenth');
  t.equal(shade(1e7, 1e9), 2, 'a hundredth');
  t.equal(shade(1, 1e9), 1, 'anything at all still shows');
  t.equal(shade(5, 0), 0);
});

t.test('the legend\'s numbers are where the colour steps begin', async (t) => {
  const max = 7.3e9;
  for (let k = 2; k <= 6; k++) {
    t.equal(shade(shadeFloor(k, max) * 1.0001, max), k, `step ${k} begins at ${shadeFloor(k, max).toPrecision(3)}`);
    t.equal(shade(shadeFloor(k, max) * 0.999, max), k - 1, `and just below it is step ${k - 1}`);
  }
  t.equal(shadeFloor(1, max), 0);
});
