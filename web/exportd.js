/* exportd.js - the export button and the downloads list a host page embeds.
 *
 * No framework, no dependency, no inline script: include this file (served
 * by export.fcgi at <base_path>/web/exportd.js) and its stylesheet, and
 * drop in elements configured by attributes:
 *
 *   <div data-exportd-export data-token="exe1...." data-type="contacts"
 *        data-format="csv" data-label="Export contacts"></div>
 *   <div data-exportd-downloads data-token="exe1...."></div>
 *
 * Attributes: data-token (the embed token the host's server minted; leave
 * it out when the web server logs users in and exportd trusts its
 * REMOTE_USER, auth.remote_user), data-api (the API's base URL; default: where this script was
 * loaded from, without /web/exportd.js), data-type, data-format,
 * data-compression, data-columns (JSON array), data-filters (JSON object),
 * data-label, data-key (the name under which a running export is
 * remembered across reloads; default: type and format), data-page-size
 * (downloads list, default 10).
 */
(function () {
	'use strict';

	var SCRIPT = document.currentScript;
	var POLL_FIRST = 400, POLL_MAX = 5000, POLL_GROWTH = 1.5;

	function apiBase(el) {
		var api = el.getAttribute('data-api');
		if (api) {
			return api.replace(/\/+$/, '');
		}
		if (SCRIPT && SCRIPT.src) {
			return SCRIPT.src.replace(/\/web\/exportd\.js(\?.*)?$/, '');
		}
		return '';
	}

	function make(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls) {
			e.className = cls;
		}
		if (text !== undefined && text !== null) {
			e.textContent = text;
		}
		return e;
	}

	function plural(n, one, many) {
		return n === 1 ? one : many;
	}

	function fmtInt(n) {
		return Number(n).toLocaleString('en-US');
	}

	function fmtSize(n) {
		var units = ['bytes', 'KB', 'MB', 'GB', 'TB'], i = 0, v = Number(n);
		while (v >= 1000 && i < units.length - 1) {
			v /= 1000;
			i++;
		}
		return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
	}

	function fmtEta(s) {
		if (s === null || s === undefined) {
			return '';
		}
		if (s < 60) {
			return 'about ' + Math.max(1, Math.round(s)) + ' s left';
		}
		if (s < 3600) {
			return 'about ' + Math.round(s / 60) + ' min left';
		}
		return 'about ' + (s / 3600).toFixed(1) + ' h left';
	}

	function fmtDate(iso) {
		if (!iso) {
			return '';
		}
		var d = new Date(iso);
		return isNaN(d.getTime()) ? iso : d.toLocaleString();
	}

	/* One call to the API: resolves {status, body}; rejects on a network
	 * failure only.  An expired token is reported as {expired: true}. */
	function call(base, token, method, path, body) {
		/* With a token, no ambient credential is sent at all; without one
		 * (auth.remote_user), the web server's login of this origin is, and
		 * X-Exportd-Request shows the API the call is not another site's. */
		var opts = {
			method: method,
			headers: {'Accept': 'application/json', 'X-Exportd-Request': '1'},
			credentials: token ? 'omit' : 'same-origin',
			cache: 'no-store'
		};
		if (token) {
			opts.headers['Authorization'] = 'Bearer ' + token;
		}
		if (body !== undefined) {
			opts.headers['Content-Type'] = 'application/json';
			opts.body = JSON.stringify(body);
		}
		return fetch(base + path, opts).then(function (r) {
			return r.text().then(function (t) {
				var parsed = null;
				try {
					parsed = t ? JSON.parse(t) : null;
				} catch (e) {
					parsed = null;
				}
				var type = parsed && parsed.type ? String(parsed.type) : '';
				return {
					status: r.status,
					body: parsed,
					expired: r.status === 401 && /token-expired$/.test(type)
				};
			});
		});
	}

	function problemText(res) {
		if (res.body && res.body.detail) {
			return String(res.body.detail);
		}
		return 'The export service answered ' + res.status + '.';
	}

	function storage() {
		try {
			return window.sessionStorage;
		} catch (e) {
			return null;
		}
	}

	/* A link cannot carry a header: the token rides in the query, on the
	 * download route only (docs/CONTRACTS.md "Embed token"). */
	function downloadHref(base, token, job) {
		var href = base + '/exports/' + encodeURIComponent(job.id) + '/download';
		return token ? href + '?access_token=' + encodeURIComponent(token) : href;
	}

	/* ------------------------------------------------------ the button */

	function ExportWidget(el) {
		this.el = el;
		this.base = apiBase(el);
		this.token = el.getAttribute('data-token') || '';
		this.type = el.getAttribute('data-type') || '';
		this.format = el.getAttribute('data-format') || 'csv';
		this.label = el.getAttribute('data-label') || 'Export to ' + this.format.toUpperCase();
		this.memoKey = 'exportd:' + this.base + ':' +
			(el.getAttribute('data-key') || this.type + ':' + this.format);
		this.jobId = null;
		this.timer = null;
		this.delay = POLL_FIRST;
		this.lastAnnounced = -1;
		this.stopped = false;
		this.build();
		this.listen();
		this.resume();
	}

	ExportWidget.prototype.build = function () {
		var el = this.el;
		el.classList.add('exportd');
		el.textContent = '';
		this.button = make('button', 'exportd-start', this.label);
		this.button.type = 'button';
		this.state = make('div', 'exportd-state');
		this.stateText = make('p', 'exportd-text');
		this.bar = make('div', 'exportd-bar');
		this.bar.setAttribute('role', 'progressbar');
		this.bar.setAttribute('aria-valuemin', '0');
		this.bar.setAttribute('aria-valuemax', '100');
		this.bar.setAttribute('aria-label', 'Export progress');
		this.fill = make('div', 'exportd-fill');
		this.bar.appendChild(this.fill);
		this.detail = make('p', 'exportd-detail');
		this.actions = make('div', 'exportd-actions');
		this.cancel = make('button', 'exportd-cancel', 'Cancel');
		this.cancel.type = 'button';
		this.retry = make('button', 'exportd-retry', 'Retry');
		this.retry.type = 'button';
		this.again = make('button', 'exportd-again', 'New export');
		this.again.type = 'button';
		this.link = make('a', 'exportd-download');
		this.sum = make('details', 'exportd-checksum');
		this.sum.appendChild(make('summary', null, 'Checksum'));
		this.sumCode = make('code');
		this.sum.appendChild(this.sumCode);
		this.live = make('div', 'exportd-live');
		this.live.setAttribute('role', 'status');
		this.live.setAttribute('aria-live', 'polite');
		this.state.appendChild(this.stateText);
		this.state.appendChild(this.bar);
		this.state.appendChild(this.detail);
		this.state.appendChild(this.link);
		this.state.appendChild(this.sum);
		this.actions.appendChild(this.cancel);
		this.actions.appendChild(this.retry);
		this.actions.appendChild(this.again);
		this.state.appendChild(this.actions);
		el.appendChild(this.button);
		el.appendChild(this.state);
		el.appendChild(this.live);
		this.show('idle');
	};

	ExportWidget.prototype.listen = function () {
		var self = this;
		this.button.addEventListener('click', function () {
			self.start();
		});
		this.retry.addEventListener('click', function () {
			self.start();
		});
		this.again.addEventListener('click', function () {
			self.forget();
			self.show('idle');
			self.button.focus();
		});
		this.cancel.addEventListener('click', function () {
			self.doCancel();
		});
		document.addEventListener('visibilitychange', function () {
			if (document.hidden) {
				self.clearTimer();
			} else if (self.jobId && !self.stopped) {
				self.delay = POLL_FIRST;
				self.poll();
			}
		});
	};

	/* Which parts are shown: idle, preparing, running, complete, failed,
	 * cancelled, expired, error, session. */
	ExportWidget.prototype.show = function (what) {
		var running = what === 'preparing' || what === 'running';
		this.el.setAttribute('data-state', what);
		this.button.hidden = what !== 'idle';
		this.state.hidden = what === 'idle';
		this.bar.hidden = what !== 'running';
		this.cancel.hidden = !running;
		this.retry.hidden = what !== 'failed' && what !== 'error';
		this.again.hidden = what !== 'complete' && what !== 'cancelled' && what !== 'expired';
		this.link.hidden = what !== 'complete';
		this.sum.hidden = what !== 'complete';
		this.detail.hidden = what === 'preparing' || what === 'session';
		this.el.setAttribute('aria-busy', running ? 'true' : 'false');
	};

	/* When a state ends with the focus on a control that is now hidden
	 * (Cancel), move it to what the user can do next. */
	ExportWidget.prototype.refocus = function (target) {
		var a = document.activeElement;
		if (!a || a === document.body || (this.el.contains(a) && a.hidden)) {
			target.focus();
		}
	};

	ExportWidget.prototype.say = function (text) {
		this.live.textContent = text;
	};

	ExportWidget.prototype.remember = function (id) {
		var s = storage();
		this.jobId = id;
		if (s) {
			s.setItem(this.memoKey, id);
		}
	};

	ExportWidget.prototype.forget = function () {
		var s = storage();
		this.clearTimer();
		this.jobId = null;
		if (s) {
			s.removeItem(this.memoKey);
		}
	};

	ExportWidget.prototype.clearTimer = function () {
		if (this.timer) {
			clearTimeout(this.timer);
			this.timer = null;
		}
	};

	ExportWidget.prototype.resume = function () {
		var s = storage(), id = s ? s.getItem(this.memoKey) : null;
		if (id && /^[0-9a-f-]{36}$/.test(id)) {
			this.jobId = id;
			this.stateText.textContent = 'Checking your export\u2026';
			this.show('preparing');
			this.poll();
		}
	};

	ExportWidget.prototype.body = function () {
		var b = {type: this.type, format: this.format}, el = this.el, v;
		v = el.getAttribute('data-compression');
		if (v) {
			b.compression = v;
		}
		v = el.getAttribute('data-columns');
		if (v) {
			b.columns = JSON.parse(v);
		}
		v = el.getAttribute('data-filters');
		if (v) {
			b.filters = JSON.parse(v);
		}
		return b;
	};

	ExportWidget.prototype.start = function () {
		var self = this, body;
		this.forget();
		this.stopped = false;
		this.lastAnnounced = -1;
		try {
			body = this.body();
		} catch (e) {
			this.fail('error', 'This export button is misconfigured (' + e.message + ').');
			return;
		}
		this.stateText.textContent = 'Preparing\u2026';
		this.show('preparing');
		this.say('Preparing your export.');
		this.cancel.focus();
		call(this.base, this.token, 'POST', '/exports', body).then(function (res) {
			if (res.status === 202 && res.body && res.body.id) {
				self.remember(res.body.id);
				self.render(res.body);
				self.schedule();
				return;
			}
			self.problem(res);
		}, function () {
			self.fail('error', 'The export service could not be reached. Check your connection and retry.');
		});
	};

	ExportWidget.prototype.doCancel = function () {
		var self = this;
		if (!this.jobId) {
			return;
		}
		this.cancel.disabled = true;
		this.stateText.textContent = 'Cancelling\u2026';
		call(this.base, this.token, 'DELETE', '/exports/' + this.jobId).then(function (res) {
			self.cancel.disabled = false;
			if (res.status >= 400) {
				self.problem(res);
				return;
			}
			self.delay = POLL_FIRST;
			self.poll();
		}, function () {
			self.cancel.disabled = false;
			self.schedule();
		});
	};

	ExportWidget.prototype.schedule = function () {
		var self = this, wait;
		this.clearTimer();
		if (this.stopped || !this.jobId || document.hidden) {
			return; /* visibilitychange polls again when the page is shown */
		}
		wait = this.delay * (0.8 + Math.random() * 0.4);
		this.delay = Math.min(POLL_MAX, this.delay * POLL_GROWTH);
		this.timer = setTimeout(function () {
			self.timer = null;
			self.poll();
		}, wait);
	};

	ExportWidget.prototype.poll = function () {
		var self = this, id = this.jobId;
		this.clearTimer();
		if (!id) {
			return;
		}
		call(this.base, this.token, 'GET', '/exports/' + id).then(function (res) {
			if (id !== self.jobId) {
				return; /* a new export was started meanwhile */
			}
			if (res.status === 200 && res.body) {
				self.render(res.body);
				if (!self.stopped) {
					self.schedule();
				}
				return;
			}
			if (res.status === 404) {
				self.forget();
				self.show('idle');
				return;
			}
			self.problem(res);
		}, function () {
			self.detail.textContent = 'Connection lost; still trying\u2026';
			self.schedule();
		});
	};

	ExportWidget.prototype.problem = function (res) {
		if (res.expired) {
			this.stopped = true;
			this.clearTimer();
			this.stateText.textContent = 'Your session has expired. Reload the page to continue.';
			this.show('session');
			this.say(this.stateText.textContent);
			return;
		}
		this.fail('error', problemText(res));
	};

	ExportWidget.prototype.fail = function (what, text) {
		this.stopped = true;
		this.clearTimer();
		this.stateText.textContent = what === 'failed' ? 'The export failed.' : 'The export could not be started.';
		this.detail.textContent = text;
		this.show(what);
		this.refocus(this.retry);
		this.say(this.stateText.textContent + ' ' + text);
	};

	ExportWidget.prototype.render = function (job) {
		var s = job.status;
		if (s === 'pending') {
			this.stateText.textContent = 'Preparing\u2026';
			this.show('preparing');
		} else if (s === 'processing') {
			this.progress(job);
		} else if (s === 'complete') {
			this.complete(job);
		} else if (s === 'failed') {
			this.fail('failed', job.error && job.error.message ? job.error.message : 'No reason was given.');
		} else if (s === 'cancelled') {
			this.stopped = true;
			this.stateText.textContent = 'Export cancelled.';
			this.detail.textContent = 'No file was made.';
			this.show('cancelled');
			this.refocus(this.again);
			this.say('Export cancelled.');
		} else if (s === 'expired') {
			this.stopped = true;
			this.stateText.textContent = 'This export has expired.';
			this.detail.textContent = 'Its file was removed; start a new export.';
			this.show('expired');
		}
	};

	ExportWidget.prototype.progress = function (job) {
		var p = job.progress || {}, pct = p.percent, text, step;
		this.show('running');
		if (job.cancel_requested) {
			this.stateText.textContent = 'Cancelling\u2026';
		} else {
			this.stateText.textContent = 'Exporting\u2026';
		}
		/* an estimate below what is done already is stale: no percent */
		if (pct === null || pct === undefined ||
				(p.rows_estimated !== null && p.rows_estimated < p.rows_done)) {
			this.bar.removeAttribute('aria-valuenow');
			this.bar.setAttribute('aria-valuetext', fmtInt(p.rows_done || 0) + ' rows so far');
			this.bar.classList.add('exportd-indeterminate');
			this.fill.style.width = '';
			this.detail.textContent = fmtInt(p.rows_done || 0) + ' rows so far';
			return;
		}
		this.bar.classList.remove('exportd-indeterminate');
		text = Math.floor(pct) + '%';
		if (p.rows_estimated !== null && p.rows_estimated !== undefined) {
			text += ' \u2014 ' + fmtInt(p.rows_done) + ' of about ' + fmtInt(p.rows_estimated) + ' rows';
		}
		if (p.eta_seconds !== null && p.eta_seconds !== undefined) {
			text += ', ' + fmtEta(p.eta_seconds);
		}
		this.bar.setAttribute('aria-valuenow', String(Math.floor(pct)));
		this.bar.setAttribute('aria-valuetext', text);
		this.fill.style.width = Math.min(100, Math.max(0, pct)) + '%';
		this.detail.textContent = text;
		step = Math.floor(pct / 25);
		if (step !== this.lastAnnounced) { /* every quarter, not every poll */
			this.lastAnnounced = step;
			this.say('Export ' + Math.floor(pct) + '% done.');
		}
	};

	ExportWidget.prototype.complete = function (job) {
		var rows = job.row_count || 0, text;
		this.stopped = true;
		this.clearTimer();
		this.stateText.textContent = 'Your export is ready.';
		text = 'Download ' + fmtInt(rows) + ' ' + plural(rows, 'row', 'rows') + ' (' + fmtSize(job.file_size || 0) + ')';
		this.link.textContent = text;
		this.link.href = downloadHref(this.base, this.token, job);
		this.link.setAttribute('download', '');
		this.detail.textContent = 'Available until ' + fmtDate(job.expires_at) + '.';
		this.sumCode.textContent = job.checksum && job.checksum.sha256 ? 'SHA-256 ' + job.checksum.sha256 : 'none';
		this.show('complete');
		this.refocus(this.link);
		this.say('Your export is ready: ' + text + '.');
	};

	/* ---------------------------------------------- the downloads list */

	function DownloadsWidget(el) {
		this.el = el;
		this.base = apiBase(el);
		this.token = el.getAttribute('data-token') || '';
		this.limit = parseInt(el.getAttribute('data-page-size') || '10', 10) || 10;
		this.cursors = [null]; /* the cursor of each page seen */
		this.page = 0;
		this.build();
		this.load();
	}

	DownloadsWidget.prototype.build = function () {
		var self = this, head, tr;
		this.el.classList.add('exportd', 'exportd-downloads');
		this.el.textContent = '';
		this.table = make('table', 'exportd-table');
		this.table.appendChild(make('caption', null, this.el.getAttribute('data-label') || 'Your exports'));
		head = make('thead');
		tr = make('tr');
		['Type', 'Format', 'Status', 'Rows', 'Size', 'Created', 'Expires', 'Actions'].forEach(function (h) {
			var th = make('th', null, h);
			th.scope = 'col';
			tr.appendChild(th);
		});
		head.appendChild(tr);
		this.table.appendChild(head);
		this.tbody = make('tbody');
		this.table.appendChild(this.tbody);
		this.wrap = make('div', 'exportd-scroll');
		this.wrap.appendChild(this.table);
		this.msg = make('p', 'exportd-text');
		this.live = make('div', 'exportd-live');
		this.live.setAttribute('role', 'status');
		this.live.setAttribute('aria-live', 'polite');
		this.nav = make('div', 'exportd-actions');
		this.prev = make('button', 'exportd-prev', 'Newer');
		this.prev.type = 'button';
		this.next = make('button', 'exportd-next', 'Older');
		this.next.type = 'button';
		this.nav.appendChild(this.prev);
		this.nav.appendChild(this.next);
		this.prev.addEventListener('click', function () {
			if (self.page > 0) {
				self.page--;
				self.load();
			}
		});
		this.next.addEventListener('click', function () {
			if (self.cursors[self.page + 1]) {
				self.page++;
				self.load();
			}
		});
		this.el.appendChild(this.msg);
		this.el.appendChild(this.wrap);
		this.el.appendChild(this.nav);
		this.el.appendChild(this.live);
	};

	DownloadsWidget.prototype.load = function () {
		var self = this, q = '/exports?limit=' + this.limit, c = this.cursors[this.page];
		if (c) {
			q += '&cursor=' + encodeURIComponent(c);
		}
		this.el.setAttribute('aria-busy', 'true');
		call(this.base, this.token, 'GET', q).then(function (res) {
			self.el.setAttribute('aria-busy', 'false');
			if (res.status !== 200 || !res.body) {
				self.msg.textContent = res.expired ? 'Your session has expired. Reload the page to continue.'
					: problemText(res);
				return;
			}
			self.cursors[self.page + 1] = res.body.next_cursor || null;
			self.rows(res.body.data || []);
		}, function () {
			self.el.setAttribute('aria-busy', 'false');
			self.msg.textContent = 'The export service could not be reached.';
		});
	};

	DownloadsWidget.prototype.rows = function (jobs) {
		var self = this;
		this.tbody.textContent = '';
		this.msg.textContent = jobs.length ? '' : 'No exports yet.';
		jobs.forEach(function (job) {
			self.tbody.appendChild(self.row(job));
		});
		this.prev.hidden = this.page === 0;
		this.next.hidden = !this.cursors[this.page + 1];
		this.el.setAttribute('data-count', String(jobs.length));
	};

	DownloadsWidget.prototype.row = function (job) {
		var self = this, tr = make('tr'), cell, a, del;
		tr.setAttribute('data-id', job.id);
		[job.type, job.format + (job.compression !== 'none' ? ' (' + job.compression + ')' : ''), job.status,
			job.row_count === null ? '' : fmtInt(job.row_count),
			job.file_size === null ? '' : fmtSize(job.file_size),
			fmtDate(job.created_at), fmtDate(job.expires_at)].forEach(function (v) {
			tr.appendChild(make('td', null, v));
		});
		cell = make('td', 'exportd-row-actions');
		if (job.status === 'complete') {
			a = make('a', 'exportd-download', 'Download');
			a.href = downloadHref(this.base, this.token, job);
			a.setAttribute('download', '');
			a.setAttribute('aria-label', 'Download ' + job.type + ' export of ' + fmtDate(job.created_at));
			cell.appendChild(a);
		}
		if (job.status === 'complete' || job.status === 'pending' || job.status === 'processing') {
			del = make('button', 'exportd-delete', job.status === 'complete' ? 'Delete' : 'Cancel');
			del.type = 'button';
			del.addEventListener('click', function () {
				del.disabled = true;
				call(self.base, self.token, 'DELETE', '/exports/' + job.id).then(function (res) {
					if (res.status >= 400) {
						del.disabled = false;
						self.live.textContent = problemText(res);
						return;
					}
					self.live.textContent = 'Export ' + (job.status === 'complete' ? 'deleted.' : 'cancelled.');
					self.load();
				}, function () {
					del.disabled = false;
					self.live.textContent = 'The export service could not be reached.';
				});
			});
			cell.appendChild(del);
		}
		tr.appendChild(cell);
		return tr;
	};

	function init() {
		var i, els = document.querySelectorAll('[data-exportd-export]');
		for (i = 0; i < els.length; i++) {
			if (!els[i].exportd) {
				els[i].exportd = new ExportWidget(els[i]);
			}
		}
		els = document.querySelectorAll('[data-exportd-downloads]');
		for (i = 0; i < els.length; i++) {
			if (!els[i].exportd) {
				els[i].exportd = new DownloadsWidget(els[i]);
			}
		}
	}

	if (document.readyState === 'loading') {
		document.addEventListener('DOMContentLoaded', init);
	} else {
		init();
	}
}());
