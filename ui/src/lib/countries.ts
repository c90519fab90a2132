/** Country codes as people read them: "DE" → "Germany", in the browser's language data (no table shipped). */

let names: Intl.DisplayNames | null = null;

export function countryName(code: string | undefined): string {
  if (!code) return 'Unknown';
  if (code === 'private') return 'Private network';
  if (code === 'unknown') return 'Unknown';
  try {
    names ??= new Intl.DisplayNames(['en'], { type: 'region' });
    return names.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}
