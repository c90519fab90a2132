/**
 * Countries as SVG paths for the Map view, from the Natural Earth geometry that
 * the world-atlas npm package ships (TopoJSON, 1:110m): no tile server, no
 * network. Projection: Natural Earth I (the polynomial d3-geo uses), which
 * shows the whole world with little distortion and costs a few lines here
 * instead of a projection library.
 */
import { feature } from 'topojson-client';
import type { Topology, GeometryCollection } from 'topojson-specification';

/** Width and height of the projected world at scale 1 (radians → units). */
export const MAP_WIDTH = 960;
export const MAP_HEIGHT = 500;

/** Natural Earth I: lon/lat in degrees → x/y in map units (origin top-left). */
export function project(lon: number, lat: number): [number, number] {
  const lambda = (lon * Math.PI) / 180;
  const phi = (lat * Math.PI) / 180;
  const phi2 = phi * phi;
  const phi4 = phi2 * phi2;
  const x = lambda * (0.8707 - 0.131979 * phi2 + phi4 * (-0.013791 + phi4 * (0.003971 * phi2 - 0.001529 * phi4)));
  const y = phi * (1.007226 + phi2 * (0.015085 + phi4 * (-0.044475 + 0.028874 * phi2 - 0.005916 * phi4)));
  // x spans ±2.7354 and y ±1.4224 for the whole sphere: fit 960 × 500
  const k = MAP_WIDTH / (2 * 2.7354 + 0.04);
  return [MAP_WIDTH / 2 + x * k, MAP_HEIGHT / 2 - y * k];
}

/** One ring as path commands; a ring that jumps across the antimeridian is broken there instead of crossing the map. */
function ringPath(ring: number[][]): string {
  let d = '';
  let prevLon: number | null = null;
  for (const [lon, lat] of ring) {
    const [x, y] = project(lon, lat);
    const jump = prevLon !== null && Math.abs(lon - prevLon) > 180;
    d += `${d === '' || jump ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`;
    prevLon = lon;
  }
  return d ? `${d}Z` : '';
}

export function geometryPath(geometry: { type: string; coordinates: unknown } | null): string {
  if (!geometry) return '';
  if (geometry.type === 'Polygon') return (geometry.coordinates as number[][][]).map(ringPath).join('');
  if (geometry.type === 'MultiPolygon') return (geometry.coordinates as number[][][][]).flatMap((p) => p.map(ringPath)).join('');
  return '';
}

export interface CountryShape {
  /** ISO 3166-1 alpha-2 ("DE"), or "" for territories without a code in the data. */
  code: string;
  /** Name as the geometry carries it. */
  name: string;
  d: string;
}

/**
 * Every country of a world-atlas topology with its alpha-2 code.
 * `numericToAlpha2` maps ISO numeric ids ("276") to alpha-2 ("DE").
 * Antarctica is left out: it takes a fifth of the map and no traffic.
 */
export function countryShapes(topology: unknown, numericToAlpha2: Map<string, string>): CountryShape[] {
  const topo = topology as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const fc = feature(topo, topo.objects.countries);
  const out: CountryShape[] = [];
  for (const f of fc.features) {
    const id = f.id === undefined ? '' : String(f.id);
    if (id === '010') continue;
    out.push({ code: numericToAlpha2.get(id) ?? '', name: f.properties?.name ?? '', d: geometryPath(f.geometry as never) });
  }
  return out;
}

/** ISO numeric → alpha-2 from rows of [alpha2, alpha3, numeric, ...] (i18n-iso-countries' codes.json). */
export function numericIndex(codes: readonly (readonly string[])[]): Map<string, string> {
  return new Map(codes.map((row) => [row[2], row[0]]));
}

/**
 * Colour step (0 = no traffic, 1..steps) of a value: one step per half decade
 * below the largest value (the largest is the top step, a third of it one step
 * lighter, a tenth two), so countries a hundred times smaller still show.
 */
export function shade(value: number, max: number, steps = 6): number {
  if (!(value > 0) || !(max > 0)) return 0;
  const halfDecades = Math.floor(2 * Math.log10(Math.min(1, value / max)));
  return Math.min(steps, Math.max(1, steps + halfDecades));
}

/** The smallest value that gets colour step k (see shade); step 1 takes anything above zero. */
export function shadeFloor(k: number, max: number, steps = 6): number {
  return k <= 1 ? 0 : max * 10 ** ((k - steps) / 2);
}
