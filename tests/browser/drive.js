#!/usr/bin/env node
/* drive.js - one browser scenario against the example host page, for
 * tests/integration/test_browser.py, which asserts on what it prints.
 *
 *   node drive.js SCENARIO PAGE_URL OUT_DIR
 *   (crosssite: also CROSS_TARGET, CROSS_TOKEN, CROSS_JOB in the environment;
 *   HTTP_USER, HTTP_PASSWORD: a Basic login for every request)
 *
 * Debian's chromium (/usr/bin/chromium, or $CHROMIUM) under playwright-core,
 * headless, with a fresh profile in OUT_DIR.  Prints one JSON object on
 * stdout; screenshots (<scenario>-<state>.png) and downloads go to OUT_DIR.
 * Exits 1 with a message on stderr when a step times out.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const {chromium} = require('playwright-core');

const [scenario, pageUrl, outDir] = process.argv.slice(2);
const AXE = require.resolve('axe-core/axe.min.js');
const STEP = 120000;

function shot(page, state) {
	return page.screenshot({path: path.join(outDir, scenario + '-' + state + '.png'), fullPage: true});
}

function widgetState(page) {
	return page.getAttribute('[data-exportd-export]', 'data-state');
}

async function waitState(page, states) {
	await page.waitForFunction((want) => {
		const el = document.querySelector('[data-exportd-export]');
		return el && want.includes(el.getAttribute('data-state'));
	}, states, {timeout: STEP, polling: 50});
	return widgetState(page);
}

/* Values of aria-valuenow seen while the export runs, until `until`. */
async function watchProgress(page, until) {
	const seen = [];
	for (;;) {
		const st = await widgetState(page);
		const v = await page.getAttribute('[data-exportd-export] [role=progressbar]', 'aria-valuenow');
		if (st === 'running' && v !== null) {
			const n = Number(v);
			if (!seen.length || seen[seen.length - 1] !== n) {
				seen.push(n);
			}
			if (n > 0 && n < 100 && until === 'midway') {
				return seen;
			}
		}
		if (['complete', 'failed', 'cancelled', 'error', 'session'].includes(st)) {
			return seen;
		}
		await page.waitForTimeout(25);
	}
}

function texts(page) {
	return page.evaluate(() => {
		const el = document.querySelector('[data-exportd-export]');
		const q = (s) => (el.querySelector(s) || {}).textContent || '';
		return {
			state: el.getAttribute('data-state'), text: q('.exportd-text'), detail: q('.exportd-detail'),
			live: q('.exportd-live'), link: q('.exportd-download'), checksum: q('.exportd-checksum code'),
			memo: Object.keys(sessionStorage).filter((k) => k.startsWith('exportd:'))
				.map((k) => sessionStorage.getItem(k))
		};
	});
}

/* Every text the aria-live region is given, in order, from now on (a
 * screen reader announces each; the final texts() sees only the last). */
function recordLive(page) {
	return page.evaluate(() => {
		const live = document.querySelector('[data-exportd-export] .exportd-live');
		window.exportdLiveLog = [];
		new MutationObserver(() => window.exportdLiveLog.push(live.textContent))
			.observe(live, {childList: true, characterData: true, subtree: true});
	});
}

/* The progress bar's motion as computed: the running bar's fill, and a
 * copy of the widget's markup in the indeterminate state (an export with
 * no estimate, which the tests' data never has). */
function motion(page) {
	return page.evaluate(() => {
		const pick = (el) => {
			const s = getComputedStyle(el);
			return {transitionProperty: s.transitionProperty, transitionDuration: s.transitionDuration,
				animationName: s.animationName, opacity: s.opacity};
		};
		const probe = document.createElement('div');
		probe.className = 'exportd';
		probe.innerHTML = '<div class="exportd-bar exportd-indeterminate"><div class="exportd-fill"></div></div>';
		document.body.appendChild(probe);
		const out = {
			reduce: matchMedia('(prefers-reduced-motion: reduce)').matches,
			fill: pick(document.querySelector('[data-exportd-export] [role=progressbar] .exportd-fill')),
			indeterminate: pick(probe.querySelector('.exportd-fill'))
		};
		probe.remove();
		return out;
	});
}

async function startExport(page) {
	await page.getByRole('button', {name: /^Export /}).click();
}

const scenarios = {
	/* Export, a progress value strictly between 0 and 100, the Download
	 * link, and the file the browser saves. */
	async export(page) {
		const idle = await widgetState(page);
		await shot(page, 'idle');
		await recordLive(page);
		await startExport(page);
		const seen = await watchProgress(page, 'midway');
		await shot(page, 'progress');
		const bar = await page.evaluate(() => {
			const b = document.querySelector('[data-exportd-export] [role=progressbar]');
			return {valuenow: b.getAttribute('aria-valuenow'), valuetext: b.getAttribute('aria-valuetext')};
		});
		const rest = await watchProgress(page, 'end');
		await waitState(page, ['complete', 'failed', 'error']);
		await shot(page, 'complete');
		const t = await texts(page);
		const [download] = await Promise.all([
			page.waitForEvent('download', {timeout: STEP}),
			page.click('[data-exportd-export] a.exportd-download')
		]);
		const file = path.join(outDir, 'download-' + download.suggestedFilename());
		await download.saveAs(file);
		await page.click('[data-exportd-export] summary');
		const liveLog = await page.evaluate(() => window.exportdLiveLog);
		return {idle, seen: seen.concat(rest), bar, ...t, liveLog, file, filename: download.suggestedFilename()};
	},

	/* prefers-reduced-motion: the running bar's motion with no preference,
	 * then with `reduce` emulated; Cancel at the end. */
	async motion(page) {
		await startExport(page);
		await page.waitForFunction(() => {
			const el = document.querySelector('[data-exportd-export]');
			return el.getAttribute('data-state') === 'running' &&
				el.querySelector('[role=progressbar]').hasAttribute('aria-valuenow');
		}, null, {timeout: STEP, polling: 50});
		await page.emulateMedia({reducedMotion: 'no-preference'});
		const normal = await motion(page);
		await page.emulateMedia({reducedMotion: 'reduce'});
		const reduced = await motion(page);
		await shot(page, 'reduced');
		await page.getByRole('button', {name: 'Cancel'}).click();
		await waitState(page, ['cancelled', 'complete']);
		return {normal, reduced, ...await texts(page)};
	},

	async cancel(page) {
		await startExport(page);
		await waitState(page, ['running', 'preparing']);
		await page.waitForFunction(() => Object.keys(sessionStorage).some((k) => k.startsWith('exportd:')),
			null, {timeout: STEP});
		await shot(page, 'running');
		await page.getByRole('button', {name: 'Cancel'}).click();
		await waitState(page, ['cancelled', 'complete']);
		await shot(page, 'cancelled');
		return texts(page);
	},

	async failing(page) {
		await startExport(page);
		await waitState(page, ['failed', 'error', 'complete']);
		await shot(page, 'failed');
		const first = await texts(page);
		const retry = page.getByRole('button', {name: 'Retry'});
		const retryVisible = await retry.isVisible();
		await retry.click();
		await page.waitForFunction((old) => {
			const m = Object.keys(sessionStorage).filter((k) => k.startsWith('exportd:'))
				.map((k) => sessionStorage.getItem(k));
			return m.length && m[0] !== old;
		}, first.memo[0] || '', {timeout: STEP});
		await waitState(page, ['failed', 'error', 'complete']);
		return {first, retryVisible, second: await texts(page)};
	},

	/* Reload in the middle: the widget finds its export again, no click. */
	async reload(page) {
		await startExport(page);
		await watchProgress(page, 'midway');
		const before = await texts(page);
		await page.reload();
		await waitState(page, ['running', 'preparing', 'complete']);
		const during = await texts(page);
		await waitState(page, ['complete', 'failed']);
		return {before, during, after: await texts(page)};
	},

	async expired(page) {
		await startExport(page);
		await waitState(page, ['session', 'error', 'preparing', 'running']);
		await waitState(page, ['session', 'error']);
		await shot(page, 'session');
		return texts(page);
	},

	/* The downloads list: rows newest first, Delete on the first complete. */
	async downloads(page) {
		await page.waitForSelector('[data-exportd-downloads] tbody tr', {timeout: STEP});
		await shot(page, 'list');
		const rows = () => page.$$eval('[data-exportd-downloads] tbody tr', (trs) => trs.map((tr) => ({
			id: tr.getAttribute('data-id'),
			cells: Array.from(tr.querySelectorAll('td')).map((td) => td.textContent),
			download: !!tr.querySelector('a.exportd-download')
		})));
		const before = await rows();
		let older = [];
		if (await page.isVisible('[data-exportd-downloads] button.exportd-next')) {
			await page.click('[data-exportd-downloads] button.exportd-next');
			await page.waitForFunction((first) => {
				const tr = document.querySelector('[data-exportd-downloads] tbody tr');
				return tr && tr.getAttribute('data-id') !== first;
			}, before[0].id, {timeout: STEP});
			older = await rows();
			await page.click('[data-exportd-downloads] button.exportd-prev');
			await page.waitForFunction((first) => {
				const tr = document.querySelector('[data-exportd-downloads] tbody tr');
				return tr && tr.getAttribute('data-id') === first;
			}, before[0].id, {timeout: STEP});
		}
		const target = before.find((r) => r.download);
		await page.click('[data-exportd-downloads] tr[data-id="' + target.id + '"] button.exportd-delete');
		await page.waitForFunction((id) => {
			const tr = document.querySelector('[data-exportd-downloads] tr[data-id="' + id + '"]');
			return !tr || !tr.querySelector('a.exportd-download');
		}, target.id, {timeout: STEP});
		return {before, older, deleted: target.id, after: await rows()};
	},

	/* Keyboard only: Tab to the button, Enter starts the export. */
	async keyboard(page) {
		let focused = '';
		for (let i = 0; i < 15 && !/^Export /.test(focused); i++) {
			await page.keyboard.press('Tab');
			focused = await page.evaluate(() => document.activeElement.tagName + ':' + document.activeElement.textContent);
			focused = focused.replace(/^BUTTON:/, '');
		}
		await page.keyboard.press('Enter');
		await waitState(page, ['preparing', 'running', 'complete']);
		const state = await waitState(page, ['complete', 'failed']);
		const atEnd = await page.evaluate(() => document.activeElement.className);
		await page.keyboard.press('Tab');
		const next = await page.evaluate(() => document.activeElement.tagName);
		return {focused, state, atEnd, next};
	},

	/* Start, wait for the end, download when there is a file (small
	 * exports: the web-server login mode). */
	async simple(page) {
		await startExport(page);
		const state = await waitState(page, ['complete', 'failed', 'error', 'session']);
		await shot(page, state);
		const t = await texts(page);
		if (state !== 'complete') {
			return t;
		}
		const [download] = await Promise.all([
			page.waitForEvent('download', {timeout: STEP}),
			page.click('[data-exportd-export] a.exportd-download')
		]);
		const file = path.join(outDir, 'simple-' + download.suggestedFilename());
		await download.saveAs(file);
		return {...t, file, href: await page.getAttribute('[data-exportd-export] a.exportd-download', 'href')};
	},

	/* Polls back off, stop while the page is hidden, resume when shown
	 * (the test keeps the export pending meanwhile). */
	async hidden(page) {
		const polls = [];
		page.on('request', (r) => {
			if (r.method() === 'GET' && /\/exports\/[0-9a-f-]{36}$/.test(r.url())) {
				polls.push(Date.now());
			}
		});
		const setHidden = (h) => page.evaluate((h) => {
			Object.defineProperty(document, 'hidden', {configurable: true, get: () => h});
			Object.defineProperty(document, 'visibilityState', {configurable: true,
				get: () => (h ? 'hidden' : 'visible')});
			document.dispatchEvent(new Event('visibilitychange'));
		}, h);
		await startExport(page);
		await page.waitForFunction(() => Object.keys(sessionStorage).some((k) => k.startsWith('exportd:')),
			null, {timeout: STEP});
		await page.waitForTimeout(2600);
		const before = polls.slice();
		await setHidden(true);
		const hiddenAt = Date.now();
		await page.waitForTimeout(2500);
		const whileHidden = polls.filter((t) => t > hiddenAt + 50).length;
		await setHidden(false);
		const shownAt = Date.now();
		await page.waitForTimeout(1000);
		const state = await widgetState(page);
		const text = await page.textContent('[data-exportd-export] .exportd-text');
		await shot(page, state);
		const firstAfter = polls.find((t) => t >= shownAt);
		return {gaps: before.slice(1).map((t, i) => t - before[i]), whileHidden,
			resumedAfterMs: firstAfter === undefined ? null : firstAfter - shownAt, state, text};
	},

	/* Another origin's page (CROSS_TARGET is the API's origin) tries to
	 * create and to delete: a form POST (no header can be added, so no
	 * credential), and fetches with the token, which need a CORS preflight
	 * the API does not grant. */
	async crosssite(page) {
		const target = process.env.CROSS_TARGET, token = process.env.CROSS_TOKEN;
		const job = process.env.CROSS_JOB;
		const fetches = await page.evaluate(async ([target, token, job]) => {
			const out = {};
			const tryFetch = async (name, url, opts) => {
				try {
					const r = await fetch(url, opts);
					out[name] = 'answered ' + r.status;
				} catch (e) {
					out[name] = 'blocked';
				}
			};
			const auth = {'Authorization': 'Bearer ' + token};
			await tryFetch('post', target + '/exports', {method: 'POST', body: '{"type":"contacts"}',
				headers: Object.assign({'Content-Type': 'application/json'}, auth)});
			await tryFetch('post_simple', target + '/exports', {method: 'POST', mode: 'no-cors',
				body: '{"type":"contacts"}', headers: {'Content-Type': 'text/plain'}});
			await tryFetch('delete', target + '/exports/' + job, {method: 'DELETE', headers: auth});
			await tryFetch('delete_bare', target + '/exports/' + job, {method: 'DELETE'});
			return out;
		}, [target, token, job]);
		const [resp] = await Promise.all([
			page.waitForResponse((r) => r.url().startsWith(target + '/exports'), {timeout: STEP}),
			page.evaluate((target) => {
				const f = document.createElement('form');
				f.method = 'POST';
				f.action = target + '/exports';
				f.enctype = 'text/plain';
				const i = document.createElement('input');
				i.name = '{"type":"contacts","x":"';
				i.value = '"}';
				f.appendChild(i);
				document.body.appendChild(f);
				f.submit();
			}, target)
		]);
		return {fetches, form: {status: resp.status(), body: await resp.text()}};
	},

	/* axe-core on the page (idle and complete), and 320 px wide. */
	async axe(page) {
		const run = async () => {
			await page.addScriptTag({path: AXE});
			return page.evaluate(async () => {
				const r = await window.axe.run(document, {resultTypes: ['violations']});
				return r.violations.map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.length}));
			});
		};
		const idle = await run();
		const downloads = page.url().includes('view=downloads');
		let done = [];
		if (!downloads) {
			await startExport(page);
			await waitState(page, ['complete', 'failed']);
			done = await run();
		}
		await page.setViewportSize({width: 320, height: 640});
		await shot(page, downloads ? 'downloads-320' : 'export-320');
		const overflow = await page.evaluate(() => {
			const el = document.querySelector('[data-exportd-export], [data-exportd-downloads] .exportd-actions');
			return {doc: document.documentElement.scrollWidth, widget: el.getBoundingClientRect().right};
		});
		return {idle, done, overflow};
	}
};

async function main() {
	const profile = fs.mkdtempSync(path.join(outDir, 'profile-'));
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		acceptDownloads: true,
		downloadsPath: outDir,
		/* axe is injected as a script tag, which the page's strict CSP
		 * (rightly) refuses; only the axe scenario lifts it */
		bypassCSP: scenario === 'axe' || scenario === 'crosssite',
		viewport: {width: 1000, height: 700},
		/* the web server's Basic login (auth.remote_user), when asked */
		httpCredentials: process.env.HTTP_USER ? {username: process.env.HTTP_USER,
			password: process.env.HTTP_PASSWORD || ''} : undefined,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync']
	});
	const page = ctx.pages()[0] || await ctx.newPage();
	const console_ = [];
	page.on('console', (m) => console_.push(m.type() + ': ' + m.text()));
	page.on('pageerror', (e) => console_.push('pageerror: ' + e.message));
	/* Answers >= 400 other than the favicon every browser asks for. */
	const failed = [];
	page.on('response', (r) => {
		if (r.status() >= 400 && !/\/favicon\.ico$/.test(r.url())) {
			failed.push(r.status() + ' ' + r.request().method() + ' ' + r.url().replace(/access_token=[^&]*/, 'access_token=...'));
		}
	});
	try {
		await page.goto(pageUrl, {waitUntil: 'load'});
		await page.waitForSelector('[data-exportd-export] button, [data-exportd-downloads] table', {timeout: STEP});
		const result = await scenarios[scenario](page);
		result.console = console_;
		result.failed = failed;
		process.stdout.write(JSON.stringify(result) + '\n');
	} catch (e) {
		await shot(page, 'error').catch(() => {});
		process.stderr.write(scenario + ': ' + e.stack + '\nconsole: ' + JSON.stringify(console_) + '\n');
		process.exitCode = 1;
	} finally {
		await ctx.close();
		fs.rmSync(profile, {recursive: true, force: true});
	}
}

main();
