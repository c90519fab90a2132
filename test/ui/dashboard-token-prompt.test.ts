/**
 * A flowlens whose API needs a token: the dashboard loads, asks for the token
 * when the API answers 401, says so when a token is refused, and goes live
 * with the right one, which it remembers across a reload. A read token reads
 * the alerts but cannot silence one: the form says an admin token is needed.
 */
import t from 'tap';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { requireKernel } from '../helpers/kernel.js';
import { cliBuilt } from '../helpers/flowlens-cli.js';
import { openBrowser, startDashboardLab } from '../helpers/dashboard-lab.js';

const TOKEN = 'ui-test-token-0123456789abcdef';

t.test('token prompt on 401, refused token, accepted token', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-ui-tokens-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokens = path.join(dir, 'tokens');
  writeFileSync(tokens, `read ${TOKEN}\n`, { mode: 0o600 });
  // a quota the lab's own load crosses within seconds: an open alert to try silencing
  const settings = path.join(dir, 'flowlens.yaml');
  writeFileSync(settings, `alerts:\n  rules:\n    - {name: busy, quota: {period: day, limit: 1MB, steps: [100]}}\n`);
  const lab = await startDashboardLab(t, ['--tokens-file', tokens, '--config', settings]);
  const { page, errors } = await openBrowser(t, lab.chromiumPath);

  await page.goto(`${lab.url}#/overview`);
  t.equal(await page.evaluate(async () => (await fetch('api/summary')).status), 401, 'the API wants a token (the page itself is served without one)');
  const dialog = page.getByRole('dialog', { name: 'This flowlens needs a token' });
  await dialog.waitFor({ timeout: 15_000 });
  t.match(await page.getByTestId('connection').textContent(), /Token needed/, 'the header says why nothing moves');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'token-input', 'the token field has the focus');

  await page.keyboard.type('not-the-right-token-at-all');
  await page.keyboard.press('Enter');
  await dialog.getByRole('alert').waitFor({ timeout: 15_000 });
  t.match(await dialog.getByRole('alert').textContent(), /not accepted/, 'a refused token is said so');

  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 });
  t.equal(await dialog.count(), 0, 'the prompt is gone');
  await page.waitForFunction(() => !document.querySelector('[data-testid=rate-down]')!.textContent!.startsWith('0 '), null, { timeout: 15_000 });
  t.pass('live rates arrive with the token');

  await page.reload();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 });
  t.equal(await dialog.count(), 0, 'after a reload the stored token is used without asking');

  // the alerts need the token like everything else; silencing needs an admin token, and the page says so
  await page.getByTestId('alert-badge').filter({ hasText: '1' }).waitFor({ timeout: 30_000 });
  await page.getByTestId('alert-badge').click();
  const row = page.getByTestId('alert-row').first();
  await row.waitFor({ timeout: 15_000 });
  await row.getByRole('button', { name: 'Silence…' }).click();
  await row.getByLabel('Reason').fill('try with a read token');
  await row.getByRole('button', { name: 'Silence', exact: true }).click();
  await row.getByRole('alert').filter({ hasText: 'this call needs an admin token' }).waitFor({ timeout: 10_000 });
  t.pass('a read token cannot silence: "this call needs an admin token"');
  t.equal(await page.getByTestId('silence-row').count(), 0, 'and no silence was made');
  // 401s of the refused token and the 403 of the silence are expected console errors (failed requests); nothing else
  t.same(errors.filter((e) => !/40[13]/.test(e)), [], 'no other console errors');
});
